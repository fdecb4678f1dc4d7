"""Item 1 of issue 16: the Wilson interval macro (macros/kpis/wilson_interval.sql).

The macro is compiled by dbt and evaluated on DuckDB (and on PostgreSQL when its
server binaries are on the machine), over hand-picked (successes, trials) pairs:
- bounds stay in [0, 1] and are exact at the ends: lower = 0 with no success, upper = 1
  when every trial succeeded (the raw formula gives 0.99999999999999978 for 10 of 10,
  below the save rate 1.0, which failed the nightly's own tests);
- everywhere else the bounds equal the textbook formula computed here;
- trials = 0 gives null, and PostgreSQL (which raises on a division by zero) runs it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import duckdb
import pytest

from churnguard.dbt_cli import run_dbt

pytestmark = pytest.mark.xdist_group("test_wilson_interval")  # one worker: its module fixture compiles the query once

PAIRS = [(0, 0), (0, 1), (1, 1), (0, 7), (7, 7), (10, 10), (3, 10), (1, 3), (29, 30), (1, 30), (500, 500), (17, 1000)]


def _textbook(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    p = successes / trials
    centre = p + z * z / (2 * trials)
    spread = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    return (centre - spread) / (1 + z * z / trials), (centre + spread) / (1 + z * z / trials)


def _values_sql() -> str:
    rows = ", ".join(f"({s}, {n})" for s, n in PAIRS)
    return f"(values {rows}) as pairs(s, n)"


@pytest.fixture(scope="module")
def compiled_query(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("wilson")
    inline = (
        "select s, n, {{ wilson_bound('s', 'n', 'lower') }} as lower_bound, "
        "{{ wilson_bound('s', 'n', 'upper') }} as upper_bound from " + _values_sql()
    )
    result = run_dbt(["compile", "--inline", inline, "--output", "json", "--quiet"],
                     warehouse=root / "empty.duckdb", capture=True)
    text = result.stdout
    return json.loads(text[text.index("{"):])["compiled"]


def _check(rows: list[tuple]) -> None:
    by_pair = {(int(s), int(n)): (lower, upper) for s, n, lower, upper in rows}
    assert by_pair[(0, 0)] == (None, None)
    for (s, n), (lower, upper) in by_pair.items():
        if n == 0:
            continue
        lower, upper = float(lower), float(upper)
        assert 0.0 <= lower <= s / n <= upper <= 1.0, (s, n, lower, upper)
        want_lower, want_upper = _textbook(s, n)
        if s == 0:
            assert lower == 0.0
        else:
            assert abs(lower - want_lower) < 1e-12
        if s == n:
            assert upper == 1.0, (s, n, upper)  # exactly, not 0.99999999999999978
        else:
            assert abs(upper - want_upper) < 1e-12
    # Hand-checkable values: 10 of 10 -> [0.7225, 1]; 3 of 10 -> [0.1078, 0.6032].
    assert round(by_pair[(10, 10)][0], 4) == 0.7225
    assert (round(by_pair[(3, 10)][0], 4), round(by_pair[(3, 10)][1], 4)) == (0.1078, 0.6032)


def test_wilson_bounds_are_clamped_and_exact_at_zero_and_one_on_duckdb(compiled_query: str) -> None:
    con = duckdb.connect()
    try:
        rows = con.execute(compiled_query).fetchall()
    finally:
        con.close()
    _check(rows)


def test_wilson_bounds_run_on_postgresql_without_dividing_by_zero(compiled_query: str) -> None:
    from delivery_fixtures import start_postgres

    cluster = start_postgres()
    if isinstance(cluster, str):
        pytest.skip(cluster)
    try:
        import psycopg

        with psycopg.connect(cluster.dsn, autocommit=True) as con:
            rows = con.execute(compiled_query).fetchall()
    finally:
        cluster.stop()
    _check(rows)
