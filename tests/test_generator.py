"""The synthetic data generator: determinism, the raw-data contract, and a believable world.

Small worlds only (a few seconds each). The behavioural tests check what a person
looking at the data would expect: churners fade out before they leave, some leave
suddenly, some come back, weekends are quiet, and the truth file matches the SPEC's
churn definitions applied to the raw rows.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from churnguard import contract as C
from churnguard.generator import GeneratorParams, generate, main

pytestmark = pytest.mark.xdist_group("test_generator")  # one worker: its module fixtures generate the worlds once

START = date(2025, 1, 1)
SCHEDULED_COLUMNS = {("billing.invoices", "due_at")}  # a due date may lie after the export

CSV_PATTERNS = {
    "timestamp": re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$"),
    "date": re.compile(r"^\d{4}-\d{2}-\d{2}$"),
    "boolean": re.compile(r"^(true|false)$"),
    "decimal": re.compile(r"^\d+\.\d{2}$"),
    "integer": re.compile(r"^-?\d+$"),
}
PARQUET_TYPES = {
    "string": pa.string(),
    "integer": pa.int64(),
    "decimal": pa.decimal128(18, 2),
    "boolean": pa.bool_(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "date": pa.date32(),
}


# ----------------------------------------------------------------------------- helpers
def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _read_raw(folder: Path, fmt: str) -> dict[str, pa.Table]:
    out = {}
    for t in C.TABLES:
        path = folder / f"{C.file_stem(t)}.{fmt}"
        assert path.is_file(), f"missing {path.name}"
        if fmt == "parquet":
            out[t.qualified_name] = pq.read_table(path)
        else:
            out[t.qualified_name] = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
                column_types={c.name: pa.string() for c in t.columns}, strings_can_be_null=True,
                null_values=[""]))  # only an empty field is null: region "NA" is North America
    return out


def _to_frame(t: C.Table, arrow: pa.Table, fmt: str) -> pd.DataFrame:
    """Typed pandas frame: timestamps as UTC datetimes, decimals as float, booleans as bool."""
    df = arrow.to_pandas()
    for c in t.columns:
        s = df[c.name]
        if c.type == "timestamp":
            df[c.name] = pd.to_datetime(s, utc=True, format="ISO8601" if fmt == "csv" else None)
        elif c.type == "date":
            df[c.name] = pd.to_datetime(s).dt.strftime("%Y-%m-%d")
        elif c.type == "decimal":
            df[c.name] = s.astype(float)
        elif c.type == "integer":
            df[c.name] = pd.to_numeric(s).astype("Int64")
        elif c.type == "boolean" and fmt == "csv":
            df[c.name] = s.map({"true": True, "false": False})
    return df


def load_frames(folder: Path, fmt: str) -> dict[str, pd.DataFrame]:
    raw = _read_raw(folder, fmt)
    return {name: _to_frame(C.table(name), tbl, fmt) for name, tbl in raw.items()}


def check_contract(folder: Path, fmt: str, start: date, days: int) -> dict[str, pd.DataFrame]:
    """Every rule of the raw-data contract, plus the window rules. Returns the typed frames."""
    raw = _read_raw(folder, fmt)
    for name, tbl in raw.items():
        t = C.table(name)
        assert tbl.column_names == t.column_names, f"{name}: columns/order differ"
        for c in t.columns:
            col = tbl.column(c.name)
            if fmt == "parquet":
                assert col.type == PARQUET_TYPES[c.type], f"{name}.{c.name}: {col.type}"
            elif c.type in CSV_PATTERNS:
                values = [v for v in col.to_pylist() if v is not None]
                bad = [v for v in values if not CSV_PATTERNS[c.type].match(v)]
                assert not bad, f"{name}.{c.name}: badly formatted values {bad[:3]}"
    frames = {name: _to_frame(C.table(name), tbl, fmt) for name, tbl in raw.items()}
    window_start = pd.Timestamp(start, tz="UTC")
    window_end = pd.Timestamp(start + timedelta(days=days), tz="UTC")
    for name, df in frames.items():
        t = C.table(name)
        assert df[t.primary_key].is_unique, f"{name}: duplicate primary keys"
        for c in t.columns:
            s = df[c.name]
            if not c.nullable:
                assert s.notna().all(), f"{name}.{c.name}: nulls in a non-nullable column"
            if c.accepted_values:
                assert set(s.dropna()) <= set(c.accepted_values), f"{name}.{c.name}: {set(s.dropna())}"
            if c.min_value is not None:
                assert (s.dropna() >= c.min_value).all(), f"{name}.{c.name} below {c.min_value}"
            if c.max_value is not None:
                assert (s.dropna() <= c.max_value).all(), f"{name}.{c.name} above {c.max_value}"
            if c.references:
                ref_table, ref_col = c.references.rsplit(".", 1)
                missing = set(s.dropna()) - set(frames[ref_table][ref_col])
                assert not missing, f"{name}.{c.name}: unresolved references {sorted(missing)[:3]}"
            if c.type == "timestamp" and (name, c.name) not in SCHEDULED_COLUMNS:
                assert (s.dropna() < window_end).all(), f"{name}.{c.name}: after the window end"
            if c.name == "currency":
                assert set(s) <= {"USD"}
        # the row reached the export after everything it records
        ts_cols = [c.name for c in t.columns if c.type == "timestamp" and c.name != "_synced_at"
                   and (name, c.name) not in SCHEDULED_COLUMNS]
        for col in ts_cols:
            has = df[col].notna()
            assert (df.loc[has, "_synced_at"] >= df.loc[has, col]).all(), f"{name}: _synced_at before {col}"
        # behavioural events only inside the window (event tracking began at the window start)
        if name not in ("crm.users", "crm.accounts", "crm.contacts", "billing.subscriptions"):
            assert (df[t.event_time_column] >= window_start).all(), f"{name}: event before the window start"

    f = frames
    it = f["crm.interactions"]
    assert (it["answered_at"].notna() == it["is_answered"]).all()
    assert (it["answered_at"].dropna() >= it.loc[it["answered_at"].notna(), "occurred_at"]).all()
    tk = f["support.tickets"]
    solved = tk["solved_at"].notna()
    assert (tk.loc[solved, "solved_at"] >= tk.loc[solved, "created_at"]).all()
    assert set(tk.loc[~solved, "status"]) <= {"new", "open", "pending"}
    assert set(tk.loc[solved, "status"]) <= {"solved", "closed"}
    sb = f["billing.subscriptions"]
    ended = sb["ended_at"].notna()
    assert (sb.loc[ended, "ended_at"] > sb.loc[ended, "started_at"]).all()
    assert (sb.loc[ended, "status"] == "canceled").all() and (sb.loc[~ended, "status"] != "canceled").all()
    canceled = sb["canceled_at"].notna()
    assert (sb.loc[canceled, "canceled_at"] >= sb.loc[canceled, "started_at"]).all()
    assert (sb["started_at"] < window_end).all()
    # one account's subscriptions never overlap: plan changes hand over at the same instant
    sb_sorted = sb.sort_values(["account_id", "started_at"])
    nxt = sb_sorted.groupby("account_id")["started_at"].shift(-1)
    has_next = nxt.notna()
    assert sb_sorted.loc[has_next, "ended_at"].notna().all()
    assert (nxt[has_next] >= sb_sorted.loc[has_next, "ended_at"]).all()
    iv = f["billing.invoices"]
    assert (iv["due_at"] >= iv["issued_at"]).all()
    # subscription invoices: issued while the subscription runs, for a month or a year of MRR
    si = iv[iv["subscription_id"].notna()].merge(sb, on="subscription_id", suffixes=("", "_s"))
    assert (si["account_id"] == si["account_id_s"]).all()
    assert (si["issued_at"] >= si["started_at"]).all()
    assert (si["ended_at"].isna() | (si["issued_at"] < si["ended_at"])).all()
    months = np.where(si["billing_interval"] == "year", 12, 1)
    assert np.allclose(si["amount_due"], si["mrr"] * months)
    # subscription customers log in only while a subscription gives them service
    acc_sub = f["crm.accounts"].loc[f["crm.accounts"]["business_model"] == "subscription", "account_id"]
    lg = f["crm.logins"]
    lg = lg[lg["account_id"].isin(acc_sub)].sort_values("logged_in_at")
    cover = pd.merge_asof(lg, sb.sort_values("started_at")[["account_id", "started_at", "ended_at"]],
                          left_on="logged_in_at", right_on="started_at", by="account_id")
    assert cover["started_at"].notna().all()
    assert (cover["ended_at"].isna() | (cover["logged_in_at"] < cover["ended_at"])).all()
    inactive = f["crm.accounts"].loc[f["crm.accounts"]["business_model"] != "subscription", "account_id"]
    assert not sb["account_id"].isin(inactive).any()  # activity and order customers have no subscription
    pay = f["billing.payments"].merge(iv[["invoice_id", "issued_at", "account_id"]], on="invoice_id",
                                      suffixes=("", "_inv"))
    assert (pay["paid_at"] >= pay["issued_at"]).all()
    assert (pay["account_id"] == pay["account_id_inv"]).all()
    paid = set(f["billing.payments"].loc[f["billing.payments"]["status"] == "succeeded", "invoice_id"])
    assert set(iv.loc[iv["status"] == "paid", "invoice_id"]) == paid
    assert f["billing.payments"].loc[f["billing.payments"]["status"] == "succeeded", "invoice_id"].is_unique
    assert not set(iv.loc[iv["status"] == "void", "invoice_id"]) & set(f["billing.payments"]["invoice_id"])
    cs = f["support.csat_ratings"].merge(tk[["ticket_id", "solved_at", "account_id"]], on="ticket_id",
                                         suffixes=("", "_t"))
    assert (cs["rated_at"] >= cs["solved_at"]).all() and (cs["account_id"] == cs["account_id_t"]).all()
    ct = f["crm.contacts"]
    left = ct["valid_to"].notna()
    assert (ct.loc[left, "valid_to"] > ct.loc[left, "valid_from"]).all()
    dm = ct.groupby("account_id")["is_decision_maker"].sum()
    assert (dm >= 1).all() and set(dm.index) == set(f["crm.accounts"]["account_id"])
    ac = f["crm.accounts"]
    assert (ac["updated_at"] >= ac["created_at"]).all()
    assert (ac["created_at"] >= window_start - pd.Timedelta(days=3 * 365 + 1)).all()
    ix = f["crm.interventions"]
    for col in ("first_contact_at", "interview_at", "solution_at", "outcome_at"):
        assert (ix[col].dropna() >= ix.loc[ix[col].notna(), "opened_at"]).all()
    assert (ix["outcome_at"].isna() == (ix["outcome"] == "pending")).all()
    us = f["crm.users"]
    assert us["manager_user_id"].notna().sum() == len(us) - 1  # one person at the top
    return frames


# ---------------------------------------------------------------------------- fixtures
DAYS = 365


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A 900-customer, one-year world as Parquet, its typed frames and its truth file."""
    out = tmp_path_factory.mktemp("world")
    res = generate(900, DAYS, 7, out, start_date=START, file_format="parquet")
    frames = check_contract(out, "parquet", START, DAYS)
    truth = pd.read_csv(res.truth_path, dtype=str, keep_default_na=False)
    return res, frames, truth


