"""The dbt project as Dagster sees it: a manifest that is always there and up to date.

dagster-dbt builds its assets from ``manifest.json``, so definitions cannot load on a clean
clone until dbt has parsed the project. `prepare_manifest` runs ``dbt parse`` into the
target folder when the manifest is missing or older than any dbt source file (models,
macros, tests, seeds, ``dbt_project.yml``, ``profiles.yml``), under a file lock so that
parallel processes (pytest-xdist workers, the webserver and its code server) never parse
into the same folder at once. Point ``CHURNGUARD_DBT_TARGET_PATH`` at a folder of your own
to keep a separate manifest (every test does).

dbt runs through the ``dbt`` executable next to the current interpreter, never the first
``dbt`` on PATH.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import re
import shutil
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping

from dagster_dbt import DbtCliResource, DbtProject
from dagster_dbt.errors import DagsterDbtError

from churnguard import settings
from churnguard.defs import config

MANIFEST = "manifest.json"
PARTIAL_PARSE = "partial_parse.msgpack"
_SOURCE_FOLDERS = ("models", "macros", "tests", "snapshots", "analyses")
_SOURCE_FILES = ("dbt_project.yml", "profiles.yml", "packages.yml", "dependencies.yml")


class ManifestError(RuntimeError):
    """dbt could not parse the project, so Dagster cannot build its assets."""


def _source_paths() -> Iterator[Path]:
    root = settings.DBT_PROJECT_DIR
    for name in _SOURCE_FILES:
        if (root / name).exists():
            yield root / name
    for folder in (*(root / name for name in _SOURCE_FOLDERS), settings.SEEDS_DIR / "reference"):
        if folder.is_dir():
            yield folder  # a folder's mtime changes when a file is added or removed
            for path in folder.rglob("*"):
                yield path


def newest_source_mtime() -> float:
    newest = 0.0
    for path in _source_paths():
        try:
            newest = max(newest, path.stat().st_mtime)
        except OSError:  # deleted while we walked
            continue
    return newest


def manifest_is_current(target_path: Path) -> bool:
    manifest = target_path / MANIFEST
    try:
        return manifest.stat().st_mtime >= newest_source_mtime()
    except OSError:
        return False


@contextmanager
def _flock(path: Path, kind: int) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle.fileno(), kind)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def prepare_manifest(target_path: Path | None = None) -> Path:
    """Make sure ``<target_path>/manifest.json`` exists and is current; return its path."""
    target_path = Path(target_path or config.dbt_target_path()).expanduser().resolve()
    manifest = target_path / MANIFEST
    if manifest_is_current(target_path):
        return manifest
    with _flock(target_path / ".churnguard-parse.lock", fcntl.LOCK_EX):
        if manifest_is_current(target_path):  # another process parsed while we waited
            return manifest
        try:
            # through dagster-dbt's resource, as the runs will invoke dbt: same environment, so
            # each run's dbt can reuse this parse (partial parsing) instead of parsing again
            dbt_resource(dbt_project(target_path)).cli(["parse", "--quiet"], target_path=target_path).wait()
        except DagsterDbtError as error:
            raise ManifestError(
                f"dbt could not parse {settings.DBT_PROJECT_DIR}, so the Dagster definitions cannot load. "
                f"Fix the dbt project (try `churnguard dbt -- parse`).\n{error}"
            ) from error
    if not manifest.exists():
        raise ManifestError(f"dbt parse succeeded but wrote no {manifest}")
    return manifest


_SOURCE_CALL = re.compile(r"""source\(\s*['"]([^'"]+)['"]\s*,\s*['"]([^'"]+)['"]\s*\)""")


def attach_source_tests(manifest: dict[str, Any]) -> dict[str, Any]:
    """Attach each generic test on a source to the source it tests.

    dbt sets ``attached_node`` only for tests on models, so a ``relationships`` test between
    two raw tables has two parents and no owner, and dagster-dbt could not make it an asset
    check. The tested table is the ``model`` argument of the test
    (``get_where_subquery(source('billing', 'invoices'))``); the other source becomes an
    additional dependency of the check.
    """
    package = manifest.get("metadata", {}).get("project_name")
    for node in manifest.get("nodes", {}).values():
        if node.get("resource_type") != "test" or node.get("attached_node"):
            continue
        model = str(((node.get("test_metadata") or {}).get("kwargs") or {}).get("model") or "")
        match = _SOURCE_CALL.search(model)
        if not match:
            continue
        source_id = f"source.{node.get('package_name') or package}.{match.group(1)}.{match.group(2)}"
        if source_id in manifest.get("sources", {}):
            node["attached_node"] = source_id
    return manifest


def load_manifest(target_path: Path | None = None) -> dict[str, Any]:
    """The parsed manifest (prepared first when missing or stale), source tests attached."""
    manifest = prepare_manifest(target_path)
    with _flock(manifest.parent / ".churnguard-parse.lock", fcntl.LOCK_SH):
        return attach_source_tests(json.loads(manifest.read_text(encoding="utf-8")))


def dbt_project(target_path: Path | None = None) -> DbtProject:
    target_path = Path(target_path or config.dbt_target_path()).expanduser().resolve()
    return DbtProject(
        project_dir=settings.DBT_PROJECT_DIR,
        profiles_dir=settings.DBT_PROJECT_DIR,
        target_path=target_path,
    )


def dbt_executable() -> str:
    """The ``dbt`` installed next to this interpreter (falls back to PATH)."""
    from churnguard.dbt_child import installed_dbt

    found = installed_dbt()
    if not found:
        raise ManifestError(f"no dbt executable next to {sys.executable} or on PATH; install churnguard's dependencies")
    return found


def step_dbt_executable() -> str:
    """What Dagster's dbt steps run: ``churnguard-dbt`` (dbt that dies with its step, see
    `churnguard.dbt_child`), next to this interpreter; plain dbt if it is not installed."""
    wrapper = Path(sys.executable).parent / "churnguard-dbt"
    return str(wrapper) if wrapper.exists() else dbt_executable()


def dbt_resource(project: DbtProject) -> DbtCliResource:
    return DbtCliResource(project_dir=project, dbt_executable=step_dbt_executable())


def run_target_path(project: DbtProject, warehouse: Path, step: str) -> Path:
    """A stable target folder per (warehouse, step) for dagster-dbt's invocations.

    Writers of one warehouse are serialised by its lock, so reusing the folder is safe,
    and it keeps dbt's partial-parse cache between runs. The cache is seeded with the newest
    one of this warehouse's steps (or the prepared one): the steps pass the same vars (the
    window goes by environment, see churnguard.dbt_cli) and the same profile, so the
    second step of a first run reuses the first step's parse. dbt checks the cache itself
    and parses afresh when it does not match.
    """
    key = hashlib.sha1(str(Path(warehouse).resolve()).encode("utf-8")).hexdigest()[:10]
    path = Path(project.target_path) / "dagster" / key / step
    path.mkdir(parents=True, exist_ok=True)
    own = path / PARTIAL_PARSE
    candidates = [Path(project.target_path) / PARTIAL_PARSE, *path.parent.glob(f"*/{PARTIAL_PARSE}")]
    newest = max((c for c in candidates if c.exists()), key=lambda c: c.stat().st_mtime, default=None)
    if newest is not None and newest != own and (not own.exists() or newest.stat().st_mtime > own.stat().st_mtime):
        shutil.copyfile(newest, own)
    return path


def node_relation(node: Mapping[str, Any]) -> str:
    """``schema.alias`` of a dbt model/seed/snapshot node."""
    return f'{node["schema"]}.{node.get("alias") or node["name"]}'
