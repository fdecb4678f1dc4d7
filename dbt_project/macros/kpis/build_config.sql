{#- The configuration an incremental model's rows were built with, so that changing a
    dbt var on a built warehouse cannot silently mix rows computed under two settings.

    build_config_text(): the vars that change what incremental models compute (churn
    definition and thresholds, severe ticket priorities, history start) as one line.
    on-run-end records it per incremental model built successfully
    (utilities.util_build_config); on-run-start compares it with the recorded one and,
    unless the run is a --full-refresh, stops with a message naming the models, the old
    and the new settings and the command to rebuild. -#}

{% macro build_config_text() -%}
    {%- set names = ['churn_definition', 'churn_grace_days', 'churn_inactivity_days', 'churn_no_order_days',
                     'severe_ticket_priorities', 'history_start_date'] -%}
    {%- set parts = [] -%}
    {%- for name in names -%}
        {%- set value = var(name, none) -%}
        {%- if value is iterable and value is not string -%}
            {%- set value = value | join(',') -%}
        {%- endif -%}
        {%- do parts.append(name ~ '=' ~ (value | string)) -%}
    {%- endfor -%}
    {{ return(parts | join('; ')) }}
{%- endmacro %}

{#- Spark targets have no database (catalog) level: target.database is undefined there. -#}
{% macro build_config_database() -%}
    {{ return(target.database if target.database is defined else none) }}
{%- endmacro %}

{% macro build_config_relation() -%}
    {{ return(api.Relation.create(database=build_config_database(), schema='utilities', identifier='util_build_config')) }}
{%- endmacro %}

{% macro check_build_config() %}
    {%- if execute and not flags.FULL_REFRESH -%}
        {%- set relation = adapter.get_relation(database=build_config_database(), schema='utilities', identifier='util_build_config') -%}
        {%- if relation is not none -%}
            {%- set current = build_config_text() -%}
            {#- The latest row per model: on Spark the table is append-only (no DELETE on Parquet). -#}
            {%- set rows = run_query("select model_name, config_text from (select model_name, config_text, "
                ~ "row_number() over (partition by model_name order by recorded_at desc) as recency from "
                ~ relation ~ ") as recorded where recency = 1 and config_text <> '"
                ~ current | replace("'", "''") ~ "' order by model_name") -%}
            {%- if rows.rows | length > 0 -%}
                {%- set models = rows.columns[0].values() | join(', ') -%}
                {{ exceptions.raise_compiler_error(
                    "The warehouse's incremental models were built with other settings than this run's.\n"
                    ~ "  models: " ~ models ~ "\n"
                    ~ "  built with: " ~ rows.rows[0][1] ~ "\n"
                    ~ "  this run:   " ~ current ~ "\n"
                    ~ "Their rows would mix both settings. Rebuild them with the new settings: "
                    ~ "`churnguard build --full-refresh` (or add --full-refresh to your dbt command), "
                    ~ "or run with the settings they were built with.") }}
            {%- endif -%}
        {%- endif -%}
    {%- endif -%}
    select 1
{% endmacro %}

{% macro record_build_config(results) %}
    {%- if execute -%}
        {%- set built = [] -%}
        {%- for result in results -%}
            {%- if result.node is defined and result.node.resource_type == 'model'
                and result.node.config.materialized == 'incremental' and result.status == 'success' -%}
                {%- do built.append(result.node.name) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- if built -%}
            {%- set relation = build_config_relation() -%}
            {%- set current = build_config_text() | replace("'", "''") -%}
            {%- do adapter.create_schema(relation) -%}
            {%- call statement('create_build_config') -%}
                create table if not exists {{ relation }} (
                    model_name {{ dbt.type_string() }},
                    config_text {{ dbt.type_string() }},
                    recorded_at {{ dbt.type_timestamp() }}
                )
            {%- endcall -%}
            {%- if target.type not in ('spark', 'databricks') -%}
            {%- call statement('record_build_config') -%}
                delete from {{ relation }} where model_name in ('{{ built | join("', '") }}')
            {%- endcall -%}
            {%- endif -%}
            {%- call statement('insert_build_config') -%}
                insert into {{ relation }} (model_name, config_text, recorded_at)
                values
                {%- for name in built %}
                    ('{{ name }}', '{{ current }}', {{ dbt.current_timestamp() }}){{ "," if not loop.last }}
                {%- endfor %}
            {%- endcall -%}
            {%- do adapter.commit() -%}
        {%- endif -%}
    {%- endif -%}
    select 1
{% endmacro %}
