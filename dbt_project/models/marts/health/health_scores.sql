{#- Health score per customer per active day: the five
    dimension scores and bands, the weighted overall score and its tier, the change
    versus 30 and 90 days earlier, the explanation (the dimension that pulled the score
    down most and the early-warning rules that fired) and the day's alert tier.
    Days on which the customer is churned have no row.

    Incremental like fct_customer_day: each run replaces the days of the build window;
    score changes read the scores 30 and 90 days before those days. After a change to
    the weights, bands, tiers or rule parameters in seeds/reference, rebuild with
    --full-refresh so that past days are scored with the new configuration too. -#}

-- depends_on: {{ ref('util_date_bounds') }}
-- depends_on: {{ ref('health_calibration') }}

{{ config(
    materialized='incremental',
    on_schema_change='fail',
    **day_replacing_incremental()
) }}

{%- set window = customer_day_build_window() %}

with scores as (
    select * from {{ ref('int_health_overall_scores') }}
    where date_day >= {{ window.start }}
        and date_day <= {{ window.end }}
),

earlier_scores as (
    select
        customer_id,
        date_day,
        health_score
    from {{ ref('int_health_overall_scores') }}
    where date_day >= {{ add_days(window.start, -90) }}
        and date_day <= {{ add_days(window.end, -30) }}
),

rule_hits as (
    select * from {{ ref('int_health_rule_hits') }}
    where date_day >= {{ window.start }}
        and date_day <= {{ window.end }}
),

-- The churn probability fitted by `churnguard calibrate` (seed health_calibration): a
-- logistic function of the health score and the log of tenure in days. Null until the
-- warehouse is calibrated.
probability_model as (
    select
        max(case when item_type = 'probability' and name = 'intercept' then cast(value as {{ type_double() }}) end) as intercept,
        max(case when item_type = 'probability' and name = 'health_score' then cast(value as {{ type_double() }}) end) as score_coefficient,
        max(case when item_type = 'probability' and name = 'log_tenure_days' then cast(value as {{ type_double() }}) end) as tenure_coefficient,
        max(case when item_type = 'meta' and name = 'horizon_days' then cast(value as {{ dbt.type_int() }}) end) as horizon_days,
        max(case when item_type = 'meta' and name = 'calibrated' then cast(value as {{ dbt.type_int() }}) end)
            as calibrated
    from {{ ref('health_calibration') }}
),

reasons as (
    select
        customer_id,
        date_day,
        count(*) as reason_count,
        max(case when opens_episode then 1 else 0 end) as has_opening_rule,
        {{ sorted_listagg('reason_code', "'|'") }} as reason_codes
    from rule_hits
    group by customer_id, date_day
),

final as (
    select
        cast(scores.customer_day_id as {{ dbt.type_string() }}) as health_score_id,
        cast(scores.customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(scores.date_day as date) as date_day,
        cast(scores.customer_status as {{ dbt.type_string() }}) as customer_status,
        cast(scores.churn_definition as {{ dbt.type_string() }}) as churn_definition,
        cast(scores.lifecycle_spell_number as {{ dbt.type_int() }}) as lifecycle_spell_number,
        cast(scores.is_in_grace_period as {{ dbt.type_boolean() }}) as is_in_grace_period,
        cast(scores.usage_score as {{ dbt.type_int() }}) as usage_score,
        cast(scores.usage_band as {{ dbt.type_string() }}) as usage_band,
        cast(scores.engagement_score as {{ dbt.type_int() }}) as engagement_score,
        cast(scores.engagement_band as {{ dbt.type_string() }}) as engagement_band,
        cast(scores.financial_score as {{ dbt.type_int() }}) as financial_score,
        cast(scores.financial_band as {{ dbt.type_string() }}) as financial_band,
        cast(scores.satisfaction_score as {{ dbt.type_int() }}) as satisfaction_score,
        cast(scores.satisfaction_band as {{ dbt.type_string() }}) as satisfaction_band,
        cast(scores.support_score as {{ dbt.type_int() }}) as support_score,
        cast(scores.support_band as {{ dbt.type_string() }}) as support_band,
        cast(scores.dimensions_scored as {{ dbt.type_int() }}) as dimensions_scored,
        cast(scores.health_score as {{ dbt.type_int() }}) as health_score,
        cast(scores.health_tier as {{ dbt.type_string() }}) as health_tier,
        cast(
            case
                when probability_model.intercept is not null and scores.health_score is not null then
                    1.0 / (1.0 + exp(-(probability_model.intercept
                        + probability_model.score_coefficient * scores.health_score
                        + probability_model.tenure_coefficient * ln(1.0 + scores.tenure_days))))
            end as {{ type_double() }}
        ) as churn_probability,
        cast(probability_model.horizon_days as {{ dbt.type_int() }}) as churn_probability_horizon_days,
        cast(coalesce(probability_model.calibrated, 0) = 1 as {{ dbt.type_boolean() }}) as is_calibrated,
        cast(scores.tenure_days as {{ dbt.type_int() }}) as tenure_days,
        cast(scores.cohort as {{ dbt.type_string() }}) as cohort,
        cast(score_30d_ago.health_score as {{ dbt.type_int() }}) as health_score_30d_ago,
        cast(scores.health_score - score_30d_ago.health_score as {{ dbt.type_int() }}) as health_score_change_30d,
        cast(score_90d_ago.health_score as {{ dbt.type_int() }}) as health_score_90d_ago,
        cast(scores.health_score - score_90d_ago.health_score as {{ dbt.type_int() }}) as health_score_change_90d,
        cast(scores.pulled_down_most_by as {{ dbt.type_string() }}) as pulled_down_most_by,
        cast({{ rounded('scores.pulled_down_points', 1) }} as {{ dbt.type_numeric() }}) as pulled_down_points,
        cast(reasons.reason_codes as {{ dbt.type_string() }}) as reason_codes,
        cast(coalesce(reasons.reason_count, 0) as {{ dbt.type_int() }}) as reason_count,
        cast(
            case
                when scores.health_tier in ('red', 'yellow') then scores.health_tier
                when reasons.has_opening_rule = 1 then 'yellow'
            end as {{ dbt.type_string() }}
        ) as alert_tier,
        cast(scores.annual_revenue as {{ dbt.type_numeric() }}) as annual_revenue,
        cast(scores.value_tier as {{ dbt.type_string() }}) as value_tier
    from scores
    cross join probability_model
    left join earlier_scores as score_30d_ago
        on scores.customer_id = score_30d_ago.customer_id
        and score_30d_ago.date_day = {{ add_days('scores.date_day', -30) }}
    left join earlier_scores as score_90d_ago
        on scores.customer_id = score_90d_ago.customer_id
        and score_90d_ago.date_day = {{ add_days('scores.date_day', -90) }}
    left join reasons
        on scores.customer_id = reasons.customer_id
        and scores.date_day = reasons.date_day
)

select * from final
{{- distribute_by_day() }}
