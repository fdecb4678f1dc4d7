"""The lower-bound reference pass for benchmarks/scale.py.

One hand-written DuckDB statement that reads every raw event table once and aggregates
it to customer x day (subscriptions expanded over the days they cover), written with
CREATE TABLE AS. It is the least work any implementation of the customer-day facts must
do, so benchmark steps are reported as multiples of its time and compare across machines.

    python benchmarks/reference_pass.py --warehouse W --scratch S --first-day D --last-day D

The warehouse is attached read-only; the result goes to a scratch database file. Memory
limit, threads and temp directory are the dbt profile's (CHURNGUARD_DUCKDB_MEMORY_LIMIT,
default 5GB; 2 threads; CHURNGUARD_DUCKDB_TEMP_DIR). Prints one JSON line:
{"seconds": ..., "rows": ...}.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import duckdb

# Measures in one long form: every source contributes its own columns, null elsewhere,
# so a single GROUP BY produces the customer-day grid.
MEASURES = [
    "logins", "session_seconds", "interactions", "outbound_interactions", "outreach_unanswered",
    "orders", "order_amount", "invoices_issued", "invoiced_amount", "payments", "paid_amount",
    "tickets_opened", "severe_tickets_opened", "csat_responses", "csat_score_sum",
    "nps_responses", "nps_score_sum", "active_subscriptions", "mrr",
]


def _source(table: str, day: str, measures: dict[str, str], where: str = "") -> str:
    columns = ", ".join(f"{measures.get(name, 'null')} as {name}" for name in MEASURES)
    clause = f" where {where}" if where else ""
    return f"select account_id as customer_id, cast({day} as date) as date_day, {columns} from {table}{clause}"


def reference_sql(first_day: str, last_day: str) -> str:
    sources = [
        _source("w.raw_crm.logins", "logged_in_at", {"logins": "1", "session_seconds": "session_seconds"}),
        _source(
            "w.raw_crm.interactions",
            "occurred_at",
            {
                "interactions": "1",
                "outbound_interactions": "case when direction = 'outbound' then 1 else 0 end",
                "outreach_unanswered": "case when direction = 'outbound' and not is_answered then 1 else 0 end",
            },
        ),
        _source(
            "w.raw_billing.orders",
            "ordered_at",
            {"orders": "1", "order_amount": "amount"},
            "status = 'completed'",
        ),
        _source(
            "w.raw_billing.invoices",
            "issued_at",
            {"invoices_issued": "1", "invoiced_amount": "amount_due"},
            "status != 'void'",
        ),
        _source(
            "w.raw_billing.payments",
            "paid_at",
            {"payments": "1", "paid_amount": "amount"},
            "status = 'succeeded'",
        ),
        _source(
            "w.raw_support.tickets",
            "created_at",
            {
                "tickets_opened": "1",
                "severe_tickets_opened": "case when priority in ('high', 'urgent') then 1 else 0 end",
            },
        ),
        _source("w.raw_support.csat_ratings", "rated_at", {"csat_responses": "1", "csat_score_sum": "score"}),
        _source("w.raw_support.nps_responses", "responded_at", {"nps_responses": "1", "nps_score_sum": "score"}),
        _source(
            "w.raw_billing.subscriptions as s inner join days on days.date_day >= cast(s.started_at as date)"
            " and (s.ended_at is null or days.date_day < cast(s.ended_at as date))",
            "days.date_day",
            {"active_subscriptions": "1", "mrr": "s.mrr"},
        ),
    ]
    union = "\n    union all\n    ".join(sources)
    sums = ",\n    ".join(f"sum({name}) as {name}" for name in MEASURES)
    return f"""
create or replace table reference_customer_day as
with days as (
    select cast(range as date) as date_day
    from range(date '{first_day}', date '{last_day}' + interval 1 day, interval 1 day)
),
events as (
    {union}
)
select
    customer_id,
    date_day,
    {sums}
from events
where date_day between date '{first_day}' and date '{last_day}'
group by customer_id, date_day
"""


def run(warehouse: Path, scratch: Path, first_day: str, last_day: str) -> dict:
    scratch.unlink(missing_ok=True)
    con = duckdb.connect(str(scratch))
    try:
        con.execute(f"set memory_limit = '{os.environ.get('CHURNGUARD_DUCKDB_MEMORY_LIMIT', '5GB')}'")
        con.execute("set threads = 2")
        con.execute("set preserve_insertion_order = false")
        temp = os.environ.get("CHURNGUARD_DUCKDB_TEMP_DIR", str(scratch) + ".tmp")
        con.execute(f"set temp_directory = '{temp}'")
        con.execute(f"attach '{warehouse}' as w (read_only)")
        sql = reference_sql(first_day, last_day)
        started = time.perf_counter()
        con.execute(sql)
        seconds = time.perf_counter() - started
        rows = con.execute("select count(*) from reference_customer_day").fetchone()[0]
    finally:
        con.close()
    return {"seconds": seconds, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--warehouse", required=True, type=Path)
    parser.add_argument("--scratch", required=True, type=Path, help="DuckDB file the result is written to")
    parser.add_argument("--first-day", required=True, help="first day of the customer-day grid (YYYY-MM-DD)")
    parser.add_argument("--last-day", required=True, help="last day of the customer-day grid (YYYY-MM-DD)")
    args = parser.parse_args()
    print(json.dumps(run(args.warehouse, args.scratch, args.first_day, args.last_day)))


if __name__ == "__main__":
    main()
