"""Destination adapters: PostgreSQL table, webhook (Slack or generic JSON), files (CSV, Parquet).

Each adapter's ``deliver(changes, sink, current)`` sends the changes and reports every
change it could deliver to ``sink.delivered`` (as soon as the destination confirmed it) and
every change the destination rejected for good to ``sink.dead_lettered``. When the
destination is unreachable it raises `DestinationUnavailable`: changes not yet reported
stay pending and the next sync sends them again.
"""

from __future__ import annotations

from churnguard.delivery.destinations.base import Change, DestinationUnavailable, Sink, build_adapter

__all__ = ["Change", "DestinationUnavailable", "Sink", "build_adapter"]
