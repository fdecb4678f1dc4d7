{#- Lifecycle spells: one row per customer per uninterrupted period as a customer.

    Every churn definition (subscription, activity, order) is expressed as "coverage" intervals that
    are merged into spells:
    - subscription: each subscription covers [start_date, end_date); intervals whose gap
      is at most churn_grace_days merge (a return inside the grace gap is not churn).
      The churn date is the day after the last active subscription ended (= end_date,
      which is exclusive); it is recognised churn_grace_days later, when the gap has
      elapsed without a new subscription.
    - activity: each login day d covers [d, d + churn_inactivity_days); the churn date
      is the day the customer reaches churn_inactivity_days without a login.
    - order: each completed-order day covers [d, d + churn_no_order_days).
    For activity and order customers the account's creation opens a coverage interval
    that lasts the threshold counted from the creation (or from the history start, for
    accounts created earlier), so a new customer is not churned before it had time to
    log in or order, and an older one not for activity before the data begins. An
    account without a creation date (a purchase log) starts with its first login or
    order.
    A spell after the first is a reactivation. Spells end after as_of_date are open.

    A table, not a view: the customer-day facts, dimensions, KPIs and their tests all
    read it, and a view would be recomputed by each of them (see docs/BENCHMARKS.md). -#}

{{ config(materialized='table') }}

with accounts as (
    select * from {{ ref('stg_crm__accounts') }}
),

subscriptions as (
    select * from {{ ref('stg_billing__subscriptions') }}
),

usage_daily as (
    select * from {{ ref('int_product_usage_daily') }}
),

orders_daily as (
    select * from {{ ref('int_orders_daily') }}
),

bounds as (
    select * from {{ ref('util_date_bounds') }}
),

customers as (
    select
        accounts.customer_id,
        coalesce(accounts.business_model, '{{ var("churn_definition") }}') as churn_definition,
        accounts.created_date,
        case
            when accounts.created_date is null or accounts.created_date < bounds.history_start_date
                then bounds.history_start_date
            else accounts.created_date
        end as anchor_date
    from accounts
    cross join bounds
),

subscription_coverage as (
    select
        customers.customer_id,
        customers.churn_definition,
        subscriptions.start_date as cover_start_date,
        subscriptions.end_date as cover_end_date
    from customers
    inner join subscriptions
        on customers.customer_id = subscriptions.customer_id
    where customers.churn_definition = 'subscription'
        and (subscriptions.end_date is null or subscriptions.end_date > subscriptions.start_date)
),

activity_coverage as (
    select
        customers.customer_id,
        customers.churn_definition,
        usage_daily.date_day as cover_start_date,
        {{ add_days('usage_daily.date_day', var('churn_inactivity_days')) }} as cover_end_date
    from customers
    inner join usage_daily
        on customers.customer_id = usage_daily.customer_id
    where customers.churn_definition = 'activity'
        and usage_daily.date_day >= customers.anchor_date
),

order_coverage as (
    select
        customers.customer_id,
        customers.churn_definition,
        orders_daily.date_day as cover_start_date,
        {{ add_days('orders_daily.date_day', var('churn_no_order_days')) }} as cover_end_date
    from customers
    inner join orders_daily
        on customers.customer_id = orders_daily.customer_id
    where customers.churn_definition = 'order'
        and orders_daily.date_day >= customers.anchor_date
),

anchor_coverage as (
    -- From the account's creation; the inactivity clock runs from the anchor (the
    -- history start for older accounts, whose earlier activity is not in the data).
    select
        customer_id,
        churn_definition,
        created_date as cover_start_date,
        case
            when churn_definition = 'activity'
                then {{ add_days('anchor_date', var('churn_inactivity_days')) }}
            else {{ add_days('anchor_date', var('churn_no_order_days')) }}
        end as cover_end_date
    from customers
    -- an account without a creation date starts with its first login or order
    where churn_definition in ('activity', 'order')
        and created_date is not null
),

coverage as (
    select * from subscription_coverage
    union all
    select * from activity_coverage
    union all
    select * from order_coverage
    union all
    select * from anchor_coverage
),

-- Distinct intervals: the windows below order by (start, end), and two identical
-- intervals (an order customer's first order on its creation day gives the anchor
-- interval twice) would be a tie that the two windows may order differently, splitting
-- one spell in two. Without duplicates the order is total.
coverage_known as (
    select distinct
        coverage.customer_id,
        coverage.churn_definition,
        coverage.cover_start_date,
        coalesce(coverage.cover_end_date, cast('9999-12-31' as date)) as cover_end_date,
        case
            when coverage.churn_definition = 'subscription' then {{ var('churn_grace_days') }}
            else 0
        end as gap_tolerance_days
    from coverage
    cross join bounds
    where coverage.cover_start_date <= bounds.as_of_date
),

with_previous_end as (
    select
        *,
        max(cover_end_date) over (
            partition by customer_id
            order by cover_start_date, cover_end_date
            rows between unbounded preceding and 1 preceding
        ) as previous_cover_end_date
    from coverage_known
),

flagged as (
    select
        *,
        case
            when previous_cover_end_date is null then 1
            when {{ days_between('previous_cover_end_date', 'cover_start_date') }} > gap_tolerance_days then 1
            else 0
        end as starts_new_spell
    from with_previous_end
),

numbered as (
    select
        *,
        sum(starts_new_spell) over (
            partition by customer_id
            order by cover_start_date, cover_end_date
            rows between unbounded preceding and current row
        ) as spell_number
    from flagged
),

spells as (
    select
        customer_id,
        churn_definition,
        spell_number,
        max(gap_tolerance_days) as gap_tolerance_days,
        min(cover_start_date) as spell_start_date,
        max(cover_end_date) as coverage_end_date
    from numbered
    group by customer_id, churn_definition, spell_number
),

with_dates as (
    select
        spells.customer_id,
        spells.churn_definition,
        spells.spell_number,
        spells.spell_start_date,
        case
            when spells.coverage_end_date <= bounds.as_of_date then spells.coverage_end_date
        end as spell_end_date,
        case
            when spells.coverage_end_date <= bounds.as_of_date
                then {{ add_days('spells.coverage_end_date', 'spells.gap_tolerance_days') }}
        end as recognition_date,
        lead(spells.spell_start_date) over (
            partition by spells.customer_id
            order by spells.spell_number
        ) as next_spell_start_date,
        bounds.as_of_date
    from spells
    cross join bounds
),

final as (
    select
        {{ surrogate_key(['customer_id', 'spell_number']) }} as lifecycle_spell_id,
        customer_id,
        churn_definition,
        spell_number,
        spell_number > 1 as is_reactivation,
        spell_start_date,
        spell_end_date,
        case when recognition_date <= as_of_date then spell_end_date end as churn_date,
        case when recognition_date <= as_of_date then recognition_date end as churn_recognized_date,
        spell_end_date is not null and recognition_date > as_of_date as is_churn_pending,
        next_spell_start_date
    from with_dates
)

select * from final
