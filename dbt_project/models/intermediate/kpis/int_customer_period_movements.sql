{#- One row per customer per reporting period (month and quarter): whether the customer
    was active at the start and at the end, started, reactivated or churned in the
    period, its MRR at both boundaries split into movements, its revenue, and its
    survey answers. The KPI marts add these rows up by segment; the per-customer
    identity at_start + new + reactivated - churned = at_end holds on every row.

    Revenue is what the customer was billed or bought, counted once: subscription
    invoices (void excluded) plus, for customers with completed orders, their completed
    orders; customers without any order count their one-off invoices instead (one-off
    invoices bill orders, so counting both would count an order twice). An order-based
    business therefore has revenue, ARPA and a lifetime value even without invoices.

    pending_churn is 1 while a churn that belongs to the period can still be reversed:
    the customer's coverage ended by the period's end but its grace gap has not elapsed
    on the as-of date. The KPI marts mark such periods provisional.

    A table, not a view: two KPI marts and 30-odd tests read it, and a view would be
    recomputed by each of them (see docs/BENCHMARKS.md). -#}

{{ config(materialized='table') }}

with periods as (
    select * from {{ ref('util_periods') }}
),

accounts as (
    select * from {{ ref('stg_crm__accounts') }}
),

spells as (
    select * from {{ ref('int_customer_lifecycle_spells') }}
),

subscriptions as (
    select * from {{ ref('stg_billing__subscriptions') }}
),

invoices as (
    select * from {{ ref('stg_billing__invoices') }}
    where invoice_status != 'void'
),

orders as (
    select * from {{ ref('stg_billing__orders') }}
    where order_status = 'completed'
),

customers_with_orders as (
    select distinct customer_id from orders
),

-- Revenue events, each counted once (see the header).
revenue_events as (
    select
        invoices.customer_id,
        invoices.issued_date as revenue_date,
        invoices.amount_due as amount,
        0 as is_order_revenue
    from invoices
    where invoices.subscription_id is not null

    union all

    select
        invoices.customer_id,
        invoices.issued_date as revenue_date,
        invoices.amount_due as amount,
        1 as is_order_revenue
    from invoices
    left join customers_with_orders
        on invoices.customer_id = customers_with_orders.customer_id
    where invoices.subscription_id is null
        and customers_with_orders.customer_id is null

    union all

    select
        orders.customer_id,
        orders.ordered_date as revenue_date,
        orders.amount,
        1 as is_order_revenue
    from orders
),

nps as (
    select * from {{ ref('stg_support__nps_responses') }}
),

csat as (
    select * from {{ ref('stg_support__csat_ratings') }}
),

customer_periods as (
    select
        accounts.customer_id,
        periods.period_id,
        periods.period_grain,
        periods.period_start_date,
        periods.period_end_date,
        periods.day_before_period_start
    from accounts
    cross join periods
),

lifecycle as (
    select
        customer_periods.period_id,
        customer_periods.customer_id,
        max(case
            when spells.spell_start_date < customer_periods.period_start_date
                and (spells.churn_date is null or spells.churn_date >= customer_periods.period_start_date)
                then 1 else 0
        end) as is_active_at_start,
        sum(case
            when spells.spell_number = 1
                and spells.spell_start_date between customer_periods.period_start_date and customer_periods.period_end_date
                then 1 else 0
        end) as new_customer,
        sum(case
            when spells.spell_number > 1
                and spells.spell_start_date between customer_periods.period_start_date and customer_periods.period_end_date
                then 1 else 0
        end) as reactivations,
        sum(case
            when spells.churn_date between customer_periods.period_start_date and customer_periods.period_end_date
                then 1 else 0
        end) as churns,
        max(case
            when spells.spell_start_date <= customer_periods.period_end_date
                and (spells.churn_date is null or spells.churn_date > customer_periods.period_end_date)
                then 1 else 0
        end) as is_active_at_end,
        max(case when spells.spell_start_date <= customer_periods.period_end_date then 1 else 0 end)
            as has_started,
        max(case
            when spells.is_churn_pending and spells.spell_end_date <= customer_periods.period_end_date
                then 1 else 0
        end) as pending_churn
    from customer_periods
    inner join spells
        on customer_periods.customer_id = spells.customer_id
    group by customer_periods.period_id, customer_periods.customer_id
),

mrr as (
    select
        customer_periods.period_id,
        customer_periods.customer_id,
        sum(case
            when subscriptions.start_date <= customer_periods.day_before_period_start
                and (subscriptions.end_date is null or subscriptions.end_date > customer_periods.day_before_period_start)
                then subscriptions.mrr else 0
        end) as mrr_at_start,
        sum(case
            when subscriptions.start_date <= customer_periods.period_end_date
                and (subscriptions.end_date is null or subscriptions.end_date > customer_periods.period_end_date)
                then subscriptions.mrr else 0
        end) as mrr_at_end,
        min(subscriptions.start_date) as first_subscription_date
    from customer_periods
    inner join subscriptions
        on customer_periods.customer_id = subscriptions.customer_id
    group by customer_periods.period_id, customer_periods.customer_id
),

revenue as (
    select
        customer_periods.period_id,
        customer_periods.customer_id,
        sum(case
            when revenue_events.revenue_date between customer_periods.period_start_date and customer_periods.period_end_date
                then revenue_events.amount else 0
        end) as period_revenue,
        sum(case
            when revenue_events.is_order_revenue = 1
                and revenue_events.revenue_date between customer_periods.period_start_date and customer_periods.period_end_date
                then revenue_events.amount else 0
        end) as period_order_revenue,
        sum(case
            when revenue_events.revenue_date <= customer_periods.period_end_date then revenue_events.amount else 0
        end) as revenue_to_date
    from customer_periods
    inner join revenue_events
        on customer_periods.customer_id = revenue_events.customer_id
    group by customer_periods.period_id, customer_periods.customer_id
),

nps_counts as (
    select
        customer_periods.period_id,
        customer_periods.customer_id,
        count(*) as nps_responses,
        sum(case when nps.nps_score >= 9 then 1 else 0 end) as nps_promoters,
        sum(case when nps.nps_score between 7 and 8 then 1 else 0 end) as nps_passives,
        sum(case when nps.nps_score <= 6 then 1 else 0 end) as nps_detractors
    from customer_periods
    inner join nps
        on customer_periods.customer_id = nps.customer_id
        and nps.responded_date between customer_periods.period_start_date and customer_periods.period_end_date
    group by customer_periods.period_id, customer_periods.customer_id
),

csat_counts as (
    select
        customer_periods.period_id,
        customer_periods.customer_id,
        count(*) as csat_responses,
        sum(case when csat.csat_score >= 4 then 1 else 0 end) as csat_satisfied
    from customer_periods
    inner join csat
        on customer_periods.customer_id = csat.customer_id
        and csat.rated_date between customer_periods.period_start_date and customer_periods.period_end_date
    group by customer_periods.period_id, customer_periods.customer_id
),

joined as (
    select
        customer_periods.*,
        coalesce(lifecycle.is_active_at_start, 0) as is_active_at_start,
        coalesce(lifecycle.new_customer, 0) as new_customer,
        coalesce(lifecycle.reactivations, 0) as reactivations,
        coalesce(lifecycle.churns, 0) as churns,
        coalesce(lifecycle.is_active_at_end, 0) as is_active_at_end,
        coalesce(lifecycle.has_started, 0) as has_started,
        coalesce(lifecycle.pending_churn, 0) as pending_churn,
        coalesce(mrr.mrr_at_start, 0) as mrr_at_start,
        coalesce(mrr.mrr_at_end, 0) as mrr_at_end,
        mrr.first_subscription_date,
        coalesce(revenue.period_revenue, 0) as period_revenue,
        coalesce(revenue.period_order_revenue, 0) as period_order_revenue,
        coalesce(revenue.revenue_to_date, 0) as revenue_to_date,
        coalesce(nps_counts.nps_responses, 0) as nps_responses,
        coalesce(nps_counts.nps_promoters, 0) as nps_promoters,
        coalesce(nps_counts.nps_passives, 0) as nps_passives,
        coalesce(nps_counts.nps_detractors, 0) as nps_detractors,
        coalesce(csat_counts.csat_responses, 0) as csat_responses,
        coalesce(csat_counts.csat_satisfied, 0) as csat_satisfied
    from customer_periods
    left join lifecycle
        on customer_periods.period_id = lifecycle.period_id
        and customer_periods.customer_id = lifecycle.customer_id
    left join mrr
        on customer_periods.period_id = mrr.period_id
        and customer_periods.customer_id = mrr.customer_id
    left join revenue
        on customer_periods.period_id = revenue.period_id
        and customer_periods.customer_id = revenue.customer_id
    left join nps_counts
        on customer_periods.period_id = nps_counts.period_id
        and customer_periods.customer_id = nps_counts.customer_id
    left join csat_counts
        on customer_periods.period_id = csat_counts.period_id
        and customer_periods.customer_id = csat_counts.customer_id
),

final as (
    select
        {{ surrogate_key(['period_id', 'customer_id']) }} as customer_period_id,
        customer_id,
        period_id,
        period_grain,
        period_start_date,
        period_end_date,
        is_active_at_start,
        new_customer,
        reactivations,
        churns,
        case when is_active_at_start = 1 and churns > 0 then 1 else 0 end as churned_from_start,
        is_active_at_end,
        has_started,
        pending_churn,
        {#- Money columns carry one declared type on every engine: a unit test's expected rows
            are cast to the model's column types, and PostgreSQL's unconstrained numeric would
            otherwise keep each value's own scale (80 vs 80.000000). -#}
        cast(mrr_at_start as {{ dbt.type_numeric() }}) as mrr_at_start,
        cast(mrr_at_end as {{ dbt.type_numeric() }}) as mrr_at_end,
        cast(case
            when mrr_at_start = 0 and mrr_at_end > 0 and first_subscription_date >= period_start_date
                then mrr_at_end else 0
        end as {{ dbt.type_numeric() }}) as new_mrr,
        cast(case
            when mrr_at_start = 0 and mrr_at_end > 0 and first_subscription_date < period_start_date
                then mrr_at_end else 0
        end as {{ dbt.type_numeric() }}) as reactivation_mrr,
        cast(case when mrr_at_start > 0 and mrr_at_end > mrr_at_start then mrr_at_end - mrr_at_start else 0 end
            as {{ dbt.type_numeric() }}) as expansion_mrr,
        cast(case when mrr_at_end > 0 and mrr_at_end < mrr_at_start then mrr_at_start - mrr_at_end else 0 end
            as {{ dbt.type_numeric() }}) as contraction_mrr,
        cast(case when mrr_at_start > 0 and mrr_at_end = 0 then mrr_at_start else 0 end
            as {{ dbt.type_numeric() }}) as churned_mrr,
        cast(period_revenue as {{ dbt.type_numeric() }}) as period_revenue,
        cast(period_order_revenue as {{ dbt.type_numeric() }}) as period_order_revenue,
        cast(revenue_to_date as {{ dbt.type_numeric() }}) as revenue_to_date,
        nps_responses,
        nps_promoters,
        nps_passives,
        nps_detractors,
        csat_responses,
        csat_satisfied
    from joined
)

select * from final
