{#- The early-warning rules behind each alert episode, one row per episode and reason
    code, so that a BI tool filters and counts reasons without parsing the delimited
    reason_codes of customer_alerts. The description is the rule's text from
    warning_rules.csv with its parameters filled in (shares as percentages), and the row
    carries the value the rule observed on the first and the last day it fired.

    An episode opened by the health score alone (no rule fired during it) gets the
    reason health_score_tier, observed value its lowest health score, so that no
    episode is without a reason. -#}

with episodes as (
    select * from {{ ref('customer_alerts') }}
),

rule_hits as (
    select * from {{ ref('int_health_rule_hits') }}
),

rules as (
    select * from {{ ref('warning_rules') }}
),

reason_rollup as (
    {{ alert_reason_rollup('episodes', 'rule_hits') }}
),

observed as (
    select
        reason_rollup.*,
        first_hit.observed_value as first_observed_value,
        last_hit.observed_value as last_observed_value
    from reason_rollup
    inner join episodes
        on reason_rollup.alert_id = episodes.alert_id
    left join rule_hits as first_hit
        on episodes.customer_id = first_hit.customer_id
        and reason_rollup.reason_code = first_hit.reason_code
        and reason_rollup.first_fired_date = first_hit.date_day
    left join rule_hits as last_hit
        on episodes.customer_id = last_hit.customer_id
        and reason_rollup.reason_code = last_hit.reason_code
        and reason_rollup.last_fired_date = last_hit.date_day
),

tier_only as (
    select
        episodes.alert_id,
        cast('health_score_tier' as {{ dbt.type_string() }}) as reason_code,
        cast('overall' as {{ dbt.type_string() }}) as dimension,
        cast(null as {{ dbt.type_string() }}) as severity,
        episodes.first_alert_date as first_fired_date,
        episodes.last_alert_date as last_fired_date,
        episodes.alert_days as days_fired,
        cast(episodes.opening_health_score as {{ type_double() }}) as first_observed_value,
        cast(episodes.lowest_health_score as {{ type_double() }}) as last_observed_value
    from episodes
    where not exists (
        select 1 from reason_rollup where reason_rollup.alert_id = episodes.alert_id
    )
),

reasons as (
    select
        alert_id, reason_code, dimension, severity, first_fired_date, last_fired_date, days_fired,
        cast(first_observed_value as {{ type_double() }}) as first_observed_value,
        cast(last_observed_value as {{ type_double() }}) as last_observed_value
    from observed
    union all
    select * from tier_only
),

final as (
    select
        cast({{ surrogate_key(['reasons.alert_id', 'reasons.reason_code']) }} as {{ dbt.type_string() }})
            as alert_reason_id,
        cast(reasons.alert_id as {{ dbt.type_string() }}) as alert_id,
        cast(episodes.customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(reasons.reason_code as {{ dbt.type_string() }}) as reason_code,
        cast(reasons.dimension as {{ dbt.type_string() }}) as dimension,
        cast(coalesce(reasons.severity, rules.severity) as {{ dbt.type_string() }}) as severity,
        cast(rules.opens_episode as {{ dbt.type_boolean() }}) as opens_episode,
        cast({{ rule_description('rules') }} as {{ dbt.type_string() }}) as reason_description,
        cast(reasons.first_observed_value as {{ type_double() }}) as first_observed_value,
        cast(reasons.last_observed_value as {{ type_double() }}) as observed_value,
        cast(reasons.first_fired_date as date) as first_fired_date,
        cast(reasons.last_fired_date as date) as last_fired_date,
        cast(reasons.days_fired as {{ dbt.type_int() }}) as days_fired
    from reasons
    inner join episodes
        on reasons.alert_id = episodes.alert_id
    inner join rules
        on reasons.reason_code = rules.reason_code
)

select * from final
