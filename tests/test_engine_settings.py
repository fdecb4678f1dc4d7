"""The postgres and spark outputs of the shipped dbt profile, and the loader's view of them."""

from __future__ import annotations

import jinja2
import pytest
import yaml

from churnguard import settings


def _render_profile(env: dict[str, str]) -> dict:
    def env_var(name: str, default: str | None = None) -> str:
        if name in env:
            return env[name]
        if default is None:
            raise KeyError(name)
        return default

    jenv = jinja2.Environment()
    jenv.filters["as_number"] = lambda v: int(v)
    text = jenv.from_string((settings.DBT_PROJECT_DIR / "profiles.yml").read_text()).render(env_var=env_var)
    return yaml.safe_load(text)["churnguard"]


def test_postgres_output_reads_libpq_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"PGHOST": "db.internal", "PGPORT": "6543", "PGUSER": "etl", "PGPASSWORD": "s3cret", "PGDATABASE": "cg"}
    out = _render_profile(env)["outputs"]["postgres"]
    assert (out["type"], out["host"], int(out["port"]), out["user"], out["password"], out["dbname"]) == (
        "postgres", "db.internal", 6543, "etl", "s3cret", "cg")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    conn = settings.postgres_conninfo()  # the loader connects where dbt does
    assert (conn["host"], conn["port"], conn["user"], conn["password"], conn["dbname"]) == (
        "db.internal", "6543", "etl", "s3cret", "cg")


def test_spark_output_is_a_local_session_with_the_loaders_settings(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("CHURNGUARD_SPARK_WAREHOUSE", str(tmp_path / "spark"))
    out = _render_profile({"CHURNGUARD_SPARK_WAREHOUSE": str(tmp_path / "spark")})["outputs"]["spark"]
    assert (out["type"], out["method"]) == ("spark", "session")
    ssp = {k: str(v) for k, v in out["server_side_parameters"].items()}
    assert ssp["spark.master"] == "local[2]"
    assert ssp["spark.sql.warehouse.dir"] == str(tmp_path / "spark")
    # dbt-spark adds spark.sql.ansi.enabled=false itself; the loader's session sets it too
    loader = {k: v for k, v in settings.spark_conf().items() if k != "spark.sql.ansi.enabled"}
    assert loader == ssp


@pytest.mark.parametrize("target, engine", [("duckdb", "duckdb"), ("postgres", "postgres"), ("spark", "spark")])
def test_target_engine_comes_from_the_profile(target: str, engine: str) -> None:
    assert settings.target_engine(target) == engine


def test_unknown_engine_is_refused_with_the_variable_named() -> None:
    with pytest.raises(ValueError, match="CHURNGUARD_DBT_TARGET='snowflake'"):
        settings.target_engine("snowflake")
