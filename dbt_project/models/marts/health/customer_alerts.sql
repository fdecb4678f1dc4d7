{#- Alert episodes, not daily alerts. Alert days are the
    days of health_scores with an alert_tier. A run of consecutive alert days raises an
    episode on the day it turns red or reaches alert_min_yellow_days days (opened_date;
    the run's first day is first_alert_date). Alert days at most
    alert_close_after_green_days apart form one chain: the episode lasts from its first
    qualifying run to the chain's last alert day. It closes on the
    alert_close_after_green_days-th day without an alert, or when the customer's churn is
    recognised, whichever comes first. Each lifecycle spell has its own episodes.

    The alert_id hashes the customer and the opening day, which no later data changes,
    so deliveries downstream (reverse-ETL, CRM tasks) are idempotent. Each episode
    carries its tier (red if it ever turned red), the rules that fired, the owner, the
    value tier when it opened, the value x risk cell with its playbook, the response
    deadline of its SLA, the people to notify and the retention ROI of acting.

    The value of an episode is the customer's last active revenue: the latest positive
    annual revenue of its spell on or before the opening day. An episode that opens in
    a subscription's grace gap (no subscription in force, churn not yet recognised) or
    after an order customer's last order left the 90-day window is valued at what the
    customer paid while active, not at 0. Interventions are linked with the same rule
    as the KPIs (macros/kpis/link_interventions.sql). -#}

with health_scores as (
    select * from {{ ref('health_scores') }}
),

rule_hits as (
    select * from {{ ref('int_health_rule_hits') }}
),

spells as (
    select * from {{ ref('int_customer_lifecycle_spells') }}
),

bounds as (
    select * from {{ ref('util_date_bounds') }}
),

customers as (
    select * from {{ ref('dim_customers') }}
),

playbooks as (
    select * from {{ ref('int_playbook_outcomes') }}
),

interventions as (
    select * from {{ ref('int_retention_interventions') }}
),

recipients as (
    select * from {{ ref('int_alert_recipients') }}
),

value_risk_matrix as (
    select * from {{ ref('value_risk_matrix') }}
),

params as (
    select
        cast({{ health_param('alert_close_after_green_days') }} as {{ dbt.type_int() }}) as close_after_days,
        cast({{ health_param('alert_min_yellow_days') }} as {{ dbt.type_int() }}) as min_yellow_days,
        {{ health_param('clv_horizon_months') }} as clv_horizon_months,
        {{ health_param('clv_gross_margin') }} as clv_gross_margin,
        {{ health_param('high_value_annual_revenue') }} as high_value_annual_revenue,
        {{ tier_bound('red', 'response_hours') }} as red_response_hours,
        {{ tier_bound('yellow', 'response_hours') }} as yellow_response_hours
),

alert_days as (
    select
        customer_id,
        lifecycle_spell_number,
        date_day,
        alert_tier,
        health_score,
        annual_revenue,
        value_tier,
        pulled_down_most_by,
        lag(date_day) over (
            partition by customer_id, lifecycle_spell_number
            order by date_day
        ) as previous_alert_date
    from health_scores
    where alert_tier is not null
),

-- Runs of consecutive alert days, and chains of runs less than close_after_days apart.
run_starts as (
    select
        alert_days.*,
        case
            when previous_alert_date is null
                or {{ days_between('previous_alert_date', 'date_day') }} > 1
                then 1
            else 0
        end as is_run_start,
        case
            when previous_alert_date is null
                or {{ days_between('previous_alert_date', 'date_day') }} > params.close_after_days
                then 1
            else 0
        end as is_chain_start
    from alert_days
    cross join params
),

numbered as (
    select
        *,
        sum(is_run_start) over (
            partition by customer_id, lifecycle_spell_number
            order by date_day
            rows between unbounded preceding and current row
        ) as run_number,
        sum(is_chain_start) over (
            partition by customer_id, lifecycle_spell_number
            order by date_day
            rows between unbounded preceding and current row
        ) as chain_number
    from run_starts
),

-- A run raises an episode on the day it turns red or reaches its
-- alert_min_yellow_days-th day, whichever comes first (its confirmation day).
runs as (
    select
        customer_id,
        lifecycle_spell_number,
        chain_number,
        run_number,
        min(date_day) as run_start_date,
        count(*) as run_days,
        min(case when alert_tier = 'red' then date_day end) as first_red_date
    from numbered
    group by customer_id, lifecycle_spell_number, chain_number, run_number
),

qualifying_runs as (
    select
        runs.*,
        case
            when runs.first_red_date is not null
                and runs.first_red_date < {{ add_days('runs.run_start_date', 'params.min_yellow_days - 1') }}
                then runs.first_red_date
            else {{ add_days('runs.run_start_date', 'params.min_yellow_days - 1') }}
        end as confirmation_date,
        row_number() over (
            partition by runs.customer_id, runs.lifecycle_spell_number, runs.chain_number
            order by runs.run_start_date
        ) as qualifying_run_number
    from runs
    cross join params
    where runs.first_red_date is not null
        or runs.run_days >= params.min_yellow_days
),

-- The first qualifying run of a chain opens the episode; the chain's later alert days
-- (qualifying or not) keep it open.
episode_openings as (
    select
        customer_id,
        lifecycle_spell_number,
        chain_number,
        run_start_date as first_alert_date,
        confirmation_date as opened_date
    from qualifying_runs
    where qualifying_run_number = 1
),

episode_days as (
    select
        numbered.*,
        episode_openings.first_alert_date,
        episode_openings.opened_date
    from numbered
    inner join episode_openings
        on numbered.customer_id = episode_openings.customer_id
        and numbered.lifecycle_spell_number = episode_openings.lifecycle_spell_number
        and numbered.chain_number = episode_openings.chain_number
        and numbered.date_day >= episode_openings.first_alert_date
),

episode_spans as (
    select
        customer_id,
        lifecycle_spell_number,
        first_alert_date,
        opened_date,
        max(date_day) as last_alert_date,
        count(*) as alert_days,
        min(case when alert_tier = 'red' then date_day end) as first_red_date,
        min(health_score) as lowest_health_score
    from episode_days
    group by customer_id, lifecycle_spell_number, first_alert_date, opened_date
),

episodes as (
    select
        {{ surrogate_key(['episode_spans.customer_id', 'episode_spans.opened_date']) }} as alert_id,
        episode_spans.*,
        opening_day.alert_tier as opening_tier,
        opening_day.health_score as opening_health_score,
        opening_day.pulled_down_most_by as opening_pulled_down_most_by,
        opening_day.annual_revenue as opening_annual_revenue,
        opening_day.value_tier,
        last_day.alert_tier as last_alert_tier,
        last_day.health_score as last_health_score,
        spells.churn_recognized_date
    from episode_spans
    inner join alert_days as opening_day
        on episode_spans.customer_id = opening_day.customer_id
        and episode_spans.opened_date = opening_day.date_day
    inner join alert_days as last_day
        on episode_spans.customer_id = last_day.customer_id
        and episode_spans.last_alert_date = last_day.date_day
    left join spells
        on episode_spans.customer_id = spells.customer_id
        and episode_spans.lifecycle_spell_number = spells.spell_number
),

-- The last active revenue: the latest day of the spell, up to the opening day, with a
-- positive annual revenue.
last_revenue_days as (
    select
        episodes.alert_id,
        max(health_scores.date_day) as last_revenue_date
    from episodes
    inner join health_scores
        on episodes.customer_id = health_scores.customer_id
        and episodes.lifecycle_spell_number = health_scores.lifecycle_spell_number
        and health_scores.date_day <= episodes.opened_date
        and health_scores.annual_revenue > 0
    group by episodes.alert_id
),

valued as (
    select
        episodes.*,
        coalesce(last_revenue_day.annual_revenue, 0) as active_annual_revenue
    from episodes
    left join last_revenue_days
        on episodes.alert_id = last_revenue_days.alert_id
    left join health_scores as last_revenue_day
        on episodes.customer_id = last_revenue_day.customer_id
        and last_revenue_days.last_revenue_date = last_revenue_day.date_day
),

reason_rollup as (
    {{ alert_reason_rollup('episodes', 'rule_hits') }}
),

reason_lists as (
    select
        alert_id,
        count(*) as reason_count,
        {{ sorted_listagg('reason_code', "'|'") }} as reason_codes
    from reason_rollup
    group by alert_id
),

closed as (
    select
        valued.*,
        case
            when valued.active_annual_revenue >= params.high_value_annual_revenue then 'high'
            else 'low'
        end as active_value_tier,
        case
            when valued.churn_recognized_date is not null
                and valued.churn_recognized_date <= {{ add_days('valued.last_alert_date', 'params.close_after_days') }}
                then valued.churn_recognized_date
            when {{ add_days('valued.last_alert_date', 'params.close_after_days') }} <= bounds.as_of_date
                then {{ add_days('valued.last_alert_date', 'params.close_after_days') }}
        end as closed_date,
        case
            when valued.churn_recognized_date is not null
                and valued.churn_recognized_date <= {{ add_days('valued.last_alert_date', 'params.close_after_days') }}
                then 'churned'
            when {{ add_days('valued.last_alert_date', 'params.close_after_days') }} <= bounds.as_of_date
                then 'back_to_green'
        end as close_reason,
        case when valued.first_red_date is not null then 'red' else 'yellow' end as alert_tier,
        case when valued.first_red_date is not null then 'high' else 'low' end as risk_level,
        case
            when valued.opening_tier = 'red'
                then {{ add_days('valued.opened_date', 'cast(ceil(params.red_response_hours / 24.0) as ' ~ dbt.type_int() ~ ')') }}
            when valued.first_red_date is not null
                and {{ add_days('valued.first_red_date', 'cast(ceil(params.red_response_hours / 24.0) as ' ~ dbt.type_int() ~ ')') }}
                    < {{ add_days('valued.opened_date', 'cast(ceil(params.yellow_response_hours / 24.0) as ' ~ dbt.type_int() ~ ')') }}
                then {{ add_days('valued.first_red_date', 'cast(ceil(params.red_response_hours / 24.0) as ' ~ dbt.type_int() ~ ')') }}
            else {{ add_days('valued.opened_date', 'cast(ceil(params.yellow_response_hours / 24.0) as ' ~ dbt.type_int() ~ ')') }}
        end as response_due_date,
        case
            when valued.first_red_date is not null then params.red_response_hours
            else params.yellow_response_hours
        end as response_hours,
        bounds.as_of_date
    from valued
    cross join params
    cross join bounds
),

linked_interventions as (
    {{ link_interventions('closed', 'interventions') }}
),

intervention_rollup as (
    select
        alert_id,
        count(*) as intervention_count,
        min(first_contact_at) as first_contact_at,
        max(case when recency_rank = 1 then outcome end) as latest_outcome
    from linked_interventions
    group by alert_id
),

final as (
    select
        cast(closed.alert_id as {{ dbt.type_string() }}) as alert_id,
        cast(closed.customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(customers.customer_name as {{ dbt.type_string() }}) as customer_name,
        cast(customers.segment as {{ dbt.type_string() }}) as segment,
        cast(closed.lifecycle_spell_number as {{ dbt.type_int() }}) as lifecycle_spell_number,
        cast(closed.first_alert_date as date) as first_alert_date,
        cast(closed.opened_date as date) as opened_date,
        cast(closed.last_alert_date as date) as last_alert_date,
        cast(closed.closed_date as date) as closed_date,
        cast(case when closed.closed_date is null then 'open' else 'closed' end as {{ dbt.type_string() }}) as alert_status,
        cast(closed.close_reason as {{ dbt.type_string() }}) as close_reason,
        cast({{ days_between('closed.opened_date', 'coalesce(closed.closed_date, closed.as_of_date)') }} as {{ dbt.type_int() }}) as days_open,
        cast(closed.alert_days as {{ dbt.type_int() }}) as alert_days,
        cast(closed.opening_tier as {{ dbt.type_string() }}) as opening_tier,
        cast(closed.alert_tier as {{ dbt.type_string() }}) as alert_tier,
        cast(closed.first_red_date as date) as first_red_date,
        cast(closed.last_alert_tier as {{ dbt.type_string() }}) as last_alert_tier,
        cast(closed.response_hours as {{ dbt.type_int() }}) as response_hours,
        cast(closed.response_due_date as date) as response_due_date,
        cast(closed.opening_health_score as {{ dbt.type_int() }}) as opening_health_score,
        cast(closed.lowest_health_score as {{ dbt.type_int() }}) as lowest_health_score,
        cast(closed.last_health_score as {{ dbt.type_int() }}) as last_health_score,
        cast(closed.opening_pulled_down_most_by as {{ dbt.type_string() }}) as opening_pulled_down_most_by,
        -- An episode the health score opened alone still says why (customer_alert_reasons).
        cast(coalesce(reason_lists.reason_codes, 'health_score_tier') as {{ dbt.type_string() }}) as reason_codes,
        cast(coalesce(reason_lists.reason_count, 1) as {{ dbt.type_int() }}) as reason_count,
        cast(recipients.account_manager_id as {{ dbt.type_string() }}) as account_manager_id,
        cast(recipients.account_manager_name as {{ dbt.type_string() }}) as account_manager_name,
        cast(recipients.account_manager_email as {{ dbt.type_string() }}) as account_manager_email,
        cast(recipients.csm_user_id as {{ dbt.type_string() }}) as csm_user_id,
        cast(recipients.csm_name as {{ dbt.type_string() }}) as csm_name,
        cast(recipients.sales_lead_user_id as {{ dbt.type_string() }}) as sales_lead_user_id,
        cast(recipients.sales_lead_name as {{ dbt.type_string() }}) as sales_lead_name,
        cast(recipients.sales_lead_email as {{ dbt.type_string() }}) as sales_lead_email,
        cast(case
            when closed.alert_tier = 'red' then
                case
                    when coalesce(recipients.csm_user_id, recipients.account_manager_id) is null
                        then recipients.sales_lead_user_id
                    when recipients.sales_lead_user_id is null
                        or recipients.sales_lead_user_id = coalesce(recipients.csm_user_id, recipients.account_manager_id)
                        then coalesce(recipients.csm_user_id, recipients.account_manager_id)
                    else {{ dbt.concat([
                        "coalesce(recipients.csm_user_id, recipients.account_manager_id)", "'|'",
                        "recipients.sales_lead_user_id"]) }}
                end
            else recipients.account_manager_id
        end as {{ dbt.type_string() }}) as notify_user_ids,
        cast(closed.opening_annual_revenue as {{ dbt.type_numeric() }}) as opening_annual_revenue,
        cast(closed.active_annual_revenue as {{ dbt.type_numeric() }}) as annual_revenue_at_open,
        cast(closed.active_value_tier as {{ dbt.type_string() }}) as value_tier,
        cast(closed.risk_level as {{ dbt.type_string() }}) as risk_level,
        cast(value_risk_matrix.value_risk_cell as {{ dbt.type_string() }}) as value_risk_cell,
        cast(value_risk_matrix.priority as {{ dbt.type_int() }}) as cell_priority,
        cast(value_risk_matrix.recommended_playbook as {{ dbt.type_string() }}) as recommended_playbook,
        cast(value_risk_matrix.action as {{ dbt.type_string() }}) as recommended_action,
        cast({{ rounded('closed.active_annual_revenue / 12.0 * params.clv_horizon_months * params.clv_gross_margin', 2) }}
            as {{ dbt.type_numeric() }}) as customer_lifetime_value,
        cast(playbooks.save_success_rate as {{ dbt.type_numeric() }}) as save_success_rate,
        cast(playbooks.retention_cost as {{ dbt.type_numeric() }}) as retention_cost,
        cast({{ rounded(
            'closed.active_annual_revenue / 12.0 * params.clv_horizon_months * params.clv_gross_margin'
            ~ ' * playbooks.save_success_rate - playbooks.retention_cost', 2) }} as {{ dbt.type_numeric() }}) as retention_roi,
        cast(
            closed.active_annual_revenue / 12.0 * params.clv_horizon_months * params.clv_gross_margin
                * playbooks.save_success_rate - playbooks.retention_cost > 0
            as {{ dbt.type_boolean() }}
        ) as is_roi_positive,
        cast(coalesce(intervention_rollup.intervention_count, 0) as {{ dbt.type_int() }}) as intervention_count,
        cast(intervention_rollup.first_contact_at as {{ dbt.type_timestamp() }}) as first_contact_at,
        cast(intervention_rollup.latest_outcome as {{ dbt.type_string() }}) as latest_intervention_outcome,
        cast(closed.as_of_date as date) as as_of_date
    from closed
    cross join params
    left join reason_lists
        on closed.alert_id = reason_lists.alert_id
    left join customers
        on closed.customer_id = customers.customer_id
    left join recipients
        on closed.customer_id = recipients.customer_id
    left join value_risk_matrix
        on closed.active_value_tier = value_risk_matrix.value_tier
        and closed.risk_level = value_risk_matrix.risk_level
    left join playbooks
        on value_risk_matrix.recommended_playbook = playbooks.playbook
    left join intervention_rollup
        on closed.alert_id = intervention_rollup.alert_id
)

select * from final
