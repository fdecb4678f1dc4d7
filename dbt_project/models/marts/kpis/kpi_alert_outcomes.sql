{#- One row per alert episode (customer_alerts) with what happened next: the
    intervention that answered it (the rule of macros/kpis/link_interventions.sql, the
    same as the alert list's: linked by alert_id, else the customer's first intervention
    opened while the episode was open), whether the response SLA and the interview /
    solution milestones were met, and the save outcome.

    The response deadline is the alert's own (customer_alerts.response_due_date: red 1
    day, yellow 7 days, an escalated episode the earlier of first red day + 1 and opened
    + 7), met by a first contact before the end of that day.

    Save window: the customer's churn must be observable inside it. A churn date is the
    day coverage ended (the day after the last subscription, or the day the inactivity /
    no-order threshold was reached), so the window lasts kpi_save_window_days after the
    opening plus the time the customer's churn definition takes to declare a churn:
    0 for subscription customers (a pending grace gap keeps the outcome pending),
    churn_inactivity_days for activity and churn_no_order_days for order customers. An
    order customer warned 66 days into its inactivity churns 180 days after its last
    order, after a bare 90-day window would have called it saved. The episode is churned
    when its spell's churn date falls in the window, pending while the window has not
    elapsed (or a churn is in its grace gap), saved otherwise. -#}

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

episode_spells as (
    select
        alerts.*,
        case
            when spells.churn_definition = 'activity' then {{ var('churn_inactivity_days') }}
            when spells.churn_definition = 'order' then {{ var('churn_no_order_days') }}
            else 0
        end as churn_detection_days
    from alerts
    left join spells
        on alerts.customer_id = spells.customer_id
        and alerts.lifecycle_spell_number = spells.spell_number
),

episode_windows as (
    select
        episode_spells.*,
        {{ add_days('episode_spells.opened_date', var('kpi_save_window_days') ~ ' + episode_spells.churn_detection_days') }}
            as save_window_end_date,
        -- The nightly run that raises the alert finishes after the opening day's data.
        cast({{ add_days('episode_spells.opened_date', 1) }} as {{ dbt.type_timestamp() }}) as alert_raised_at,
        -- The alert's own deadline: the end of its response_due_date.
        cast({{ add_days('episode_spells.response_due_date', 1) }} as {{ dbt.type_timestamp() }}) as response_due_at
    from episode_spells
),

linked_interventions as (
    {{ link_interventions('episode_windows', 'interventions') }}
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
        episode_windows.response_due_at,
        linked_interventions.intervention_id,
        coalesce(linked_interventions.playbook, 'no_intervention') as applied_playbook,
        linked_interventions.cost as intervention_cost,
        linked_interventions.outcome as recorded_outcome,
        linked_interventions.first_contact_at,
        linked_interventions.interview_at,
        linked_interventions.solution_at,
        case
            when linked_interventions.first_contact_at is not null
                then linked_interventions.first_contact_at < episode_windows.response_due_at
            when episode_windows.response_due_at < cast({{ add_days('bounds.as_of_date', 1) }} as {{ dbt.type_timestamp() }})
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
