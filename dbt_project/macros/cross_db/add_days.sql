{#- A date plus n days, as a date (dbt.dateadd returns a timestamp on some engines). -#}
{% macro add_days(date_expr, days) -%}
    cast({{ dbt.dateadd('day', days, date_expr) }} as date)
{%- endmacro %}

{#- Whole days from start_expr to end_expr (end - start). -#}
{% macro days_between(start_expr, end_expr) -%}
    {{ dbt.datediff(start_expr, end_expr, 'day') }}
{%- endmacro %}
