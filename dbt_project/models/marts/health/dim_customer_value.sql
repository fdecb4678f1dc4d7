{#- Customer value and segmentation on the warehouse's as-of date, one
    row per customer: annual revenue and value tier, RFM scores, lifetime value, the
    current health tier and risk level, and the customer's cell in the value x risk
    matrix with its default playbook.

    - Annual revenue = MRR x 12 + the orders of the last 90 days annualised (x 365/90);
      high value from high_value_annual_revenue (100,000 by default).
    - RFM: recency = days since the latest purchase (completed order or subscription
      invoice), frequency = purchases in the trailing 365 days, monetary = their amount;
      each scored 1-5 by quintile of the cumulative distribution, ceil(5 x cume_dist),
      among customers with purchases (5 = most recent / most frequent / largest). Equal
      values get equal scores (cume_dist counts every tied row); frequency and monetary
      are 1 for customers with no purchase in 365 days, and the quintiles of the others
      are taken among the customers who did buy. Customers without any purchase ever
      (free or usage-based accounts) have no RFM scores.
    - Risk level = high when the current health tier is red, low otherwise. -#}

with customers as (
    select * from {{ ref('dim_customers') }}
),

health_scores as (
    select * from {{ ref('health_scores') }}
),

open_alerts as (
    select * from {{ ref('customer_alerts') }}
    where alert_status = 'open'
),

purchases as (
    select * from {{ ref('int_customer_purchases') }}
),

value_risk_matrix as (
    select * from {{ ref('value_risk_matrix') }}
),

params as (
    select
        {{ health_param('clv_horizon_months') }} as clv_horizon_months,
        {{ health_param('clv_gross_margin') }} as clv_gross_margin
),

current_health as (
    select health_scores.*
    from health_scores
    inner join customers
        on health_scores.customer_id = customers.customer_id
        and health_scores.date_day = customers.as_of_date
),

rfm as (
    select
        customer_id,
        days_since_last_purchase,
        purchases_365d,
        purchase_amount_365d,
        -- 1e-9: 5 x cume_dist of 3/5 is 3.0000000000000004 in floating point, not 4.
        cast(ceil(5 * cume_dist() over (order by days_since_last_purchase desc) - 1e-9) as {{ dbt.type_int() }})
            as recency_score,
        case
            when purchases_365d = 0 then 1
            else cast(ceil(5 * cume_dist() over (
                partition by case when purchases_365d > 0 then 1 else 0 end
                order by purchases_365d
            ) - 1e-9) as {{ dbt.type_int() }})
        end as frequency_score,
        case
            when purchase_amount_365d <= 0 then 1
            else cast(ceil(5 * cume_dist() over (
                partition by case when purchase_amount_365d > 0 then 1 else 0 end
                order by purchase_amount_365d
            ) - 1e-9) as {{ dbt.type_int() }})
        end as monetary_score
    from purchases
),

final as (
    select
        cast(customers.customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(customers.customer_name as {{ dbt.type_string() }}) as customer_name,
        cast(customers.segment as {{ dbt.type_string() }}) as segment,
        cast(customers.current_status as {{ dbt.type_string() }}) as current_status,
        cast(current_health.annual_revenue as {{ dbt.type_numeric() }}) as annual_revenue,
        cast(current_health.value_tier as {{ dbt.type_string() }}) as value_tier,
        cast(rfm.days_since_last_purchase as {{ dbt.type_int() }}) as days_since_last_purchase,
        cast(rfm.purchases_365d as {{ dbt.type_int() }}) as purchases_365d,
        cast(rfm.purchase_amount_365d as {{ dbt.type_numeric() }}) as purchase_amount_365d,
        cast(rfm.recency_score as {{ dbt.type_int() }}) as recency_score,
        cast(rfm.frequency_score as {{ dbt.type_int() }}) as frequency_score,
        cast(rfm.monetary_score as {{ dbt.type_int() }}) as monetary_score,
        cast(rfm.recency_score + rfm.frequency_score + rfm.monetary_score as {{ dbt.type_int() }}) as rfm_score,
        cast(
            case
                when rfm.customer_id is null then null
                when rfm.recency_score >= 4 and rfm.frequency_score >= 4 and rfm.monetary_score >= 4 then 'champion'
                when rfm.recency_score >= 3 and rfm.frequency_score >= 3 then 'loyal'
                when rfm.recency_score >= 4 then 'recent'
                when rfm.frequency_score >= 3 or rfm.monetary_score >= 4 then 'at_risk'
                else 'hibernating'
            end as {{ dbt.type_string() }}
        ) as rfm_segment,
        cast({{ rounded('current_health.annual_revenue / 12.0 * params.clv_horizon_months * params.clv_gross_margin', 2) }}
            as {{ dbt.type_numeric() }}) as customer_lifetime_value,
        cast(current_health.health_score as {{ dbt.type_int() }}) as health_score,
        cast(current_health.health_tier as {{ dbt.type_string() }}) as health_tier,
        cast(
            case
                when current_health.health_tier = 'red' then 'high'
                when current_health.health_tier is not null then 'low'
            end as {{ dbt.type_string() }}
        ) as risk_level,
        cast(value_risk_matrix.value_risk_cell as {{ dbt.type_string() }}) as value_risk_cell,
        cast(value_risk_matrix.recommended_playbook as {{ dbt.type_string() }}) as recommended_playbook,
        cast(open_alerts.alert_id as {{ dbt.type_string() }}) as open_alert_id,
        cast(customers.as_of_date as date) as as_of_date
    from customers
    cross join params
    left join current_health
        on customers.customer_id = current_health.customer_id
    left join rfm
        on customers.customer_id = rfm.customer_id
    left join value_risk_matrix
        on current_health.value_tier = value_risk_matrix.value_tier
        and (case when current_health.health_tier = 'red' then 'high' else 'low' end) = value_risk_matrix.risk_level
    left join open_alerts
        on customers.customer_id = open_alerts.customer_id
)

select * from final
