{#- The signals of the health score and how each one becomes points (docs/HEALTH_SCORE.md).

    Every signal is a number per customer-day, null when the customer has no evidence for
    it. A signal is not scored against a fixed anchor: it is placed within the
    distribution of comparable customers on the same day (the cohort: same churn
    definition and tenure band), as the interval [percentile_low, percentile_high] of the
    cohort that its value occupies (ties share one interval), and its points are the mean
    of the signal's points curve over that interval. The points curve maps a percentile
    (0 = least healthy in the cohort, 1 = healthiest) to 0-100: by default
    100 x (1 - (1 - p)^k) (k = signal_points_curve_exponent), or the curve that
    `churnguard calibrate` fitted on the warehouse's own history (seed health_calibration).
    Because the mean over an interval is used, every signal's points average the same over
    a cohort whatever its ties, so a signal that becomes available (a baseline that fills
    up) neither raises nor lowers the cohort's scores.

    `direction` says which way is healthy: 'higher' or 'lower'. -#}

{% macro health_signal_catalog() -%}
    {{ return([
        {'name': 'usage_logins_per_week', 'dimension': 'usage', 'direction': 'higher', 'column': 'logins_per_week'},
        {'name': 'usage_trend', 'dimension': 'usage', 'direction': 'higher', 'column': 'usage_trend_ratio'},
        {'name': 'usage_days_since_login', 'dimension': 'usage', 'direction': 'lower', 'column': 'days_since_last_login'},
        {'name': 'usage_logins_before_churn_rule', 'dimension': 'usage', 'direction': 'higher', 'column': 'logins_before_churn_rule'},
        {'name': 'engagement_reply_rate', 'dimension': 'engagement', 'direction': 'higher', 'column': 'reply_rate_90d'},
        {'name': 'engagement_unanswered_streak', 'dimension': 'engagement', 'direction': 'lower', 'column': 'unanswered_streak'},
        {'name': 'engagement_days_since_interaction', 'dimension': 'engagement', 'direction': 'lower', 'column': 'days_since_last_interaction'},
        {'name': 'engagement_key_contact_stability', 'dimension': 'engagement', 'direction': 'higher', 'column': 'key_contact_stable_days'},
        {'name': 'financial_revenue_trend', 'dimension': 'financial', 'direction': 'lower', 'column': 'revenue_decline'},
        {'name': 'financial_payment_delay', 'dimension': 'financial', 'direction': 'lower', 'column': 'payment_delay_days'},
        {'name': 'financial_order_overdue', 'dimension': 'financial', 'direction': 'lower', 'column': 'order_overdue_ratio'},
        {'name': 'financial_order_frequency', 'dimension': 'financial', 'direction': 'higher', 'column': 'orders_per_90d'},
        {'name': 'financial_days_since_order', 'dimension': 'financial', 'direction': 'lower', 'column': 'days_since_order'},
        {'name': 'financial_orders_before_churn_rule', 'dimension': 'financial', 'direction': 'higher', 'column': 'orders_before_churn_rule'},
        {'name': 'financial_purchase_frequency_trend', 'dimension': 'financial', 'direction': 'lower', 'column': 'purchase_frequency_decline'},
        {'name': 'financial_aov_trend', 'dimension': 'financial', 'direction': 'lower', 'column': 'aov_decline'},
        {'name': 'satisfaction_nps', 'dimension': 'satisfaction', 'direction': 'higher', 'column': 'nps_score'},
        {'name': 'satisfaction_nps_drop', 'dimension': 'satisfaction', 'direction': 'lower', 'column': 'nps_drop'},
        {'name': 'satisfaction_csat', 'dimension': 'satisfaction', 'direction': 'higher', 'column': 'csat_score'},
        {'name': 'support_open_tickets', 'dimension': 'support', 'direction': 'lower', 'column': 'support_open_tickets'},
        {'name': 'support_open_severe_tickets', 'dimension': 'support', 'direction': 'lower', 'column': 'support_open_severe_tickets'},
        {'name': 'support_volume_ratio', 'dimension': 'support', 'direction': 'lower', 'column': 'support_volume_ratio'},
        {'name': 'support_repeat_categories', 'dimension': 'support', 'direction': 'lower', 'column': 'support_repeat_categories'},
    ]) }}
{%- endmacro %}

{% macro health_dimension_names() -%}
    {{ return(['usage', 'engagement', 'financial', 'satisfaction', 'support']) }}
{%- endmacro %}

{#- Number of equal steps of a points curve (knots 0..n at percentiles k / n). -#}
{% macro health_curve_steps() -%}
    {{ return(20) }}
{%- endmacro %}

{#- The points curve of every signal, one row per signal and knot, with the curve's
    integral from 0 to the knot (for the mean over an interval): calibrated rows of
    seed health_calibration (item_type 'signal_curve') where the signal has them, else the
    default curve 100 x (1 - (1 - p)^k). A select statement, for a CTE body. -#}
{% macro health_signal_curves() -%}
    {%- set steps = health_curve_steps() %}
    with curve_signals as (
        {%- for signal in health_signal_catalog() %}
        select '{{ signal.name }}' as signal
        {%- if not loop.last %}
        union all
        {%- endif %}
        {%- endfor %}
    ),

    curve_knots as (
        {%- for knot in range(steps + 1) %}
        select {{ knot }} as knot, {{ knot / steps }} as percentile
        {%- if not loop.last %}
        union all
        {%- endif %}
        {%- endfor %}
    ),

    -- every signal's knots (a cross join, not one select per signal and knot: 483
    -- branches were slow to plan on Spark)
    knots as (
        select curve_signals.signal, curve_knots.knot, curve_knots.percentile
        from curve_signals
        cross join curve_knots
    ),

    calibrated as (
        select name as signal, knot, cast(value as {{ dbt.type_numeric() }}) as points
        from {{ ref('health_calibration') }}
        where item_type = 'signal_curve'
    ),

    calibrated_signals as (
        select distinct signal from calibrated
    ),

    curve_points as (
        select
            knots.signal,
            knots.knot,
            knots.percentile,
            case
                when calibrated_signals.signal is not null then calibrated.points
                else 100.0 * (1.0 - power(1.0 - knots.percentile, {{ health_param('signal_points_curve_exponent') }}))
            end as points
        from knots
        left join calibrated_signals
            on knots.signal = calibrated_signals.signal
        left join calibrated
            on knots.signal = calibrated.signal
            and knots.knot = calibrated.knot
    ),

    with_next as (
        select
            signal,
            knot,
            percentile,
            points,
            lead(points) over (partition by signal order by knot) as next_points
        from curve_points
    )

    select
        signal,
        knot,
        percentile,
        points,
        coalesce(next_points, points) - points as step_rise,
        -- integral of the piecewise-linear curve from 0 to this knot (trapezoids)
        coalesce(sum((points + coalesce(next_points, points)) / 2.0 / {{ steps }}) over (
            partition by signal order by knot rows between unbounded preceding and 1 preceding
        ), 0) as area_to_knot
    from with_next
{%- endmacro %}

{#- Integral from 0 to percentile `p` of the curve whose knot row (the knot at or below p)
    is `curve`: area to the knot plus the trapezoid from the knot to p. -#}
{% macro curve_area_to(p, curve) -%}
    ({{ curve }}.area_to_knot
        + (({{ p }}) - {{ curve }}.percentile) * {{ curve }}.points
        + 0.5 * (({{ p }}) - {{ curve }}.percentile) * (({{ p }}) - {{ curve }}.percentile)
            * {{ curve }}.step_rise * {{ health_curve_steps() }})
{%- endmacro %}

{#- Knot index at or below percentile `p` (the last knot's segment is the one before it). -#}
{% macro curve_knot_of(p) -%}
    case
        when ({{ p }}) >= 1 then {{ health_curve_steps() - 1 }}
        else cast(floor(({{ p }}) * {{ health_curve_steps() }}) as {{ dbt.type_int() }})
    end
{%- endmacro %}

{#- How int_health_dimension_scores turns the signal points (one row per customer, day and
    signal) back into columns of the customer-day row:
    - default: one GROUP BY customer-day with a max(case when signal_id = N ...) per signal
      and column (46 aggregates), then one join to the customer-day rows. Engines that
      inline a CTE at every reference (Spark, BigQuery) compute the signal points once.
    - DuckDB: one left join per signal from the customer-day rows to the signal points of
      that signal (the CTE is materialized once, each join builds a hash table of one
      signal's rows). Same rows; about a third less CPU in the steps after the ratios on
      a 6,000-customer order world (docs/SCALING.md): DuckDB's hash aggregate with 46
      aggregate states per customer-day, fed in signal order, cost more than 23 hash
      joins on the customer-day key.
    Returns true where the joins are used. -#}
{% macro health_signal_points_by_join() -%}
    {{ return(adapter.dispatch('health_signal_points_by_join', 'churnguard')()) }}
{%- endmacro %}

{% macro default__health_signal_points_by_join() -%}{{ return(false) }}{%- endmacro %}
{% macro duckdb__health_signal_points_by_join() -%}{{ return(true) }}{%- endmacro %}
