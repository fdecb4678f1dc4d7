{#- CRM interactions per customer per day (only days with at least one). An outbound
    interaction is proactive outreach by the vendor; it is unanswered when the
    customer never replied or attended.

    A table, not a view, on every engine: the customer-day facts read every day of it
    (carried last interaction) and ten data tests read it; as a view each re-aggregated the
    raw interactions (docs/SCALING.md, "Daily aggregates as tables"). -#}

{{ config(materialized='table') }}

with interactions as (
    select * from {{ ref('stg_crm__interactions') }}
),

final as (
    select
        customer_id,
        occurred_date as date_day,
        count(*) as interactions,
        sum(case when direction = 'inbound' then 1 else 0 end) as inbound_interactions,
        sum(case when direction = 'outbound' then 1 else 0 end) as outbound_interactions,
        sum(case when direction = 'outbound' and is_answered then 1 else 0 end) as outreach_answered,
        sum(case when direction = 'outbound' and not is_answered then 1 else 0 end) as outreach_unanswered
    from interactions
    group by customer_id, occurred_date
)

select * from final
