{#- Tickets open at the end of each day per customer (created on or before the day,
    not solved by its end), and how many of those are severe. Only days with any.

    A view (the intermediate default): the customer-day facts read only their build window
    of it, a filter that reaches the day expansion, and its tests are cheap; a table would
    store every open ticket-day and rebuild the whole history every night for no measurable
    saving (docs/SCALING.md, "Daily aggregates as tables"). -#}

with tickets as (
    select * from {{ ref('stg_support__tickets') }}
),

calendar as (
    select date_day from {{ ref('util_calendar') }}
),

open_ticket_days as (
    select
        tickets.customer_id,
        calendar.date_day,
        tickets.priority
    from tickets
    inner join calendar
        on calendar.date_day >= tickets.created_date
        and (tickets.solved_date is null or calendar.date_day < tickets.solved_date)
),

final as (
    select
        customer_id,
        date_day,
        count(*) as open_tickets,
        sum(case when priority in ('{{ var("severe_ticket_priorities") | join("', '") }}') then 1 else 0 end)
            as open_severe_tickets
    from open_ticket_days
    group by customer_id, date_day
)

select * from final
