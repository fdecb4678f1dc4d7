{#- One row per customer account: who it is, who owns it, how churn is defined for it,
    and its lifecycle as of the warehouse's as-of date. -#}

with accounts as (
    select * from {{ ref('stg_crm__accounts') }}
),

users as (
    select * from {{ ref('stg_crm__users') }}
),

spells as (
    select * from {{ ref('int_customer_lifecycle_spells') }}
),

subscriptions_daily as (
    select * from {{ ref('int_subscriptions_daily') }}
),

bounds as (
    select * from {{ ref('util_date_bounds') }}
),

lifecycle as (
    select
        customer_id,
        min(spell_start_date) as customer_since_date,
        max(spell_number) as lifecycle_spells,
        sum(case when churn_date is not null then 1 else 0 end) as times_churned,
        max(churn_date) as last_churn_date,
        max(case when is_reactivation then spell_start_date end) as last_reactivation_date
    from spells
    group by customer_id
),

current_spell as (
    select spells.*
    from spells
    where spells.next_spell_start_date is null
),

current_mrr as (
    select subscriptions_daily.customer_id, subscriptions_daily.mrr
    from subscriptions_daily
    inner join bounds
        on subscriptions_daily.date_day = bounds.as_of_date
),

final as (
    select
        accounts.customer_id,
        accounts.customer_name,
        accounts.segment,
        accounts.industry,
        accounts.region,
        accounts.account_manager_id,
        account_manager.full_name as account_manager_name,
        account_manager.email as account_manager_email,
        accounts.csm_user_id,
        csm.full_name as csm_name,
        coalesce(accounts.business_model, '{{ var("churn_definition") }}') as churn_definition,
        accounts.created_date,
        lifecycle.customer_since_date,
        case
            when current_spell.customer_id is null then 'not_started'
            when current_spell.churn_date is not null then 'churned'
            when current_spell.is_reactivation then 'reactivated'
            else 'active'
        end as current_status,
        coalesce(lifecycle.lifecycle_spells, 0) as lifecycle_spells,
        coalesce(lifecycle.times_churned, 0) as times_churned,
        lifecycle.last_churn_date,
        lifecycle.last_reactivation_date,
        coalesce(current_mrr.mrr, 0) as current_mrr,
        bounds.as_of_date
    from accounts
    cross join bounds
    left join users as account_manager
        on accounts.account_manager_id = account_manager.user_id
    left join users as csm
        on accounts.csm_user_id = csm.user_id
    left join lifecycle
        on accounts.customer_id = lifecycle.customer_id
    left join current_spell
        on accounts.customer_id = current_spell.customer_id
    left join current_mrr
        on accounts.customer_id = current_mrr.customer_id
)

select * from final
