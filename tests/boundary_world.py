"""A hand-made boundary world: a few customers whose behaviour puts them on the edges
the KPI and alert rules must get right (issue 16). History 2024-01-01 .. 2025-06-30.

| customer | business | story |
|---|---|---|
| h_healthy | subscription | logs in every other day all along: green, no episode |
| p_pending | subscription | subscription ends 2025-06-10, grace gap open on the as-of date: June's churn is pending |
| g_grace | subscription, 10,000 MRR | subscription ends 2025-03-01; two CSAT ratings of 1 in the grace gap open an episode there |
| o_late | order | orders every 14 days until 2024-06-01, then never: warned ~66 days in, churned 180 days after the last order |
| o_steady | order | orders every 14 days all along |
| r_red | subscription, no CSM | stops logging in 2025-04-15, urgent tickets, NPS 0, CSAT 1: red and open on the as-of date |
| r_red_csm | subscription, with a CSM | the same, with a customer-success manager |
| e_escalate | subscription | stops logging in 2025-03-01 (yellow), then urgent tickets and bad ratings from 2025-05-10 (red) |
| s_peer00..19 | subscription | steady: logins every other day, a quarterly ticket solved in a day, NPS 9, CSAT 5 |

Users: am1 (account manager, reports to sl1), sl1 (sales lead), csm1 (customer-success
manager)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from world import write_world

HISTORY_START = date(2024, 1, 1)
AS_OF = date(2025, 6, 30)
DBT_VARS = {"history_start_date": str(HISTORY_START), "as_of_date": str(AS_OF)}


def _days(first: date, last: date, step: int) -> list[date]:
    out, day = [], first
    while day <= last:
        out.append(day)
        day += timedelta(days=step)
    return out


def _ts(day: date, hour: int = 10) -> str:
    return f"{day.isoformat()}T{hour:02d}:00:00Z"


def boundary_tables() -> dict[str, list[dict]]:
    users = [
        {"user_id": "sl1", "full_name": "Sam Lead", "email": "sl1@example.com", "role": "sales_lead", "is_active": "true"},
        {"user_id": "am1", "full_name": "Ann Manager", "email": "am1@example.com", "role": "account_manager",
         "manager_user_id": "sl1", "is_active": "true"},
        {"user_id": "csm1", "full_name": "Cy Success", "email": "csm1@example.com", "role": "customer_success_manager",
         "manager_user_id": "sl1", "is_active": "true"},
    ]
    accounts, subscriptions, logins, orders, tickets, csat, nps = [], [], [], [], [], [], []

    def account(cid: str, model: str, segment: str = "smb", csm: str | None = None) -> None:
        accounts.append({"account_id": cid, "account_name": cid.replace("_", " ").title(), "segment": segment,
                         "owner_user_id": "am1", "csm_user_id": csm, "business_model": model,
                         "created_at": "2023-12-01T09:00:00Z", "updated_at": "2023-12-01T09:00:00Z"})

    def subscription(cid: str, mrr: float, end: date | None) -> None:
        subscriptions.append({"subscription_id": f"sub_{cid}", "account_id": cid, "plan_name": "pro",
                              "status": "canceled" if end else "active", "billing_interval": "month",
                              "mrr": f"{mrr:.2f}", "currency": "USD", "started_at": _ts(HISTORY_START, 0),
                              "ended_at": _ts(end, 0) if end else None})

    def login_days(cid: str, last: date, first: date = HISTORY_START) -> None:
        for n, day in enumerate(_days(first, last, 2)):
            logins.append({"login_id": f"l_{cid}_{n}", "account_id": cid, "user_id": f"pu_{cid}",
                           "logged_in_at": _ts(day, 9), "session_seconds": "600"})

    def order_days(cid: str, last: date) -> None:
        for n, day in enumerate(_days(date(2024, 1, 5), last, 14)):
            orders.append({"order_id": f"o_{cid}_{n}", "account_id": cid, "ordered_at": _ts(day, 11),
                           "amount": "200.00", "currency": "USD", "status": "completed"})

    def bad_support(cid: str, first: date) -> None:
        for n in range(3):
            tickets.append({"ticket_id": f"t_{cid}_{n}", "account_id": cid, "category": "bug", "priority": "urgent",
                            "status": "open", "created_at": _ts(first + timedelta(days=n), 8), "reopen_count": "0"})
        for n in range(2):
            csat.append({"rating_id": f"c_{cid}_{n}", "ticket_id": f"t_{cid}_{n}", "account_id": cid, "score": "1",
                         "rated_at": _ts(first + timedelta(days=n + 1), 12)})
        nps.append({"response_id": f"n_{cid}", "account_id": cid, "score": "0", "responded_at": _ts(first + timedelta(days=1), 13)})

    account("h_healthy", "subscription", "enterprise")
    subscription("h_healthy", 500, None)
    login_days("h_healthy", AS_OF)

    account("p_pending", "subscription")
    subscription("p_pending", 300, date(2025, 6, 10))
    login_days("p_pending", date(2025, 6, 9))

    account("g_grace", "subscription", "enterprise")
    subscription("g_grace", 10000, date(2025, 3, 1))
    login_days("g_grace", date(2025, 2, 28))
    bad_support("g_grace", date(2025, 3, 2))

    account("o_late", "order")
    order_days("o_late", date(2024, 6, 1))

    account("o_steady", "order", "mid_market")
    order_days("o_steady", AS_OF)

    account("r_red", "subscription")
    subscription("r_red", 800, None)
    login_days("r_red", date(2025, 4, 15))
    bad_support("r_red", date(2025, 5, 1))

    account("r_red_csm", "subscription", csm="csm1")
    subscription("r_red_csm", 800, None)
    login_days("r_red_csm", date(2025, 4, 15))
    bad_support("r_red_csm", date(2025, 5, 1))

    account("e_escalate", "subscription")
    subscription("e_escalate", 400, None)
    login_days("e_escalate", date(2025, 3, 1))
    bad_support("e_escalate", date(2025, 5, 10))

    # The score ranks each signal among comparable customers: twenty steady subscribers
    # (logins every other day, one ticket solved the next day each quarter, NPS 9 and
    # CSAT 5) are the population the customers above are compared with. They have no
    # invoices, so they add no revenue, and they never churn.
    for n in range(20):
        cid = f"s_peer{n:02d}"
        account(cid, "subscription")
        subscription(cid, 300, None)
        login_days(cid, AS_OF, first=HISTORY_START + timedelta(days=n % 2))
        for q, day in enumerate(_days(date(2024, 2, 1) + timedelta(days=n), AS_OF, 91)):
            tickets.append({"ticket_id": f"t_{cid}_{q}", "account_id": cid, "category": "how_to", "priority": "low",
                            "status": "solved", "created_at": _ts(day, 8), "solved_at": _ts(day + timedelta(days=1), 8),
                            "reopen_count": "0"})
            csat.append({"rating_id": f"c_{cid}_{q}", "ticket_id": f"t_{cid}_{q}", "account_id": cid, "score": "5",
                         "rated_at": _ts(day + timedelta(days=1), 12)})
            nps.append({"response_id": f"n_{cid}_{q}", "account_id": cid, "score": "9",
                        "responded_at": _ts(day + timedelta(days=2), 13)})

    return {"crm.users": users, "crm.accounts": accounts, "billing.subscriptions": subscriptions,
            "crm.logins": logins, "billing.orders": orders, "support.tickets": tickets,
            "support.csat_ratings": csat, "support.nps_responses": nps}


def write_boundary_world(folder: Path, interventions: list[dict] | None = None) -> Path:
    tables = boundary_tables()
    if interventions:
        tables["crm.interventions"] = interventions
    return write_world(folder, tables)
