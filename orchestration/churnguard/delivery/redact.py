"""Keep credentials out of everything churnguard prints, logs or stores.

Webhook URLs carry their token in the path (Slack: ``/services/T…/B…/secret``), DSNs carry
passwords, headers carry bearer tokens. Every message that can reach stdout, a log, the
audit tables (``delivery.sync_runs.error``), a Dagster event or the run-failure webhook goes
through `redact_text` first; a URL is shown as its origin only (`redact_url`).

    redact_url("https://hooks.slack.com/services/T0/B0/abc")  -> "https://hooks.slack.com/…"
    redact_text("POST to hooks.slack.com/services/T0/B0/abc failed: Bearer xyz")
        -> "POST to hooks.slack.com/… failed: Bearer …"

``secrets``: exact values (the configured URLs, DSNs and header values) that are replaced
wherever they appear, whatever their shape.
"""

from __future__ import annotations

import re
from typing import Iterable
from urllib.parse import urlsplit

HIDDEN = "…"

# scheme://anything up to a blank or quote
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s'\"<>()]+", re.IGNORECASE)
# host.tld[:port]/path without a scheme (a URL pasted without https://)
_BARE_URL = re.compile(r"(?<![\w/@.-])((?:[a-z0-9-]+\.)+[a-z]{2,}(?::\d+)?)(/[^\s'\"<>()]*)", re.IGNORECASE)
_AUTH = re.compile(r"\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
_KEY_VALUE = re.compile(
    r"\b(password|passwd|pwd|token|secret|api[_-]?key|access[_-]?token|sig|signature)(\s*[=:]\s*)([^\s&;,'\"]+)",
    re.IGNORECASE,
)


def redact_url(url: object) -> str:
    """``scheme://host[:port]/…``: the origin of ``url``; path, query, user and password hidden."""
    text = str(url or "").strip()
    if not text:
        return ""
    parts = urlsplit(text if "://" in text else "//" + text)
    host = parts.hostname or ""
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    origin = f"{parts.scheme}://{host}{port}" if parts.scheme else f"{host}{port}"
    hidden = bool(parts.path.strip("/") or parts.query or parts.fragment or parts.username or parts.password)
    return origin + ("/" + HIDDEN if hidden else "") if origin else HIDDEN


def redact_text(text: object, secrets: Iterable[str] = ()) -> str:
    """``text`` with known ``secrets``, URLs (to their origin), auth tokens and ``password=…`` hidden."""
    if text is None:
        return ""
    out = str(text)
    for secret in sorted({str(s) for s in secrets if s and len(str(s)) >= 4}, key=len, reverse=True):
        out = out.replace(secret, redact_url(secret) if ("://" in secret or "/" in secret) and " " not in secret else HIDDEN)
    out = _URL.sub(lambda m: redact_url(m.group(0)), out)
    out = _BARE_URL.sub(lambda m: m.group(1) + "/" + HIDDEN, out)
    out = _AUTH.sub(lambda m: f"{m.group(1)} {HIDDEN}", out)
    out = _KEY_VALUE.sub(lambda m: f"{m.group(1)}{m.group(2)}{HIDDEN}", out)
    return out


def destination_secrets(options: dict) -> list[str]:
    """The values of a destination's options that are credentials or carry them."""
    found: list[str] = []
    for key in ("url", "dsn"):
        if options.get(key):
            found.append(str(options[key]))
    for value in (options.get("headers") or {}).values():
        found.append(str(value))
        # "Bearer abc": the token alone may appear too
        found.extend(part for part in str(value).split() if len(part) >= 8)
    return found
