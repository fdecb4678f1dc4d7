"""Webhook destination: Slack-compatible or generic JSON, batched, rate-limited, retried.

- **Batches** of ``batch_size`` changes per POST (default 50; Slack 20, its messages hold
  at most 50 blocks).
- **Rate limit** per destination: at most ``rate_limit_per_second`` requests a second
  (default 5; Slack 1, its documented webhook limit), spaced evenly.
- **Retries** on connection errors, timeouts, 408, 425, 429 and 5xx, up to ``max_retries``
  (default 5) with exponential backoff ``backoff_initial_seconds`` x 2^n (default 1 s),
  capped at ``backoff_max_seconds`` (60). A ``Retry-After`` header (seconds or HTTP date)
  replaces the computed delay.
- **Waits are capped**: a ``Retry-After`` longer than ``max_retry_after_seconds`` (60), or a
  wait that would bring this destination's total above ``max_wait_seconds`` (300), is not
  waited for: the batch and every record after it go to the dead letters (status
  ``partial``), and the next sync retries them with the same idempotency keys.
- **Idempotency**: every request carries ``Idempotency-Key`` (a hash of the records' keys,
  each a hash of destination, alert, action and content), so a retried or re-sent batch has
  the same key; generic JSON bodies also carry each record's ``idempotency_key``.
- **Permanent rejections** (any other 4xx): a batch is split and its records are sent one
  by one, so only the records the receiver rejects land in the dead-letter file.
- **Redirects are never followed** (3xx): a redirected POST becomes a GET without its body
  and would carry the credentials to another server. A 3xx makes the destination
  unavailable for this run with a message naming the new origin; fix ``url``.
- **Refused credentials** (401, 403, 407) make the destination unavailable too: every record
  of the run would fail the same way, so none is dead-lettered; they stay pending.
- When retries are exhausted the destination is **unavailable**: the sync of this
  destination stops; the records not confirmed stay pending and the next sync sends them.

HTTP goes through httpx (``follow_redirects=False``, one connection pool per sync).

Slack body: ``{"text": ..., "blocks": [...]}`` (one section per alert); CRM text in it is
escaped (``&``, ``<``, ``>``), so a name like ``<!channel>`` cannot ping a channel or forge a
link. Generic JSON body::

    {"source": "churnguard", "destination": "crm", "batch_key": "...", "sent_at": "...",
     "records": [{"idempotency_key": "...", "action": "open|update|close", "alert": {...}}]}
"""

from __future__ import annotations

import email.utils
import json
import time
from datetime import datetime, timezone
from typing import Any, Callable, Mapping, Sequence
from urllib.parse import urlsplit

from churnguard import __version__
from churnguard.delivery.config import Destination
from churnguard.delivery.destinations.base import Change, DestinationUnavailable, Sink
from churnguard.delivery.payload import batch_key
from churnguard.delivery.redact import redact_text, redact_url

RETRYABLE_STATUS = {408, 425, 429}
AUTH_STATUS = {401, 403, 407}
FORMATS = ("json", "slack")
TIER_EMOJI = {"red": ":red_circle:", "yellow": ":large_yellow_circle:"}


class PermanentRejection(RuntimeError):
    """The receiver refused the request for a reason a retry will not fix (4xx)."""


class _GiveUp(RuntimeError):
    """The receiver asks for (or retries would need) a longer wait than allowed: park the rest."""


class _Transient(RuntimeError):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


def _number(destination: Destination, key: str, default: float, minimum: float) -> float:
    value = destination.option(key, default)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"destination {destination.name}: {key}={value!r} is not a number") from None
    if number < minimum:
        raise ValueError(f"destination {destination.name}: {key}={value!r} must be at least {minimum:g}")
    return number