# ------------------------------------------------------------------------------- tests
def test_same_seed_gives_identical_files_and_another_seed_does_not(tmp_path):
    a = generate(120, 90, 3, tmp_path / "a", file_format="csv")
    b = generate(120, 90, 3, tmp_path / "b", file_format="csv")
    c = generate(120, 90, 4, tmp_path / "c", file_format="csv")
    assert _digest(a.out_dir) == _digest(b.out_dir)
    assert a.row_counts == b.row_counts
    assert _digest(a.out_dir) != _digest(c.out_dir)
    pa_ = generate(120, 90, 3, tmp_path / "pa", file_format="parquet")
    pb = generate(120, 90, 3, tmp_path / "pb", file_format="parquet")
    assert _digest(pa_.out_dir) == _digest(pb.out_dir)


def test_csv_output_follows_the_contract(tmp_path):
    res = generate(250, 200, 11, tmp_path, start_date=date(2024, 3, 1), file_format="csv")
    check_contract(tmp_path, "csv", date(2024, 3, 1), 200)
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == sorted(
        f"{C.file_stem(t)}.csv" for t in C.TABLES)
    first = (tmp_path / "crm__accounts.csv").read_text(encoding="utf-8").splitlines()[0]
    assert first.replace('"', "").split(",") == C.table("crm.accounts").column_names
    # every table has rows, except the generic product event stream (the simulated product logs logins)
    assert all(n > 0 for name, n in res.row_counts.items() if name != "crm.product_events"), res.row_counts
    assert res.row_counts["crm.product_events"] == 0


