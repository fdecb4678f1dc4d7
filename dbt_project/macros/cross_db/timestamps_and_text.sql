{#- Small cross-engine helpers where dbt-core's own macros differ by engine. -#}

{#- `ts` plus `n` `part`s, always a TIMESTAMP (dbt.dateadd returns DATETIME on BigQuery,
    which BigQuery will not compare with a TIMESTAMP column). -#}
{% macro timestamp_add(part, n, ts) -%}
    {{ return(adapter.dispatch('timestamp_add', 'churnguard')(part, n, ts)) }}
{%- endmacro %}

{% macro default__timestamp_add(part, n, ts) -%}
    cast({{ dbt.dateadd(part, n, ts) }} as {{ dbt.type_timestamp() }})
{%- endmacro %}

{% macro bigquery__timestamp_add(part, n, ts) -%}
    timestamp_add(cast({{ ts }} as timestamp), interval {{ n }} {{ part }})
{%- endmacro %}


{#- The Monday that starts the ISO week of date `d` (BigQuery's week starts on Sunday). -#}
{% macro week_start(d) -%}
    {{ return(adapter.dispatch('week_start', 'churnguard')(d)) }}
{%- endmacro %}

{% macro default__week_start(d) -%}
    cast({{ dbt.date_trunc('week', d) }} as date)
{%- endmacro %}

{% macro bigquery__week_start(d) -%}
    date_trunc(cast({{ d }} as date), isoweek)
{%- endmacro %}


{#- `expression` values of a group joined by `delimiter` (a SQL string literal) in
    ascending order (dbt-spark's listagg ignores the order). -#}
{% macro sorted_listagg(expression, delimiter) -%}
    {{ return(adapter.dispatch('sorted_listagg', 'churnguard')(expression, delimiter)) }}
{%- endmacro %}

{% macro default__sorted_listagg(expression, delimiter) -%}
    {{ dbt.listagg(expression, delimiter, 'order by ' ~ expression) }}
{%- endmacro %}

{% macro spark__sorted_listagg(expression, delimiter) -%}
    array_join(array_sort(collect_list({{ expression }})), {{ delimiter }})
{%- endmacro %}

{% macro databricks__sorted_listagg(expression, delimiter) -%}
    {{ return(churnguard.spark__sorted_listagg(expression, delimiter)) }}
{%- endmacro %}
