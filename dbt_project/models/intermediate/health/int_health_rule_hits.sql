{#- Early-warning rules (and the financial warning thresholds):
    one row per customer, day and rule that fires, with the value that made it fire.
    Each rule is a reason code of warning_rules.csv, which holds its parameters, its
    severity, whether it opens an alert episode on its own, and whether it is enabled.

    Incremental like the scores: each run replaces the days of the build window. The
    score-drop rule compares a day's score with the customer's score window_days days
    earlier (the same comparison as health_scores.health_score_change_90d), read from
    the scores before the build window. -#}

-- depends_on: {{ ref('util_date_bounds') }}
-- depends_on: {{ ref('warning_rules') }}

{{ config(
    materialized='incremental',
    on_schema_change='fail',
    **day_replacing_incremental()
) }}

{%- set window = customer_day_build_window() %}
{%- set score_drop_days = rule_window_days_literal('score_drop_20_in_90d', 90) %}

with scores as (
    select * from {{ ref('int_health_overall_scores') }}
    where date_day >= {{ window.start }}
        and date_day <= {{ window.end }}
),

rules as (
    select * from {{ ref('warning_rules') }}
),

params as (
    select
        cast({{ rule_param('score_drop_20_in_90d', 'window_days') }} as {{ dbt.type_int() }}) as score_drop_days
),

-- Only the days the score-drop comparison needs: the build window, window_days earlier.
earlier_scores as (
    select
        customer_id,
        date_day,
        health_score
    from {{ ref('int_health_overall_scores') }}
    where date_day >= {{ add_days(window.start, -score_drop_days) }}
        and date_day <= {{ add_days(window.end, -score_drop_days) }}
),

days as (
    select
        scores.*,
        earlier_scores.health_score as earlier_health_score
    from scores
    cross join params
    left join earlier_scores
        on scores.customer_id = earlier_scores.customer_id
        and earlier_scores.date_day = {{ add_days('scores.date_day', '-params.score_drop_days') }}
),

hits as (
    select customer_id, date_day, 'score_drop_20_in_90d' as reason_code,
        cast(earlier_health_score - health_score as {{ dbt.type_numeric() }}) as observed_value
    from days
    where earlier_health_score - health_score > {{ rule_param('score_drop_20_in_90d', 'threshold') }}

    union all

    select customer_id, date_day, 'two_unanswered_outreach' as reason_code,
        cast(unanswered_streak as {{ dbt.type_numeric() }}) as observed_value
    from days
    where unanswered_streak >= {{ rule_param('two_unanswered_outreach', 'min_count') }}
        and days_since_last_outreach_decided <= {{ rule_param('two_unanswered_outreach', 'window_days') }}

    union all

    select customer_id, date_day, 'activity_down_40pct_3w' as reason_code,
        cast(activity_decline as {{ dbt.type_numeric() }}) as observed_value
    from days
    where activity_decline >= {{ rule_param('activity_down_40pct_3w', 'threshold') }}

    union all

    select customer_id, date_day, 'key_indicator_down_20pct' as reason_code,
        cast(
            case
                when coalesce(logins_decline_28d, -1) >= coalesce(revenue_decline, -1)
                    and coalesce(logins_decline_28d, -1) >= coalesce(purchase_frequency_decline, -1)
                    then logins_decline_28d
                when coalesce(revenue_decline, -1) >= coalesce(purchase_frequency_decline, -1)
                    then revenue_decline
                else purchase_frequency_decline
            end as {{ dbt.type_numeric() }}
        ) as observed_value
    from days
    where logins_decline_28d >= {{ rule_param('key_indicator_down_20pct', 'threshold') }}
        or revenue_decline >= {{ rule_param('key_indicator_down_20pct', 'threshold') }}
        or purchase_frequency_decline >= {{ rule_param('key_indicator_down_20pct', 'threshold') }}

    union all

    select customer_id, date_day, 'no_interaction_30d' as reason_code,
        cast(days_since_last_interaction as {{ dbt.type_numeric() }}) as observed_value
    from days
    where days_since_last_interaction >= {{ rule_param('no_interaction_30d', 'window_days') }}

    union all

    select customer_id, date_day, 'high_value_inactive_30d' as reason_code,
        cast(days_inactive as {{ dbt.type_numeric() }}) as observed_value
    from days
    where value_tier = 'high'
        and days_inactive >= {{ rule_param('high_value_inactive_30d', 'window_days') }}

    union all

    select customer_id, date_day, 'inactive_60d' as reason_code,
        cast(days_inactive as {{ dbt.type_numeric() }}) as observed_value
    from days
    where value_tier = 'low'
        and days_inactive >= {{ rule_param('inactive_60d', 'window_days') }}

    union all

    select customer_id, date_day, 'no_order_90d' as reason_code,
        cast(days_since_last_order as {{ dbt.type_numeric() }}) as observed_value
    from days
    where churn_definition = 'order'
        and days_since_last_order > {{ rule_param('no_order_90d', 'window_days') }}

    union all

    select customer_id, date_day, 'low_service_ratings' as reason_code,
        cast(days_since_last_csat as {{ dbt.type_numeric() }}) as observed_value
    from days
    where last_csat_ratings_low
        and days_since_last_csat <= {{ rule_param('low_service_ratings', 'window_days') }}

    union all

    select customer_id, date_day, 'renewal_due_undecided' as reason_code,
        cast(days_until_renewal as {{ dbt.type_numeric() }}) as observed_value
    from days
    where days_until_renewal >= 0
        and days_until_renewal <= {{ rule_param('renewal_due_undecided', 'window_days') }}
        and not has_cancellation_pending

    union all

    select customer_id, date_day, 'renewal_overdue' as reason_code,
        cast(null as {{ dbt.type_numeric() }}) as observed_value
    from days
    where is_renewal_overdue

    union all

    select customer_id, date_day, 'cancellation_requested' as reason_code,
        cast(mrr - committed_mrr as {{ dbt.type_numeric() }}) as observed_value
    from days
    where has_cancellation_pending

    union all

    select customer_id, date_day, 'key_contact_changed' as reason_code,
        cast(days_since_key_contact_change as {{ dbt.type_numeric() }}) as observed_value
    from days
    where days_since_key_contact_change >= 0
        and days_since_key_contact_change <= {{ rule_param('key_contact_changed', 'window_days') }}

    union all

    select customer_id, date_day, 'tickets_rising' as reason_code,
        cast(tickets_opened_28d as {{ dbt.type_numeric() }}) as observed_value
    from days
    where tickets_opened_28d >= {{ rule_param('tickets_rising', 'min_count') }}
        and tickets_opened_28d >= {{ rule_param('tickets_rising', 'threshold') }} * ticket_baseline_28d

    union all

    select customer_id, date_day, 'repeat_ticket_category' as reason_code,
        cast(repeat_ticket_categories as {{ dbt.type_numeric() }}) as observed_value
    from days
    where repeat_ticket_categories > 0

    {%- for indicator, value_column in [
        ('revenue_down', 'revenue_decline'),
        ('payment_delay', 'payment_delay_days'),
        ('purchase_frequency_down', 'purchase_frequency_decline'),
        ('aov_down', 'aov_decline'),
    ] %}
    {%- for level in ['warning', 'danger'] %}

    union all

    select customer_id, date_day, '{{ indicator }}_{{ level }}' as reason_code,
        cast({{ value_column }} as {{ dbt.type_numeric() }}) as observed_value
    from days
    where {{ financial_indicator_level(
        value_column,
        rule_param(indicator ~ '_warning', 'threshold'),
        rule_param(indicator ~ '_danger', 'threshold')) }} = '{{ level }}'
    {%- endfor %}
    {%- endfor %}
),

final as (
    select
        {{ surrogate_key(['hits.customer_id', 'hits.date_day', 'hits.reason_code']) }} as rule_hit_id,
        hits.customer_id,
        hits.date_day,
        hits.reason_code,
        rules.dimension,
        rules.severity,
        rules.opens_episode,
        hits.observed_value
    from hits
    inner join rules
        on hits.reason_code = rules.reason_code
    where rules.is_enabled
)

select * from final
{{- distribute_by_day() }}