def test_parquet_output_follows_the_contract(world):
    res, frames, _ = world
    assert set(res.row_counts) == set(C.TABLES_BY_NAME)
    for name, n in res.row_counts.items():
        assert len(frames[name]) == n and (n > 0 or name == "crm.product_events"), name


def test_csv_and_parquet_hold_the_same_rows(tmp_path):
    generate(150, 120, 5, tmp_path / "c", file_format="csv")
    generate(150, 120, 5, tmp_path / "p", file_format="parquet")
    fc = load_frames(tmp_path / "c", "csv")
    fp = load_frames(tmp_path / "p", "parquet")
    for name in C.TABLES_BY_NAME:
        pd.testing.assert_frame_equal(fc[name].reset_index(drop=True), fp[name].reset_index(drop=True),
                                      check_dtype=False, obj=name)


def test_population_has_segments_models_and_a_few_high_value_accounts(world):
    _, f, _ = world
    ac = f["crm.accounts"]
    share = ac["segment"].value_counts(normalize=True)
    assert 0.70 < share["smb"] < 0.90 and share["mid_market"] > 0.08 and share["enterprise"] > 0.005
    bm = ac["business_model"].value_counts(normalize=True)
    assert bm["subscription"] > 0.7 and bm["activity"] > 0.04 and bm["order"] > 0.04
    existing = (ac["created_at"] < pd.Timestamp(START, tz="UTC")).mean()
    assert 0.55 < existing < 0.75
    sb = f["billing.subscriptions"]
    current = sb[sb["status"] != "canceled"].groupby("account_id")["mrr"].sum()
    assert (current >= 8334).sum() >= 3 and current.median() < 1000
    us = f["crm.users"]
    assert (us["role"] == "account_manager").sum() >= 3
    assert ac["owner_user_id"].isin(us.loc[us["role"] == "account_manager", "user_id"]).all()
    big = ac["segment"] != "smb"
    assert ac.loc[big, "csm_user_id"].notna().all() and ac.loc[~big, "csm_user_id"].isna().all()


