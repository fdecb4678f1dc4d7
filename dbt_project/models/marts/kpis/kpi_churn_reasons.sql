{#- Why customers churned: for every churn, one row per signal seen before it (long format,
    so a BI tool counts churns by reason per month and segment without parsing):
    - low_dimension: a health dimension banded low on some day of the 90 days before;
    - warning_rule: an early-warning rule that fired in an alert episode opened in the 90
      days before;
    - ticket_category: a support-ticket category raised in the 90 days before;
    - recorded_reason: the reason noted on a retention intervention;
    - no_warning: none of the health signals above (a churn the score did not see coming). -#}

with spells as (
    select * from {{ ref('int_customer_lifecycle_spells') }}
    where churn_date is not null
),

customers as (
    select * from {{ ref('dim_customers') }}
),

health as (
    select * from {{ ref('health_scores') }}
),

alerts as (
    select * from {{ ref('customer_alerts') }}
),

alert_reasons as (
    select * from {{ ref('customer_alert_reasons') }}
),

event_signals as (
    select * from {{ ref('int_churn_event_signals') }}
),

low_dimensions as (
    {%- for dimension in ['usage', 'engagement', 'financial', 'satisfaction', 'support'] %}
    select
        spells.lifecycle_spell_id,
        'low_dimension' as signal_type,
        '{{ dimension }}' as signal,
        count(*) as occurrences
    from spells
    inner join health
        on spells.customer_id = health.customer_id
        and health.date_day >= {{ add_days('spells.churn_date', -90) }}
        and health.date_day < spells.churn_date
    where health.{{ dimension }}_band = 'low'
    group by spells.lifecycle_spell_id
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

warning_rules as (
    select
        spells.lifecycle_spell_id,
        'warning_rule' as signal_type,
        alert_reasons.reason_code as signal,
        count(*) as occurrences
    from spells
    inner join alerts
        on spells.customer_id = alerts.customer_id
        and alerts.opened_date >= {{ add_days('spells.churn_date', -90) }}
        and alerts.opened_date < spells.churn_date
    inner join alert_reasons
        on alerts.alert_id = alert_reasons.alert_id
    group by spells.lifecycle_spell_id, alert_reasons.reason_code
),

health_signals as (
    select * from low_dimensions
    union all
    select * from warning_rules
),

no_warning as (
    select
        spells.lifecycle_spell_id,
        'no_warning' as signal_type,
        'none' as signal,
        1 as occurrences
    from spells
    where spells.lifecycle_spell_id not in (select lifecycle_spell_id from health_signals)
),

signals as (
    select * from health_signals
    union all
    select * from event_signals
    union all
    select * from no_warning
),

final as (
    select
        {{ surrogate_key(['signals.lifecycle_spell_id', 'signals.signal_type', 'signals.signal']) }} as churn_reason_id,
        signals.lifecycle_spell_id as churn_event_id,
        spells.customer_id,
        customers.segment,
        spells.churn_definition,
        spells.churn_date,
        cast({{ dbt.date_trunc('month', 'spells.churn_date') }} as date) as churn_month,
        signals.signal_type,
        signals.signal,
        signals.occurrences
    from signals
    inner join spells
        on signals.lifecycle_spell_id = spells.lifecycle_spell_id
    inner join customers
        on spells.customer_id = customers.customer_id
)

select * from final
