{#- Periods in which a customer's problem category repeats: at least min_count tickets
    of the same category within window_days days (rule repeat_ticket_category in
    warning_rules.csv, defaults 3 tickets in 90 days). Each ticket that is the
    min_count-th of its category inside the window opens a period that lasts until the
    earliest of those tickets leaves the window. The union of the periods is exactly
    the days on which the rule holds. -#}

with tickets as (
    select * from {{ ref('stg_support__tickets') }}
),

params as (
    select
        cast({{ rule_param('repeat_ticket_category', 'window_days') }} as {{ dbt.type_int() }}) as window_days,
        cast({{ rule_param('repeat_ticket_category', 'min_count') }} as {{ dbt.type_int() }}) as min_count
),

numbered as (
    select
        customer_id,
        category,
        ticket_id,
        created_date,
        row_number() over (
            partition by customer_id, category
            order by created_at, ticket_id
        ) as category_sequence
    from tickets
),

final as (
    select
        latest.customer_id,
        latest.category,
        latest.ticket_id,
        latest.created_date as active_from_date,
        {{ add_days('earliest.created_date', 'params.window_days - 1') }} as active_to_date
    from numbered as latest
    cross join params
    inner join numbered as earliest
        on latest.customer_id = earliest.customer_id
        and latest.category = earliest.category
        and earliest.category_sequence = latest.category_sequence - (params.min_count - 1)
    where earliest.created_date >= {{ add_days('latest.created_date', '1 - params.window_days') }}
)

select * from final
