{#- The early-warning rules behind each alert episode, one row per episode and reason
    code, so that a BI tool filters and counts reasons without parsing the delimited
    reason_codes of customer_alerts. The description is the rule's text from
    warning_rules.csv with its parameters filled in. -#}

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

final as (
    select
        cast({{ surrogate_key(['reason_rollup.alert_id', 'reason_rollup.reason_code']) }} as {{ dbt.type_string() }})
            as alert_reason_id,
        cast(reason_rollup.alert_id as {{ dbt.type_string() }}) as alert_id,
        cast(episodes.customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(reason_rollup.reason_code as {{ dbt.type_string() }}) as reason_code,
        cast(reason_rollup.dimension as {{ dbt.type_string() }}) as dimension,
        cast(reason_rollup.severity as {{ dbt.type_string() }}) as severity,
        cast(rules.opens_episode as {{ dbt.type_boolean() }}) as opens_episode,
        cast(
            replace(replace(replace(rules.description,
                '{threshold}', coalesce(cast(cast(rules.threshold as {{ dbt.type_float() }}) as {{ dbt.type_string() }}), '')),
                '{window_days}', coalesce(cast(rules.window_days as {{ dbt.type_string() }}), '')),
                '{min_count}', coalesce(cast(rules.min_count as {{ dbt.type_string() }}), ''))
            as {{ dbt.type_string() }}
        ) as reason_description,
        cast(reason_rollup.first_fired_date as date) as first_fired_date,
        cast(reason_rollup.last_fired_date as date) as last_fired_date,
        cast(reason_rollup.days_fired as {{ dbt.type_int() }}) as days_fired
    from reason_rollup
    inner join episodes
        on reason_rollup.alert_id = episodes.alert_id
    inner join rules
        on reason_rollup.reason_code = rules.reason_code
)

select * from final
