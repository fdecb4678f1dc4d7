{#- Subscription state per customer per day: MRR in force, subscriptions running and
    the next contract renewal date. A subscription covers days from its start date up
    to, not including, its end date. Only days with a running subscription.

    A view (the intermediate default), unlike the other daily aggregates: the customer-day
    facts and the health scores read only their build window of it, a filter that reaches
    the day expansion, and its tests are cheap; as a table it would store every
    subscription-day of the history (in a subscription business the largest of the daily
    aggregates) and rebuild all of it every night (docs/SCALING.md, "Daily aggregates as tables"). -#}

with subscriptions as (
    select * from {{ ref('stg_billing__subscriptions') }}
),

calendar as (
    select date_day from {{ ref('util_calendar') }}
),

subscription_days as (
    select
        subscriptions.customer_id,
        calendar.date_day,
        subscriptions.mrr,
        case
            when subscriptions.renewal_date >= calendar.date_day then subscriptions.renewal_date
        end as upcoming_renewal_date
    from subscriptions
    inner join calendar
        on calendar.date_day >= subscriptions.start_date
        and (subscriptions.end_date is null or calendar.date_day < subscriptions.end_date)
),

final as (
    select
        customer_id,
        date_day,
        count(*) as active_subscriptions,
        sum(mrr) as mrr,
        min(upcoming_renewal_date) as next_renewal_date
    from subscription_days
    group by customer_id, date_day
)

select * from final
