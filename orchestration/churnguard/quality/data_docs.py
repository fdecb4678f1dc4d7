"""Great Expectations Data Docs that keep their history and render offline.

- **History**: validations run in a file-backed GX project (``<docs folder's parent>/gx``, or
  ``CHURNGUARD_GX_DIR``/gx). Every validation result is stored there, so the site lists the
  nightly gate's runs, the KPI gate's and ``churnguard quality``'s side by side instead of
  the last run replacing the others. Results older than ``CHURNGUARD_DATA_DOCS_KEEP_DAYS``
  (default 90) are pruned, with their pages.
- **Names**: each validation carries a run name (``nightly 2025-12-31 (dagster run 1a2b3c4d)``,
  ``churnguard quality``, ...) and the relation it read as its data asset.
- **Offline**: GX's templates load Bootstrap, jQuery, bootstrap-table and icons from CDNs
  and the logo from S3. `make_offline` copies the vendored copies of those libraries
  (``static/vendor``, with their licenses) into the site, points every page at them, draws
  the five icons GX uses with CSS, and drops the newsletter footer, so the site renders the
  same with no network.

One process at a time works on the GX project (a file lock beside it): the nightly gate and
a hand-run ``churnguard quality`` do not interleave their writes.
"""

from __future__ import annotations

import os
import re
import shutil
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

VENDOR_DIR = Path(__file__).parent / "static" / "vendor"
DEFAULT_KEEP_DAYS = 90
STAMP_FORMAT = "%Y%m%dT%H%M%S.%fZ"

# CDN address (prefix) -> vendored file; None: dropped (an optional theme or a library the
# rendered pages do not call: vega is used only by profiling graphs, which the gate never renders)
_ASSETS: dict[str, str | None] = {
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": "bootstrap.min.css",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": "bootstrap.bundle.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/": None,  # in bootstrap.bundle
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery.min.js",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": "bootstrap-table.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": "bootstrap-table.min.js",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js": (
        "bootstrap-table-filter-control.min.js"
    ),
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css": (
        "bootstrap-table-filter-control.min.css"
    ),
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css": (
        "bootstrap-table-filter-control.min.css"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js": (
        "bootstrap-datepicker.min.js"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css": (
        "bootstrap-datepicker.min.css"
    ),
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark": None,
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/": None,  # replaced by _ICON_STYLE
    "https://cdn.jsdelivr.net/npm/vega": None,
}
_LOGO = "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/"
_TAG = re.compile(r"<(?:script|link)\b[^>]*?(?:src|href)=\"(https://[^\"]+)\"[^>]*>(?:\s*</script>)?", re.IGNORECASE)
_FOOTER = re.compile(r"<footer>\s*<p>Stay current on everything GX.*?</footer>", re.DOTALL)
_ICON_STYLE = """<style id="churnguard-offline-icons">
.fas { font-style: normal; font-weight: bold; }
.fa-check-circle::before { content: "\\2714"; }
.fa-times::before { content: "\\2716"; }
.fa-exclamation-triangle::before { content: "\\26A0"; }
.fa-question-circle::before { content: "?"; }
.fa-comment::before { content: "\\1F4AC"; }
</style>"""


def gx_project_root(docs_dir: Path) -> Path:
    """Folder that holds the GX project (``gx/``) behind a Data Docs site."""
    value = os.environ.get("CHURNGUARD_GX_DIR", "").strip()
    return Path(value).expanduser().resolve() if value else Path(docs_dir).resolve().parent


def keep_days() -> int:
    from churnguard.settings import whole_days_setting

    return whole_days_setting("CHURNGUARD_DATA_DOCS_KEEP_DAYS", DEFAULT_KEEP_DAYS)


@contextmanager
def project_lock(root: Path, timeout: float = 600) -> Iterator[None]:
    from filelock import FileLock

    root.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root / ".gx.lock"), timeout=timeout):
        yield


def file_context(gx: Any, root: Path, docs_dir: Path, site_name: str) -> Any:
    """The file-backed GX context under ``root`` with one Data Docs site at ``docs_dir``."""
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="file", project_root_dir=str(root))
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    sites = dict(context.variables.data_docs_sites or {})
    wanted = str(Path(docs_dir).resolve())
    for name, config in sites.items():
        base = str((config.get("store_backend") or {}).get("base_directory", ""))
        if name != site_name or base != wanted:
            context.delete_data_docs_site(name)
    if site_name not in dict(context.variables.data_docs_sites or {}):
        Path(docs_dir).mkdir(parents=True, exist_ok=True)
        context.add_data_docs_site(
            site_name=site_name,
            site_config={
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
                "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": wanted},
            },
        )
    return context


