"""The progress lines of ``churnguard run``: one line per partitioned asset, in every run."""


import io
import re

from dagster import (
    AssetExecutionContext,
    BackfillPolicy,
    DailyPartitionsDefinition,
    Definitions,
    DagsterInstance,
    asset,
    define_asset_job,
)
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from churnguard.defs import progress


@asset(
    partitions_def=DailyPartitionsDefinition(start_date="2025-01-01", end_date="2025-01-06"),
    backfill_policy=BackfillPolicy.single_run(),
)
def daily_facts(context: AssetExecutionContext) -> None:
    context.log.info(f"building {len(context.partition_keys)} days")


def test_each_run_gets_its_own_line_for_a_partitioned_asset(monkeypatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr(progress, "OUTPUT", out)
    defs = Definitions(
        assets=[daily_facts],
        jobs=[define_asset_job("nightly", selection=[daily_facts])],
    )
    # as `churnguard run` attaches it (runner.py)
    job = defs.resolve_job_def("nightly").with_logger_defs({"churnguard_progress": progress.progress_logger})
    instance = DagsterInstance.ephemeral()
    tags = {ASSET_PARTITION_RANGE_START_TAG: "2025-01-01", ASSET_PARTITION_RANGE_END_TAG: "2025-01-05"}
    for _ in range(2):  # the same process, the same handler: the second run is reported too
        assert job.execute_in_process(instance=instance, tags=tags, run_config={"loggers": {"churnguard_progress": {}}}).success
    lines = out.getvalue().splitlines()
    assert len([line for line in lines if re.search(r"daily_facts \[from 2025-01-0\d\]$", line)]) == 2
    assert len([line for line in lines if line.endswith("(daily_facts: 5 partitions)")]) == 2
    assert len([line for line in lines if "daily_facts: building 5 days" in line]) == 2
