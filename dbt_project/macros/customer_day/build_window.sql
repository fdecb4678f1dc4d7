{#- The day range an incremental customer-day model (re)builds in this run, as a dict
    of SQL date literals {start, end, history_start}:
    - end   = var end_date (see run_var), else the warehouse's as_of_date;
    - start = var start_date (see run_var), else (incremental run) the last built day minus
              (lookback_days - 1), so late-arriving rows are picked up; else
              (full refresh) the history start.
    Both are clamped to [history_start_date, as_of_date]. Computed at run time so
    the dates reach the SQL as literals and every engine can prune by them. -#}
{% macro customer_day_build_window() %}
    {%- if not execute -%}
        {{ return({'start': "cast('1970-01-01' as date)", 'end': "cast('1970-01-01' as date)",
                   'history_start': "cast('1970-01-01' as date)"}) }}
    {%- endif -%}
    {%- set bounds = run_query("select history_start_date, as_of_date from " ~ ref('util_date_bounds')) -%}
    {%- set history_start = bounds.rows[0][0] -%}
    {%- set as_of = bounds.rows[0][1] -%}
    {%- if history_start is none or as_of is none -%}
        {#- No raw events yet (empty warehouse, `dbt build --empty`): build nothing. -#}
        {{ log("customer-day build window: no raw events, nothing to build", info=True) }}
        {{ return({'start': "cast('1970-01-01' as date)", 'end': "cast('1969-12-31' as date)",
                   'history_start': "cast('1970-01-01' as date)"}) }}
    {%- endif -%}
    {%- set history_start = history_start | string -%}
    {%- set as_of = as_of | string -%}

    {%- set end = run_var('end_date') or as_of -%}
    {%- if run_var('start_date') -%}
        {%- set start = run_var('start_date') -%}
    {%- elif is_incremental() -%}
        {%- set last = run_query("select max(date_day) from " ~ this).rows[0][0] -%}
        {%- if last is none -%}
            {%- set start = history_start -%}
        {%- else -%}
            {%- set start = (modules.datetime.date.fromisoformat(last | string)
                             - modules.datetime.timedelta(days=var('lookback_days') | int - 1)) | string -%}
        {%- endif -%}
    {%- else -%}
        {%- set start = history_start -%}
    {%- endif -%}
    {%- set start = [start | string, history_start] | max -%}
    {%- set end = [end | string, as_of] | min -%}
    {%- if start > end -%}
        {%- set start = end -%}
    {%- endif -%}
    {{ log("customer-day build window: " ~ start ~ " to " ~ end, info=False) }}
    {{ return({'start': "cast('" ~ start ~ "' as date)", 'end': "cast('" ~ end ~ "' as date)",
               'history_start': "cast('" ~ history_start ~ "' as date)",
               'start_value': start, 'end_value': end}) }}
{% endmacro %}


{#- The incremental config of the day-grain models: each run replaces whole days
    (the build window's). Use as
    `config(materialized='incremental', on_schema_change='fail', **day_replacing_incremental())`.
    - default (DuckDB, Snowflake, Postgres, Redshift): delete+insert by date_day;
    - BigQuery: insert_overwrite of date_day partitions (no delete+insert there);
    - Spark / Databricks: insert_overwrite of date_day partitions, in the table format of
      var spark_file_format (default: parquet on Apache Spark, which ships no Delta jars;
      delta on Databricks).
    See docs/SCALING.md. -#}
{% macro day_replacing_incremental() -%}
    {%- if target.type == 'bigquery' -%}
        {{ return({'incremental_strategy': 'insert_overwrite',
                   'partition_by': {'field': 'date_day', 'data_type': 'date', 'granularity': 'day'}}) }}
    {%- elif target.type in ('spark', 'databricks') -%}
        {{ return({'incremental_strategy': 'insert_overwrite', 'partition_by': ['date_day'],
                   'file_format': spark_file_format()}) }}
    {%- else -%}
        {{ return({'incremental_strategy': 'delete+insert', 'unique_key': 'date_day'}) }}
    {%- endif -%}
{%- endmacro %}


{#- Ends the final select of each model that uses day_replacing_incremental(), as the line
    after its `select * from final`: `{{- distribute_by_day() }}` (hence the leading space). On Spark / Databricks it
    sends all the rows of a day to one task (`distribute by date_day`), so that each date_day
    partition is written as one file instead of one file per task holding rows of that day
    (up to 17 per day for int_health_rule_hits: writing those small files took most of the
    Spark build). Nothing on other engines, whose SQL stays exactly as it was. -#}
{% macro distribute_by_day() -%}
    {{ return(adapter.dispatch('distribute_by_day', 'churnguard')()) }}
{%- endmacro %}

{% macro default__distribute_by_day() -%}{%- endmacro %}
{% macro spark__distribute_by_day() -%}{{ return(' distribute by date_day') }}{%- endmacro %}
{% macro databricks__distribute_by_day() -%}{{ return(' distribute by date_day') }}{%- endmacro %}


{#- The table format of Spark targets: var spark_file_format, else delta on Databricks and
    parquet on Apache Spark (Delta Lake needs extra jars a plain Spark does not have). -#}
{% macro spark_file_format() -%}
    {{ return(var('spark_file_format', none) or ('delta' if target.type == 'databricks' else 'parquet')) }}
{%- endmacro %}
