{#- Support ticket events per customer per day: opened (and how many severe) and solved.
    Severe = priority in var severe_ticket_priorities (default high, urgent).

    A view (the intermediate default): the customer-day facts read only their build window
    of it and its tests are cheap; a table would rebuild the whole history every night for
    no measurable saving (docs/SCALING.md, "Daily aggregates as tables"). -#}

with tickets as (
    select * from {{ ref('stg_support__tickets') }}
),

opened as (
    select
        customer_id,
        created_date as date_day,
        count(*) as tickets_opened,
        sum(case when priority in ('{{ var("severe_ticket_priorities") | join("', '") }}') then 1 else 0 end)
            as severe_tickets_opened
    from tickets
    group by customer_id, created_date
),

solved as (
    select
        customer_id,
        solved_date as date_day,
        count(*) as tickets_solved,
        sum({{ dbt.datediff('created_at', 'solved_at', 'hour') }}) as resolution_hours
    from tickets
    where solved_date is not null
    group by customer_id, solved_date
),

final as (
    select
        coalesce(opened.customer_id, solved.customer_id) as customer_id,
        coalesce(opened.date_day, solved.date_day) as date_day,
        coalesce(opened.tickets_opened, 0) as tickets_opened,
        coalesce(opened.severe_tickets_opened, 0) as severe_tickets_opened,
        coalesce(solved.tickets_solved, 0) as tickets_solved,
        solved.resolution_hours
    from opened
    full outer join solved
        on opened.customer_id = solved.customer_id
        and opened.date_day = solved.date_day
)

select * from final
