{#- One row per customer per day on which the customer can be scored or counted, from
    the customer's start (or the history start) to the as-of date: the days of each
    lifecycle spell (a subscription's grace gap included) through the day its churn is
    recognised. After that day, until the customer returns, a day has a row only if
    something happened on it (a login, interaction, order, invoice issued or paid, ticket
    opened, survey answer), so that the trailing windows and the
    carried-forward dates of the rows after it see every event: cost follows activity, not
    customers times calendar days. Each row carries the day's activity, rolling 7/28/90-day windows, state carried
    forward (days since last login/order/interaction, latest CSAT and NPS, MRR, open
    tickets, overdue invoices) and the customer's lifecycle status that day.

    Trailing windows are RANGE frames over a day number (macros/customer_day), so the
    missing days change no window. A day's presence depends only on the spells and that
    day's events, so any build range gives the same rows as a full refresh.

    Incremental: each run rebuilds the days in customer_day_build_window() (by default
    the last lookback_days already built plus every new day) and replaces those days
    wholesale (delete+insert by date_day). Rolling windows and carried-forward state
    read up to 89 days before the window, and everything earlier comes from the daily
    aggregates, so a run over any range gives the same rows as a full refresh.

    Status is as known at the end of that day (no look-ahead): a subscription customer
    whose last subscription ended is "active" (in grace) until the grace gap elapses. -#}

-- depends_on: {{ ref('util_date_bounds') }}

{{ config(
    materialized='incremental',
    on_schema_change='fail',
    **day_replacing_incremental()
) }}

{%- set window = customer_day_build_window() %}
{%- set read_from = add_days(window.start, -89) %}

with spells as (
    select * from {{ ref('int_customer_lifecycle_spells') }}
),

calendar as (
    select date_day from {{ ref('util_calendar') }}
    where date_day >= {{ read_from }}
        and date_day <= {{ window.end }}
),

usage_daily as (
    select * from {{ ref('int_product_usage_daily') }}
),

interactions_daily as (
    select * from {{ ref('int_interactions_daily') }}
),

orders_daily as (
    select * from {{ ref('int_orders_daily') }}
),

invoices_daily as (
    select * from {{ ref('int_invoices_daily') }}
    where date_day >= {{ read_from }}
        and date_day <= {{ window.end }}
),

receivables_daily as (
    select * from {{ ref('int_receivables_daily') }}
    where date_day >= {{ read_from }}
        and date_day <= {{ window.end }}
),

subscriptions_daily as (
    select * from {{ ref('int_subscriptions_daily') }}
    where date_day >= {{ read_from }}
        and date_day <= {{ window.end }}
),

tickets_daily as (
    select * from {{ ref('int_tickets_daily') }}
    where date_day >= {{ read_from }}
        and date_day <= {{ window.end }}
),

open_tickets_daily as (
    select * from {{ ref('int_open_tickets_daily') }}
    where date_day >= {{ read_from }}
        and date_day <= {{ window.end }}
),

satisfaction_daily as (
    select * from {{ ref('int_satisfaction_daily') }}
),

-- The day join reads only the days this run reads (the expansions above, such as
-- subscription-days, are filtered before they are built), so a nightly run's cost
-- follows its window; prior state below still reads the full daily aggregates.
{%- for name in ['usage_daily', 'interactions_daily', 'orders_daily', 'satisfaction_daily'] %}

{{ name }}_in_range as (
    select * from {{ name }}
    where date_day >= {{ read_from }}
        and date_day <= {{ window.end }}
),
{%- endfor %}

-- Days on which the customer had an event that a window or a carried-forward date reads
-- (here or in int_health_dimension_scores, which adds the days of its own event models,
-- outreach and key-contact changes, itself). State tables (subscriptions, receivables,
-- open tickets) are not events: they are read only on the row's own day.
event_days as (
    {%- for name in ['usage_daily_in_range', 'interactions_daily_in_range', 'orders_daily_in_range',
        'invoices_daily', 'tickets_daily', 'satisfaction_daily_in_range'] %}
    select customer_id, date_day from {{ name }}
    {%- if not loop.last %}
    union
    {%- endif %}
    {%- endfor %}
),

-- Every calendar day of each spell until the next one starts ...
spell_days as (
    select
        spells.customer_id,
        calendar.date_day,
        spells.churn_definition,
        spells.spell_number,
        spells.churn_recognized_date
    from spells
    inner join calendar
        on calendar.date_day >= spells.spell_start_date
        and (spells.next_spell_start_date is null or calendar.date_day < spells.next_spell_start_date)
),

-- ... less the days after the recognised churn on which nothing happened.
customer_days as (
    select spell_days.*
    from spell_days
    left join event_days
        on spell_days.customer_id = event_days.customer_id
        and spell_days.date_day = event_days.date_day
    where spell_days.churn_recognized_date is null
        or spell_days.date_day <= spell_days.churn_recognized_date
        or event_days.customer_id is not null
),

-- State from before each customer's first row in this run (events before its first
-- spell included), so carried-forward values are the same whatever range is built.
customer_first_days as (
    select customer_id, min(date_day) as first_row_date
    from customer_days
    group by customer_id
),

{%- for name, source, condition in [
    ('login', 'usage_daily', 'logins > 0'),
    ('interaction', 'interactions_daily', 'interactions > 0'),
    ('order', 'orders_daily', 'orders > 0'),
    ('csat', 'satisfaction_daily', 'csat_responses > 0'),
    ('nps', 'satisfaction_daily', 'nps_responses > 0'),
] %}

prior_last_{{ name }} as (
    {{ last_date_before_first_row(source, 'last_' ~ name ~ '_date', condition=condition) }}
),
{%- endfor %}

joined as (
    select
        customer_days.customer_id,
        customer_days.date_day,
        customer_days.churn_definition,
        customer_days.spell_number,
        customer_days.churn_recognized_date,
        {{ day_number('customer_days.date_day') }} as day_number,
        coalesce(usage_daily.logins, 0) as logins,
        coalesce(usage_daily.active_users, 0) as active_users,
        coalesce(interactions_daily.interactions, 0) as interactions,
        coalesce(interactions_daily.inbound_interactions, 0) as inbound_interactions,
        coalesce(interactions_daily.outbound_interactions, 0) as outbound_interactions,
        coalesce(interactions_daily.outreach_unanswered, 0) as outreach_unanswered,
        coalesce(orders_daily.orders, 0) as orders,
        coalesce(orders_daily.order_amount, 0) as order_amount,
        coalesce(invoices_daily.invoices_issued, 0) as invoices_issued,
        coalesce(invoices_daily.invoiced_amount, 0) as invoiced_amount,
        coalesce(invoices_daily.invoices_paid, 0) as invoices_paid,
        coalesce(invoices_daily.invoices_paid_late, 0) as invoices_paid_late,
        invoices_daily.max_payment_delay_days,
        coalesce(receivables_daily.overdue_invoices, 0) as overdue_invoices,
        coalesce(receivables_daily.overdue_amount, 0) as overdue_amount,
        coalesce(receivables_daily.max_days_past_due, 0) as max_days_past_due,
        coalesce(subscriptions_daily.active_subscriptions, 0) as active_subscriptions,
        coalesce(subscriptions_daily.mrr, 0) as mrr,
        subscriptions_daily.next_renewal_date,
        coalesce(tickets_daily.tickets_opened, 0) as tickets_opened,
        coalesce(tickets_daily.severe_tickets_opened, 0) as severe_tickets_opened,
        coalesce(tickets_daily.tickets_solved, 0) as tickets_solved,
        coalesce(open_tickets_daily.open_tickets, 0) as open_tickets,
        coalesce(open_tickets_daily.open_severe_tickets, 0) as open_severe_tickets,
        coalesce(satisfaction_daily.csat_responses, 0) as csat_responses,
        coalesce(satisfaction_daily.nps_responses, 0) as nps_responses,
        prior_last_login.last_login_date as prior_last_login_date,
        prior_last_interaction.last_interaction_date as prior_last_interaction_date,
        prior_last_order.last_order_date as prior_last_order_date,
        prior_last_csat.last_csat_date as prior_last_csat_date,
        prior_last_nps.last_nps_date as prior_last_nps_date
    from customer_days
    left join usage_daily_in_range as usage_daily
        on customer_days.customer_id = usage_daily.customer_id
        and customer_days.date_day = usage_daily.date_day
    left join interactions_daily_in_range as interactions_daily
        on customer_days.customer_id = interactions_daily.customer_id
        and customer_days.date_day = interactions_daily.date_day
    left join orders_daily_in_range as orders_daily
        on customer_days.customer_id = orders_daily.customer_id
        and customer_days.date_day = orders_daily.date_day
    left join invoices_daily
        on customer_days.customer_id = invoices_daily.customer_id
        and customer_days.date_day = invoices_daily.date_day
    left join receivables_daily
        on customer_days.customer_id = receivables_daily.customer_id
        and customer_days.date_day = receivables_daily.date_day
    left join subscriptions_daily
        on customer_days.customer_id = subscriptions_daily.customer_id
        and customer_days.date_day = subscriptions_daily.date_day
    left join tickets_daily
        on customer_days.customer_id = tickets_daily.customer_id
        and customer_days.date_day = tickets_daily.date_day
    left join open_tickets_daily
        on customer_days.customer_id = open_tickets_daily.customer_id
        and customer_days.date_day = open_tickets_daily.date_day
    left join satisfaction_daily_in_range as satisfaction_daily
        on customer_days.customer_id = satisfaction_daily.customer_id
        and customer_days.date_day = satisfaction_daily.date_day
    left join prior_last_login
        on customer_days.customer_id = prior_last_login.customer_id
    left join prior_last_interaction
        on customer_days.customer_id = prior_last_interaction.customer_id
    left join prior_last_order
        on customer_days.customer_id = prior_last_order.customer_id
    left join prior_last_csat
        on customer_days.customer_id = prior_last_csat.customer_id
    left join prior_last_nps
        on customer_days.customer_id = prior_last_nps.customer_id
),

windowed as (
    select
        *,
        {%- for measure, windows in [
            ('logins', [7, 28, 90]),
            ('interactions', [7, 28, 90]),
            ('outbound_interactions', [28, 90]),
            ('outreach_unanswered', [28, 90]),
            ('orders', [7, 28, 90]),
            ('order_amount', [7, 28, 90]),
            ('tickets_opened', [7, 28, 90]),
            ('severe_tickets_opened', [28, 90]),
        ] %}
        {%- for days in windows %}
        {{ trailing_window('sum', measure, days) }} as {{ measure }}_{{ days }}d,
        {%- endfor %}
        {%- endfor %}
        {{ trailing_window('sum', 'case when logins > 0 then 1 else 0 end', 28) }} as login_days_28d,
        {%- for name, condition in [
            ('login', 'logins > 0'),
            ('interaction', 'interactions > 0'),
            ('order', 'orders > 0'),
            ('csat', 'csat_responses > 0'),
            ('nps', 'nps_responses > 0'),
        ] %}
        {{ last_date_where(condition, 'prior_last_' ~ name ~ '_date') }} as last_{{ name }}_date
        {%- if not loop.last %},{% endif %}
        {%- endfor %}
    from joined
),

in_window as (
    select * from windowed
    where date_day >= {{ window.start }}
        and date_day <= {{ window.end }}
),

final as (
    select
        {{ surrogate_key(['in_window.customer_id', 'in_window.date_day']) }} as customer_day_id,
        in_window.customer_id,
        in_window.date_day,
        in_window.churn_definition,
        in_window.spell_number as lifecycle_spell_number,
        case
            when in_window.churn_recognized_date <= in_window.date_day then 'churned'
            when in_window.spell_number > 1 then 'reactivated'
            else 'active'
        end as customer_status,
        coalesce(in_window.churn_recognized_date > in_window.date_day, true) as is_active,
        in_window.churn_definition = 'subscription'
            and in_window.active_subscriptions = 0
            and coalesce(in_window.churn_recognized_date > in_window.date_day, true) as is_in_grace_period,

        -- product usage
        in_window.logins,
        in_window.active_users,
        in_window.logins_7d,
        in_window.logins_28d,
        in_window.logins_90d,
        in_window.login_days_28d,
        in_window.last_login_date,
        {{ days_between('in_window.last_login_date', 'in_window.date_day') }} as days_since_last_login,

        -- engagement
        in_window.interactions,
        in_window.inbound_interactions,
        in_window.outbound_interactions,
        in_window.outreach_unanswered,
        in_window.interactions_7d,
        in_window.interactions_28d,
        in_window.interactions_90d,
        in_window.outbound_interactions_28d,
        in_window.outbound_interactions_90d,
        in_window.outreach_unanswered_28d,
        in_window.outreach_unanswered_90d,
        in_window.last_interaction_date,
        {{ days_between('in_window.last_interaction_date', 'in_window.date_day') }} as days_since_last_interaction,

        -- orders and billing
        in_window.orders,
        in_window.order_amount,
        in_window.orders_7d,
        in_window.orders_28d,
        in_window.orders_90d,
        in_window.order_amount_7d,
        in_window.order_amount_28d,
        in_window.order_amount_90d,
        in_window.last_order_date,
        {{ days_between('in_window.last_order_date', 'in_window.date_day') }} as days_since_last_order,
        in_window.invoices_issued,
        in_window.invoiced_amount,
        in_window.invoices_paid,
        in_window.invoices_paid_late,
        in_window.max_payment_delay_days,
        in_window.overdue_invoices,
        in_window.overdue_amount,
        in_window.max_days_past_due,
        in_window.active_subscriptions,
        in_window.mrr,
        in_window.next_renewal_date,
        {{ days_between('in_window.date_day', 'in_window.next_renewal_date') }} as days_until_renewal,

        -- support and satisfaction
        in_window.tickets_opened,
        in_window.severe_tickets_opened,
        in_window.tickets_solved,
        in_window.open_tickets,
        in_window.open_severe_tickets,
        in_window.tickets_opened_7d,
        in_window.tickets_opened_28d,
        in_window.tickets_opened_90d,
        in_window.severe_tickets_opened_28d,
        in_window.severe_tickets_opened_90d,
        in_window.csat_responses,
        latest_csat.csat_score_avg as latest_csat_score,
        in_window.last_csat_date,
        in_window.nps_responses,
        latest_nps.nps_score_avg as latest_nps_score,
        in_window.last_nps_date
    from in_window
    left join satisfaction_daily as latest_csat
        on in_window.customer_id = latest_csat.customer_id
        and in_window.last_csat_date = latest_csat.date_day
    left join satisfaction_daily as latest_nps
        on in_window.customer_id = latest_nps.customer_id
        and in_window.last_nps_date = latest_nps.date_day
)

select * from final
{{- distribute_by_day() }}
