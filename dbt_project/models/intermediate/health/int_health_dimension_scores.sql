{#- The five dimension scores of the health score (SPEC section 4), one row per customer
    per day on which the customer is active, with every signal they are computed from.
    Each score is 0-100 (a whole number) or null when the customer has no data for the
    dimension; the scoring functions and their parameters are described in
    docs/HEALTH_SCORE.md and seeds/reference/health_scoring_parameters.csv.

    Reads fct_customer_day (the customer-day base) and the health event models. Every
    value is as known at the end of that day: windows look back only, comparisons are
    with the customer's own earlier days.

    Incremental like fct_customer_day: each run rebuilds the days of
    customer_day_build_window() and replaces them wholesale (delete+insert by
    date_day). Windows read the 89 days (or the longest rule window) before the build
    window, comparisons read the facts 28 and 90 days earlier, and carried-forward state
    (latest outreach decision, latest key-contact change) is read from the event models
    before each customer's first row, so any build range gives the same rows as a full
    refresh. -#}

-- depends_on: {{ ref('util_date_bounds') }}
-- depends_on: {{ ref('warning_rules') }}

{{ config(
    materialized='incremental',
    on_schema_change='fail',
    **day_replacing_incremental()
) }}

{%- set window = customer_day_build_window() %}
{%- set activity_days = rule_window_days_literal('activity_down_40pct_3w', 21) %}
{%- set read_back = [89, activity_days - 1] | max %}

with facts as (
    select * from {{ ref('fct_customer_day') }}
    where date_day >= {{ add_days(window.start, -read_back) }}
        and date_day <= {{ window.end }}
),

earlier_facts as (
    select customer_id, date_day, logins_90d, tickets_opened_90d, mrr, orders_90d, order_amount_90d
    from {{ ref('fct_customer_day') }}
    where date_day >= {{ add_days(window.start, -90) }}
        and date_day <= {{ add_days(window.end, -28) }}
),

outreach_daily as (
    select * from {{ ref('int_health_outreach_daily') }}
),

key_contact_changes as (
    select * from {{ ref('int_health_key_contact_changes') }}
),

repeat_ticket_windows as (
    select * from {{ ref('int_health_repeat_ticket_windows') }}
),

satisfaction_history as (
    select * from {{ ref('int_health_satisfaction_history') }}
),

subscriptions as (
    select * from {{ ref('stg_billing__subscriptions') }}
),

bounds as (
    select * from {{ ref('util_date_bounds') }}
),

customer_starts as (
    select
        customer_id,
        min(spell_start_date) as first_spell_start_date
    from {{ ref('int_customer_lifecycle_spells') }}
    group by customer_id
),

params as (
    select
        {{ health_param('usage_baseline_min_logins') }} as usage_baseline_min_logins,
        {{ health_param('usage_ratio_zero') }} as usage_ratio_zero,
        {{ health_param('usage_ratio_full') }} as usage_ratio_full,
        {{ health_param('usage_ratio_prior_logins') }} as usage_ratio_prior_logins,
        {{ health_param('usage_logins_per_week_zero') }} as usage_logins_per_week_zero,
        {{ health_param('usage_logins_per_week_full') }} as usage_logins_per_week_full,
        {{ health_param('usage_recency_full_days') }} as usage_recency_full_days,
        {{ health_param('usage_recency_zero_days') }} as usage_recency_zero_days,
        {{ health_param('engagement_min_outreach') }} as engagement_min_outreach,
        {{ health_param('engagement_reply_rate_zero') }} as engagement_reply_rate_zero,
        {{ health_param('engagement_reply_rate_full') }} as engagement_reply_rate_full,
        {{ health_param('engagement_streak_zero') }} as engagement_streak_zero,
        {{ health_param('engagement_recency_full_days') }} as engagement_recency_full_days,
        {{ health_param('engagement_recency_zero_days') }} as engagement_recency_zero_days,
        {{ health_param('engagement_key_contact_recovery_days') }} as engagement_key_contact_recovery_days,
        {{ health_param('financial_growth_threshold') }} as financial_growth_threshold,
        {{ health_param('financial_stable_score') }} as financial_stable_score,
        {{ health_param('satisfaction_nps_zero') }} as satisfaction_nps_zero,
        {{ health_param('satisfaction_nps_full') }} as satisfaction_nps_full,
        {{ health_param('satisfaction_nps_drop_zero') }} as satisfaction_nps_drop_zero,
        {{ health_param('satisfaction_csat_zero') }} as satisfaction_csat_zero,
        {{ health_param('satisfaction_csat_full') }} as satisfaction_csat_full,
        {{ health_param('satisfaction_nps_max_age_days') }} as satisfaction_nps_max_age_days,
        {{ health_param('satisfaction_csat_max_age_days') }} as satisfaction_csat_max_age_days,
        {{ health_param('support_open_ticket_penalty') }} as support_open_ticket_penalty,
        {{ health_param('support_open_ticket_penalty_max') }} as support_open_ticket_penalty_max,
        {{ health_param('support_severe_ticket_penalty') }} as support_severe_ticket_penalty,
        {{ health_param('support_repeat_category_penalty') }} as support_repeat_category_penalty,
        {{ health_param('support_volume_ratio_max') }} as support_volume_ratio_max,
        {{ health_param('support_volume_penalty_max') }} as support_volume_penalty_max,
        {{ health_param('high_value_annual_revenue') }} as high_value_annual_revenue,
        {{ rule_param('revenue_down_warning', 'threshold') }} as revenue_warning_at,
        {{ rule_param('revenue_down_danger', 'threshold') }} as revenue_danger_at,
        {{ rule_param('payment_delay_warning', 'threshold') }} as payment_delay_warning_at,
        {{ rule_param('payment_delay_danger', 'threshold') }} as payment_delay_danger_at,
        {{ rule_param('purchase_frequency_down_warning', 'threshold') }} as purchase_frequency_warning_at,
        {{ rule_param('purchase_frequency_down_danger', 'threshold') }} as purchase_frequency_danger_at,
        {{ rule_param('purchase_frequency_down_warning', 'min_count') }} as purchase_frequency_min_orders,
        {{ rule_param('aov_down_warning', 'threshold') }} as aov_warning_at,
        {{ rule_param('aov_down_danger', 'threshold') }} as aov_danger_at,
        {{ rule_param('aov_down_warning', 'min_count') }} as aov_min_orders
),

-- State carried from before each customer's first row read in this run.
customer_first_days as (
    select
        customer_id,
        min(date_day) as first_row_date
    from facts
    group by customer_id
),

prior_outreach as (
    {{ last_date_before_first_row('outreach_daily', 'last_outreach_decided_date') }}
),

prior_key_contact_change as (
    {{ last_date_before_first_row('key_contact_changes', 'last_key_contact_change_date') }}
),

-- Only the fact columns used below: the window operator carries every column it is
-- given, so a narrow input keeps it fast (fct_customer_day has about 80).
joined as (
    select
        facts.customer_day_id,
        facts.customer_id,
        facts.date_day,
        facts.churn_definition,
        facts.customer_status,
        facts.lifecycle_spell_number,
        facts.is_active,
        facts.is_in_grace_period,
        facts.logins,
        facts.logins_7d,
        facts.logins_28d,
        facts.last_login_date,
        facts.days_since_last_login,
        facts.last_interaction_date,
        facts.days_since_last_interaction,
        facts.mrr,
        facts.next_renewal_date,
        facts.days_until_renewal,
        facts.orders_90d,
        facts.order_amount_90d,
        facts.last_order_date,
        facts.days_since_last_order,
        facts.invoices_paid,
        facts.max_payment_delay_days,
        facts.overdue_invoices,
        facts.max_days_past_due,
        facts.latest_nps_score,
        facts.last_nps_date,
        facts.latest_csat_score,
        facts.last_csat_date,
        facts.open_tickets,
        facts.open_severe_tickets,
        facts.tickets_opened_28d,
        facts.severe_tickets_opened_28d,
        coalesce(outreach_daily.outreach_decided, 0) as outreach_decided,
        coalesce(outreach_daily.outreach_unanswered, 0) as outreach_unanswered_decided,
        key_contact_changes.key_contact_events,
        prior_outreach.last_outreach_decided_date as prior_last_outreach_decided_date,
        prior_key_contact_change.last_key_contact_change_date as prior_last_key_contact_change_date
    from facts
    left join outreach_daily
        on facts.customer_id = outreach_daily.customer_id
        and facts.date_day = outreach_daily.date_day
    left join key_contact_changes
        on facts.customer_id = key_contact_changes.customer_id
        and facts.date_day = key_contact_changes.date_day
    left join prior_outreach
        on facts.customer_id = prior_outreach.customer_id
    left join prior_key_contact_change
        on facts.customer_id = prior_key_contact_change.customer_id
),

windowed as (
    select
        *,
        {{ trailing_window('sum', 'logins', activity_days) }} as logins_activity_window,
        {{ trailing_window('sum', 'outreach_decided', 90) }} as outreach_decided_90d,
        {{ trailing_window('sum', 'outreach_unanswered_decided', 90) }} as outreach_unanswered_decided_90d,
        {{ trailing_window('sum', 'invoices_paid', 90) }} as invoices_paid_90d,
        {{ trailing_window('max', 'max_payment_delay_days', 90) }} as max_payment_delay_days_90d,
        {{ last_date_where('outreach_decided > 0', 'prior_last_outreach_decided_date') }} as last_outreach_decided_date,
        {{ last_date_where('key_contact_events > 0', 'prior_last_key_contact_change_date') }}
            as last_key_contact_change_date
    from joined
),

-- observed_days: days of the customer's history the warehouse has seen by that day
-- (since the later of the history start and the customer's first start). Windows that
-- reach back before it are scaled to the days observed, or left out while too short.
in_window as (
    select
        windowed.*,
        {{ days_between(
            'case when customer_starts.first_spell_start_date > bounds.history_start_date'
            ~ ' then customer_starts.first_spell_start_date else bounds.history_start_date end',
            'windowed.date_day') }} + 1 as observed_days
    from windowed
    cross join bounds
    left join customer_starts
        on windowed.customer_id = customer_starts.customer_id
    where windowed.date_day >= {{ window.start }}
        and windowed.date_day <= {{ window.end }}
        and windowed.is_active
),

subscription_states as (
    select
        in_window.customer_id,
        in_window.date_day,
        sum(
            case
                when subscriptions.canceled_at is null
                    or cast(subscriptions.canceled_at as date) > in_window.date_day
                    then subscriptions.mrr
                else 0
            end
        ) as committed_mrr,
        max(case when cast(subscriptions.canceled_at as date) <= in_window.date_day then 1 else 0 end)
            as has_cancellation_pending,
        max(case when subscriptions.renewal_date < in_window.date_day then 1 else 0 end) as is_renewal_overdue
    from in_window
    inner join subscriptions
        on in_window.customer_id = subscriptions.customer_id
        and subscriptions.start_date <= in_window.date_day
        and (subscriptions.end_date is null or subscriptions.end_date > in_window.date_day)
    group by in_window.customer_id, in_window.date_day
),

repeat_categories as (
    select
        in_window.customer_id,
        in_window.date_day,
        count(distinct repeat_ticket_windows.category) as repeat_ticket_categories
    from in_window
    inner join repeat_ticket_windows
        on in_window.customer_id = repeat_ticket_windows.customer_id
        and in_window.date_day >= repeat_ticket_windows.active_from_date
        and in_window.date_day <= repeat_ticket_windows.active_to_date
    group by in_window.customer_id, in_window.date_day
),

signals as (
    select
        in_window.customer_day_id,
        in_window.customer_id,
        in_window.date_day,
        in_window.churn_definition,
        in_window.customer_status,
        in_window.lifecycle_spell_number,
        in_window.is_in_grace_period,

        -- product usage
        in_window.logins_7d,
        in_window.logins_28d,
        in_window.logins_activity_window,
        in_window.observed_days,
        case
            when in_window.observed_days - 28 >= 28
                and weeks_before.logins_90d >= params.usage_baseline_min_logins
                then {{ rounded('weeks_before.logins_90d * 28.0 / '
                    ~ 'case when in_window.observed_days - 28 < 90 then in_window.observed_days - 28 else 90 end') }}
        end as usage_baseline_logins_28d,
        case
            when in_window.observed_days >= 7
                then in_window.logins_28d * 7.0
                    / case when in_window.observed_days < 28 then in_window.observed_days else 28 end
        end as logins_per_week,
        in_window.last_login_date,
        in_window.days_since_last_login,

        -- engagement
        in_window.outreach_decided_90d,
        in_window.outreach_unanswered_decided_90d,
        case
            when in_window.outreach_decided_90d >= params.engagement_min_outreach
                then {{ rounded("1.0 - " ~ safe_ratio('in_window.outreach_unanswered_decided_90d', 'in_window.outreach_decided_90d')) }}
        end as reply_rate_90d,
        last_outreach.unanswered_streak,
        {{ days_between('in_window.last_outreach_decided_date', 'in_window.date_day') }} as days_since_last_outreach_decided,
        in_window.last_interaction_date,
        in_window.days_since_last_interaction,
        {{ days_between('in_window.last_key_contact_change_date', 'in_window.date_day') }} as days_since_key_contact_change,

        -- financial
        in_window.mrr,
        coalesce(subscription_states.committed_mrr, 0) as committed_mrr,
        coalesce(subscription_states.has_cancellation_pending, 0) = 1 as has_cancellation_pending,
        coalesce(subscription_states.is_renewal_overdue, 0) = 1 as is_renewal_overdue,
        in_window.next_renewal_date,
        in_window.days_until_renewal,
        in_window.orders_90d,
        in_window.order_amount_90d,
        case
            when in_window.observed_days - 90 >= 28
                then {{ rounded('quarter_before.orders_90d * 90.0 / '
                    ~ 'case when in_window.observed_days - 90 < 90 then in_window.observed_days - 90 else 90 end') }}
        end as orders_prior_90d,
        case
            when in_window.observed_days - 90 >= 28
                then {{ rounded('quarter_before.order_amount_90d * 90.0 / '
                    ~ 'case when in_window.observed_days - 90 < 90 then in_window.observed_days - 90 else 90 end', 2) }}
        end as order_amount_prior_90d,
        coalesce(subscription_states.committed_mrr, 0) * 3 + in_window.order_amount_90d as revenue_90d,
        case
            when in_window.observed_days - 90 >= 28
                then quarter_before.mrr * 3 + {{ rounded('quarter_before.order_amount_90d * 90.0 / '
                    ~ 'case when in_window.observed_days - 90 < 90 then in_window.observed_days - 90 else 90 end', 2) }}
        end as revenue_prior_90d,
        case
            when in_window.invoices_paid_90d > 0 or in_window.overdue_invoices > 0 then
                case
                    when in_window.max_payment_delay_days_90d is null then in_window.max_days_past_due
                    when in_window.max_days_past_due > in_window.max_payment_delay_days_90d
                        then in_window.max_days_past_due
                    else in_window.max_payment_delay_days_90d
                end
        end as payment_delay_days,
        in_window.last_order_date,
        in_window.days_since_last_order,
        {{ rounded('in_window.mrr * 12 + in_window.order_amount_90d * 365.0 / '
            ~ 'case when in_window.observed_days < 28 then 28 when in_window.observed_days < 90 '
            ~ 'then in_window.observed_days else 90 end', 2) }} as annual_revenue,

        -- satisfaction
        case
            when {{ days_between('in_window.last_nps_date', 'in_window.date_day') }} <= params.satisfaction_nps_max_age_days
                then in_window.latest_nps_score
        end as nps_score,
        case
            when {{ days_between('in_window.last_nps_date', 'in_window.date_day') }} <= params.satisfaction_nps_max_age_days
                then nps_history.previous_nps_score_avg - in_window.latest_nps_score
        end as nps_drop,
        case
            when {{ days_between('in_window.last_csat_date', 'in_window.date_day') }} <= params.satisfaction_csat_max_age_days
                then in_window.latest_csat_score
        end as csat_score,
        {{ days_between('in_window.last_csat_date', 'in_window.date_day') }} as days_since_last_csat,
        coalesce(csat_history.last_csat_ratings_low, false) as last_csat_ratings_low,

        -- support
        in_window.open_tickets,
        in_window.open_severe_tickets,
        in_window.tickets_opened_28d,
        in_window.severe_tickets_opened_28d,
        case
            when in_window.observed_days - 28 >= 28
                then {{ rounded('weeks_before.tickets_opened_90d * 28.0 / '
                    ~ 'case when in_window.observed_days - 28 < 90 then in_window.observed_days - 28 else 90 end') }}
        end as ticket_baseline_28d,
        coalesce(repeat_categories.repeat_ticket_categories, 0) as repeat_ticket_categories
    from in_window
    cross join params
    left join earlier_facts as weeks_before
        on in_window.customer_id = weeks_before.customer_id
        and weeks_before.date_day = {{ add_days('in_window.date_day', -28) }}
    left join earlier_facts as quarter_before
        on in_window.customer_id = quarter_before.customer_id
        and quarter_before.date_day = {{ add_days('in_window.date_day', -90) }}
    left join outreach_daily as last_outreach
        on in_window.customer_id = last_outreach.customer_id
        and in_window.last_outreach_decided_date = last_outreach.date_day
    left join satisfaction_history as nps_history
        on in_window.customer_id = nps_history.customer_id
        and in_window.last_nps_date = nps_history.date_day
    left join satisfaction_history as csat_history
        on in_window.customer_id = csat_history.customer_id
        and in_window.last_csat_date = csat_history.date_day
    left join subscription_states
        on in_window.customer_id = subscription_states.customer_id
        and in_window.date_day = subscription_states.date_day
    left join repeat_categories
        on in_window.customer_id = repeat_categories.customer_id
        and in_window.date_day = repeat_categories.date_day
),

ratios as (
    select
        signals.*,
        {{ rounded(safe_ratio(
            '(signals.logins_7d * 4.0 + signals.logins_28d) / 2.0 + params.usage_ratio_prior_logins',
            'signals.usage_baseline_logins_28d + params.usage_ratio_prior_logins')) }} as usage_trend_ratio,
        {{ rounded("1.0 - " ~ safe_ratio('signals.logins_activity_window', 'signals.usage_baseline_logins_28d * ' ~ activity_days ~ ' / 28.0')) }}
            as activity_decline,
        {{ rounded("1.0 - " ~ safe_ratio('signals.logins_28d', 'signals.usage_baseline_logins_28d')) }} as logins_decline_28d,
        case
            when signals.revenue_prior_90d > 0
                then {{ rounded("1.0 - " ~ safe_ratio('signals.revenue_90d', 'signals.revenue_prior_90d')) }}
        end as revenue_decline,
        case
            when signals.orders_prior_90d >= params.purchase_frequency_min_orders
                then {{ rounded("1.0 - " ~ safe_ratio('signals.orders_90d', 'signals.orders_prior_90d')) }}
        end as purchase_frequency_decline,
        case
            when signals.orders_prior_90d >= params.aov_min_orders and signals.orders_90d > 0
                then {{ rounded("1.0 - " ~ safe_ratio('signals.order_amount_90d * signals.orders_prior_90d', 'signals.order_amount_prior_90d * signals.orders_90d')) }}
        end as aov_decline,
        {{ rounded(safe_ratio('signals.tickets_opened_28d + 1.0', 'signals.ticket_baseline_28d + 1.0')) }} as ticket_volume_ratio,
        case
            when signals.days_since_last_login is null then signals.days_since_last_order
            when signals.days_since_last_order is null then signals.days_since_last_login
            when signals.days_since_last_login < signals.days_since_last_order then signals.days_since_last_login
            else signals.days_since_last_order
        end as days_inactive,
        case
            when signals.annual_revenue >= params.high_value_annual_revenue then 'high'
            else 'low'
        end as value_tier
    from signals
    cross join params
),

components as (
    select
        ratios.*,
        -- usage: own baseline, absolute level, recency
        {{ score_ramp('ratios.usage_trend_ratio', 'params.usage_ratio_zero', 'params.usage_ratio_full') }}
            as usage_baseline_component,
        {{ score_ramp('ratios.logins_per_week', 'params.usage_logins_per_week_zero', 'params.usage_logins_per_week_full') }}
            as usage_level_component,
        {{ score_ramp('ratios.days_since_last_login', 'params.usage_recency_zero_days', 'params.usage_recency_full_days') }}
            as usage_recency_component,
        -- engagement: reply rate, unanswered run, recency
        {{ score_ramp('ratios.reply_rate_90d', 'params.engagement_reply_rate_zero', 'params.engagement_reply_rate_full') }}
            as engagement_reply_component,
        {{ score_ramp('ratios.unanswered_streak', 'params.engagement_streak_zero', '0') }}
            as engagement_streak_component,
        {{ score_ramp('ratios.days_since_last_interaction', 'params.engagement_recency_zero_days', 'params.engagement_recency_full_days') }}
            as engagement_recency_component,
        case
            when ratios.days_since_key_contact_change >= 0
                and ratios.days_since_key_contact_change < params.engagement_key_contact_recovery_days
                then {{ score_ramp('ratios.days_since_key_contact_change', '0', 'params.engagement_key_contact_recovery_days') }}
        end as engagement_key_contact_component,
        -- financial: the four indicators of SPEC section 6
        {{ financial_indicator_score('ratios.revenue_decline', 'params.revenue_warning_at', 'params.revenue_danger_at', 'params.financial_stable_score', 'params.financial_growth_threshold') }}
            as revenue_indicator_score,
        {{ financial_indicator_score('ratios.payment_delay_days', 'params.payment_delay_warning_at', 'params.payment_delay_danger_at', '100.0') }}
            as payment_delay_indicator_score,
        {{ financial_indicator_score('ratios.purchase_frequency_decline', 'params.purchase_frequency_warning_at', 'params.purchase_frequency_danger_at', 'params.financial_stable_score', 'params.financial_growth_threshold') }}
            as purchase_frequency_indicator_score,
        {{ financial_indicator_score('ratios.aov_decline', 'params.aov_warning_at', 'params.aov_danger_at', 'params.financial_stable_score', 'params.financial_growth_threshold') }}
            as aov_indicator_score,
        -- satisfaction: NPS level and drop from the previous survey, CSAT level
        {{ score_ramp('ratios.nps_score', 'params.satisfaction_nps_zero', 'params.satisfaction_nps_full') }}
            as satisfaction_nps_component,
        {{ score_ramp('ratios.nps_drop', 'params.satisfaction_nps_drop_zero', '0') }}
            as satisfaction_nps_trend_component,
        {{ score_ramp('ratios.csat_score', 'params.satisfaction_csat_zero', 'params.satisfaction_csat_full') }}
            as satisfaction_csat_component,
        -- support: points off from 100
        case
            when ratios.open_tickets * params.support_open_ticket_penalty > params.support_open_ticket_penalty_max
                then params.support_open_ticket_penalty_max
            else ratios.open_tickets * params.support_open_ticket_penalty
        end
        + case when ratios.open_severe_tickets > 0 then params.support_severe_ticket_penalty else 0 end
        + case when ratios.repeat_ticket_categories > 0 then params.support_repeat_category_penalty else 0 end
        + coalesce(
            {{ score_ramp('ratios.ticket_volume_ratio', '1.0', 'params.support_volume_ratio_max') }}
            * params.support_volume_penalty_max / 100.0,
            0
        ) as support_points_off
    from ratios
    cross join params
),

final as (
    select
        customer_day_id,
        customer_id,
        date_day,
        churn_definition,
        customer_status,
        lifecycle_spell_number,
        is_in_grace_period,

        logins_7d,
        logins_28d,
        logins_activity_window,
        usage_baseline_logins_28d,
        usage_trend_ratio,
        activity_decline,
        logins_decline_28d,
        observed_days,
        logins_per_week,
        days_since_last_login,

        outreach_decided_90d,
        outreach_unanswered_decided_90d,
        reply_rate_90d,
        unanswered_streak,
        days_since_last_outreach_decided,
        days_since_last_interaction,
        days_since_key_contact_change,

        mrr,
        committed_mrr,
        has_cancellation_pending,
        is_renewal_overdue,
        next_renewal_date,
        days_until_renewal,
        revenue_90d,
        revenue_prior_90d,
        revenue_decline,
        payment_delay_days,
        orders_90d,
        orders_prior_90d,
        purchase_frequency_decline,
        aov_decline,
        days_since_last_order,
        days_inactive,
        annual_revenue,
        value_tier,

        nps_score,
        nps_drop,
        csat_score,
        days_since_last_csat,
        last_csat_ratings_low,

        open_tickets,
        open_severe_tickets,
        tickets_opened_28d,
        severe_tickets_opened_28d,
        ticket_baseline_28d,
        ticket_volume_ratio,
        repeat_ticket_categories,

        -- the lower of the baseline comparison and the absolute level (active days and
        -- recency averaged); the absolute level alone while there is no baseline
        case
            when last_login_date is not null then {{ whole_score(
                "case when usage_baseline_component < " ~ mean_of_available(['usage_level_component', 'usage_recency_component'])
                ~ " then usage_baseline_component else "
                ~ mean_of_available(['usage_level_component', 'usage_recency_component']) ~ " end") }}
        end as usage_score,
        case
            when last_interaction_date is not null or unanswered_streak is not null
                or engagement_key_contact_component is not null then {{ whole_score(mean_of_available([
                'engagement_reply_component', 'engagement_streak_component', 'engagement_recency_component',
                'engagement_key_contact_component'])) }}
        end as engagement_score,
        {{ whole_score(mean_of_available([
            'revenue_indicator_score', 'payment_delay_indicator_score',
            'purchase_frequency_indicator_score', 'aov_indicator_score'])) }} as financial_score,
        {{ whole_score(mean_of_available([
            'satisfaction_nps_component', 'satisfaction_nps_trend_component', 'satisfaction_csat_component'])) }}
            as satisfaction_score,
        {{ whole_score('case when support_points_off >= 100 then 0.0 else 100.0 - support_points_off end') }}
            as support_score
    from components
)

select * from final
