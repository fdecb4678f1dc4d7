"""``churnguard sync`` and ``churnguard quality``: the delivery and gate subcommands.

    churnguard sync                                   # gate, then every configured destination
    churnguard sync --dry-run                         # report what would be sent; send nothing
    churnguard sync --destination crm_db --destination cs_slack
    churnguard sync --override-volume-check "pricing campaign: many expected renewals"
    churnguard sync --retry-dead-letters              # replay dead-letter files only
    churnguard sync --override-stale-data "CRM export paused for the migration"
    churnguard sync --full-resync                     # send every open alert again (repair a destination)
    churnguard quality                                # run every suite, render Data Docs

Exit status: 0 delivered (or dry run), 1 blocked by the quality gate or a destination
failed, 2 configuration or warehouse problem.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from churnguard import settings


def _warehouse(args: argparse.Namespace) -> Path:
    return Path(args.warehouse) if getattr(args, "warehouse", None) else settings.warehouse_path()


def _cmd_sync(args: argparse.Namespace) -> int:
    from churnguard.defs.locking import WarehouseBusyError
    from churnguard.delivery.config import DeliveryConfigError, load_config
    from churnguard.delivery.engine import SyncError, sync
    from churnguard.quality.runner import WarehouseReadError
    from churnguard.quality.suites import SuiteError
    from churnguard.quality.volume import VolumeConfigError

    for flag, value in (("--override-volume-check", args.override_volume_check), ("--override-stale-data", args.override_stale_data)):
        if value is not None and not value.strip():
            print(f"{flag} needs a reason (it is recorded in the audit table)", file=sys.stderr)
            return 2
    try:
        config = load_config(Path(args.config) if args.config else None)
        report = sync(
            _warehouse(args),
            config=config,
            destinations=args.destination,
            dry_run=args.dry_run,
            override_volume_reason=args.override_volume_check,
            retry_dead_letters=args.retry_dead_letters,
            full_resync=args.full_resync,
            override_stale_reason=args.override_stale_data,
        )
    except (DeliveryConfigError, SyncError, WarehouseReadError, SuiteError, VolumeConfigError, ValueError,
            WarehouseBusyError) as error:
        from churnguard.delivery.redact import redact_text

        print(f"churnguard sync: {redact_text(error)}", file=sys.stderr)
        return 2
    print(report.format())
    return 0 if report.ok else 1


def _cmd_quality(args: argparse.Namespace) -> int:
    from churnguard.quality.runner import WarehouseReadError, run_gate
    from churnguard.quality.suites import SuiteError

    try:
        gate = run_gate(
            _warehouse(args), suites=args.suite, docs_dir=False if args.no_docs else None, run_name="churnguard quality"
        )
    except (WarehouseReadError, SuiteError, ValueError) as error:
        print(f"churnguard quality: {error}", file=sys.stderr)
        return 2
    print(gate.format())
    return 0 if gate.passed else 1


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Add ``sync`` and ``quality`` to the ``churnguard`` command line."""
    sync = sub.add_parser("sync", help="deliver the alert list (quality gate, diff, destinations)")
    sync.add_argument("--dry-run", action="store_true", help="report what would be sent; send and write nothing")
    sync.add_argument("--destination", action="append", metavar="NAME", help="only this destination (repeatable)")
    sync.add_argument(
        "--override-volume-check",
        metavar="REASON",
        help="deliver despite failed volume checks, for this run only; the reason is recorded (integrity checks cannot be overridden)",
    )
    sync.add_argument(
        "--override-stale-data",
        metavar="REASON",
        help="deliver although a raw table is older than its freshness error threshold, for this run only; "
        "the reason is recorded (CHURNGUARD_OVERRIDE_STALE_DATA does the same for churnguard run)",
    )
    sync.add_argument("--retry-dead-letters", action="store_true", help="replay the dead-letter files, nothing else")
    sync.add_argument(
        "--full-resync",
        action="store_true",
        help="send every open alert again, as if the destinations had never received them (upserts and "
        "idempotency keys make it safe); repairs a destination that lost rows",
    )
    sync.add_argument("--config", help="destinations file (default: $CHURNGUARD_DESTINATIONS_FILE or churnguard.yml)")
    sync.set_defaults(func=_cmd_sync)

    quality = sub.add_parser("quality", help="run the Great Expectations suites and render Data Docs")
    quality.add_argument("--suite", action="append", metavar="NAME", help="only this suite (repeatable)")
    quality.add_argument("--no-docs", action="store_true", help="do not render Data Docs")
    quality.set_defaults(func=_cmd_quality)
