{#- The KPI report for one period grain ('month' or 'quarter'): one row per period and
    segment, plus segment = 'all'. Every KPI formula lives here once; kpi_monthly and
    kpi_quarterly call it. Zero denominators give null, never zero. See the doc blocks
    in models/marts/kpis/_kpis__docs.md for each definition.

    Provisional rows: a row whose inputs can still change says so. The churn and
    retention rates are provisional while the period is incomplete or a churn of the
    period is still inside its grace gap (pending_churn_customers); the rates keep the
    churns recognised so far and their target flags are null. The save rate is null
    while any warned customer of the period is still inside its save window
    (pending_save_customers), since only losses can be decided early and a partial rate
    reads 0%. is_provisional is true when any of them applies. -#}
{% macro kpi_period_report(grain) %}

{%- set ratio_type = type_double() -%}

with movements as (
    select * from {{ ref('int_customer_period_movements') }}
    where period_grain = '{{ grain }}'
),

periods as (
    select * from {{ ref('util_periods') }}
    where period_grain = '{{ grain }}'
),

customers as (
    select * from {{ ref('dim_customers') }}
),

segment_membership as (
    select customer_id, segment from customers
    union all
    select customer_id, 'all' as segment from customers
),

alert_outcomes as (
    select * from {{ ref('kpi_alert_outcomes') }}
),

-- A warned customer: a red or yellow episode opened in the period; its outcome is that
-- of its first such episode in the period.
warned_episodes as (
    select
        periods.period_id,
        alert_outcomes.customer_id,
        alert_outcomes.save_outcome,
        row_number() over (
            partition by periods.period_id, alert_outcomes.customer_id
            order by alert_outcomes.opened_date, alert_outcomes.alert_id
        ) as episode_rank
    from alert_outcomes
    inner join periods
        on alert_outcomes.opened_date between periods.period_start_date and periods.period_end_date
),

warned_totals as (
    select
        warned_episodes.period_id,
        segment_membership.segment,
        count(*) as warned_customers,
        sum(case when warned_episodes.save_outcome = 'saved' then 1 else 0 end) as saved_customers,
        sum(case when warned_episodes.save_outcome = 'churned' then 1 else 0 end) as lost_customers,
        sum(case when warned_episodes.save_outcome = 'pending' then 1 else 0 end) as pending_save_customers
    from warned_episodes
    inner join segment_membership
        on warned_episodes.customer_id = segment_membership.customer_id
    where warned_episodes.episode_rank = 1
    group by warned_episodes.period_id, segment_membership.segment
),

totals as (
    select
        movements.period_id,
        segment_membership.segment,
        sum(movements.is_active_at_start) as customers_at_start,
        sum(movements.new_customer) as new_customers,
        sum(movements.reactivations) as reactivated_customers,
        sum(movements.churns) as churned_customers,
        sum(movements.churned_from_start) as churned_from_start_customers,
        sum(movements.is_active_at_end) as customers_at_end,
        sum(movements.mrr_at_start) as mrr_at_start,
        sum(movements.new_mrr) as new_mrr,
        sum(movements.reactivation_mrr) as reactivation_mrr,
        sum(movements.expansion_mrr) as expansion_mrr,
        sum(movements.contraction_mrr) as contraction_mrr,
        sum(movements.churned_mrr) as churned_mrr,
        sum(movements.mrr_at_end) as mrr_at_end,
        sum(movements.period_revenue) as revenue,
        sum(coalesce(movements.period_order_revenue, 0)) as order_revenue,
        sum(coalesce(movements.pending_churn, 0)) as pending_churn_customers,
        sum(movements.has_started) as customers_started_to_date,
        sum(case when movements.has_started = 1 then movements.revenue_to_date else 0 end) as revenue_to_date,
        sum(movements.nps_responses) as nps_responses,
        sum(movements.nps_promoters) as nps_promoters,
        sum(movements.nps_passives) as nps_passives,
        sum(movements.nps_detractors) as nps_detractors,
        sum(movements.csat_responses) as csat_responses,
        sum(movements.csat_satisfied) as csat_satisfied
    from movements
    inner join segment_membership
        on movements.customer_id = segment_membership.customer_id
    group by movements.period_id, segment_membership.segment
),

rates as (
    select
        periods.period_start_date,
        periods.period_end_date,
        periods.months_in_period,
        periods.is_complete_period,
        totals.*,
        coalesce(warned_totals.warned_customers, 0) as warned_customers,
        coalesce(warned_totals.saved_customers, 0) as saved_customers,
        coalesce(warned_totals.lost_customers, 0) as lost_customers,
        coalesce(warned_totals.pending_save_customers, 0) as pending_save_customers,
        case
            when coalesce(warned_totals.pending_save_customers, 0) = 0
                then cast(warned_totals.saved_customers as {{ ratio_type }})
                    / nullif(warned_totals.saved_customers + warned_totals.lost_customers, 0)
        end as save_rate,
        coalesce(warned_totals.pending_save_customers, 0) > 0 as is_save_rate_provisional,
        not periods.is_complete_period or totals.pending_churn_customers > 0 as is_churn_rate_provisional,
        cast(totals.churned_from_start_customers as {{ ratio_type }})
            / nullif(totals.customers_at_start, 0) as customer_churn_rate,
        cast(totals.customers_at_end - totals.new_customers - totals.reactivated_customers as {{ ratio_type }})
            / nullif(totals.customers_at_start, 0) as customer_retention_rate,
        cast(totals.customers_at_end as {{ ratio_type }})
            / nullif(totals.customers_at_start, 0) as end_to_start_customer_ratio,
        cast(totals.mrr_at_start - totals.contraction_mrr - totals.churned_mrr as {{ ratio_type }})
            / nullif(totals.mrr_at_start, 0) as gross_revenue_retention,
        cast(totals.mrr_at_start + totals.expansion_mrr - totals.contraction_mrr - totals.churned_mrr as {{ ratio_type }})
            / nullif(totals.mrr_at_start, 0) as net_revenue_retention,
        cast(100 as {{ ratio_type }}) * (totals.nps_promoters - totals.nps_detractors) / nullif(totals.nps_responses, 0) as nps,
        cast(totals.csat_satisfied as {{ ratio_type }}) / nullif(totals.csat_responses, 0) as csat_satisfied_share,
        cast(totals.revenue_to_date as {{ ratio_type }}) / nullif(totals.customers_started_to_date, 0)
            as historical_clv,
        (cast(totals.mrr_at_end as {{ ratio_type }}) * periods.months_in_period + totals.order_revenue)
            / nullif(totals.customers_at_end, 0) as arpa
    from totals
    inner join periods
        on totals.period_id = periods.period_id
    left join warned_totals
        on totals.period_id = warned_totals.period_id
        and totals.segment = warned_totals.segment
),

with_derived as (
    select
        *,
        1 - power(1 - customer_churn_rate, cast(12 as {{ ratio_type }}) / months_in_period) as customer_churn_rate_annualized,
        nullif(arpa, 0) * {{ var('kpi_gross_margin') }} / nullif(customer_churn_rate, 0) as predictive_clv,
        {{ period_target('max_churn', var('kpi_target_max_monthly_churn_rate'), 'months_in_period') }} as churn_rate_target,
        {{ period_target('min_retention', var('kpi_target_min_monthly_retention_rate'), 'months_in_period') }}
            as retention_rate_target,
        historical_clv - lag(historical_clv) over (partition by segment order by period_start_date)
            as historical_clv_change
    from rates
),

final as (
    select
        {{ surrogate_key(['period_id', 'segment']) }} as kpi_row_id,
        cast(period_start_date as date) as period_start_date,
        cast(period_end_date as date) as period_end_date,
        is_complete_period,
        is_churn_rate_provisional or is_save_rate_provisional as is_provisional,
        is_churn_rate_provisional,
        is_save_rate_provisional,
        cast(pending_churn_customers as {{ dbt.type_bigint() }}) as pending_churn_customers,
        cast(segment as {{ dbt.type_string() }}) as segment,
        segment = 'all' as is_all_segments,
        cast(customers_at_start as {{ dbt.type_bigint() }}) as customers_at_start,
        cast(new_customers as {{ dbt.type_bigint() }}) as new_customers,
        cast(reactivated_customers as {{ dbt.type_bigint() }}) as reactivated_customers,
        cast(churned_customers as {{ dbt.type_bigint() }}) as churned_customers,
        cast(churned_from_start_customers as {{ dbt.type_bigint() }}) as churned_from_start_customers,
        cast(customers_at_end as {{ dbt.type_bigint() }}) as customers_at_end,
        cast(customer_churn_rate as {{ ratio_type }}) as customer_churn_rate,
        cast(customer_churn_rate_annualized as {{ ratio_type }}) as customer_churn_rate_annualized,
        cast(churn_rate_target as {{ ratio_type }}) as churn_rate_target,
        case when not is_churn_rate_provisional then customer_churn_rate < churn_rate_target end
            as churn_rate_target_met,
        cast(customer_retention_rate as {{ ratio_type }}) as customer_retention_rate,
        cast(retention_rate_target as {{ ratio_type }}) as retention_rate_target,
        case when not is_churn_rate_provisional then customer_retention_rate > retention_rate_target end
            as retention_rate_target_met,
        cast(end_to_start_customer_ratio as {{ ratio_type }}) as end_to_start_customer_ratio,
        cast(warned_customers as {{ dbt.type_bigint() }}) as warned_customers,
        cast(saved_customers as {{ dbt.type_bigint() }}) as saved_customers,
        cast(lost_customers as {{ dbt.type_bigint() }}) as lost_customers,
        cast(pending_save_customers as {{ dbt.type_bigint() }}) as pending_save_customers,
        cast(save_rate as {{ ratio_type }}) as save_rate,
        cast({{ var('kpi_target_min_save_rate') }} as {{ ratio_type }}) as save_rate_target,
        save_rate > {{ var('kpi_target_min_save_rate') }} as save_rate_target_met,
        cast(mrr_at_start as {{ ratio_type }}) as mrr_at_start,
        cast(new_mrr as {{ ratio_type }}) as new_mrr,
        cast(reactivation_mrr as {{ ratio_type }}) as reactivation_mrr,
        cast(expansion_mrr as {{ ratio_type }}) as expansion_mrr,
        cast(contraction_mrr as {{ ratio_type }}) as contraction_mrr,
        cast(churned_mrr as {{ ratio_type }}) as churned_mrr,
        cast(mrr_at_end as {{ ratio_type }}) as mrr_at_end,
        cast(gross_revenue_retention as {{ ratio_type }}) as gross_revenue_retention,
        cast(net_revenue_retention as {{ ratio_type }}) as net_revenue_retention,
        cast(revenue as {{ ratio_type }}) as revenue,
        cast(order_revenue as {{ ratio_type }}) as order_revenue,
        cast(nps_responses as {{ dbt.type_bigint() }}) as nps_responses,
        cast(nps_promoters as {{ dbt.type_bigint() }}) as nps_promoters,
        cast(nps_passives as {{ dbt.type_bigint() }}) as nps_passives,
        cast(nps_detractors as {{ dbt.type_bigint() }}) as nps_detractors,
        cast(nps as {{ ratio_type }}) as nps,
        cast({{ var('kpi_target_min_nps') }} as {{ ratio_type }}) as nps_target,
        nps > {{ var('kpi_target_min_nps') }} as nps_target_met,
        cast(csat_responses as {{ dbt.type_bigint() }}) as csat_responses,
        cast(csat_satisfied as {{ dbt.type_bigint() }}) as csat_satisfied,
        cast(csat_satisfied_share as {{ ratio_type }}) as csat_satisfied_share,
        cast(customers_started_to_date as {{ dbt.type_bigint() }}) as customers_started_to_date,
        cast({{ rounded('historical_clv', 2) }} as {{ ratio_type }}) as historical_clv,
        cast({{ rounded('historical_clv_change', 2) }} as {{ ratio_type }}) as historical_clv_change,
        historical_clv_change > 0 as historical_clv_growing,
        cast({{ rounded('arpa', 2) }} as {{ ratio_type }}) as arpa,
        cast({{ rounded('predictive_clv', 2) }} as {{ ratio_type }}) as predictive_clv
    from with_derived
)

select * from final

{% endmacro %}
