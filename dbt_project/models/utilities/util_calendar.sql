{#- One row per day of behavioural history, from history_start_date to as_of_date. -#}

with bounds as (
    select * from {{ ref('util_date_bounds') }}
),

spine as (
    {{ date_spine(
        "(select history_start_date from " ~ ref('util_date_bounds') ~ ")",
        "(select as_of_date from " ~ ref('util_date_bounds') ~ ")"
    ) }}
),

final as (
    select
        spine.date_day,
        {{ week_start('spine.date_day') }} as week_start_date,
        cast({{ dbt.date_trunc('month', 'spine.date_day') }} as date) as month_start_date,
        cast({{ dbt.date_trunc('quarter', 'spine.date_day') }} as date) as quarter_start_date,
        spine.date_day = bounds.as_of_date as is_as_of_date
    from spine
    cross join bounds
)

select * from final
