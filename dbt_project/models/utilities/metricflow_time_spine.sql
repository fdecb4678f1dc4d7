{#- The day spine MetricFlow joins metrics to (see _semantic__metrics.yml): the warehouse
    calendar's days. -#}

with calendar as (
    select * from {{ ref('util_calendar') }}
),

final as (
    select date_day from calendar
)

select * from final
