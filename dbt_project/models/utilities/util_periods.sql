{#- Reporting periods (months and quarters, UTC) covering the history: one row per period
    with its first and last day. The current period ends at the as-of date and is flagged
    incomplete. -#}

with calendar as (
    select * from {{ ref('util_calendar') }}
),

bounds as (
    select * from {{ ref('util_date_bounds') }}
),

months as (
    select
        'month' as period_grain,
        month_start_date as period_start_date,
        max(date_day) as last_day_in_data,
        1 as months_in_period
    from calendar
    group by month_start_date
),

quarters as (
    select
        'quarter' as period_grain,
        quarter_start_date as period_start_date,
        max(date_day) as last_day_in_data,
        3 as months_in_period
    from calendar
    group by quarter_start_date
),

periods as (
    select * from months
    union all
    select * from quarters
),

final as (
    select
        {{ surrogate_key(['periods.period_grain', 'periods.period_start_date']) }} as period_id,
        periods.period_grain,
        periods.period_start_date,
        periods.last_day_in_data as period_end_date,
        {{ add_days('periods.period_start_date', -1) }} as day_before_period_start,
        periods.months_in_period,
        cast({{ dbt.dateadd('month', 'periods.months_in_period', 'periods.period_start_date') }} as date)
            <= {{ add_days('bounds.as_of_date', 1) }} as is_complete_period
    from periods
    cross join bounds
)

select * from final
