"""Reverse-ETL of the alert list: PostgreSQL table, webhooks, files.

- `config`: destinations from ``churnguard.yml`` / environment variables (none required:
  the default writes CSV and Parquet files under the warehouse folder);
- `payload`: the one mapping from mart columns to the minimal payload (PII minimisation);
- `engine`: gate, diff against the last successful sync, deliver, audit (`engine.sync`);
- `destinations`: the adapters; `deadletter`: dead-letter files and their replay;
- `state`: ``delivery.sync_state``, ``delivery.sync_runs``, ``delivery.alert_list_history``
  and ``delivery.quality_failures`` in the warehouse.

See docs/DELIVERY.md.
"""
