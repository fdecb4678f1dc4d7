{#- Retention interventions recorded against churnguard alerts (crm.interventions
    alert_id), one row per alert id: how many, the first one, and the latest outcome. -#}

with interventions as (
    select * from {{ ref('stg_crm__interventions') }}
    where alert_id is not null
),

ranked as (
    select
        *,
        row_number() over (partition by alert_id order by opened_at desc, intervention_id desc) as recency_rank
    from interventions
),

final as (
    select
        alert_id,
        count(*) as intervention_count,
        min(opened_at) as first_intervention_at,
        max(case when recency_rank = 1 then outcome end) as latest_outcome,
        max(case when recency_rank = 1 then playbook end) as latest_playbook
    from ranked
    group by alert_id
)

select * from final
