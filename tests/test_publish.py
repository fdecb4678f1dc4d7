"""The published copy for BI tools: types a connector maps (no HUGEINT, one money type)."""

from __future__ import annotations

from decimal import Decimal

import duckdb
import pytest

from churnguard.publish import MONEY_TYPE, bi_column_type, is_money_column, publish_marts


def test_money_columns_by_name():
    money = ["mrr", "current_mrr", "churned_mrr", "mrr_at_end", "arpa", "revenue", "order_revenue",
             "annual_revenue_at_open", "order_amount_28d", "purchase_amount_365d", "retention_cost",
             "customer_lifetime_value", "historical_clv", "predictive_clv", "retention_roi"]
    not_money = ["net_revenue_retention", "gross_revenue_retention", "is_roi_positive_share", "save_rate",
                 "observed_value", "pulled_down_points", "health_score", "logins_28d"]
    assert [c for c in money if not is_money_column(c)] == []
    assert [c for c in not_money if is_money_column(c)] == []
    assert bi_column_type("is_roi_positive", "BOOLEAN") is None  # a flag named after money stays a flag
    assert bi_column_type("logins_28d", "HUGEINT") == "BIGINT"
    assert bi_column_type("mrr", "DOUBLE") == MONEY_TYPE == "DECIMAL(18,4)"


def test_published_copy_has_bigint_counts_and_one_money_type(tmp_path):
    warehouse = tmp_path / "wh.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema marts")
        con.execute(
            "create table marts.fct_customer_day as select "
            "sum(x)::hugeint as logins_28d, 83.333333::decimal(38,6) as mrr, 42::integer as health_score "
            "from (values (1), (2)) t(x)"
        )
        con.execute(
            "create table marts.kpi_monthly as select 1234.56789::double as revenue, "
            "0.97::double as net_revenue_retention, 'all' as segment, true as is_all_segments"
        )
    publication = publish_marts(warehouse, run_id="r1", destination=tmp_path / "published.duckdb")
    assert publication.tables == {"fct_customer_day": 1, "kpi_monthly": 1}
    with duckdb.connect(str(tmp_path / "published.duckdb"), read_only=True) as con:
        types = dict(
            ((t, c), d)
            for t, c, d in con.execute(
                "select table_name, column_name, data_type from information_schema.columns where table_schema = 'marts'"
            ).fetchall()
        )
        assert types[("fct_customer_day", "logins_28d")] == "BIGINT"
        assert types[("fct_customer_day", "mrr")] == types[("kpi_monthly", "revenue")] == "DECIMAL(18,4)"
        assert types[("fct_customer_day", "health_score")] == "INTEGER"
        assert types[("kpi_monthly", "net_revenue_retention")] == "DOUBLE"  # a ratio, not money
        assert "HUGEINT" not in set(types.values())
        assert con.execute("select logins_28d, mrr from marts.fct_customer_day").fetchone() == (3, Decimal("83.3333"))
        assert con.execute("select revenue from marts.kpi_monthly").fetchone() == (Decimal("1234.5679"),)


def test_a_duckdb_1_client_reads_the_published_copy(tmp_path):
    """Many BI connectors bundle DuckDB 1.x, which cannot open a file DuckDB 2 writes in its
    own format: the published copy must open in a real DuckDB 1.1 client."""
    import subprocess
    import sys

    client = tmp_path / "duckdb1"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(client), "duckdb>=1.1,<1.2"],
        capture_output=True, text=True,
    )
    if install.returncode != 0:
        pytest.skip(f"cannot install a DuckDB 1.1 client from the package index: {install.stderr.strip()[-300:]}")
    warehouse = tmp_path / "wh.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema marts")
        con.execute("create table marts.kpi_monthly as select 'all' as segment, true as is_all_segments, "
                    "0.05::double as customer_churn_rate, 1234.5::double as revenue")
    published = tmp_path / "published.duckdb"
    publish_marts(warehouse, run_id="r1", destination=published)
    with pytest.raises(duckdb.Error):  # the point of publishing: the warehouse itself is v2-only...
        _read_with(client, warehouse)
    # ...the published copy is not
    assert _read_with(client, published) == "1.1|all|True|0.05|1234.5000|r1"


def _read_with(client, path) -> str:
    import subprocess
    import sys

    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); import duckdb; "
        "con = duckdb.connect(sys.argv[2], read_only=True); "
        "row = con.execute('select segment, is_all_segments, customer_churn_rate, revenue from marts.kpi_monthly').fetchone(); "
        "run = con.execute('select run_id from marts.published_marts').fetchone()[0]; "
        "print('|'.join([duckdb.__version__[:3], *map(str, row), run]))"
    )
    result = subprocess.run([sys.executable, "-c", script, str(client), str(path)], capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin"})
    if result.returncode != 0:
        raise duckdb.Error(result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "failed")
    return result.stdout.strip()
