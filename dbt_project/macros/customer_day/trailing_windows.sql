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


{#- The state `last_date_where` carries in: per customer, the last day of `source` (a
    relation or CTE with customer_id and date_day) before the customer's first row in this
    run (`first_days`: customer_id, first_row_date), where `condition` (optional, on
    `source`'s columns) holds. A select statement, for a CTE body. -#}
{% macro last_date_before_first_row(source, date_alias, first_days='customer_first_days', condition=none) -%}
    select {{ source }}.customer_id, max({{ source }}.date_day) as {{ date_alias }}
    from {{ source }}
    inner join {{ first_days }}
        on {{ source }}.customer_id = {{ first_days }}.customer_id
    where {{ source }}.date_day < {{ first_days }}.first_row_date
        {%- if condition %}
        and {{ source }}.{{ condition }}
        {%- endif %}
    group by {{ source }}.customer_id
{%- endmacro %}
