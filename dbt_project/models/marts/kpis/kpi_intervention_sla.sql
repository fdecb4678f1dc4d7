{#- Intervention SLA compliance per month of alert opening and alert tier (response SLA
    and intervention timeline): the share of episodes contacted within the response SLA (24 h red, 7 days
    yellow), and, where interventions record them, interviews within sla_interview_days
    (5) and tailored solutions within sla_solution_days (7) of the alert. Episodes whose
    deadline has not passed and that were not contacted yet are not counted. -#}

with outcomes as (
    select * from {{ ref('kpi_alert_outcomes') }}
),

periods as (
    select * from {{ ref('util_periods') }}
    where period_grain = 'month'
),

episodes as (
    select
        periods.period_start_date,
        outcomes.*
    from outcomes
    inner join periods
        on outcomes.opened_date between periods.period_start_date and periods.period_end_date
),

final as (
    select
        {{ surrogate_key(['period_start_date', 'alert_tier']) }} as sla_row_id,
        period_start_date,
        alert_tier,
        cast(count(*) as {{ dbt.type_bigint() }}) as alerts_opened,
        cast(sum(case when is_contacted_within_sla is not null then 1 else 0 end) as {{ dbt.type_bigint() }}) as alerts_due,
        cast(sum(case when is_contacted_within_sla then 1 else 0 end) as {{ dbt.type_bigint() }}) as contacted_within_sla,
        cast(sum(case when is_contacted_within_sla then 1 else 0 end) as {{ type_double() }})
            / nullif(sum(case when is_contacted_within_sla is not null then 1 else 0 end), 0)
            as contact_sla_compliance,
        cast(sum(case when is_interview_within_sla is not null then 1 else 0 end) as {{ dbt.type_bigint() }}) as interviews_recorded,
        cast(sum(case when is_interview_within_sla then 1 else 0 end) as {{ type_double() }})
            / nullif(sum(case when is_interview_within_sla is not null then 1 else 0 end), 0)
            as interview_sla_compliance,
        cast(sum(case when is_solution_within_sla is not null then 1 else 0 end) as {{ dbt.type_bigint() }}) as solutions_recorded,
        cast(sum(case when is_solution_within_sla then 1 else 0 end) as {{ type_double() }})
            / nullif(sum(case when is_solution_within_sla is not null then 1 else 0 end), 0)
            as solution_sla_compliance
    from episodes
    group by period_start_date, alert_tier
)

select * from final
