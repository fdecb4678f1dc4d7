"""The per-run settings (build window, test scope) reach dbt as environment variables.

dbt throws its partial parse away whenever ``--vars`` change; passed as ``--vars``, the
nightly window made every Dagster dbt step and every ``churnguard build`` re-parse the whole
project. ``churnguard.dbt_cli.split_run_settings`` sends ``start_date``, ``end_date`` and
``test_scope`` as ``CHURNGUARD_RUN_*`` variables instead, read by the ``run_var`` macro when
the run executes. That the window and scope still take effect is shown by
tests/test_data_test_scope.py and tests/test_argument_validation.py, which pass them the
same way.
"""

from __future__ import annotations

import pytest

from churnguard.dbt_cli import run_dbt, split_run_settings

REPARSE = "Unable to do partial parsing"


def test_run_settings_are_split_from_the_other_vars():
    env, rest = split_run_settings({"start_date": "2025-03-01", "test_scope": "window", "lookback_days": 5})
    assert env == {
        "CHURNGUARD_RUN_START_DATE": "2025-03-01",
        "CHURNGUARD_RUN_END_DATE": "",  # set empty: a value left in the caller's environment never leaks in
        "CHURNGUARD_RUN_TEST_SCOPE": "window",
        "CHURNGUARD_RUN_TEST_START_DATE": "",
    }
    assert rest == {"lookback_days": 5}
    assert split_run_settings(None) == (
        {"CHURNGUARD_RUN_START_DATE": "", "CHURNGUARD_RUN_END_DATE": "", "CHURNGUARD_RUN_TEST_SCOPE": "",
         "CHURNGUARD_RUN_TEST_START_DATE": ""}, {})


def test_a_new_build_window_keeps_dbt_partial_parse():
    first = run_dbt(["parse"], dbt_vars={"start_date": "2025-01-01", "test_scope": "full"}, capture=True)
    assert "Starting full parse" in first.stdout  # a fresh target folder: nothing saved yet
    second = run_dbt(["parse"], dbt_vars={"start_date": "2025-02-01", "end_date": "2025-03-01", "test_scope": "window"},
                     capture=True)
    assert REPARSE not in second.stdout
    # a real var still changes what dbt parses, and dbt re-parses for it
    third = run_dbt(["parse"], dbt_vars={"lookback_days": 5, "test_scope": "full"}, capture=True)
    assert REPARSE in third.stdout


def test_a_setting_left_in_the_environment_does_not_reach_dbt(monkeypatch: pytest.MonkeyPatch):
    # a reversed window left over in the operator's shell would stop every run (on-run-start
    # validates it) if it leaked into dbt's environment
    monkeypatch.setenv("CHURNGUARD_RUN_START_DATE", "2025-03-10")
    monkeypatch.setenv("CHURNGUARD_RUN_END_DATE", "2025-03-01")
    assert run_dbt(["seed", "--select", "health_tiers"], capture=True).returncode == 0
    # given for this run, the same window is refused with the message that names it
    failed = run_dbt(["seed", "--select", "health_tiers"], dbt_vars={"start_date": "2025-03-10", "end_date": "2025-03-01"},
                     capture=True, check=False)
    assert failed.returncode != 0
    assert "start_date 2025-03-10 is after end_date 2025-03-01" in failed.stdout


def test_each_dagster_step_starts_from_the_newest_parse_of_its_warehouse(tmp_path):
    import os
    import time
    from types import SimpleNamespace

    from churnguard.defs.dbt_project import PARTIAL_PARSE, run_target_path

    project = SimpleNamespace(target_path=str(tmp_path / "target"))
    (tmp_path / "target").mkdir()
    (tmp_path / "target" / PARTIAL_PARSE).write_bytes(b"prepared")
    seeds = run_target_path(project, tmp_path / "wh.duckdb", "dbt_seed_reference_data")
    assert (seeds / PARTIAL_PARSE).read_bytes() == b"prepared"
    time.sleep(0.01)
    (seeds / PARTIAL_PARSE).write_bytes(b"parsed by the seed step")  # what dbt saves after its parse
    facts = run_target_path(project, tmp_path / "wh.duckdb", "dbt_build_daily_facts")
    assert (facts / PARTIAL_PARSE).read_bytes() == b"parsed by the seed step"
    # another warehouse's steps are not candidates (dbt's cache holds the profile it parsed with)
    other = run_target_path(project, tmp_path / "other.duckdb", "dbt_build_daily_facts")
    assert (other / PARTIAL_PARSE).read_bytes() == b"prepared"
    # a step's own cache, newer than every other, is kept
    os.utime(facts / PARTIAL_PARSE, (time.time() + 60, time.time() + 60))
    (facts / PARTIAL_PARSE).write_bytes(b"own")
    os.utime(facts / PARTIAL_PARSE, (time.time() + 60, time.time() + 60))
    assert (run_target_path(project, tmp_path / "wh.duckdb", "dbt_build_daily_facts") / PARTIAL_PARSE).read_bytes() == b"own"


def test_each_invocation_keeps_its_run_results_when_an_archive_is_set(tmp_path, monkeypatch: pytest.MonkeyPatch):
    """A build in batches runs dbt several times; each overwrites target/run_results.json.
    With CHURNGUARD_DBT_RUN_RESULTS_ARCHIVE every invocation that wrote one is kept, numbered
    in order; one that wrote nothing (failed before running) copies nothing stale."""
    import subprocess

    from churnguard import dbt_cli

    target, archive = tmp_path / "target", tmp_path / "kept"
    target.mkdir()
    monkeypatch.setenv("CHURNGUARD_DBT_TARGET_PATH", str(target))
    monkeypatch.setenv("CHURNGUARD_DBT_RUN_RESULTS_ARCHIVE", str(archive))
    writes = iter(['{"results": ["first"]}', '{"results": ["second"]}', None])

    real_run = subprocess.run

    def fake_dbt(command, **kwargs):
        if "dbt.cli.main" not in command:
            return real_run(command, **kwargs)
        text = next(writes)
        if text is not None:
            (target / "run_results.json").write_text(text)
        return subprocess.CompletedProcess(command, 0 if text else 2, "", "")

    monkeypatch.setattr(dbt_cli.subprocess, "run", fake_dbt)
    warehouse = tmp_path / "wh.duckdb"
    run_dbt(["build", "--select", "a"], warehouse=warehouse)
    run_dbt(["run", "--select", "b"], warehouse=warehouse)
    run_dbt(["build"], warehouse=warehouse, check=False)  # wrote nothing
    kept = sorted(path.name for path in archive.iterdir())
    assert kept == ["001-build.json", "002-run.json"]
    assert (archive / "002-run.json").read_text() == '{"results": ["second"]}'


    # a --target-path in the dbt arguments (a Dagster step's own folder) is where dbt wrote
    step_target = tmp_path / "step_target"
    step_target.mkdir()
    writes = iter([None])

    def step_dbt(command, **kwargs):
        if "dbt.cli.main" not in command:
            return real_run(command, **kwargs)
        next(writes)
        (step_target / "run_results.json").write_text('{"results": ["step"]}')
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(dbt_cli.subprocess, "run", step_dbt)
    run_dbt(["run", "--select", "c", "--target-path", str(step_target)], warehouse=warehouse)
    assert (archive / "003-run.json").read_text() == '{"results": ["step"]}'
