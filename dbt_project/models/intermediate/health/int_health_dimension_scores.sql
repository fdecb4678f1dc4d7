{#- The five dimension scores of the health score, one row per customer
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
    window, comparisons with the 90 days that ended 28, 90, 180 and 270 days earlier read
    the facts of the 359 days before it, and carried-forward state
    (latest outreach decision, latest key-contact change) is read from the event models
    before each customer's first row, so any build range gives the same rows as a full
    refresh.

    fct_customer_day has no row on a churned customer's days without events (the days of
    outreach decisions and key-contact changes are added here as unscored rows), so windows
    are RANGE frames over a day number and the comparisons are windows too (never a join
    to the row N days earlier, which may be missing): a missing day had no event to add.
    A comparison is used only when its days lie in the customer's observed history
    (observed_days), where no events means zero, as it did when every day had a row. -#}

-- depends_on: {{ ref('util_date_bounds') }}
-- depends_on: {{ ref('warning_rules') }}
-- depends_on: {{ ref('health_calibration') }}

{{ config(
    materialized='incremental',
    on_schema_change='fail',
    **day_replacing_incremental()
) }}

{%- set window = customer_day_build_window() %}
{%- set activity_days = rule_window_days_literal('activity_down_40pct_3w', 21) %}
{%- set read_back = [89, activity_days - 1] | max %}
{%- set signals = health_signal_catalog() %}
{#- the signal points as columns: a pivot (GROUP BY) or one join per signal, see
    health_signal_points_by_join() -#}
{%- set points_by_join = health_signal_points_by_join() %}

with facts as (
    select * from {{ ref('fct_customer_day') }}
    where date_day >= {{ add_days(window.start, -read_back) }}
        and date_day <= {{ window.end }}
),

-- The 90-day sums that ended 28, 90, 180 and 270 days before each day (null: no event in
-- those days), from the daily values of the facts.
earlier_windows_all as (
    select
        customer_id,
        date_day,
        {{ trailing_window('sum', 'logins', 90, ending_days_before=28) }} as logins_90d_28d_before,
        {{ trailing_window('sum', 'tickets_opened', 90, ending_days_before=28) }} as tickets_opened_90d_28d_before,
        {%- for days_before in [90, 180, 270] %}
        {{ trailing_window('sum', 'orders', 90, ending_days_before=days_before) }} as orders_90d_{{ days_before }}d_before,
        {{ trailing_window('sum', 'order_amount', 90, ending_days_before=days_before) }}
            as order_amount_90d_{{ days_before }}d_before{% if not loop.last %},{% endif %}
        {%- endfor %}
    from (
        select customer_id, date_day, {{ day_number('date_day') }} as day_number, logins, tickets_opened, orders, order_amount
        from {{ ref('fct_customer_day') }}
        where date_day >= {{ add_days(window.start, -359) }}
            and date_day <= {{ window.end }}
    ) as daily_values
),

earlier_windows as (
    select * from earlier_windows_all
    where date_day >= {{ window.start }}
        and date_day <= {{ window.end }}
),

-- MRR in force on each day (no row: none), for the MRR 90 days earlier
subscriptions_daily as (
    select customer_id, date_day, mrr from {{ ref('int_subscriptions_daily') }}
    where date_day >= {{ add_days(window.start, -90) }}
        and date_day <= {{ add_days(window.end, -90) }}
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
        {{ health_param('usage_ratio_prior_logins') }} as usage_ratio_prior_logins,
        {{ health_param('engagement_min_outreach') }} as engagement_min_outreach,
        {{ health_param('engagement_key_contact_recovery_days') }} as engagement_key_contact_recovery_days,
        {{ health_param('satisfaction_nps_max_age_days') }} as satisfaction_nps_max_age_days,
        {{ health_param('satisfaction_csat_max_age_days') }} as satisfaction_csat_max_age_days,
        {{ health_param('high_value_annual_revenue') }} as high_value_annual_revenue,
        {{ health_param('cohort_new_customer_days') }} as cohort_new_customer_days,
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

-- Outreach and key-contact days on which the facts have no row (a churned customer's
-- days without other events, see fct_customer_day): rows for the windows and carried
-- dates below only, never scored (is_active is false).
event_only_days as (
    select customer_id, date_day from outreach_daily
    where date_day >= {{ add_days(window.start, -read_back) }}
        and date_day <= {{ window.end }}
    union
    select customer_id, date_day from key_contact_changes
    where date_day >= {{ add_days(window.start, -read_back) }}
        and date_day <= {{ window.end }}
),

{#- the fact columns used below (the event-only rows have them null) -#}
{%- set fact_columns = [
    'customer_day_id', 'churn_definition', 'customer_status', 'lifecycle_spell_number',
    'is_active', 'is_in_grace_period', 'logins', 'logins_7d', 'logins_28d',
    'last_login_date', 'days_since_last_login', 'last_interaction_date',
    'days_since_last_interaction', 'mrr', 'next_renewal_date', 'days_until_renewal',
    'orders_90d', 'order_amount_90d', 'last_order_date', 'days_since_last_order',
    'invoices_paid', 'max_payment_delay_days', 'overdue_invoices', 'max_days_past_due',
    'latest_nps_score', 'last_nps_date', 'latest_csat_score', 'last_csat_date',
    'open_tickets', 'open_severe_tickets', 'tickets_opened_28d',
    'severe_tickets_opened_28d', 'tickets_opened_90d'
] %}

-- Only the fact columns used below: the window operator carries every column it is
-- given, so a narrow input keeps it fast (fct_customer_day has about 80).
customer_day_rows as (
    select
        facts.customer_id,
        facts.date_day,
        {%- for column in fact_columns %}
        facts.{{ column }},
        {%- endfor %}
        {{ day_number('facts.date_day') }} as day_number
    from facts
    union all
    select
        event_only_days.customer_id,
        event_only_days.date_day,
        {%- for column in fact_columns %}
        {% if column == 'is_active' %}false{% else %}null{% endif %} as {{ column }},
        {%- endfor %}
        {{ day_number('event_only_days.date_day') }} as day_number
    from event_only_days
    left join facts
        on event_only_days.customer_id = facts.customer_id
        and event_only_days.date_day = facts.date_day
    where facts.customer_id is null
),

joined as (
    select
        customer_day_rows.*,
        coalesce(outreach_daily.outreach_decided, 0) as outreach_decided,
        coalesce(outreach_daily.outreach_unanswered, 0) as outreach_unanswered_decided,
        key_contact_changes.key_contact_events,
        prior_outreach.last_outreach_decided_date as prior_last_outreach_decided_date,
        prior_key_contact_change.last_key_contact_change_date as prior_last_key_contact_change_date
    from customer_day_rows
    left join outreach_daily
        on customer_day_rows.customer_id = outreach_daily.customer_id
        and customer_day_rows.date_day = outreach_daily.date_day
    left join key_contact_changes
        on customer_day_rows.customer_id = key_contact_changes.customer_id
        and customer_day_rows.date_day = key_contact_changes.date_day
    left join prior_outreach
        on customer_day_rows.customer_id = prior_outreach.customer_id
    left join prior_key_contact_change
        on customer_day_rows.customer_id = prior_key_contact_change.customer_id
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
        max(case when subscriptions.renewal_date < in_window.date_day then 1 else 0 end) as is_renewal_overdue,
        max({{ billing_interval_months('subscriptions.billing_interval') }}) as billing_term_months
    from in_window
    inner join subscriptions
        on in_window.customer_id = subscriptions.customer_id
        and subscriptions.start_date <= in_window.date_day
        and (subscriptions.end_date is null or subscriptions.end_date > in_window.date_day)
    group by in_window.customer_id, in_window.date_day
),

-- the longest billing term in force 90 days earlier (a move to a longer term is not a
-- revenue decline, see ratios.revenue_decline)
subscription_terms_before as (
    select
        in_window.customer_id,
        in_window.date_day,
        max({{ billing_interval_months('subscriptions.billing_interval') }}) as billing_term_months_90d_ago
    from in_window
    inner join subscriptions
        on in_window.customer_id = subscriptions.customer_id
        and subscriptions.start_date <= {{ add_days('in_window.date_day', -90) }}
        and (subscriptions.end_date is null or subscriptions.end_date > {{ add_days('in_window.date_day', -90) }})
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
        {{ days_between('customer_starts.first_spell_start_date', 'in_window.date_day') }} as tenure_days,
        in_window.churn_definition || '|' || case
            when {{ days_between('customer_starts.first_spell_start_date', 'in_window.date_day') }}
                < params.cohort_new_customer_days then 'new'
            else 'established'
        end as cohort,

        -- product usage
        in_window.logins_7d,
        in_window.logins_28d,
        in_window.logins_activity_window,
        in_window.observed_days,
        case
            when in_window.observed_days - 28 >= 28
                and coalesce(earlier_windows.logins_90d_28d_before, 0) >= params.usage_baseline_min_logins
                then {{ rounded('coalesce(earlier_windows.logins_90d_28d_before, 0) * 28.0 / '
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
                then {{ rounded('coalesce(earlier_windows.orders_90d_90d_before, 0) * 90.0 / '
                    ~ 'case when in_window.observed_days - 90 < 90 then in_window.observed_days - 90 else 90 end') }}
        end as orders_prior_90d,
        case
            when in_window.observed_days - 90 >= 28
                then {{ rounded('coalesce(earlier_windows.order_amount_90d_90d_before, 0) * 90.0 / '
                    ~ 'case when in_window.observed_days - 90 < 90 then in_window.observed_days - 90 else 90 end', 2) }}
        end as order_amount_prior_90d,
        subscription_states.billing_term_months,
        subscription_terms_before.billing_term_months_90d_ago,
        coalesce(subscription_states.committed_mrr, 0) * 3 + in_window.order_amount_90d as revenue_90d,
        case
            when in_window.observed_days - 90 >= 28
                then coalesce(mrr_90d_before.mrr, 0) * 3 + {{ rounded('coalesce(earlier_windows.order_amount_90d_90d_before, 0) * 90.0 / '
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
        -- completed orders in the last 360 days (four 90-day windows), over the days observed
        in_window.orders_90d + coalesce(earlier_windows.orders_90d_90d_before, 0) + coalesce(earlier_windows.orders_90d_180d_before, 0)
            + coalesce(earlier_windows.orders_90d_270d_before, 0) as orders_360d,
        case when in_window.observed_days < 360 then in_window.observed_days else 360 end as order_history_days,
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
        in_window.tickets_opened_90d,
        case
            when in_window.observed_days - 28 >= 28
                then {{ rounded('coalesce(earlier_windows.tickets_opened_90d_28d_before, 0) * 28.0 / '
                    ~ 'case when in_window.observed_days - 28 < 90 then in_window.observed_days - 28 else 90 end') }}
        end as ticket_baseline_28d,
        coalesce(repeat_categories.repeat_ticket_categories, 0) as repeat_ticket_categories
    from in_window
    cross join params
    left join earlier_windows
        on in_window.customer_id = earlier_windows.customer_id
        and in_window.date_day = earlier_windows.date_day
    left join subscriptions_daily as mrr_90d_before
        on in_window.customer_id = mrr_90d_before.customer_id
        and mrr_90d_before.date_day = {{ add_days('in_window.date_day', -90) }}
    left join customer_starts
        on in_window.customer_id = customer_starts.customer_id
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
    left join subscription_terms_before
        on in_window.customer_id = subscription_terms_before.customer_id
        and in_window.date_day = subscription_terms_before.date_day
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
            when signals.revenue_prior_90d is null or signals.revenue_prior_90d <= 0 then null
            -- a move to a longer billing term (monthly -> annual), usually at a discount, is
            -- more commitment, not less: its lower MRR is not read as a decline
            when signals.billing_term_months > signals.billing_term_months_90d_ago
                and signals.revenue_90d < signals.revenue_prior_90d then 0
            else {{ rounded("1.0 - " ~ safe_ratio('signals.revenue_90d', 'signals.revenue_prior_90d')) }}
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
        -- order rhythm: orders a 90-day window at the customer's own pace over the last 360
        -- days, and the days since the last order in units of its usual gap between orders
        -- (expected orders missed; for a steady buyer exp(-ratio) is the chance of such a gap)
        case
            when signals.observed_days >= 28
                and (signals.orders_360d > 0 or signals.churn_definition = 'order')
                then {{ rounded('signals.orders_360d * 90.0 / signals.order_history_days') }}
        end as orders_per_90d,
        case
            when signals.orders_360d > 0 and signals.observed_days >= 28
                then {{ rounded('signals.days_since_last_order * 1.0 * signals.orders_360d / signals.order_history_days') }}
        end as order_overdue_ratio,
        -- recency of orders for customers who order (raw days; the churn definition of
        -- order-based customers counts raw days too)
        case
            when signals.orders_360d > 0 or (signals.churn_definition = 'order' and signals.last_order_date is not null)
                then signals.days_since_last_order
        end as days_since_order,
        -- the customer's own pace times the days left before its churn definition fires
        -- without a new order or login: how many it would normally make in that time (few =
        -- the rule is about to fire)
        case
            when signals.churn_definition = 'order' and signals.orders_360d > 0 and signals.observed_days >= 28
                then {{ rounded('signals.orders_360d * 1.0 / signals.order_history_days * case when '
                    ~ var('churn_no_order_days') ~ ' - signals.days_since_last_order > 0 then '
                    ~ var('churn_no_order_days') ~ ' - signals.days_since_last_order else 0 end') }}
        end as orders_before_churn_rule,
        case
            when signals.churn_definition = 'activity' and signals.last_login_date is not null and signals.observed_days >= 7
                then {{ rounded('signals.logins_28d * 1.0 / case when signals.observed_days < 28 then signals.observed_days else 28 end'
                    ~ ' * case when ' ~ var('churn_inactivity_days') ~ ' - signals.days_since_last_login > 0 then '
                    ~ var('churn_inactivity_days') ~ ' - signals.days_since_last_login else 0 end') }}
        end as logins_before_churn_rule,
        -- key contact: days since the decision maker left or changed, capped at the recovery
        -- period (the cap for customers with no change)
        case
            when signals.days_since_key_contact_change is null
                or signals.days_since_key_contact_change >= params.engagement_key_contact_recovery_days
                then params.engagement_key_contact_recovery_days
            else signals.days_since_key_contact_change
        end as key_contact_stable_days,
        -- support signals only for customers with tickets (open, or opened in 90 days): no
        -- tickets is no evidence, neither good nor bad
        case when signals.open_tickets > 0 or signals.tickets_opened_90d > 0 then signals.open_tickets end
            as support_open_tickets,
        case when signals.open_tickets > 0 or signals.tickets_opened_90d > 0 then signals.open_severe_tickets end
            as support_open_severe_tickets,
        case when signals.open_tickets > 0 or signals.tickets_opened_90d > 0
            then {{ rounded(safe_ratio('signals.tickets_opened_28d + 1.0', 'signals.ticket_baseline_28d + 1.0')) }} end
            as support_volume_ratio,
        case when signals.open_tickets > 0 or signals.tickets_opened_90d > 0 then signals.repeat_ticket_categories end
            as support_repeat_categories,
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

-- Every signal as one row per customer-day (only signals with evidence), oriented so that
-- a larger `healthy_value` is healthier. Signals are numbered (their place in the
-- catalog) and rows keyed by (customer_id, date_day). One pass over `ratios` crossed with
-- the signal numbers (not a union of one select per signal: each branch would scan the
-- wide `ratios` again, and Spark would plan a copy of the whole CTE chain above for each),
-- and the pivot back groups on an integer signal and a short key.
signal_ids as (
    {%- for signal in signals %}
    select {{ loop.index }} as signal_id, '{{ signal.name }}' as signal
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

signal_values_all as (
    select
        ratios.customer_id,
        ratios.date_day,
        ratios.cohort,
        signal_ids.signal_id,
        case signal_ids.signal_id
            {%- for signal in signals %}
            when {{ loop.index }} then {% if signal.direction == 'lower' %}-{% endif %}cast(ratios.{{ signal.column }} as {{ dbt.type_numeric() }})
            {%- endfor %}
        end as healthy_value
    from ratios
    cross join signal_ids
),

signal_values as (
    select * from signal_values_all
    where healthy_value is not null
),

-- The interval of the cohort's distribution that the value occupies that day: from the
-- share of the cohort strictly less healthy to the share at most as healthy. Shares are
-- doubles on every engine: as decimals, Spark keeps only 6 decimals of a product of two
-- decimal(38,16) shares (its decimal precision rules), which moved points by up to 0.002
-- and turned some dimension scores by one (docs/DECISIONS.md).
signal_ranks as (
    select
        customer_id,
        date_day,
        signal_id,
        cast(rank() over (
            partition by signal_id, date_day, cohort order by healthy_value
        ) - 1 as {{ type_double() }}) / count(*) over (partition by signal_id, date_day, cohort) as percentile_low,
        cast(count(*) over (
            partition by signal_id, date_day, cohort order by healthy_value
            range between unbounded preceding and current row
        ) as {{ type_double() }}) / count(*) over (partition by signal_id, date_day, cohort) as percentile_high
    from signal_values
),

signal_curves as (
    {{ health_signal_curves() }}
),

signal_curve_knots as (
    select signal_ids.signal_id, signal_curves.*
    from signal_curves
    inner join signal_ids
        on signal_curves.signal = signal_ids.signal
),

-- Points: the mean of the signal's curve over its interval.
signal_points as (
    select
        signal_ranks.customer_id,
        signal_ranks.date_day,
        signal_ranks.signal_id,
        signal_ranks.percentile_low,
        signal_ranks.percentile_high,
        ({{ curve_area_to('signal_ranks.percentile_high', 'curve_high') }}
            - {{ curve_area_to('signal_ranks.percentile_low', 'curve_low') }})
            / (signal_ranks.percentile_high - signal_ranks.percentile_low) as points
    from signal_ranks
    inner join signal_curve_knots as curve_low
        on signal_ranks.signal_id = curve_low.signal_id
        and curve_low.knot = {{ curve_knot_of('signal_ranks.percentile_low') }}
    inner join signal_curve_knots as curve_high
        on signal_ranks.signal_id = curve_high.signal_id
        and curve_high.knot = {{ curve_knot_of('signal_ranks.percentile_high') }}
),

{%- if not points_by_join %}

signal_points_wide as (
    select
        customer_id,
        date_day,
        {%- for signal in signals %}
        max(case when signal_id = {{ loop.index }} then points end) as {{ signal.name }}_points,
        max(case when signal_id = {{ loop.index }} then
            {{ rounded('(percentile_low + percentile_high) / 2.0') }} end) as {{ signal.name }}_percentile{% if not loop.last %},{% endif %}
        {%- endfor %}
    from signal_points
    group by customer_id, date_day
),
{%- endif %}

-- Weights of the signals within their dimension: calibrated (seed health_calibration,
-- item_type 'signal_weight') or 1 each.
signal_weights as (
    select
        {%- for signal in signals %}
        coalesce(
            (select max(cast(value as {{ dbt.type_numeric() }})) from {{ ref('health_calibration') }}
             where item_type = 'signal_weight' and name = '{{ signal.name }}'),
            1.0
        ) as {{ signal.name }}_weight{% if not loop.last %},{% endif %}
        {%- endfor %}
),

final as (
    select
        ratios.customer_day_id,
        ratios.customer_id,
        ratios.date_day,
        ratios.churn_definition,
        ratios.customer_status,
        ratios.lifecycle_spell_number,
        ratios.is_in_grace_period,
        ratios.tenure_days,
        ratios.cohort,

        ratios.logins_7d,
        ratios.logins_28d,
        ratios.logins_activity_window,
        ratios.usage_baseline_logins_28d,
        ratios.usage_trend_ratio,
        ratios.activity_decline,
        ratios.logins_decline_28d,
        ratios.observed_days,
        ratios.logins_per_week,
        ratios.days_since_last_login,

        ratios.outreach_decided_90d,
        ratios.outreach_unanswered_decided_90d,
        ratios.reply_rate_90d,
        ratios.unanswered_streak,
        ratios.days_since_last_outreach_decided,
        ratios.days_since_last_interaction,
        ratios.days_since_key_contact_change,
        ratios.key_contact_stable_days,

        ratios.mrr,
        ratios.committed_mrr,
        ratios.billing_term_months,
        ratios.has_cancellation_pending,
        ratios.is_renewal_overdue,
        ratios.next_renewal_date,
        ratios.days_until_renewal,
        ratios.revenue_90d,
        ratios.revenue_prior_90d,
        ratios.revenue_decline,
        ratios.payment_delay_days,
        ratios.orders_90d,
        ratios.orders_prior_90d,
        ratios.orders_360d,
        ratios.orders_per_90d,
        ratios.order_overdue_ratio,
        ratios.days_since_order,
        ratios.orders_before_churn_rule,
        ratios.logins_before_churn_rule,
        ratios.purchase_frequency_decline,
        ratios.aov_decline,
        ratios.days_since_last_order,
        ratios.days_inactive,
        ratios.annual_revenue,
        ratios.value_tier,

        ratios.nps_score,
        ratios.nps_drop,
        ratios.csat_score,
        ratios.days_since_last_csat,
        ratios.last_csat_ratings_low,

        ratios.open_tickets,
        ratios.open_severe_tickets,
        ratios.tickets_opened_28d,
        ratios.severe_tickets_opened_28d,
        ratios.ticket_baseline_28d,
        ratios.ticket_volume_ratio,
        ratios.repeat_ticket_categories,

        {%- for signal in signals %}
        {%- if points_by_join %}
        {{ rounded('(' ~ signal.name ~ '_row.percentile_low + ' ~ signal.name ~ '_row.percentile_high) / 2.0') }}
            as {{ signal.name }}_percentile,
        {%- else %}
        signal_points_wide.{{ signal.name }}_percentile,
        {%- endif %}
        {%- endfor %}

        -- each dimension: the weighted mean of the points of its signals with evidence
        -- (null when none has)
        {%- for dimension in health_dimension_names() %}
        {%- set pairs = [] %}
        {%- for signal in signals if signal.dimension == dimension %}
        {%- do pairs.append((signal.name ~ '_row.points' if points_by_join else 'signal_points_wide.' ~ signal.name ~ '_points',
            'signal_weights.' ~ signal.name ~ '_weight')) %}
        {%- endfor %}
        {{ whole_score(renormalised_weighted_mean(pairs)) }} as {{ dimension }}_score{% if not loop.last %},{% endif %}
        {%- endfor %}
    from ratios
    cross join signal_weights
    {%- if points_by_join %}
    {%- for signal in signals %}
    left join signal_points as {{ signal.name }}_row
        on ratios.customer_id = {{ signal.name }}_row.customer_id
        and ratios.date_day = {{ signal.name }}_row.date_day
        and {{ signal.name }}_row.signal_id = {{ loop.index }}
    {%- endfor %}
    {%- else %}
    left join signal_points_wide
        on ratios.customer_id = signal_points_wide.customer_id
        and ratios.date_day = signal_points_wide.date_day
    {%- endif %}
)

select * from final
{{- distribute_by_day() }}
