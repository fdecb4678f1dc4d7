{#- A per-run setting: the dbt var `name` when it is given (--vars or dbt_project.yml),
    else, when the run executes, the environment variable CHURNGUARD_RUN_<NAME> (empty =
    unset), else `default`. For the settings that change on every run: start_date,
    end_date (the build window) and test_scope.

    Why the environment: dbt's partial parsing is discarded whenever --vars change, so a
    scheduler passing the night's window as --vars re-parses the whole project (a thousand
    tests) on every invocation. Read only at execution, an environment variable is not
    part of what dbt parsed, and the saved parse is reused. The orchestration (Dagster's
    dbt steps, `churnguard build`) passes these settings this way; --vars still work and
    win. -#}
{% macro run_var(name, default=none) -%}
    {%- set value = var(name, none) -%}
    {%- if (value is none or (value | string | trim) in ['', 'None', 'none', 'null']) and execute -%}
        {%- set value = env_var('CHURNGUARD_RUN_' ~ name | upper, '') | trim -%}
    {%- endif -%}
    {%- if value is none or (value | string | trim) in ['', 'None', 'none', 'null'] -%}
        {{ return(default) }}
    {%- endif -%}
    {{ return(value) }}
{%- endmacro %}
