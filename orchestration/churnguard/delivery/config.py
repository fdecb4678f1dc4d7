"""Where the alert list goes: destinations from ``churnguard.yml`` and environment variables.

None is required. With no destination configured, the alert list is written as files
(CSV and Parquet) under ``<warehouse folder>/deliveries/alerts``.

``churnguard.yml`` (path: ``CHURNGUARD_DESTINATIONS_FILE``, default ``churnguard.yml`` in
the current directory, then in the repository root)::

    destinations:
      - name: crm_db                    # unique; names the sync state and audit rows
        kind: postgres
        dsn: ${CRM_DATABASE_URL}        # ${VAR} is read from the environment (keep secrets out)
        table: churnguard.alerts        # created when missing
      - name: cs_slack
        kind: webhook
        url: ${SLACK_WEBHOOK_URL}
        format: slack                   # slack | json
        batch_size: 20
        rate_limit_per_second: 1
        max_retries: 5
        backoff_initial_seconds: 1
        backoff_max_seconds: 60
        timeout_seconds: 10
        send: [open, update, close]     # which changes this destination receives
        headers: {Authorization: "Bearer ${CRM_TOKEN}"}
      - name: crm_import
        kind: files
        directory: exports/alerts       # relative to the warehouse folder
        formats: [csv, parquet]
    payload:
      include_contact_email: false
    quality:                            # volume thresholds (see churnguard.quality.volume)
      max_growth_factor: 2.0
      growth_min_alerts: 20
      max_active_share: 0.8

Without a file, one destination of each kind can come from environment variables:

| variable | meaning |
|---|---|
| ``CHURNGUARD_SYNC_POSTGRES_DSN`` | PostgreSQL DSN; adds destination ``postgres`` |
| ``CHURNGUARD_SYNC_POSTGRES_TABLE`` | its table (default ``churnguard_alerts``) |
| ``CHURNGUARD_SYNC_WEBHOOK_URL`` | webhook URL; adds destination ``webhook`` |
| ``CHURNGUARD_SYNC_WEBHOOK_FORMAT`` | ``json`` (default) or ``slack`` |
| ``CHURNGUARD_SYNC_FILES_DIR`` | folder for CSV/Parquet files; adds destination ``files`` |
| ``CHURNGUARD_DEAD_LETTER_DIR`` | dead-letter files (default ``<warehouse folder>/deliveries/dead_letters``) |
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from churnguard import settings

KINDS = ("postgres", "webhook", "files")
ACTIONS = ("open", "update", "close")
DEFAULT_FILE = "churnguard.yml"
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,62}$")


class DeliveryConfigError(ValueError):
    """The delivery configuration cannot be used; the message says what to fix."""


@dataclass(frozen=True)
class Destination:
    name: str
    kind: str
    options: Mapping[str, Any] = field(default_factory=dict)
    send: tuple[str, ...] = ACTIONS

    def option(self, key: str, default: Any = None) -> Any:
        value = self.options.get(key)
        return default if value is None else value


@dataclass(frozen=True)
class DeliveryConfig:
    destinations: tuple[Destination, ...]
    include_contact_email: bool = False
    quality: Mapping[str, Any] = field(default_factory=dict)
    source: str = "defaults"
    dead_letter_dir: Path | None = None

    def destination(self, name: str) -> Destination:
        for destination in self.destinations:
            if destination.name == name:
                return destination
        known = ", ".join(d.name for d in self.destinations) or "none"
        raise DeliveryConfigError(f"no destination named {name!r} (configured: {known})")


def _expand(value: Any, where: str) -> Any:
    if isinstance(value, str):
        def replace(match: re.Match) -> str:
            name = match.group(1)
            if name not in os.environ:
                raise DeliveryConfigError(f"{where} uses ${{{name}}} but the environment variable {name} is not set")
            return os.environ[name]

        return _VAR.sub(replace, value)
    if isinstance(value, list):
        return [_expand(v, where) for v in value]
    if isinstance(value, dict):
        return {k: _expand(v, f"{where}.{k}") for k, v in value.items()}
    return value


def config_file() -> Path | None:
    """The destinations file in use (None when there is none)."""
    value = os.environ.get("CHURNGUARD_DESTINATIONS_FILE", "").strip()
    if value:
        path = Path(value).expanduser().resolve()
        if not path.exists():
            raise DeliveryConfigError(f"CHURNGUARD_DESTINATIONS_FILE={value} does not exist")
        return path
    for candidate in (Path.cwd() / DEFAULT_FILE, settings.PROJECT_ROOT / DEFAULT_FILE):
        if candidate.exists():
            return candidate.resolve()
    return None


_REQUIRED = {"postgres": ("dsn",), "webhook": ("url",), "files": ()}


def _destination(raw: Any, index: int) -> Destination:
    where = f"destinations[{index}]"
    if not isinstance(raw, dict):
        raise DeliveryConfigError(f"{where} must be a mapping with name and kind")
    name = raw.get("name")
    kind = raw.get("kind")
    if not isinstance(name, str) or not _NAME.match(name):
        raise DeliveryConfigError(f"{where}.name={name!r}: use letters, digits, _ or -, starting with a letter")
    if kind not in KINDS:
        raise DeliveryConfigError(f"{where} ({name}).kind={kind!r}: use one of {', '.join(KINDS)}")
    send = raw.get("send", list(ACTIONS))
    if isinstance(send, str):
        send = [send]
    bad = [a for a in send if a not in ACTIONS]
    if bad or not send:
        raise DeliveryConfigError(f"{where} ({name}).send={send!r}: use a list of {', '.join(ACTIONS)}")
    options = {k: v for k, v in raw.items() if k not in ("name", "kind", "send")}
    options = _expand(options, f"{where} ({name})")
    for key in _REQUIRED[kind]:
        if not options.get(key):
            raise DeliveryConfigError(f"{where} ({name}) of kind {kind} needs {key}")
    return Destination(name=name, kind=kind, options=options, send=tuple(send))


def _env_destinations() -> list[Destination]:
    found = []
    dsn = os.environ.get("CHURNGUARD_SYNC_POSTGRES_DSN", "").strip()
    if dsn:
        table = os.environ.get("CHURNGUARD_SYNC_POSTGRES_TABLE", "").strip() or "churnguard_alerts"
        found.append(Destination("postgres", "postgres", {"dsn": dsn, "table": table}))
    url = os.environ.get("CHURNGUARD_SYNC_WEBHOOK_URL", "").strip()
    if url:
        fmt = os.environ.get("CHURNGUARD_SYNC_WEBHOOK_FORMAT", "").strip() or "json"
        found.append(Destination("webhook", "webhook", {"url": url, "format": fmt}))
    directory = os.environ.get("CHURNGUARD_SYNC_FILES_DIR", "").strip()
    if directory:
        found.append(Destination("files", "files", {"directory": directory}))
    return found


def default_files_destination() -> Destination:
    return Destination("files", "files", {"directory": "deliveries/alerts"})


def parse_config(data: Mapping[str, Any] | None, source: str = "churnguard.yml") -> DeliveryConfig:
    data = data or {}
    if not isinstance(data, dict):
        raise DeliveryConfigError(f"{source} must be a YAML mapping (destinations, payload, quality)")
    unknown = set(data) - {"destinations", "payload", "quality"}
    if unknown:
        raise DeliveryConfigError(f"{source}: unknown section(s) {', '.join(sorted(unknown))}")
    raw = data.get("destinations") or []
    if not isinstance(raw, list):
        raise DeliveryConfigError(f"{source}: destinations must be a list")
    destinations = [_destination(item, i) for i, item in enumerate(raw)]
    names = [d.name for d in destinations]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise DeliveryConfigError(f"{source}: destination names must be unique ({', '.join(duplicates)})")
    payload = data.get("payload") or {}
    quality = data.get("quality") or {}
    return DeliveryConfig(
        destinations=tuple(destinations),
        include_contact_email=bool(payload.get("include_contact_email", False)),
        quality=dict(quality),
        source=source,
    )


def load_config(path: Path | None = None) -> DeliveryConfig:
    """The delivery configuration: the file, else env-var destinations, else the default files."""
    path = path or config_file()
    if path is not None:
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except yaml.YAMLError as error:
            raise DeliveryConfigError(f"{path} is not valid YAML: {error}") from None
        config = parse_config(data, str(path))
    else:
        config = DeliveryConfig(destinations=(), source="environment")
    destinations = list(config.destinations)
    taken = {d.name for d in destinations}
    destinations += [d for d in _env_destinations() if d.name not in taken]
    source = config.source
    if not destinations:
        destinations = [default_files_destination()]
        source = "default (files under the warehouse folder)"
    dead = os.environ.get("CHURNGUARD_DEAD_LETTER_DIR", "").strip()
    return DeliveryConfig(
        destinations=tuple(destinations),
        include_contact_email=config.include_contact_email,
        quality=config.quality,
        source=source,
        dead_letter_dir=Path(dead).expanduser().resolve() if dead else None,
    )
