{#- The warehouse's clock: one row with the first day of behavioural history and the
    "today" (as-of date) every customer-day fact runs up to. Both can be pinned with the
    vars history_start_date / as_of_date; by default they come from the raw data, so a
    sample exported months ago is not shown as "everyone churned since". Events are
    logins, product events, interactions, orders, invoices and tickets. -#}

with logins as (
    select min(logged_in_date) as first_date, max(logged_in_date) as last_date
    from {{ ref('stg_crm__logins') }}
),

interactions as (
    select min(occurred_date) as first_date, max(occurred_date) as last_date
    from {{ ref('stg_crm__interactions') }}
),

orders as (
    select min(ordered_date) as first_date, max(ordered_date) as last_date
    from {{ ref('stg_billing__orders') }}
),

invoices as (
    select min(issued_date) as first_date, max(issued_date) as last_date
    from {{ ref('stg_billing__invoices') }}
),

tickets as (
    select min(created_date) as first_date, max(created_date) as last_date
    from {{ ref('stg_support__tickets') }}
),

product_events as (
    select min(occurred_date) as first_date, max(occurred_date) as last_date
    from {{ ref('stg_crm__product_events') }}
),

event_dates as (
    select * from logins
    union all
    select * from interactions
    union all
    select * from orders
    union all
    select * from invoices
    union all
    select * from tickets
    union all
    select * from product_events
),

final as (
    select
        coalesce(
            {{ date_literal(var('history_start_date')) }},
            min(first_date)
        ) as history_start_date,
        coalesce(
            {{ date_literal(var('as_of_date')) }},
            max(last_date)
        ) as as_of_date
    from event_dates
)

select * from final