def test_logins_are_bounded_and_quiet_on_weekends(world):
    res, f, _ = world
    lg = f["crm.logins"]
    per_day = lg.groupby(lg["logged_in_at"].dt.floor("D")).size()
    weekend = per_day[per_day.index.day_of_week >= 5].mean()
    weekday = per_day[per_day.index.day_of_week < 5].mean()
    assert weekend < 0.4 * weekday
    # roughly 0.5-1.5 logins per active customer-day
    assert 0.4 < len(lg) / (res.customers * DAYS * 0.85) < 1.6
    it = f["crm.interactions"]
    wd = it["occurred_at"].dt.day_of_week
    assert (wd >= 5).mean() < 0.05


def test_churners_fade_out_before_they_leave(world):
    _, f, truth = world
    lg = f["crm.logins"]
    lg = lg.assign(day=lg["logged_in_at"].dt.tz_localize(None).dt.normalize())
    counts = lg.groupby(["account_id", "day"]).size()
    ch = truth[(truth["churn_observed"] == "true") & (truth["churn_number"] == "1")].copy()
    ch["left"] = pd.to_datetime(ch["left_on"])
    ch["first"] = pd.to_datetime(ch["created_on"]).clip(lower=pd.Timestamp(START)) + pd.Timedelta(days=1)
    ch = ch[(ch["left"] - ch["first"]).dt.days >= 84]
    assert len(ch) >= 30
    first_month, last_month = [], []
    for r in ch.itertuples():
        c = counts.get(r.customer_id)
        if c is None:
            first_month.append(0); last_month.append(0); continue
        first_month.append(c[(c.index >= r.first) & (c.index < r.first + pd.Timedelta(days=28))].sum())
        last_month.append(c[(c.index >= r.left - pd.Timedelta(days=28)) & (c.index < r.left)].sum())
    assert sum(last_month) < 0.5 * sum(first_month)
    gradual = ch["archetype"].to_numpy() == "gradual_churn"
    assert np.sum(np.array(last_month)[gradual]) < 0.35 * np.sum(np.array(first_month)[gradual])


def test_declining_customers_slip_on_payments_replies_tickets_and_surveys(world):
    _, f, truth = world
    gradual = truth[(truth["archetype"] == "gradual_churn") & (truth["churn_observed"] == "true")]
    left = dict(zip(gradual["customer_id"], pd.to_datetime(gradual["left_on"]).dt.tz_localize("UTC")))
    healthy = set(truth.loc[truth["archetype"] == "healthy", "customer_id"])

    def last_weeks(df, time_col, weeks=8):
        d = df[df["account_id"].isin(left)]
        lo = d["account_id"].map(left) - pd.Timedelta(weeks=weeks)
        return d[(d[time_col] >= lo) & (d[time_col] < d["account_id"].map(left))]

    # invoices issued in the last 12 weeks: paid later (or not at all) than healthy customers' invoices
    iv = f["billing.invoices"]
    pay = f["billing.payments"]
    paid_at = pay[pay["status"] == "succeeded"].set_index("invoice_id")["paid_at"]
    export = pd.Timestamp(START + timedelta(days=DAYS), tz="UTC")
    iv = iv[iv["due_at"] < export - pd.Timedelta(days=45)].assign(paid_at=lambda d: d["invoice_id"].map(paid_at))
    iv["late_days"] = ((iv["paid_at"].fillna(export) - iv["due_at"]).dt.total_seconds() / 86400).clip(lower=0)
    decl = last_weeks(iv, "issued_at", 12)
    ok = iv[iv["account_id"].isin(healthy)]
    assert decl["late_days"].mean() > ok["late_days"].mean() + 3
    assert (decl["late_days"] > 10).mean() > 3 * (ok["late_days"] > 10).mean()

    it = f["crm.interactions"]
    out = it[it["direction"] == "outbound"]
    assert 1 - last_weeks(out, "occurred_at")["is_answered"].mean() > \
        2 * (1 - out[out["account_id"].isin(healthy)]["is_answered"].mean())

    tk = f["support.tickets"]
    severe = tk["priority"].isin(["high", "urgent"])
    assert severe[tk.index.isin(last_weeks(tk, "created_at").index)].mean() > \
        1.5 * severe[tk["account_id"].isin(healthy)].mean()

    nps = f["support.nps_responses"]
    nps_decl = last_weeks(nps, "responded_at", 12)["score"]
    nps_ok = nps[nps["account_id"].isin(healthy)]["score"]
    assert nps_decl.mean() < nps_ok.mean() - 1.0
    assert (nps_decl <= 6).mean() > 2 * (nps_ok <= 6).mean()  # detractors
    cs = f["support.csat_ratings"]
    assert last_weeks(cs, "rated_at", 12)["score"].mean() < cs[cs["account_id"].isin(healthy)]["score"].mean() - 0.7