class WebhookDestination:
    def __init__(
        self,
        destination: Destination,
        *,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.destination = destination
        self.url = str(destination.option("url")).strip()
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(
                f"destination {destination.name}: url {redact_url(self.url)} is not an http:// or https:// URL "
                "(write it with its scheme, e.g. https://hooks.example.com/…)"
            )
        self.format = str(destination.option("format", "json"))
        if self.format not in FORMATS:
            raise ValueError(f"destination {destination.name}: format={self.format!r}, use one of {', '.join(FORMATS)}")
        slack = self.format == "slack"
        self.batch_size = int(_number(destination, "batch_size", 20 if slack else 50, 1))
        if slack:
            self.batch_size = min(self.batch_size, 50)
        self.rate = _number(destination, "rate_limit_per_second", 1 if slack else 5, 0.001)
        self.max_retries = int(_number(destination, "max_retries", 5, 0))
        self.backoff_initial = _number(destination, "backoff_initial_seconds", 1.0, 0)
        self.backoff_max = _number(destination, "backoff_max_seconds", 60.0, 0)
        self.max_retry_after = _number(destination, "max_retry_after_seconds", 60.0, 0)
        self.max_wait = _number(destination, "max_wait_seconds", 300.0, 0)
        self._waited = 0.0
        self.timeout = _number(destination, "timeout_seconds", 10.0, 0.1)
        self.headers = {str(k): str(v) for k, v in (destination.option("headers", {}) or {}).items()}
        self._sleep = sleep or time.sleep
        self._clock = clock or time.monotonic
        self._log = log or (lambda message: None)
        self._next_request_at = 0.0
        self._client = None
        self.requests = 0

    # --- public -----------------------------------------------------------------------------

    def deliver(self, changes: Sequence[Change], sink: Sink, current: Sequence[dict[str, Any]]) -> None:
        import httpx

        self._waited = 0.0
        with httpx.Client(follow_redirects=False, timeout=self.timeout) as client:
            self._client = client
            try:
                for start in range(0, len(changes), self.batch_size):
                    try:
                        self._deliver_batch(list(changes[start : start + self.batch_size]), sink)
                    except _GiveUp as giving_up:
                        done = getattr(sink, "confirmed", set())  # records of a split batch already answered
                        rest = [c for c in changes[start:] if c.idempotency_key not in done]
                        self._log(f"{self.destination.name}: {giving_up}; {len(rest)} record(s) to the dead letters")
                        sink.dead_lettered(rest, str(giving_up))
                        return
            finally:
                self._client = None

    # --- internals ----------------------------------------------------------------------------

    def _deliver_batch(self, batch: list[Change], sink: Sink) -> None:
        try:
            self._post_with_retries(batch)
        except PermanentRejection as rejection:
            if len(batch) == 1:
                sink.dead_lettered(batch, str(rejection))
                return
            self._log(f"{self.destination.name}: batch of {len(batch)} rejected ({rejection}); sending one by one")
            for change in batch:
                self._deliver_batch([change], sink)
            return
        sink.delivered(batch)

    def body(self, batch: Sequence[Change]) -> dict[str, Any]:
        key = batch_key([c.idempotency_key for c in batch])
        if self.format == "slack":
            return _slack_body(batch)
        return {
            "source": "churnguard",
            "destination": self.destination.name,
            "batch_key": key,
            "sent_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "records": [{"idempotency_key": c.idempotency_key, "action": c.action, "alert": c.payload} for c in batch],
        }

    def _wait_for_rate_limit(self) -> None:
        now = self._clock()
        if self._next_request_at > now:
            self._sleep(self._next_request_at - now)
            now = self._clock()
        self._next_request_at = max(now, self._next_request_at) + 1.0 / self.rate

    def _post_with_retries(self, batch: Sequence[Change]) -> None:
        data = json.dumps(self.body(batch), default=str).encode("utf-8")
        key = batch_key([c.idempotency_key for c in batch])
        attempt = 0
        while True:
            self._wait_for_rate_limit()
            try:
                self._post(data, key, len(batch))
                return
            except _Transient as failure:
                attempt += 1
                if attempt > self.max_retries:
                    raise DestinationUnavailable(
                        f"{self.destination.name}: {failure} (gave up after {self.max_retries} retries)"
                    ) from None
                delay = min(self.backoff_max, self.backoff_initial * 2 ** (attempt - 1))
                if failure.retry_after is not None:
                    if failure.retry_after > self.max_retry_after:
                        raise _GiveUp(
                            f"{failure}: the receiver asked to wait {failure.retry_after:.0f}s (Retry-After), more than "
                            f"max_retry_after_seconds={self.max_retry_after:g}; the next sync retries"
                        ) from None
                    delay = failure.retry_after
                if self._waited + delay > self.max_wait:
                    raise _GiveUp(
                        f"{failure}: waiting {delay:.0f}s more would exceed max_wait_seconds={self.max_wait:g} "
                        f"for this destination; the next sync retries"
                    ) from None
                self._waited += delay
                self._log(f"{self.destination.name}: {failure}; retry {attempt}/{self.max_retries} in {delay:.2f}s")
                self._sleep(delay)

    def _post(self, data: bytes, key: str, records: int) -> None:
        import httpx

        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"churnguard/{__version__}",
            "Idempotency-Key": key,
            "X-Churnguard-Records": str(records),
            **self.headers,
        }
        self.requests += 1
        name = self.destination.name
        try:
            response = self._client.post(self.url, content=data, headers=headers)
        except httpx.TransportError as error:
            raise _Transient(redact_text(f"{type(error).__name__}: {error} ({self.url})", [self.url])) from None
        except httpx.InvalidURL as error:
            raise DestinationUnavailable(f"{name}: invalid url {redact_url(self.url)}: {type(error).__name__}") from None
        status = response.status_code
        if 200 <= status < 300:
            return
        if 300 <= status < 400:
            target = redact_url(response.headers.get("Location", "")) or "no Location header"
            raise DestinationUnavailable(
                f"{name}: HTTP {status} redirect ({target}); deliveries never follow redirects (the POST would "
                "lose its body and the credentials could reach another server): set url to the final address. "
                "Nothing was delivered to it; the records stay pending."
            )
        if status in AUTH_STATUS:
            raise DestinationUnavailable(
                f"{name}: HTTP {status}: the receiver refused the credentials (check the token in headers or url); "
                "nothing more is sent to it this run and the records stay pending for the next sync."
            )
        text = redact_text(response.text[:500].strip(), [self.url, *self.headers.values()])
        if status in RETRYABLE_STATUS or status >= 500:
            raise _Transient(f"HTTP {status}", parse_retry_after(response.headers.get("Retry-After")))
        raise PermanentRejection(f"HTTP {status}: {text[:300]}")


