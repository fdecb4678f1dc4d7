"""Run-failure alerting: POST a JSON message to ``CHURNGUARD_FAILURE_WEBHOOK_URL``.

The payload has a ``text`` field (so a Slack or Mattermost incoming webhook shows it as is)
and the details: job, run id, partition range, failed steps and their errors. With no URL
set, the sensor logs the failure and tells how to set one. The URL (its token) and any
credential in the error texts are redacted (`churnguard.delivery.redact`). A webhook that answers with an
error fails the sensor tick (visible in the UI), and Dagster tries again on the next tick.
The sensor is running by default.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from dagster import DefaultSensorStatus, RunFailureSensorContext, run_failure_sensor
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG, PARTITION_NAME_TAG

from churnguard.defs import config
from churnguard.delivery.redact import redact_text, redact_url

FAILURE_SENSOR = "churnguard_run_failure_webhook"
WEBHOOK_TIMEOUT_SECONDS = 10


class WebhookError(RuntimeError):
    """The failure webhook could not be reached or answered with an error."""


def step_failure_text(data) -> str:
    """What went wrong in a failed step, in the user's words: a ``Failure`` description or the
    innermost exception (not Dagster's "Error occurred while executing op" wrapper)."""
    if data is None or getattr(data, "error", None) is None:
        return "failed"
    user = getattr(data, "user_failure_data", None)
    if user is not None and user.description:
        return user.description.strip()
    error = data.error
    while error.cause is not None:
        error = error.cause
    return f"{error.cls_name}: {error.message.strip()}" if error.cls_name and not error.message.startswith(error.cls_name) else error.message.strip()


def failure_payload(context: RunFailureSensorContext) -> dict[str, Any]:
    run = context.dagster_run
    tags = run.tags or {}
    partitions = tags.get(PARTITION_NAME_TAG)
    if tags.get(ASSET_PARTITION_RANGE_START_TAG):
        partitions = f"{tags[ASSET_PARTITION_RANGE_START_TAG]}..{tags.get(ASSET_PARTITION_RANGE_END_TAG)}"
    steps = []
    for event in context.get_step_failure_events():
        steps.append({"step": event.step_key, "error": redact_text(step_failure_text(event.event_specific_data))[:2000]})
    message = redact_text(context.failure_event.message or "run failed")
    text = f"churnguard: run {run.run_id[:8]} of {run.job_name} failed"
    if partitions:
        text += f" (partitions {partitions})"
    if steps:
        text += ": " + "; ".join(f"{s['step']}: {s['error'].splitlines()[0] if s['error'] else 'failed'}" for s in steps)
    return {
        "text": text,
        "job": run.job_name,
        "run_id": run.run_id,
        "partitions": partitions,
        "message": message,
        "failed_steps": steps,
    }


def post_json(url: str, payload: dict[str, Any], timeout: float = WEBHOOK_TIMEOUT_SECONDS) -> int:
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode("utf-8"),
        headers={"Content-Type": "application/json", "User-Agent": "churnguard"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status
    except (urllib.error.URLError, OSError) as error:
        raise WebhookError(
            f"posting the run-failure message to {redact_url(url)} failed: {redact_text(error, [url])}"
        ) from None


@run_failure_sensor(
    name=FAILURE_SENSOR,
    default_status=DefaultSensorStatus.RUNNING,
    description="POST a message to CHURNGUARD_FAILURE_WEBHOOK_URL when a churnguard run fails (logs when unset).",
)
def notify_run_failure(context: RunFailureSensorContext):
    payload = failure_payload(context)
    url = config.failure_webhook_url()
    if not url:
        context.log.warning(f"{payload['text']} -- set CHURNGUARD_FAILURE_WEBHOOK_URL to be notified")
        return
    status = post_json(url, payload)
    context.log.info(f"posted the failure of run {payload['run_id'][:8]} to the webhook (HTTP {status})")