def test_decliners_lose_key_contacts_repeat_problems_and_order_less(world):
    _, f, truth = world
    first = truth[truth["churn_number"].isin(["0", "1"])]
    gradual = first[(first["archetype"] == "gradual_churn") & (first["churn_observed"] == "true")]
    left = dict(zip(gradual["customer_id"], pd.to_datetime(gradual["left_on"]).dt.tz_localize("UTC")))
    healthy = set(first.loc[first["archetype"] == "healthy", "customer_id"])
    window_start = pd.Timestamp(START, tz="UTC")

    # decision maker leaves during the decline far more often than at a healthy account
    ct = f["crm.contacts"]
    dm_left = ct[ct["is_decision_maker"] & ct["valid_to"].notna()]
    lo = dm_left["account_id"].map(left) - pd.Timedelta(weeks=16)
    decl_rate = ((dm_left["valid_to"] >= lo) & (dm_left["valid_to"] < dm_left["account_id"].map(left))).sum() / len(left)
    ok_rate = (dm_left["account_id"].isin(healthy) & (dm_left["valid_to"] >= window_start)).sum() / len(healthy)
    assert decl_rate > 3 * ok_rate * (16 * 7 / DAYS) + 0.05

    # the same kind of problem comes back: tickets repeating a category seen in the last 30 days
    tk = f["support.tickets"].sort_values("created_at")
    prev = tk.groupby(["account_id", "category"])["created_at"].shift(1)
    tk = tk.assign(repeat=(tk["created_at"] - prev) <= pd.Timedelta(days=30))
    end = tk["account_id"].map(left)
    decl = tk[(tk["created_at"] >= end - pd.Timedelta(weeks=8)) & (tk["created_at"] < end)]
    smb = set(f["crm.accounts"].loc[f["crm.accounts"]["segment"] == "smb", "account_id"])
    assert decl[decl["account_id"].isin(smb)]["repeat"].mean() > \
        2 * tk[tk["account_id"].isin(healthy & smb)]["repeat"].mean()
    # and tickets pile up: more tickets a week in the last 8 weeks than in the window's first 8 weeks
    early = tk[tk["account_id"].isin(left) & (tk["created_at"] < window_start + pd.Timedelta(weeks=8))
               & (tk["account_id"].map(left) > window_start + pd.Timedelta(weeks=20))]
    n_early = (gradual["left_on"] > (START + timedelta(weeks=20)).isoformat()).sum()
    assert len(decl) / len(left) > 1.3 * len(early) / max(n_early, 1)

    # order-based churners: smaller and rarer orders near the end than at the start of the window
    od = f["billing.orders"]
    od = od[od["account_id"].isin(left) & (od["status"] == "completed")]
    od = od.assign(end=od["account_id"].map(left))
    late = od[od["ordered_at"] >= od["end"] - pd.Timedelta(weeks=8)]
    early = od[(od["ordered_at"] < window_start + pd.Timedelta(weeks=8)) & (od["end"] > window_start + pd.Timedelta(weeks=24))]
    if len(early) >= 20 and len(late) >= 10:
        ratio = (late.groupby("account_id")["amount"].mean() / early.groupby("account_id")["amount"].mean()).dropna()
        assert ratio.median() < 0.9


def test_noise_archetypes_exist(world):
    _, f, truth = world
    churn = truth[truth["churn_number"] != "0"]
    share_sudden = (churn["archetype"] == "sudden_churn").mean()
    assert 0.05 < share_sudden < 0.40
    assert (truth["reactivated_on"] != "").sum() >= 1
    for arch in ("saved", "recovered", "grace_return", "noise_dip", "healthy"):
        assert (truth["archetype"] == arch).sum() >= 1, arch
    ix = f["crm.interventions"]
    assert {"saved", "churned"} <= set(ix["outcome"])
    churned_with_itv = churn[(churn["intervened"] == "true")]
    assert len(churned_with_itv) >= 1  # some customers churn despite an intervention
    quick = (ix["first_contact_at"] - ix["opened_at"]).dt.total_seconds() <= 86400
    assert quick.mean() > 0.5


def test_monthly_churn_rate_is_plausible(world):
    res, f, truth = world
    churned = truth[(truth["churn_observed"] == "true") & (truth["churn_number"] != "0")]
    active_months = res.customers * 0.85 * DAYS / 30.4
    assert 0.008 < len(churned) / active_months < 0.04


