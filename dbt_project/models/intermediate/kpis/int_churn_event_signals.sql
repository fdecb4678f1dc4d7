{#- For every churn: the support-ticket categories the customer raised in the 90 days
    before it, and the churn reasons recorded on its retention interventions (from 180
    days before to 30 days after the churn). One row per churn, signal type and value. -#}

with spells as (
    select * from {{ ref('int_customer_lifecycle_spells') }}
    where churn_date is not null
),

tickets as (
    select * from {{ ref('stg_support__tickets') }}
),

interventions as (
    select * from {{ ref('int_retention_interventions') }}
    where churn_reason is not null
),

ticket_categories as (
    select
        spells.lifecycle_spell_id,
        'ticket_category' as signal_type,
        tickets.category as signal,
        count(*) as occurrences
    from spells
    inner join tickets
        on spells.customer_id = tickets.customer_id
        and tickets.created_date >= {{ add_days('spells.churn_date', -90) }}
        and tickets.created_date < spells.churn_date
    group by spells.lifecycle_spell_id, tickets.category
),

recorded_reasons as (
    select
        spells.lifecycle_spell_id,
        'recorded_reason' as signal_type,
        interventions.churn_reason as signal,
        count(*) as occurrences
    from spells
    inner join interventions
        on spells.customer_id = interventions.customer_id
        and interventions.opened_date >= {{ add_days('spells.churn_date', -180) }}
        and interventions.opened_date <= {{ add_days('spells.churn_date', 30) }}
    group by spells.lifecycle_spell_id, interventions.churn_reason
),

final as (
    select * from ticket_categories
    union all
    select * from recorded_reasons
)

select * from final