def name_data_assets(context: Any, results: list[tuple[Any, str]]) -> None:
    """Record each result's relation as its data asset (GX's page reads it from the batch spec,
    which a DataFrame batch leaves empty: the page said "Data asset: None") and store the
    results again; ``results`` are ``(validation result, relation)`` of one run."""
    from great_expectations.data_context.types.resource_identifiers import ValidationResultIdentifier

    wanted = {}
    for result, relation in results:
        result.meta["batch_spec"] = {**(result.meta.get("batch_spec") or {}), "data_asset_name": relation}
        run_id = result.meta["run_id"]
        wanted[(result.suite_name, run_id.run_name, run_id.run_time)] = result
    if not wanted:
        return
    store = context.validation_results_store
    for key in store.list_keys():  # one listing of the stored history for the whole run
        if isinstance(key, ValidationResultIdentifier):
            found = wanted.get((key.expectation_suite_identifier.name, key.run_id.run_name, key.run_id.run_time))
            if found is not None:
                store.set(key, found)


def prune(context: Any, docs_dir: Path, days: int, now: datetime | None = None) -> int:
    """Delete stored validation results (and their pages) older than ``days``; their count."""
    from great_expectations.data_context.types.resource_identifiers import ValidationResultIdentifier

    cutoff = (now or datetime.now(timezone.utc)) - timedelta(days=days)
    store = context.validation_results_store
    removed = 0
    for key in list(store.list_keys()):
        if not isinstance(key, ValidationResultIdentifier):
            continue
        run_time = key.run_id.run_time
        if run_time is None:
            continue
        if run_time.tzinfo is None:
            run_time = run_time.replace(tzinfo=timezone.utc)
        if run_time >= cutoff:
            continue
        store.remove_key(key)
        suite = key.expectation_suite_identifier.name
        stamp = run_time.astimezone(timezone.utc).strftime(STAMP_FORMAT)
        for folder in (Path(docs_dir) / "validations" / suite).glob(f"*/{stamp}"):
            shutil.rmtree(folder, ignore_errors=True)
        removed += 1
    # empty run-name folders left behind
    for root in (Path(docs_dir) / "validations",):
        for folder in sorted(root.glob("*/*"), reverse=True):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
    return removed


def make_offline(docs_dir: Path) -> int:
    """Point every page of the site at vendored assets; the number of pages rewritten."""
    docs_dir = Path(docs_dir)
    target = docs_dir / "static" / "vendor"
    target.mkdir(parents=True, exist_ok=True)
    for source in VENDOR_DIR.glob("*.*"):
        copy = target / source.name
        if not copy.exists() or copy.stat().st_size != source.stat().st_size:
            shutil.copyfile(source, copy)
    rewritten = 0
    for page in docs_dir.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        if "https://" not in text:
            continue
        prefix = os.path.relpath(docs_dir / "static", page.parent).replace(os.sep, "/")
        new = _rewrite(text, prefix)
        if new != text:
            page.write_text(new, encoding="utf-8")
            rewritten += 1
    return rewritten


def _rewrite(text: str, static: str) -> str:
    def replace(match: re.Match[str]) -> str:
        url = match.group(1)
        for prefix, local in _ASSETS.items():
            if url.startswith(prefix):
                if local is None:
                    return ""
                return match.group(0).replace(url, f"{static}/vendor/{local}")
        return match.group(0)

    text = _TAG.sub(replace, text)
    text = re.sub(re.escape(_LOGO) + r"full_logo_dark\.png", f"{static}/images/logo-long.png", text)
    text = re.sub(re.escape(_LOGO) + r"logo-long\.png(\?[^\"']*)?", f"{static}/images/logo-long.png", text)
    text = _FOOTER.sub("", text)
    if "churnguard-offline-icons" not in text:
        text = text.replace("</head>", _ICON_STYLE + "\n</head>", 1)
    return text


__all__ = ["file_context", "gx_project_root", "keep_days", "make_offline", "name_data_assets", "project_lock", "prune"]
