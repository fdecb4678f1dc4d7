{#- The alert list delivered to account managers: the alert episodes open on the
    warehouse's as-of date, in priority order (priority_rank 1 first):
    1. value x risk cell priority (value_risk_matrix.csv: high value + high risk first,
       then low value + high risk, high value + low risk, low value + low risk);
    2. earliest response deadline;
    3. highest retention ROI;
    4. lowest current health score;
    5. alert_id, so that the order is total and stable.
    Each row carries the customer's health on the as-of date, the owner and the people to
    notify (notify_user_ids: red to the CSM and the sales lead, yellow to the account
    manager). A response is overdue when its deadline has passed and no intervention
    answers the episode, with the linking rule the KPIs use (customer_alerts). -#}

with open_alerts as (
    select * from {{ ref('customer_alerts') }}
    where alert_status = 'open'
),

health_scores as (
    select * from {{ ref('health_scores') }}
),

alert_reasons as (
    -- the reasons' texts, for recipients who do not know the rule codes
    select
        alert_id,
        {{ sorted_listagg('reason_description', "' | '") }} as reason_descriptions
    from {{ ref('customer_alert_reasons') }}
    where alert_id in (select alert_id from open_alerts)
    group by alert_id
),

current_health as (
    select health_scores.*
    from health_scores
    inner join open_alerts
        on health_scores.customer_id = open_alerts.customer_id
        and health_scores.date_day = open_alerts.as_of_date
),

final as (
    select
        cast(row_number() over (
            order by
                open_alerts.cell_priority,
                open_alerts.response_due_date,
                open_alerts.retention_roi desc,
                current_health.health_score,
                open_alerts.alert_id
        ) as {{ dbt.type_int() }}) as priority_rank,
        cast(open_alerts.alert_id as {{ dbt.type_string() }}) as alert_id,
        cast(open_alerts.customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(open_alerts.customer_name as {{ dbt.type_string() }}) as customer_name,
        cast(open_alerts.segment as {{ dbt.type_string() }}) as segment,
        cast(open_alerts.account_manager_id as {{ dbt.type_string() }}) as account_manager_id,
        cast(open_alerts.account_manager_name as {{ dbt.type_string() }}) as account_manager_name,
        cast(open_alerts.account_manager_email as {{ dbt.type_string() }}) as account_manager_email,
        cast(open_alerts.csm_user_id as {{ dbt.type_string() }}) as csm_user_id,
        cast(open_alerts.csm_name as {{ dbt.type_string() }}) as csm_name,
        cast(open_alerts.sales_lead_user_id as {{ dbt.type_string() }}) as sales_lead_user_id,
        cast(open_alerts.sales_lead_name as {{ dbt.type_string() }}) as sales_lead_name,
        cast(open_alerts.sales_lead_email as {{ dbt.type_string() }}) as sales_lead_email,
        cast(open_alerts.notify_user_ids as {{ dbt.type_string() }}) as notify_user_ids,
        cast(open_alerts.opened_date as date) as opened_date,
        cast(open_alerts.days_open as {{ dbt.type_int() }}) as days_open,
        cast(open_alerts.alert_tier as {{ dbt.type_string() }}) as alert_tier,
        cast(open_alerts.opening_tier as {{ dbt.type_string() }}) as opening_tier,
        cast(open_alerts.response_hours as {{ dbt.type_int() }}) as response_hours,
        cast(open_alerts.response_due_date as date) as response_due_date,
        cast(
            open_alerts.response_due_date < open_alerts.as_of_date and open_alerts.intervention_count = 0
            as {{ dbt.type_boolean() }}
        ) as is_response_overdue,
        cast(current_health.health_score as {{ dbt.type_int() }}) as health_score,
        cast(current_health.health_tier as {{ dbt.type_string() }}) as health_tier,
        cast(current_health.health_score_change_30d as {{ dbt.type_int() }}) as health_score_change_30d,
        cast(current_health.churn_probability as {{ type_double() }}) as churn_probability,
        cast(current_health.churn_probability_horizon_days as {{ dbt.type_int() }}) as churn_probability_horizon_days,
        cast(current_health.pulled_down_most_by as {{ dbt.type_string() }}) as pulled_down_most_by,
        cast(open_alerts.reason_codes as {{ dbt.type_string() }}) as reason_codes,
        cast(alert_reasons.reason_descriptions as {{ dbt.type_string() }}) as reason_descriptions,
        cast(current_health.annual_revenue as {{ dbt.type_numeric() }}) as annual_revenue,
        cast(open_alerts.value_tier as {{ dbt.type_string() }}) as value_tier,
        cast(open_alerts.risk_level as {{ dbt.type_string() }}) as risk_level,
        cast(open_alerts.value_risk_cell as {{ dbt.type_string() }}) as value_risk_cell,
        cast(open_alerts.recommended_playbook as {{ dbt.type_string() }}) as recommended_playbook,
        cast(open_alerts.recommended_action as {{ dbt.type_string() }}) as recommended_action,
        cast(open_alerts.customer_lifetime_value as {{ dbt.type_numeric() }}) as customer_lifetime_value,
        cast(open_alerts.retention_roi as {{ dbt.type_numeric() }}) as retention_roi,
        cast(open_alerts.is_roi_positive as {{ dbt.type_boolean() }}) as is_roi_positive,
        cast(open_alerts.intervention_count as {{ dbt.type_int() }}) as intervention_count,
        cast(open_alerts.as_of_date as date) as as_of_date
    from open_alerts
    left join current_health
        on open_alerts.customer_id = current_health.customer_id
    left join alert_reasons
        on open_alerts.alert_id = alert_reasons.alert_id
)

select * from final