def slack_escape(value: Any) -> str:
    """Text shown literally by Slack: ``&``, ``<`` and ``>`` escaped as Slack documents, so
    ``<!channel>``, ``<@U123>`` and ``<https://x|link>`` in CRM text stay text."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_line(change: Change) -> str:
    alert = {k: (slack_escape(v) if isinstance(v, str) else [slack_escape(i) for i in v] if isinstance(v, list) else v)
             for k, v in change.payload.items()}
    tier = str(alert.get("tier") or "")
    name = alert.get("customer_name") or alert.get("customer_id")
    if change.action == "close":
        return f":white_check_mark: *{name}*: alert closed ({alert.get('closed_date') or 'today'})"
    verb = "new alert" if change.action == "open" else "alert updated"
    parts = [f"{TIER_EMOJI.get(tier, '')} *{name}*: {verb}, {tier} (score {alert.get('health_score')})"]
    if alert.get("reasons"):
        parts.append("reasons: " + ", ".join(alert["reasons"]))
    owner = alert.get("owner_name") or alert.get("owner_email") or alert.get("owner_id")
    if owner:
        parts.append(f"owner: {owner}")
    if alert.get("respond_by"):
        parts.append(f"respond by {alert['respond_by']}")
    if alert.get("playbook"):
        parts.append(f"playbook: {alert['playbook']}")
    return " | ".join(parts)


def _slack_body(batch: Sequence[Change]) -> dict[str, Any]:
    lines = [_slack_line(c) for c in batch]
    counts: Mapping[str, int] = {a: sum(1 for c in batch if c.action == a) for a in ("open", "update", "close")}
    summary = f"churnguard: {counts['open']} new, {counts['update']} updated, {counts['close']} closed alerts"
    return {
        "text": summary + "\n" + "\n".join(lines),
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": line[:2900]}} for line in lines],
    }
