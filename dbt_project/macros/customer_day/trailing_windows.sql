{#- Window expressions shared by the customer-day models (fct_customer_day,
    int_health_dimension_scores). Their rows are not one per calendar day: a customer has
    no row on the days after a recognised churn unless something happened that day (see
    fct_customer_day). Trailing windows therefore use RANGE frames over a whole day number
    (`day_number` below), not ROWS frames: a frame of `days` days is the same whatever days
    are missing, and a missing day had nothing to add. Numeric RANGE offsets run on DuckDB,
    PostgreSQL 11+, Spark, Snowflake and BigQuery. -#}

{#- The fixed day that day numbers count from. -#}
{% macro day_number_origin() -%}
    cast('2000-01-01' as date)
{%- endmacro %}


{#- Whole days from day_number_origin() to `date_expr`: an integer to order RANGE frames by. -#}
{% macro day_number(date_expr) -%}
    {{ days_between(day_number_origin(), date_expr) }}
{%- endmacro %}


{#- `agg(expression)` over the `days` days ending on (and including) each row's day, or,
    with `ending_days_before`, over the `days` days ending that many days before it (the
    90 days up to 28 days ago). `order_by` must be a whole day number (day_number()). An
    empty frame gives null. -#}
{% macro trailing_window(agg, expression, days, partition_by='customer_id', order_by='day_number', ending_days_before=0) -%}
    {{ agg }}({{ expression }}) over (
            partition by {{ partition_by }} order by {{ order_by }}
            range between {{ days - 1 + ending_days_before }} preceding and
            {%- if ending_days_before > 0 %} {{ ending_days_before }} preceding{% else %} current row{% endif %}
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
