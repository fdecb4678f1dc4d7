{#- Retention interventions recorded in the CRM, one row each, with the dates the KPI
    marts measure against. -#}

with interventions as (
    select * from {{ ref('stg_crm__interventions') }}
),

final as (
    select
        intervention_id,
        customer_id,
        alert_id,
        user_id,
        playbook,
        channel,
        opened_at,
        opened_date,
        first_contact_at,
        interview_at,
        solution_at,
        cost,
        outcome,
        outcome_at,
        churn_reason
    from interventions
)

select * from final
