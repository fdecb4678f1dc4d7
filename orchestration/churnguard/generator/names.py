"""Word banks for names, titles, subjects and comments (all fictitious)."""

FIRST_NAMES = (
    "Aiko", "Alex", "Amara", "Ana", "Andrei", "Anika", "Ben", "Bruno", "Carla", "Chen", "Chloe", "Daniel",
    "Diego", "Elena", "Emeka", "Emma", "Farah", "Felix", "Grace", "Hana", "Hugo", "Ines", "Ivan", "Jamal",
    "Jana", "Jonas", "Julia", "Kai", "Kenji", "Lara", "Leo", "Lina", "Lucas", "Maya", "Mateo", "Mei",
    "Mila", "Nadia", "Nikhil", "Noah", "Nora", "Omar", "Olivia", "Pablo", "Priya", "Rafael", "Rosa",
    "Sam", "Sara", "Sofia", "Tariq", "Theo", "Uma", "Victor", "Wei", "Yara", "Yusuf", "Zoe", "Arjun", "Ingrid",
)
LAST_NAMES = (
    "Adeyemi", "Alvarez", "Andersson", "Bauer", "Becker", "Bianchi", "Brown", "Castro", "Chen", "Costa",
    "Dubois", "Eriksen", "Fischer", "Garcia", "Gupta", "Hansen", "Hoffmann", "Ito", "Jansen", "Kim",
    "Kowalski", "Kumar", "Larsen", "Lee", "Lopez", "Martin", "Meyer", "Moreau", "Nakamura", "Nguyen",
    "Novak", "Okafor", "Olsen", "Patel", "Perez", "Petrov", "Rossi", "Santos", "Sato", "Schmidt",
    "Silva", "Singh", "Smith", "Suzuki", "Tanaka", "Taylor", "Thomas", "Wagner", "Walker", "Wang",
    "Weber", "Williams", "Wilson", "Wong", "Yamamoto", "Young", "Zhang", "Zimmermann", "Haddad", "Mensah",
)
COMPANY_WORDS_A = (
    "Acme", "Apex", "Aurora", "Beacon", "Blue", "Bright", "Cedar", "Cobalt", "Crest", "Delta", "Ember",
    "Evergreen", "Falcon", "Granite", "Harbor", "Helix", "Horizon", "Iron", "Juniper", "Keystone", "Lumen",
    "Maple", "Meridian", "Nimbus", "North", "Nova", "Oak", "Orbit", "Pioneer", "Quartz", "Red", "Ridge",
    "Sable", "Silver", "Summit", "Terra", "Tidal", "Vertex", "Willow", "Zenith",
)
COMPANY_WORDS_B = (
    "Analytics", "Bakery", "Bio", "Builders", "Capital", "Clinic", "Cloud", "Coffee", "Dental", "Design",
    "Dynamics", "Energy", "Foods", "Freight", "Health", "Hotels", "Labs", "Legal", "Logistics", "Media",
    "Medical", "Motors", "Networks", "Outfitters", "Partners", "Pharma", "Print", "Realty", "Retail",
    "Robotics", "Security", "Software", "Solar", "Studios", "Supply", "Systems", "Textiles", "Tools",
    "Travel", "Ventures",
)
COMPANY_SUFFIXES = ("Inc", "LLC", "Ltd", "GmbH", "SA", "BV", "Co", "Group", "AB", "Pty Ltd")
INDUSTRIES = (
    "Software", "Retail", "Manufacturing", "Healthcare", "Financial Services", "Education", "Logistics",
    "Media", "Professional Services", "Hospitality", "Construction", "Energy",
)
VENDOR_DOMAIN = "churnguard-vendor.example"
DM_TITLES = ("CEO", "CTO", "COO", "CFO", "VP Operations", "Head of IT", "Director of Finance", "Founder")
CONTACT_TITLES = (
    "Operations Manager", "IT Administrator", "Analyst", "Office Manager", "Engineer", "Marketing Manager",
    "Team Lead", "Project Manager", "Finance Manager", "Customer Service Lead",
)
PLAN_TIERS = ("Starter", "Team", "Business", "Professional", "Enterprise", "Enterprise Plus")
SUBJECTS = {
    "billing": ("Question about my invoice", "Charged twice this month", "Update billing address",
                "Need a copy of the invoice", "Refund request"),
    "bug": ("Error when saving a report", "Dashboard does not load", "Export produces empty file",
            "Unexpected error 500", "Data missing after update"),
    "how_to": ("How do I add a user?", "How to set up notifications", "Where can I change my password?",
               "How to export data to Excel", "Question about permissions"),
    "integration": ("Salesforce sync failing", "API returns 401", "Webhook not firing",
                    "Slack integration stopped working", "SSO configuration issue"),
    "performance": ("App is very slow", "Reports take minutes to load", "Timeouts during import",
                    "Search is slow", "Page freezes on large accounts"),
    "access": ("Locked out of my account", "Cannot log in", "Reset 2FA please", "New admin access needed",
               "User cannot see projects"),
    "feature_request": ("Please add dark mode", "Request: custom fields", "Bulk edit would help",
                        "Need more export formats", "Suggestion for reporting"),
}
CSAT_COMMENTS = {
    1: ("Still not fixed.", "Very disappointed with the response.", "Took far too long."),
    2: ("Slow answer, partial fix.", "Had to explain the issue three times."),
    3: ("OK, but it took a while.", "Resolved eventually."),
    4: ("Good help, thanks.", "Quick and friendly."),
    5: ("Excellent support!", "Fixed in minutes, thank you!", "Great service as always."),
}
NPS_COMMENTS = {
    "detractor": ("Too expensive for what we get.", "Reliability has been poor lately.",
                  "Support is slow.", "Missing features we need.", "We are evaluating alternatives."),
    "passive": ("Does the job.", "Fine overall, some rough edges.", "Good product, pricing could be better."),
    "promoter": ("Love it, the team uses it daily.", "Great product and great support.",
                 "Indispensable for our workflow.", "Would recommend to anyone."),
}
CHURN_REASONS = (
    "price too high", "switched to a competitor", "budget cuts", "missing features", "poor support experience",
    "product not adopted by the team", "company acquired", "went out of business", "reliability problems",
)