def _spec_subscription_churns(subs: pd.DataFrame, window_end: pd.Timestamp, grace_days: int = 30) -> set:
    """SPEC section 3 applied to raw subscriptions: the last subscription ends and nothing new
    starts within the grace gap. Only churns whose grace gap has fully passed are returned."""
    out = set()
    for acc, g in subs.sort_values("started_at").groupby("account_id"):
        starts = g["started_at"].dt.normalize().tolist()
        ends = g["ended_at"].dt.normalize().tolist()
        for i, e in enumerate(ends):
            if pd.isna(e):
                continue
            later = [s for s in starts[i + 1:] if s >= e]
            covered = any(pd.notna(x) and x > e for x in ends[:i]) or any(
                s <= e and (pd.isna(x) or x > e) for s, x in zip(starts[i + 1:], ends[i + 1:]))
            if covered:
                continue
            if later and (later[0] - e).days <= grace_days:
                continue
            if e + pd.Timedelta(days=grace_days) < window_end:
                out.add((acc, e.date().isoformat()))
    return out


def test_truth_matches_the_spec_churn_rules_on_the_raw_rows(world):
    res, f, truth = world
    # one row per customer that never churned, one per churn event otherwise
    assert set(truth["customer_id"]) == set(f["crm.accounts"]["account_id"])
    zero = truth[truth["churn_number"] == "0"]
    assert zero["customer_id"].is_unique
    assert not set(zero["customer_id"]) & set(truth.loc[truth["churn_number"] != "0", "customer_id"])
    window_end = pd.Timestamp(START + timedelta(days=DAYS), tz="UTC")
    # subscription customers
    raw = _spec_subscription_churns(f["billing.subscriptions"], window_end)
    t = truth[(truth["business_model"] == "subscription") & (truth["churned_on"] != "")]
    cutoff = (window_end - pd.Timedelta(days=30)).date().isoformat()
    expected = {(r.customer_id, r.churned_on) for r in t.itertuples() if r.churned_on < cutoff}
    assert raw == expected
    # activity customers: 90 days without a login
    acc = f["crm.accounts"].set_index("account_id")
    act = acc.index[acc["business_model"] == "activity"]
    lg = f["crm.logins"]
    days = lg[lg["account_id"].isin(act)].assign(d=lg["logged_in_at"].dt.tz_localize(None).dt.normalize())
    found = set()
    for a in act:
        d = sorted(set(days.loc[days["account_id"] == a, "d"]))
        created = acc.loc[a, "created_at"].tz_localize(None).normalize()
        if created >= pd.Timestamp(START):
            d = sorted(set(d) | {created})
        for x, y in zip(d, d[1:] + [None]):
            churn = x + pd.Timedelta(days=90)
            if (y is None and churn < window_end.tz_localize(None)) or (y is not None and (y - x).days > 90):
                found.add((a, churn.date().isoformat()))
    t = truth[(truth["business_model"] == "activity") & (truth["churn_observed"] == "true")]
    assert found == {(r.customer_id, r.churned_on) for r in t.itertuples()}
    # the sum of observed churns is what the test above counted
    assert (truth["churn_observed"] == "true").sum() > 10


def test_late_rows_arrive_within_days_and_never_after_the_export(world):
    _, f, _ = world
    lg = f["crm.logins"]
    delay = (lg["_synced_at"] - lg["logged_in_at"]).dt.total_seconds()
    assert (delay > 0).all()
    assert 0.01 < (delay > 86400).mean() < 0.06
    assert (delay <= 5 * 86400 + 1).all()


def test_cli_writes_the_requested_format(tmp_path, capsys):
    assert main(["--customers", "60", "--days", "60", "--seed", "1", "--out", str(tmp_path),
                 "--start", "2024-06-01", "--format", "csv"]) == 0
    assert (tmp_path / "crm__accounts.csv").is_file()
    assert (tmp_path / "_truth" / "churn_truth.csv").is_file()
    assert "crm.logins" in capsys.readouterr().out


def test_rerun_in_another_format_replaces_the_old_files(tmp_path):
    generate(50, 30, 1, tmp_path, file_format="csv")
    generate(50, 30, 1, tmp_path, file_format="parquet")
    assert not list(tmp_path.glob("*.csv"))
    assert len(list(tmp_path.glob("*.parquet"))) == len(C.TABLES)


def test_churn_rate_parameter_moves_the_churn_count(tmp_path):
    low = generate(400, 180, 9, tmp_path / "lo", params=GeneratorParams(monthly_churn_rate=0.005))
    high = generate(400, 180, 9, tmp_path / "hi", params=GeneratorParams(monthly_churn_rate=0.05))

    def churns(res):
        t = pd.read_csv(res.truth_path, dtype=str, keep_default_na=False)
        return ((t["churn_observed"] == "true") & (t["churn_number"] != "0")).sum()

    assert churns(high) > 3 * max(churns(low), 1)


def test_bad_arguments_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="file_format"):
        generate(10, 30, 1, tmp_path, file_format="xlsx")
    with pytest.raises(ValueError, match="customers"):
        generate(0, 30, 1, tmp_path)


# ------------------------------------------------------------------------------ worlds
WORLD_N, WORLD_DAYS, WORLD_SEED = 150, 200, 5


