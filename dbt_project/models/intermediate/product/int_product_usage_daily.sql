{#- Product usage per customer per day (only days with usage), from logins and from the
    generic product event stream (crm.product_events), so usage can come from whichever
    the product records. A product user with events but no login that day counts as one
    session (logins), the same as a login would; active_users counts the distinct users
    seen in either. Without product events the figures are the logins'.

    A table, not a view, on every engine: the lifecycle spells, the customer-day facts
    (every day, for the carried last-login date) and seven data tests read it; as a view
    each of them de-duplicated and aggregated every raw login again (docs/SCALING.md, "Daily
    aggregates as tables"). -#}

{{ config(materialized='table') }}

with logins as (
    select * from {{ ref('stg_crm__logins') }}
),

events as (
    select * from {{ ref('stg_crm__product_events') }}
),

login_user_days as (
    select
        customer_id,
        logged_in_date as date_day,
        product_user_id,
        count(*) as logins,
        sum(session_seconds) as session_seconds
    from logins
    group by customer_id, logged_in_date, product_user_id
),

event_user_days as (
    select
        customer_id,
        occurred_date as date_day,
        -- events without a user count as one anonymous user of the account
        coalesce(product_user_id, '(account)') as product_user_id,
        count(*) as product_events
    from events
    group by customer_id, occurred_date, coalesce(product_user_id, '(account)')
),

user_days as (
    select
        coalesce(login_user_days.customer_id, event_user_days.customer_id) as customer_id,
        coalesce(login_user_days.date_day, event_user_days.date_day) as date_day,
        coalesce(login_user_days.product_user_id, event_user_days.product_user_id) as product_user_id,
        coalesce(login_user_days.logins, 1) as logins,
        login_user_days.session_seconds,
        coalesce(event_user_days.product_events, 0) as product_events
    from login_user_days
    full outer join event_user_days
        on login_user_days.customer_id = event_user_days.customer_id
        and login_user_days.date_day = event_user_days.date_day
        and login_user_days.product_user_id = event_user_days.product_user_id
),

final as (
    select
        customer_id,
        date_day,
        sum(logins) as logins,
        count(distinct product_user_id) as active_users,
        sum(session_seconds) as session_seconds,
        sum(product_events) as product_events
    from user_days
    group by customer_id, date_day
)

select * from final
