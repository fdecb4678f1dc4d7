"""``generate()``: build the simulated world and write every raw table plus the truth file."""

from __future__ import annotations

import argparse
import shutil
import time
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Sequence

import numpy as np

from .. import contract as C
from .billing import build_billing
from .clock import Window
from .contacts import build_contacts
from .crm import (account_columns, account_names, contact_columns, intervention_columns, interaction_columns,
                  user_columns)
from .daily import run_days
from .params import GeneratorParams
from .support import build_support
from .truth import build_truth, write_truth
from .world import build_customers, build_users, simulate_lifecycle
from .worlds import DEFAULT_WORLD, WORLDS, world_params
from .writer import FORMATS, TableSink, make_ids, write_table

TRUTH_RELPATH = Path("_truth") / "churn_truth.csv"


@dataclass
class GenerateResult:
    out_dir: Path
    row_counts: dict[str, int]
    truth_path: Path
    file_format: str
    customers: int
    days: int
    seed: int
    start_date: date
    world: str
    end_date: date  # exclusive: the first day after the window
    seconds: float = 0.0
    files: list[Path] = field(default_factory=list)


def _clear_previous_output(out_dir: Path) -> None:
    """Remove raw files of an earlier run (either format) so the loader never sees two versions."""
    for t in C.TABLES:
        stem = C.file_stem(t)
        for ext in FORMATS:
            f = out_dir / f"{stem}.{ext}"
            if f.exists():
                f.unlink()
        d = out_dir / stem
        if d.is_dir():
            shutil.rmtree(d)
    truth = out_dir / TRUTH_RELPATH
    if truth.exists():
        truth.unlink()


