"""The one place that maps alert-mart columns to what leaves the warehouse.

PII minimisation: the payload carries what an account manager needs to act (customer,
tier, score, reasons, owner, deadline, playbook) and nothing else. Customer contacts'
e-mail addresses are only added when ``payload.include_contact_email: true`` is configured:
from the alert mart's contact e-mail column when it has one, else the sync looks up each
customer's current key contact (decision maker) in ``staging.stg_crm__contacts``. Owners are employees (the account manager or
CSM who must act); their id, name and e-mail are routing data, always included.

Every destination receives the same field set (`PAYLOAD_FIELDS`, in this order); files and
the PostgreSQL table use them as columns, webhooks as JSON keys.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any, Iterable, Mapping, Sequence


@dataclass(frozen=True)
class Field:
    name: str
    sources: tuple[str, ...]
    """Mart columns to read, first present wins (adapts to column renames in one place)."""
    pg_type: str
    required: bool = False
    description: str = ""


PAYLOAD_FIELDS: tuple[Field, ...] = (
    Field("alert_id", ("alert_id",), "text", True, "Alert episode id (stable while the episode lasts)"),
    Field("customer_id", ("customer_id",), "text", True, "Customer (account) id in the CRM"),
    Field("customer_name", ("customer_name",), "text", False, "Account name"),
    Field("segment", ("segment",), "text", False, "Customer segment"),
    Field("tier", ("alert_tier",), "text", True, "Episode tier: red if the episode ever turned red, else yellow"),
    Field("tier_at_opening", ("opening_tier",), "text", False, "Tier on the day the episode opened"),
    Field("current_tier", ("health_tier",), "text", False,
          "Tier of today's health score (green, yellow or red): the score may have recovered while the episode is open"),
    Field("health_score", ("health_score",), "integer", False, "Overall health score 0-100 on the as-of date"),
    Field("annual_revenue", ("annual_revenue",), "numeric", False,
          "Annual revenue run rate on the as-of date (MRR x 12 + recent orders annualised)"),
    Field("churn_probability", ("churn_probability",), "double precision", False,
          "Calibrated chance of churn within the horizon (null until `churnguard calibrate` ran)"),
    Field("reasons", ("reason_codes",), "text[]", False, "Reason codes: the warning rules that fired"),
    Field("reason_texts", ("reason_descriptions",), "text[]", False, "What each rule that fired means, in words"),
    Field("pulled_down_most_by", ("pulled_down_most_by",), "text", False, "Health dimension that pulled the score down most"),
    Field("owner_id", ("account_manager_id",), "text", False, "Account manager who owns the customer: user id"),
    Field("owner_name", ("account_manager_name",), "text", False, "Account manager: name"),
    Field("owner_email", ("account_manager_email",), "text", False, "Account manager: work e-mail"),
    Field("csm_id", ("csm_user_id",), "text", False, "Customer-success manager (told on red alerts): user id"),
    Field("csm_name", ("csm_name",), "text", False, "Customer-success manager: name"),
    Field("respond_by", ("response_due_date",), "date", True, "Response deadline (UTC day)"),
    Field("playbook", ("recommended_playbook",), "text", False, "Recommended retention playbook"),
    Field("opened_date", ("opened_date",), "date", True, "Day the alert episode opened (UTC)"),
    Field("status", (), "text", True, "open or closed"),
    Field("closed_date", ("closed_date",), "date", False, "Day the episode closed (closures only)"),
    Field("as_of_date", ("as_of_date",), "date", False, "Data day this version of the alert was computed for"),
    Field("generated_at", (), "timestamp", False, "When churnguard sent this version (UTC)"),
)
VOLATILE_FIELDS = ("as_of_date", "generated_at")
"""Left out of the content hash: a new day or a new sync alone does not resend an unchanged alert."""
CONTACT_EMAIL = Field("contact_email", ("contact_email", "key_contact_email"), "text", False, "Key contact e-mail")
"""Only with ``payload.include_contact_email: true``, and only when the alert mart has such a column."""
FIELD_NAMES = tuple(f.name for f in PAYLOAD_FIELDS)


class PayloadError(ValueError):
    """The alert mart lacks a column the payload needs; the message names it."""


def payload_fields(include_contact_email: bool = False) -> tuple[Field, ...]:
    return PAYLOAD_FIELDS + ((CONTACT_EMAIL,) if include_contact_email else ())


def _plain(value: Any) -> Any:
    """A JSON-friendly, comparison-stable value (dates as ISO text, NaN as None)."""
    if value is None:
        return None
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "to_pydatetime"):  # pandas Timestamp
        return None if value != value else _plain(value.to_pydatetime())
    if hasattr(value, "tolist"):
        return _plain(value.tolist())
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    try:
        if value != value:
            return None
    except (TypeError, ValueError):
        pass
    return value


def resolve_columns(columns: Iterable[str], include_contact_email: bool = False) -> dict[str, str | None]:
    """Payload field -> mart column (None: not in the mart). Raises when a required one is missing."""
    available = set(columns)
    mapping: dict[str, str | None] = {}
    missing = []
    for field in payload_fields(include_contact_email):
        column = next((c for c in field.sources if c in available), None)
        if column is None and field.sources and (field.required or field is CONTACT_EMAIL):
            missing.append(f"{field.name} (one of {', '.join(field.sources)})")
        mapping[field.name] = column
    if missing:
        raise PayloadError(
            "the alert list lacks columns the delivery payload needs: "
            + "; ".join(missing)
            + ". Adapt PAYLOAD_FIELDS in churnguard/delivery/payload.py to the mart."
        )
    return mapping


def build_payload(row: Mapping[str, Any], mapping: Mapping[str, str | None], status: str = "open") -> dict[str, Any]:
    """The minimal payload of one alert row (``status`` open unless closing)."""
    payload: dict[str, Any] = {}
    for name, column in mapping.items():
        value = _plain(row.get(column)) if column else None
        if name == "health_score" and value is not None:
            value = int(round(float(value)))
        if name == "reasons":
            if isinstance(value, str):
                value = [v.strip() for v in value.replace(";", "|").replace(",", "|").split("|") if v.strip()]
            value = sorted(value or [])
        if name == "reason_texts" and isinstance(value, str):
            value = [v.strip() for v in value.split(" | ") if v.strip()]
        payload[name] = value
    payload["status"] = status
    if status == "open":
        payload["closed_date"] = None
    return payload


def build_payloads(
    rows: Sequence[Mapping[str, Any]],
    columns: Iterable[str],
    include_contact_email: bool = False,
    generated_at: datetime | None = None,
) -> dict[str, dict[str, Any]]:
    """``{alert_id: payload}`` of the current alert list (open alerts)."""
    mapping = resolve_columns(columns, include_contact_email)
    stamp = _plain((generated_at or datetime.now(timezone.utc)).astimezone(timezone.utc))
    payloads = {}
    for row in rows:
        payload = build_payload(row, mapping)
        payload["generated_at"] = stamp
        payloads[str(payload["alert_id"])] = payload
    return payloads


def closure_payload(last_sent: Mapping[str, Any], closed_date: Any) -> dict[str, Any]:
    """The last payload a destination received, marked closed on ``closed_date``."""
    payload = dict(last_sent)
    payload["status"] = "closed"
    payload["generated_at"] = _plain(datetime.now(timezone.utc))
    payload["closed_date"] = _plain(closed_date.date() if isinstance(closed_date, datetime) else closed_date)
    return payload


def canonical_json(payload: Mapping[str, Any]) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)


def payload_hash(payload: Mapping[str, Any]) -> str:
    """Hash of the alert's content, without `VOLATILE_FIELDS` (the day and time it was sent)."""
    content = {k: v for k, v in payload.items() if k not in VOLATILE_FIELDS}
    return hashlib.sha256(canonical_json(content).encode("utf-8")).hexdigest()


def idempotency_key(destination: str, alert_id: str, action: str, digest: str) -> str:
    """Same destination, alert, action and content -> same key, on every retry, rerun or replay."""
    raw = f"churnguard|{destination}|{alert_id}|{action}|{digest}"
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:40]


def batch_key(keys: Sequence[str]) -> str:
    return hashlib.sha256("|".join(keys).encode("utf-8")).hexdigest()[:40]


def flat_record(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A payload as one flat row (reasons joined with ';') for CSV and Parquet files."""
    row = dict(payload)
    if isinstance(row.get("reasons"), list):
        row["reasons"] = ";".join(row["reasons"])
    if isinstance(row.get("reason_texts"), list):
        row["reason_texts"] = " | ".join(row["reason_texts"])
    return row
