{#- One row per day from start_expr to end_expr inclusive, column `date_day`.
    Portable: numbers come from cross-joined digits (up to 100,000 days), no
    generate_series / recursive CTE needed. Engines with a native series generator
    can override `date_spine` through adapter.dispatch. -#}
{% macro date_spine(start_expr, end_expr) -%}
    {{ return(adapter.dispatch('date_spine', 'churnguard')(start_expr, end_expr)) }}
{%- endmacro %}

{% macro default__date_spine(start_expr, end_expr) -%}
    with digits as (
        select 0 as digit union all select 1 union all select 2 union all select 3
        union all select 4 union all select 5 union all select 6 union all select 7
        union all select 8 union all select 9
    ),

    numbers as (
        select
            ones.digit
            + 10 * tens.digit
            + 100 * hundreds.digit
            + 1000 * thousands.digit
            + 10000 * ten_thousands.digit as day_offset
        from digits as ones
        cross join digits as tens
        cross join digits as hundreds
        cross join digits as thousands
        cross join digits as ten_thousands
    )

    select {{ add_days(start_expr, 'day_offset') }} as date_day
    from numbers
    where day_offset <= {{ days_between(start_expr, end_expr) }}
{%- endmacro %}

{% macro duckdb__date_spine(start_expr, end_expr) -%}
    select cast(unnest(generate_series(
        cast({{ start_expr }} as date), cast({{ end_expr }} as date), interval 1 day
    )) as date) as date_day
{%- endmacro %}