def generate(customers: int, days: int, seed: int, out_dir: Path, *, start_date: date = date(2025, 1, 1),
             file_format: str = "parquet", params: GeneratorParams | None = None,
             world: str | None = None) -> GenerateResult:
    """Simulate ``customers`` customers over ``days`` days from ``start_date`` and write the raw export.

    Writes one file per raw table, ``<out_dir>/<system>__<name>.<csv|parquet>``, with exactly the
    contract's columns in contract order, and the answer key ``<out_dir>/_truth/churn_truth.csv``.
    The same arguments always produce byte-identical files.

    ``world`` names a preset of parameters (``saas``, the default, ``heavy_usage``, ``order_shop``,
    ``steady_churners``, ``tenure_hazard``; see ``churnguard.generator.worlds``). ``params`` sets
    every parameter directly instead (start from ``world_params(name)`` and ``dataclasses.replace``);
    give one or the other.
    """
    if customers < 1:
        raise ValueError("customers must be at least 1")
    if days < 7:
        raise ValueError("days must be at least 7")
    if file_format not in FORMATS:
        raise ValueError(f"file_format must be one of {', '.join(FORMATS)}, got {file_format!r}")
    if world is not None and params is not None:
        raise ValueError("give either world or params, not both "
                         "(params = dataclasses.replace(world_params(name), ...))")
    if world is not None:
        p = world_params(world)
    else:
        p = params or GeneratorParams()
        world = DEFAULT_WORLD if params is None else "custom"
    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _clear_previous_output(out_dir)
    w = Window(start_date, days)
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(13)]
    (r_world, r_users, r_life, r_contacts, r_daily, r_crm, r_inter, r_itv, r_bill, r_support, r_names,
     r_acc) = streams[:12]
    # the 13th stream feeds only the mechanics of the other worlds, so the default world's draws (and
    # files) stay exactly what they were before worlds existed
    r_mech = streams[12]

    cu = build_customers(r_world, customers, w, p)
    users = build_users(r_users, cu, w)
    lc = simulate_lifecycle(r_life, cu, w, p, r_mech)
    book = build_contacts(r_contacts, cu, lc, days)

    account_ids = make_ids("acc_", np.arange(1, customers + 1), 6)
    user_ids = make_ids("usr_", np.arange(1, users.n + 1), 5)
    contact_ids = make_ids("con_", np.arange(1, book.total + 1), 7)
    names, slugs = account_names(r_names, customers)

    counts: dict[str, int] = {}
    files: list[Path] = []

    def put(name: str, cols: dict) -> None:
        t = C.table(name)
        counts[name] = write_table(t, out_dir, file_format, cols)
        files.append(out_dir / f"{C.file_stem(t)}.{file_format}")

    put("crm.users", user_columns(r_users, users, w, p))
    put("crm.accounts", account_columns(r_acc, cu, lc, w, p, account_ids, user_ids, names))
    put("crm.contacts", contact_columns(r_contacts, cu, book, w, p, account_ids, slugs))

    # the simulated product records logins only: its generic event stream is empty
    put("crm.product_events", {"event_id": [], "account_id": [], "user_id": [], "event_type": [],
                               "occurred_at": np.array([], dtype=np.int64), "_synced_at": np.array([], dtype=np.int64)})
    login_sink = TableSink(C.table("crm.logins"), out_dir, file_format)
    daily = run_days(r_daily, cu, lc, w, p, login_sink, account_ids, mech=r_mech)
    counts["crm.logins"] = login_sink.close()
    files.append(login_sink.path)

    put("crm.interactions", interaction_columns(r_inter, cu, book, daily, w, p, account_ids, user_ids, contact_ids))
    itv_cols, _ = intervention_columns(r_itv, cu, lc, users, w, p, account_ids, user_ids)
    put("crm.interventions", itv_cols)
    for name, cols in build_billing(r_bill, cu, lc, daily, w, p, account_ids).items():
        put(name, cols)
    for name, cols in build_support(r_support, cu, lc, book, daily, w, p, account_ids, contact_ids).items():
        put(name, cols)

    truth_path = out_dir / TRUTH_RELPATH
    write_truth(build_truth(cu, lc, daily, w, account_ids), truth_path)
    ordered = {t.qualified_name: counts[t.qualified_name] for t in C.TABLES}
    return GenerateResult(out_dir=out_dir, row_counts=ordered, truth_path=truth_path, file_format=file_format,
                          customers=customers, days=days, seed=seed, start_date=start_date, world=world,
                          end_date=date.fromordinal(start_date.toordinal() + days),
                          seconds=time.perf_counter() - t0, files=files)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m churnguard.generator",
                                 description="Generate a synthetic raw export (CRM, billing, support) "
                                             "with a ground-truth churn file.")
    ap.add_argument("--customers", type=int, default=1000, help="number of customer accounts (default 1000)")
    ap.add_argument("--days", type=int, default=365, help="length of the window in days (default 365)")
    ap.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    ap.add_argument("--out", type=Path, required=True, help="output folder")
    ap.add_argument("--start", type=date.fromisoformat, default=date(2025, 1, 1),
                    help="first day of the window, YYYY-MM-DD (default 2025-01-01)")
    ap.add_argument("--format", choices=FORMATS, default="parquet", help="file format (default parquet)")
    ap.add_argument("--world", choices=list(WORLDS), default=DEFAULT_WORLD,
                    help="which simulated customer base: "
                    + "; ".join(f"{w.name}: {w.summary} (suggested --customers {w.suggested_customers})"
                                for w in WORLDS.values()) + f". Default {DEFAULT_WORLD}.")
    ap.add_argument("--monthly-churn", type=float, default=None,
                    help=f"baseline monthly churn hazard (default {GeneratorParams().monthly_churn_rate})")
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.monthly_churn is None:
        choice = {"world": args.world}
    else:
        choice = {"params": replace(world_params(args.world), monthly_churn_rate=args.monthly_churn)}
    res = generate(args.customers, args.days, args.seed, args.out, start_date=args.start,
                   file_format=args.format, **choice)
    width = max(len(k) for k in res.row_counts)
    print(f"wrote {res.out_dir} ({res.file_format}) in {res.seconds:.1f} s: "
          f"{res.customers} customers, {res.start_date} to {res.end_date} (exclusive), seed {res.seed}, "
          f"world {args.world}")
    for name, n in res.row_counts.items():
        print(f"  {name:<{width}}  {n:>12,}")
    print(f"  truth: {res.truth_path}")
    return 0
