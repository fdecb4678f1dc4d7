{#- Window expressions shared by the customer-day models (fct_customer_day,
    int_health_dimension_scores). Both read one row per customer per day, so a frame of
    `rows` is a frame of days. ROWS frames are standard SQL: DuckDB, Spark, Snowflake,
    BigQuery, Postgres and Redshift all run them as written. -#}

{#- `agg(expression)` over the `days` days ending on (and including) each row's day. -#}
{% macro trailing_window(agg, expression, days, partition_by='customer_id', order_by='date_day') -%}
    {{ agg }}({{ expression }}) over (
            partition by {{ partition_by }} order by {{ order_by }}
            rows between {{ days - 1 }} preceding and current row
        )
{%- endmacro %}


{#- The latest day (on or before each row's day) on which `condition` held, carried forward
    from `prior_column` (the same date computed from the rows before this run's first row,
    so an incremental run over any range gives the full refresh's value). -#}
{% macro last_date_where(condition, prior_column, partition_by='customer_id', order_by='date_day') -%}
    coalesce(
            max(case when {{ condition }} then {{ order_by }} end) over (
                partition by {{ partition_by }} order by {{ order_by }}
                rows between unbounded preceding and current row
            ),
            {{ prior_column }}
        )
{%- endmacro %}