@pytest.fixture(scope="module")
def worlds(tmp_path_factory):
    """Each named world at 150 customers x 200 days (seed 5), checked against the contract, built on demand."""
    cache: dict[str, tuple] = {}

    def get(name: str):
        if name not in cache:
            out = tmp_path_factory.mktemp(f"world_{name}")
            res = generate(WORLD_N, WORLD_DAYS, WORLD_SEED, out, start_date=START, world=name)
            frames = check_contract(out, "parquet", START, WORLD_DAYS)
            truth = pd.read_csv(res.truth_path, dtype=str, keep_default_na=False)
            cache[name] = (res, frames, truth)
        return cache[name]

    return get


def _weekly_login_rate(frames) -> pd.Series:
    """Logins a week per customer over the span between its first and last login day (spans of 4+ weeks)."""
    lg = frames["crm.logins"]
    g = lg.assign(day=lg["logged_in_at"].dt.floor("D")).groupby("account_id")["day"]
    span = (g.max() - g.min()).dt.days + 1
    return (g.size() / span * 7)[span >= 28]


def _sudden_share(truth: pd.DataFrame) -> float:
    ch = truth[(truth["churn_number"] != "0") & (truth["churn_observed"] == "true")]
    churn = ch["archetype"].isin(["sudden_churn", "gradual_churn"])
    return (ch["archetype"] == "sudden_churn").sum() / churn.sum()


def test_default_world_is_saas_and_its_files_are_unchanged(tmp_path, sample_dir):
    # the committed sample (made by `make sample` before worlds existed) is reproduced byte for byte
    res = generate(250, 365, 42, tmp_path / "sample", start_date=START, file_format="csv", world="saas")
    assert res.world == "saas"
    made = _digest(tmp_path / "sample")
    committed = {k: v for k, v in _digest(sample_dir).items() if k != "README.md"}
    assert made == committed
    plain = generate(250, 365, 42, tmp_path / "plain", start_date=START, file_format="csv")
    assert plain.world == "saas" and _digest(tmp_path / "plain") == made


@pytest.mark.parametrize("name", ["saas", "heavy_usage", "order_shop", "steady_churners", "tenure_hazard"])
def test_every_world_is_reproducible_and_differs_from_saas(tmp_path, name):
    a = generate(60, 60, 3, tmp_path / "a", world=name)
    b = generate(60, 60, 3, tmp_path / "b", world=name)
    assert _digest(a.out_dir) == _digest(b.out_dir)
    saas = generate(60, 60, 3, tmp_path / "s")
    assert (_digest(a.out_dir) == _digest(saas.out_dir)) == (name == "saas")


def test_heavy_usage_world_logs_in_far_more_and_far_more_unevenly(worlds):
    heavy, saas = _weekly_login_rate(worlds("heavy_usage")[1]), _weekly_login_rate(worlds("saas")[1])
    assert heavy.median() >= 10 * saas.median()  # measured: 54 vs 3.8 logins a week
    spread = heavy.quantile(0.95) / heavy.quantile(0.05)
    assert spread >= 30  # measured: ~215; usage levels are lognormal with sigma 1.4
    assert saas.quantile(0.95) / saas.quantile(0.05) < 15  # measured: ~8


def test_order_shop_world_has_only_order_customers_with_bursty_gaps(worlds):
    _, f, truth = worlds("order_shop")
    assert set(f["crm.accounts"]["business_model"]) == {"order"}
    assert set(truth["business_model"]) == {"order"}
    assert f["billing.subscriptions"].empty
    assert f["billing.invoices"]["subscription_id"].isna().all()

    def gap_cv(frames) -> pd.Series:
        ac = frames["crm.accounts"]
        o = frames["billing.orders"]
        buyers = ac.loc[ac["business_model"] == "order", "account_id"]
        o = o[(o["status"] == "completed") & o["account_id"].isin(buyers)]
        o = o.sort_values(["account_id", "ordered_at"])
        gap = o.groupby("account_id")["ordered_at"].diff().dt.total_seconds() / 86400
        g = gap.groupby(o["account_id"])
        return (g.std() / g.mean())[g.count() >= 5]  # customers with at least 5 gaps

    shop, saas = gap_cv(f), gap_cv(worlds("saas")[1])
    assert len(shop) >= 30
    assert shop.median() > 1.0  # measured: 1.17 (a Poisson buyer's gaps have CV <= 1)
    assert saas.median() < 1.0  # measured: 0.93


def test_steady_churners_world_churns_mostly_without_warning(worlds):
    steady = _sudden_share(worlds("steady_churners")[2])
    assert steady >= 0.6  # measured: 10 of 15 observed churns
    assert _sudden_share(worlds("saas")[2]) < 0.3
    noise = lambda t: (t["history"].str.count("noise_dip").sum())  # noqa: E731
    assert noise(worlds("steady_churners")[2]) > noise(worlds("saas")[2])


