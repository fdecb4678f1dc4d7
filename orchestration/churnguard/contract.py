"""The raw-data contract: every raw table churnguard reads, its columns, types and rules.

This module is the single source of truth for the shape of raw data. The loader
validates against it, the generator writes it, the dbt sources YAML and the
human-readable contract page (`docs/RAW_DATA_CONTRACT.md`) are checked against it
by tests.

Column types are logical types:

- ``string``: text; all identifiers are strings, even when they look numeric.
- ``integer``: whole number.
- ``decimal``: money or measure, written with a dot as decimal separator.
- ``boolean``: ``true``/``false`` (also accepted: ``1``/``0``, ``t``/``f``, ``yes``/``no``).
- ``timestamp``: UTC instant, ISO 8601 (``2025-03-01T14:05:00Z``; a missing offset
  means UTC; any other offset is converted to UTC).
- ``date``: calendar date ``YYYY-MM-DD``.

Every table also carries ``_synced_at`` (timestamp): when the row reached the raw
export, as extract tools such as Fivetran (``_fivetran_synced``) or Airbyte
(``_airbyte_extracted_at``) record it. Freshness and late-arriving-row handling use it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

LOGICAL_TYPES = ("string", "integer", "decimal", "boolean", "timestamp", "date")


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    description: str
    nullable: bool = False
    # False: the file may omit the column; it loads as null. Default: a nullable column
    # is optional (an export that has no such data leaves the column out).
    required: bool | None = None
    accepted_values: tuple[str, ...] | None = None
    min_value: float | None = None
    max_value: float | None = None
    references: str | None = None  # "table.column" that must contain every non-null value

    def __post_init__(self) -> None:
        if self.required is None:
            object.__setattr__(self, "required", not self.nullable)
        if self.type not in LOGICAL_TYPES:
            raise ValueError(f"column {self.name}: unknown type {self.type}")


@dataclass(frozen=True)
class Table:
    system: str  # crm | billing | support
    name: str
    description: str
    primary_key: str
    columns: tuple[Column, ...]
    modeled_on: str
    freshness_warn_hours: int = 36
    freshness_error_hours: int = 72
    event_time_column: str | None = None  # the column that dates the row's event
    extra: dict = field(default_factory=dict)

    @property
    def qualified_name(self) -> str:
        return f"{self.system}.{self.name}"

    @property
    def raw_schema(self) -> str:
        return f"raw_{self.system}"

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"{self.qualified_name} has no column {name}")

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


SYNCED_AT = Column(
    "_synced_at",
    "timestamp",
    "When the row reached the raw export (UTC). Used for source freshness and to "
    "recognise late-arriving rows. Optional: exports without it load it as null.",
    nullable=True,
    required=False,
)

SEGMENTS = ("enterprise", "mid_market", "smb")  # the usual values; segment is free text
BUSINESS_MODELS = ("subscription", "activity", "order")
CHANNELS = ("email", "call", "meeting", "chat")
DIRECTIONS = ("inbound", "outbound")
USER_ROLES = ("account_manager", "customer_success_manager", "sales_lead")
INVOICE_STATUSES = ("open", "paid", "void", "uncollectible")
SUBSCRIPTION_STATUSES = ("active", "canceled", "past_due", "trialing")
BILLING_INTERVALS = ("day", "week", "month", "year")
ORDER_STATUSES = ("completed", "refunded", "canceled")
PAYMENT_STATUSES = ("succeeded", "failed", "refunded")
TICKET_PRIORITIES = ("low", "normal", "high", "urgent")
TICKET_STATUSES = ("new", "open", "pending", "solved", "closed")
TICKET_CATEGORIES = ("billing", "bug", "how_to", "integration", "performance", "access", "feature_request")
INTERVENTION_OUTCOMES = ("pending", "saved", "churned", "no_response")
PLAYBOOKS = (
    "executive_retention_plan",
    "vip_care",
    "roi_review",
    "automated_nurture",
    "renewal_negotiation",
    "onboarding_refresh",
    "support_escalation",
)


def _t(system, name, description, primary_key, modeled_on, columns, event_time_column=None, **kw) -> Table:
    return Table(
        system=system,
        name=name,
        description=description,
        primary_key=primary_key,
        modeled_on=modeled_on,
        columns=tuple(columns) + (SYNCED_AT,),
        event_time_column=event_time_column,
        **kw,
    )


TABLES: tuple[Table, ...] = (
    # ------------------------------------------------------------------ CRM
    _t(
        "crm",
        "users",
        "People on the vendor's side who own or work accounts: account managers, "
        "customer-success managers and sales leads.",
        "user_id",
        "Salesforce User / HubSpot Owner",
        [
            Column("user_id", "string", "Unique id of the user in the CRM."),
            Column("full_name", "string", "Display name."),
            Column("email", "string", "Work email; used to address alerts."),
            Column("role", "string", "Job role.", accepted_values=USER_ROLES),
            Column("manager_user_id", "string", "The user's manager (escalation path).", nullable=True,
                   references="crm.users.user_id"),
            Column("is_active", "boolean", "False once the user has left."),
        ],
        freshness_warn_hours=24 * 7,
        freshness_error_hours=24 * 30,
    ),
    _t(
        "crm",
        "accounts",
        "Customers (companies). One row per account, current state.",
        "account_id",
        "Salesforce Account / HubSpot Company",
        [
            Column("account_id", "string", "Unique id of the customer account."),
            Column("account_name", "string", "Company name.", nullable=True, required=False),
            Column("segment", "string",
                   "Sales segment, free text (e.g. enterprise, mid_market, smb); the KPIs are reported per "
                   "segment. Null (or a missing column) reports the account under 'unassigned'.",
                   nullable=True, required=False),
            Column("industry", "string", "Industry, free text from the CRM picklist.", nullable=True),
            Column("region", "string", "Sales region (e.g. EMEA, NA, APAC, LATAM).", nullable=True),
            Column("owner_user_id", "string",
                   "Account manager who owns the account. Null (or a missing column): alerts go to the "
                   "default owner or queue (dbt var default_owner_user_id).",
                   nullable=True, required=False, references="crm.users.user_id"),
            Column("csm_user_id", "string", "Customer-success manager, when one is assigned.", nullable=True,
                   references="crm.users.user_id"),
            Column("business_model", "string",
                   "How churn is defined for this account: subscription, activity or order. Null (or a "
                   "missing column) is inferred from the data: subscription when the account has "
                   "subscriptions, else order when it has orders, else activity when it has logins or "
                   "product events, else the project default (dbt var churn_definition).",
                   nullable=True, required=False, accepted_values=BUSINESS_MODELS),
            Column("created_at", "timestamp",
                   "When the account was created in the CRM. Null (or a missing column): the customer "
                   "starts with its first subscription, order or login.", nullable=True, required=False),
            Column("updated_at", "timestamp", "Last modification of the account record.", nullable=True,
                   required=False),
        ],
        event_time_column="created_at",
        freshness_warn_hours=24 * 7,
        freshness_error_hours=24 * 30,
    ),
    _t(
        "crm",
        "contacts",
        "People at the customer. A role change or departure closes the row (valid_to) "
        "and, for a replacement, opens a new one.",
        "contact_id",
        "Salesforce Contact / HubSpot Contact (with history)",
        [
            Column("contact_id", "string", "Unique id of the contact."),
            Column("account_id", "string", "Account the contact works for.", references="crm.accounts.account_id"),
            Column("full_name", "string", "Contact's name (PII)."),
            Column("email", "string", "Contact's email (PII).", nullable=True),
            Column("title", "string", "Job title.", nullable=True),
            Column("is_decision_maker", "boolean", "True for the economic buyer / key contact."),
            Column("valid_from", "timestamp", "When the contact took this role."),
            Column("valid_to", "timestamp", "When the contact left the role; null while current.", nullable=True),
        ],
        event_time_column="valid_from",
    ),
    _t(
        "crm",
        "interactions",
        "Emails, calls, meetings and chats between the vendor and the customer.",
        "interaction_id",
        "Salesforce Task/Event / HubSpot Engagement",
        [
            Column("interaction_id", "string", "Unique id of the interaction."),
            Column("account_id", "string", "Account involved.", references="crm.accounts.account_id"),
            Column("contact_id", "string", "Customer contact involved, when known.", nullable=True,
                   references="crm.contacts.contact_id"),
            Column("user_id", "string", "Vendor user involved.", nullable=True, references="crm.users.user_id"),
            Column("channel", "string", "Medium.", accepted_values=CHANNELS),
            Column("direction", "string",
                   "inbound: the customer reached out; outbound: the vendor reached out (proactive contact).",
                   accepted_values=DIRECTIONS),
            Column("occurred_at", "timestamp", "When the interaction happened."),
            Column("is_answered", "boolean",
                   "Outbound: the customer replied or attended. Inbound: the vendor answered."),
            Column("answered_at", "timestamp", "When the reply came; null when unanswered.", nullable=True),
        ],
        event_time_column="occurred_at",
    ),
    _t(
        "crm",
        "logins",
        "Product logins: one row per user session start.",
        "login_id",
        "Segment/Mixpanel 'Logged In' track event, or the product's auth log",
        [
            Column("login_id", "string", "Unique id of the login event."),
            Column("account_id", "string", "Account the user belongs to.", references="crm.accounts.account_id"),
            Column("user_id", "string", "Product user id (the customer's user, not a CRM user)."),
            Column("logged_in_at", "timestamp", "When the session started."),
            Column("session_seconds", "integer", "Session length in seconds, when known.", nullable=True,
                   min_value=0),
        ],
        event_time_column="logged_in_at",
    ),
    _t(
        "crm",
        "product_events",
        "Any product usage event stream (feature used, page viewed, API call, message sent), one "
        "row per event. The usage dimension counts these beside logins, so usage can come from "
        "whatever the product records.",
        "event_id",
        "Segment/Mixpanel/Amplitude track events, or the product's own event log",
        [
            Column("event_id", "string", "Unique id of the event."),
            Column("account_id", "string", "Account the user belongs to.", references="crm.accounts.account_id"),
            Column("user_id", "string", "Product user id, when known.", nullable=True),
            Column("event_type", "string", "What happened (free text: the stream's event name)."),
            Column("occurred_at", "timestamp", "When the event happened."),
        ],
        event_time_column="occurred_at",
    ),
    _t(
        "crm",
        "interventions",
        "Retention interventions: what an account manager did about an alert, and how it ended.",
        "intervention_id",
        "Gainsight CTA / Salesforce Case of type 'Retention' / HubSpot Task",
        [
            Column("intervention_id", "string", "Unique id of the intervention."),
            Column("account_id", "string", "Account concerned.", references="crm.accounts.account_id"),
            Column("alert_id", "string", "churnguard alert handled, when the intervention answers one.",
                   nullable=True),
            Column("user_id", "string", "Vendor user who ran it.", nullable=True, references="crm.users.user_id"),
            Column("playbook", "string", "Retention playbook followed.", accepted_values=PLAYBOOKS),
            Column("channel", "string", "Medium of the first contact.", accepted_values=CHANNELS),
            Column("opened_at", "timestamp", "When the intervention started (alert picked up)."),
            Column("first_contact_at", "timestamp", "First contact with the customer.", nullable=True),
            Column("interview_at", "timestamp", "In-depth interview held.", nullable=True),
            Column("solution_at", "timestamp", "Tailored solution delivered.", nullable=True),
            Column("cost", "decimal", "Cost of the intervention (discounts, hours).", min_value=0),
            Column("currency", "string", "ISO 4217 currency of cost."),
            Column("outcome", "string", "Result as recorded by the account manager.",
                   accepted_values=INTERVENTION_OUTCOMES),
            Column("outcome_at", "timestamp", "When the outcome was recorded.", nullable=True),
            Column("churn_reason", "string", "Reason the customer gave for leaving or wanting to leave.",
                   nullable=True),
        ],
        event_time_column="opened_at",
    ),
    # -------------------------------------------------------------- billing
    _t(
        "billing",
        "subscriptions",
        "Subscriptions / contracts. A plan change ends one row and starts another.",
        "subscription_id",
        "Stripe Subscription / Salesforce Contract",
        [
            Column("subscription_id", "string", "Unique id of the subscription."),
            Column("account_id", "string", "Customer account.", references="crm.accounts.account_id"),
            Column("plan_name", "string", "Plan or product name.", nullable=True, required=False),
            Column("status", "string", "Status at export time (informative; service dates decide churn).",
                   nullable=True, required=False, accepted_values=SUBSCRIPTION_STATUSES),
            Column("billing_interval", "string", "Invoicing cadence: the unit of the billing period.",
                   accepted_values=BILLING_INTERVALS),
            Column("billing_interval_count", "integer",
                   "Billing periods of billing_interval per invoice (a 6-month plan: month and 6). Null "
                   "(or a missing column) means 1.", nullable=True, required=False, min_value=1),
            Column("mrr", "decimal", "Monthly recurring revenue of this subscription.", min_value=0),
            Column("currency", "string", "ISO 4217 currency of mrr. Null (or a missing column): the reporting "
                   "currency.", nullable=True, required=False),
            Column("started_at", "timestamp", "First day of service."),
            Column("ended_at", "timestamp",
                   "When service ended (exclusive: the first instant without service); null while running.",
                   nullable=True),
            Column("renewal_date", "date", "Contract renewal (end of committed term), when known.", nullable=True),
            Column("canceled_at", "timestamp", "When cancellation was requested, if it was.", nullable=True),
        ],
        event_time_column="started_at",
    ),
    _t(
        "billing",
        "invoices",
        "Invoices issued to customers.",
        "invoice_id",
        "Stripe Invoice",
        [
            Column("invoice_id", "string", "Unique id of the invoice."),
            Column("account_id", "string", "Customer billed.", references="crm.accounts.account_id"),
            Column("subscription_id", "string", "Subscription invoiced; null for one-off invoices.", nullable=True,
                   references="billing.subscriptions.subscription_id"),
            Column("amount_due", "decimal", "Total due.", min_value=0),
            Column("currency", "string", "ISO 4217 currency."),
            Column("status", "string", "Status at export time.", accepted_values=INVOICE_STATUSES),
            Column("issued_at", "timestamp", "When the invoice was finalised and sent."),
            Column("due_at", "timestamp", "Payment due."),
        ],
        event_time_column="issued_at",
    ),
    _t(
        "billing",
        "payments",
        "Payments received against invoices.",
        "payment_id",
        "Stripe Charge / PaymentIntent",
        [
            Column("payment_id", "string", "Unique id of the payment."),
            Column("invoice_id", "string", "Invoice paid.", references="billing.invoices.invoice_id"),
            Column("account_id", "string", "Paying customer.", references="crm.accounts.account_id"),
            Column("amount", "decimal", "Amount paid.", min_value=0),
            Column("currency", "string", "ISO 4217 currency."),
            Column("status", "string", "Outcome of the payment attempt.", accepted_values=PAYMENT_STATUSES),
            Column("paid_at", "timestamp", "When the payment attempt was made."),
        ],
        event_time_column="paid_at",
    ),
    _t(
        "billing",
        "orders",
        "Orders for order-based business (one-off purchases, consumables, add-ons).",
        "order_id",
        "Shopify Order / Stripe Checkout Session / ERP sales order",
        [
            Column("order_id", "string", "Unique id of the order."),
            Column("account_id", "string", "Buying customer.", references="crm.accounts.account_id"),
            Column("ordered_at", "timestamp", "When the order was placed."),
            Column("amount", "decimal", "Order total, net of tax.", min_value=0),
            Column("currency", "string", "ISO 4217 currency. Null (or a missing column): the reporting currency.",
                   nullable=True, required=False),
            Column("status", "string",
                   "Order status. Null (or a missing column): completed (a purchase log lists purchases).",
                   nullable=True, required=False, accepted_values=ORDER_STATUSES),
        ],
        event_time_column="ordered_at",
    ),
    # -------------------------------------------------------------- support
    _t(
        "support",
        "tickets",
        "Support tickets, current state.",
        "ticket_id",
        "Zendesk Ticket",
        [
            Column("ticket_id", "string", "Unique id of the ticket."),
            Column("account_id", "string", "Customer (Zendesk organization).", references="crm.accounts.account_id"),
            Column("requester_contact_id", "string", "Contact who raised it, when matched.", nullable=True,
                   references="crm.contacts.contact_id"),
            Column("subject", "string", "Ticket subject (free text).", nullable=True),
            Column("category", "string", "Problem category.", accepted_values=TICKET_CATEGORIES),
            Column("priority", "string", "Severity. high and urgent count as severe.",
                   accepted_values=TICKET_PRIORITIES),
            Column("status", "string", "Status at export time.", accepted_values=TICKET_STATUSES),
            Column("created_at", "timestamp", "When the ticket was opened."),
            Column("solved_at", "timestamp", "When it was (last) solved; null while unsolved.", nullable=True),
            Column("reopen_count", "integer", "Times it was reopened after being solved.", min_value=0),
        ],
        event_time_column="created_at",
    ),
    _t(
        "support",
        "csat_ratings",
        "Customer-satisfaction ratings given on solved tickets (1 = very unhappy, 5 = very happy).",
        "rating_id",
        "Zendesk Satisfaction Rating (5-point CSAT)",
        [
            Column("rating_id", "string", "Unique id of the rating."),
            Column("ticket_id", "string", "Ticket rated.", references="support.tickets.ticket_id"),
            Column("account_id", "string", "Customer.", references="crm.accounts.account_id"),
            Column("score", "integer", "Rating 1-5.", min_value=1, max_value=5),
            Column("rated_at", "timestamp", "When the rating was given."),
            Column("comment", "string", "Free-text comment.", nullable=True),
        ],
        event_time_column="rated_at",
    ),
    _t(
        "support",
        "nps_responses",
        "Net Promoter Score survey responses (0-10).",
        "response_id",
        "Delighted / Qualtrics / HubSpot NPS survey export",
        [
            Column("response_id", "string", "Unique id of the response."),
            Column("account_id", "string", "Customer.", references="crm.accounts.account_id"),
            Column("contact_id", "string", "Respondent, when matched.", nullable=True,
                   references="crm.contacts.contact_id"),
            Column("score", "integer", "Likelihood to recommend, 0-10.", min_value=0, max_value=10),
            Column("responded_at", "timestamp", "When the survey was answered."),
            Column("comment", "string", "Free-text comment.", nullable=True),
        ],
        event_time_column="responded_at",
    ),
)

TABLES_BY_NAME: dict[str, Table] = {t.qualified_name: t for t in TABLES}


def table(qualified_name: str) -> Table:
    """Look a table up by ``system.name`` (e.g. ``crm.accounts``)."""
    try:
        return TABLES_BY_NAME[qualified_name]
    except KeyError:
        raise KeyError(f"no raw table {qualified_name}; known: {', '.join(TABLES_BY_NAME)}") from None


def file_stem(t: Table) -> str:
    """File or folder name a raw table is read from: ``<system>__<name>`` (e.g. ``crm__accounts``)."""
    return f"{t.system}__{t.name}"


def tables_in_load_order() -> Iterable[Table]:
    """Parents before children, so reference checks can run in one pass."""
    return TABLES
