"""The command line explains itself: --version, help on every option, `dbt` without
arguments, `quality --suite` with a wrong name, `ui` on a busy port."""

from __future__ import annotations

import argparse
import socket
import subprocess

import pytest

from churnguard import __version__, cli


def test_version_is_printed(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as stop:
        cli.main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"churnguard {__version__}"


def test_every_option_of_every_command_has_a_help_text() -> None:
    parser = cli.build_parser()
    [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    missing = []
    for name, command in sub.choices.items():
        for action in command._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            if not action.help:
                missing.append(f"{name} {'/'.join(action.option_strings) or action.dest}")
    assert missing == []


def test_dbt_without_arguments_explains_itself(capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["dbt"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: churnguard dbt -- <dbt command and arguments>")
    assert "churnguard dbt -- ls --select marts" in err


def test_quality_with_an_unknown_suite_lists_the_valid_ones(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as stop:
        cli.main(["quality", "--suite", "nope"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "unknown suite 'nope'; valid suites: " in err
    assert "current_alert_list" in err and "kpi_monthly" in err


def test_ui_on_a_busy_port_fails_before_starting_anything(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    import churnguard.defs.ui  # noqa: F401 (imports dagster first: it runs subprocesses when imported)

    started = []
    monkeypatch.setattr(subprocess, "Popen", lambda *a, **k: started.append(a))  # no server, no daemon
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert cli.main(["ui", "--port", str(port)]) == 1
    assert started == []
    assert f"port {port} on 127.0.0.1 is already in use" in capsys.readouterr().err