def _churn_per_year_by_tenure(res, truth, subs, days) -> tuple[float, float]:
    """Observed first churns a customer-year, tenure < 180 days vs 180+, from the truth file.

    Customers whose first subscription is annual are left out: they can only leave at a renewal, so a
    young annual customer's churn always shows at tenure 365."""
    first = subs.sort_values("started_at").groupby("account_id")["billing_interval"].first()
    cust = truth.groupby("customer_id").first()
    cust = cust[~cust.index.isin(first[first == "year"].index)]
    created = pd.to_datetime(cust["created_on"])
    start, end = pd.Timestamp(START), pd.Timestamp(START) + pd.Timedelta(days=days)
    ch = truth[(truth["churn_number"] == "1") & (truth["churn_observed"] == "true")
               & truth["customer_id"].isin(cust.index)].set_index("customer_id")
    left = pd.to_datetime(ch["left_on"])
    stop = pd.Series(end, index=cust.index)
    stop.loc[left.index] = left
    begin = np.maximum(created + pd.Timedelta(days=1), start)
    edge = created + pd.Timedelta(days=180)
    young_days = (np.minimum(stop, edge) - begin).dt.days.clip(lower=0).sum()
    old_days = (stop - np.maximum(begin, edge)).dt.days.clip(lower=0).sum()
    tenure = (left - created[left.index]).dt.days
    return (tenure < 180).sum() / young_days * 365, (tenure >= 180).sum() / old_days * 365


def test_tenure_hazard_world_new_customers_churn_more(tmp_path):
    rates = {}
    for name in ("tenure_hazard", "saas"):
        res = generate(300, 365, 5, tmp_path / name, start_date=START, world=name)
        truth = pd.read_csv(res.truth_path, dtype=str, keep_default_na=False)
        subs = pq.read_table(tmp_path / name / "billing__subscriptions.parquet").to_pandas()
        rates[name] = _churn_per_year_by_tenure(res, truth, subs, 365)
    young, old = rates["tenure_hazard"]
    assert young >= 2 * old  # measured: 0.78 vs 0.22 churns a customer-year
    young, old = rates["saas"]
    assert young < 1.5 * old  # measured: 0.15 vs 0.23


def test_tenure_hazard_world_switches_monthly_plans_to_cheaper_annual_ones(worlds):
    _, f, truth = worlds("tenure_hazard")
    sb = f["billing.subscriptions"].sort_values(["account_id", "started_at"])
    prev = sb.groupby("account_id")[["billing_interval", "mrr", "ended_at"]].shift(1)
    switch = ((sb["billing_interval"] == "year") & (prev["billing_interval"] == "month")
              & (prev["ended_at"] == sb["started_at"]))  # handed over at the same instant
    assert switch.sum() >= 8  # measured: 19
    ratio = sb.loc[switch, "mrr"] / prev.loc[switch, "mrr"]
    assert ratio.between(0.74, 0.86).all()  # 15-25 % off, rounded to whole dollars
    # the annual invoice after a switch bills twelve months of the discounted MRR
    iv = f["billing.invoices"].merge(sb.loc[switch, ["subscription_id", "mrr"]], on="subscription_id")
    assert len(iv) and np.allclose(iv["amount_due"], 12 * iv["mrr"])
    # the switch is not a risk signal: switchers churn no more often than other monthly subscribers
    switchers = set(sb.loc[switch, "account_id"])
    monthly = set(sb.loc[sb["billing_interval"] == "month", "account_id"]) - switchers
    churned = set(truth.loc[truth["churn_number"] != "0", "customer_id"])
    assert len(switchers & churned) / len(switchers) <= len(monthly & churned) / len(monthly)


def test_world_is_selected_from_both_command_lines(tmp_path, capsys):
    from churnguard import cli
    from churnguard.generator import WORLDS

    assert main(["--customers", "40", "--days", "40", "--seed", "2", "--out", str(tmp_path / "m"),
                 "--world", "order_shop"]) == 0
    assert "world order_shop" in capsys.readouterr().out
    accounts = pq.read_table(tmp_path / "m" / "crm__accounts.parquet").to_pandas()
    assert set(accounts["business_model"]) == {"order"}
    gen = cli.build_parser()._subparsers._group_actions[0].choices["generate"]
    world_opt = next(a for a in gen._actions if a.dest == "world")
    assert list(world_opt.choices) == list(WORLDS) and world_opt.default == "saas"
    assert cli.main(["generate", "--customers", "40", "--days", "40", "--seed", "2", "--out", str(tmp_path / "c"),
                     "--world", "order_shop"]) == 0
    assert _digest(tmp_path / "c") == _digest(tmp_path / "m")
    with pytest.raises(ValueError, match="unknown world 'b2c'"):
        generate(10, 30, 1, tmp_path / "x", world="b2c")
    with pytest.raises(ValueError, match="either world or params"):
        generate(10, 30, 1, tmp_path / "x", world="saas", params=GeneratorParams())
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path / "y"), "--world", "b2c"])
