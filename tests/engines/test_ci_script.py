"""`.ci/run` installs what the engines need from Debian and runs `make test`, then `make test-engines`.

Runs in `make test` (no ``engines`` marker): the script is run with stand-ins for ``make``,
``apt-get`` and ``id`` on a PATH that has no ``java`` and no ``chromedriver``, and the
stand-ins record what they were asked to do.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from pathlib import Path

from churnguard import settings

SCRIPT = Path(settings.PROJECT_ROOT) / ".ci" / "run"


def _fake_bin(tmp: Path, make_fails: str = "", apt_fails_before_update: bool = False) -> Path:
    """A bin folder with the few real tools the script uses and recording stand-ins."""
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "dirname", "ls", "cat"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    log = tmp / "calls.log"
    stubs = {
        "make": f'echo "make $*" >> {log}; [ "$*" != "{make_fails}" ]',
        "id": 'echo 0',
        "apt-get": (
            f'echo "apt-get $*" >> {log}; '
            + (f'if [ "$1" = install ] && ! grep -q "apt-get update" {log}; then exit 100; fi; '
               if apt_fails_before_update else "")
            + "exit 0"
        ),
    }
    for name, body in stubs.items():
        path = bin_dir / name
        path.write_text(f"#!{shutil.which('bash')}\n{body}\n")
        path.chmod(0o755)
    return bin_dir


def _run(tmp: Path, **kwargs) -> tuple[int, list[str]]:
    bin_dir = _fake_bin(tmp, **kwargs)
    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    env["PATH"] = str(bin_dir)
    result = subprocess.run([str(bin_dir / "bash"), str(SCRIPT)], env=env, capture_output=True, text=True)
    log = tmp / "calls.log"
    return result.returncode, log.read_text().splitlines() if log.exists() else []


def _pg_server_on_machine() -> bool:
    return bool(glob.glob("/usr/lib/postgresql/*/bin/initdb"))


def test_ci_installs_java_then_runs_the_tests_and_the_engine_tests(tmp_path) -> None:
    code, calls = _run(tmp_path)
    assert code == 0
    java = "apt-get install -y -q --no-install-recommends openjdk-17-jre-headless"
    chromium = "apt-get install -y -q --no-install-recommends chromium chromium-driver"
    expected = [chromium, "make test", java]
    if not _pg_server_on_machine():  # no initdb on PATH (the stand-in PATH) nor in Debian's folder
        expected.append("apt-get install -y -q --no-install-recommends postgresql-15")
    assert calls == [*expected, "make test-engines"]


def test_ci_refreshes_the_package_lists_when_an_install_fails(tmp_path) -> None:
    code, calls = _run(tmp_path, apt_fails_before_update=True)
    assert code == 0
    java = "apt-get install -y -q --no-install-recommends openjdk-17-jre-headless"
    assert calls[:3] == ["apt-get install -y -q --no-install-recommends chromium chromium-driver",
                         "apt-get update -q",
                         "apt-get install -y -q --no-install-recommends chromium chromium-driver"]
    assert calls[3] == "make test"
    assert calls[4] == java  # the lists are fresh now: installed on the first try
    assert calls[-1] == "make test-engines"


def test_ci_fails_when_make_test_fails_and_skips_the_engine_tests(tmp_path) -> None:
    code, calls = _run(tmp_path, make_fails="test")
    assert code != 0
    assert calls[-1] == "make test"
    assert "make test-engines" not in calls


def test_ci_fails_when_the_engine_tests_fail(tmp_path) -> None:
    code, calls = _run(tmp_path, make_fails="test-engines")
    assert code != 0
    assert calls[-1] == "make test-engines"
