{#- One row per alert episode (customer_alerts) with what happened next: the
    intervention that answered it (linked by alert_id, else the customer's first
    intervention opened while the episode was open), whether the response SLA and the
    interview / solution milestones of SPEC section 8 were met, and the save outcome:
    churned if the customer churned within kpi_save_window_days (90) after the episode
    opened, pending while that window has not elapsed (or a churn is still inside its
    grace gap), saved otherwise. -#}

with alerts as (
    select * from {{ ref('customer_alerts') }}
),

interventions as (
    select * from {{ ref('int_retention_interventions') }}
),

spells as (
    select * from {{ ref('int_customer_lifecycle_spells') }}
),

bounds as (
    select * from {{ ref('util_date_bounds') }}
),

episode_windows as (
    select
        alerts.*,
        {{ add_days('alerts.opened_date', var('kpi_save_window_days')) }} as save_window_end_date,
        -- The nightly run that raises the alert finishes after the opening day's data.
        cast({{ add_days('alerts.opened_date', 1) }} as {{ dbt.type_timestamp() }}) as alert_raised_at
    from alerts
),

linked_interventions as (
    select
        episode_windows.alert_id,
        interventions.intervention_id,
        interventions.playbook,
        interventions.cost,
        interventions.first_contact_at,
        interventions.interview_at,
        interventions.solution_at,
        interventions.outcome as recorded_outcome,
        row_number() over (
            partition by episode_windows.alert_id
            order by
                case when interventions.alert_id = episode_windows.alert_id then 0 else 1 end,
                interventions.opened_at,
                interventions.intervention_id
        ) as link_rank
    from episode_windows
    inner join interventions
        on interventions.alert_id = episode_windows.alert_id
        or (
            interventions.alert_id is null
            and interventions.customer_id = episode_windows.customer_id
            and interventions.opened_date >= episode_windows.opened_date
            and interventions.opened_date <= coalesce(episode_windows.closed_date, episode_windows.as_of_date)
        )
),

churns_in_window as (
    select
        episode_windows.alert_id,
        min(case when spells.churn_date is not null then spells.churn_date end) as churn_date,
        max(case when spells.is_churn_pending then 1 else 0 end) as has_pending_churn
    from episode_windows
    inner join spells
        on spells.customer_id = episode_windows.customer_id
        and spells.spell_end_date >= episode_windows.opened_date
        and spells.spell_end_date <= episode_windows.save_window_end_date
    group by episode_windows.alert_id
),

final as (
    select
        episode_windows.alert_id,
        episode_windows.customer_id,
        episode_windows.segment,
        episode_windows.opened_date,
        episode_windows.closed_date,
        episode_windows.alert_tier,
        episode_windows.value_tier,
        episode_windows.value_risk_cell,
        episode_windows.recommended_playbook,
        episode_windows.alert_raised_at,
        episode_windows.response_hours,
        {{ timestamp_add('hour', 'episode_windows.response_hours', 'episode_windows.alert_raised_at') }}
            as response_due_at,
        linked_interventions.intervention_id,
        coalesce(linked_interventions.playbook, 'no_intervention') as applied_playbook,
        linked_interventions.cost as intervention_cost,
        linked_interventions.recorded_outcome,
        linked_interventions.first_contact_at,
        linked_interventions.interview_at,
        linked_interventions.solution_at,
        case
            when linked_interventions.first_contact_at is not null
                then linked_interventions.first_contact_at
                    <= {{ timestamp_add('hour', 'episode_windows.response_hours', 'episode_windows.alert_raised_at') }}
            when {{ timestamp_add('hour', 'episode_windows.response_hours', 'episode_windows.alert_raised_at') }}
                < cast({{ add_days('bounds.as_of_date', 1) }} as {{ dbt.type_timestamp() }})
                then false
        end as is_contacted_within_sla,
        case
            when linked_interventions.interview_at is not null
                then linked_interventions.interview_at
                    <= {{ timestamp_add('day', var('sla_interview_days'), 'episode_windows.alert_raised_at') }}
        end as is_interview_within_sla,
        case
            when linked_interventions.solution_at is not null
                then linked_interventions.solution_at
                    <= {{ timestamp_add('day', var('sla_solution_days'), 'episode_windows.alert_raised_at') }}
        end as is_solution_within_sla,
        episode_windows.save_window_end_date,
        churns_in_window.churn_date,
        case
            when churns_in_window.churn_date is not null then 'churned'
            when churns_in_window.has_pending_churn = 1 then 'pending'
            when episode_windows.save_window_end_date > bounds.as_of_date then 'pending'
            else 'saved'
        end as save_outcome
    from episode_windows
    cross join bounds
    left join linked_interventions
        on episode_windows.alert_id = linked_interventions.alert_id
        and linked_interventions.link_rank = 1
    left join churns_in_window
        on episode_windows.alert_id = churns_in_window.alert_id
)

select * from final
