{#- Key-contact changes per customer per day: a decision maker leaving (valid_to) or a
    new decision maker arriving (valid_from) after the account's first one. Only days
    with a change; a same-day replacement is two events on one day. -#}

with decision_makers as (
    select * from {{ ref('stg_crm__contacts') }}
    where is_decision_maker
),

first_decision_makers as (
    select
        customer_id,
        min(valid_from) as first_valid_from
    from decision_makers
    group by customer_id
),

events as (
    select
        customer_id,
        cast(valid_to as date) as date_day
    from decision_makers
    where valid_to is not null

    union all

    select
        decision_makers.customer_id,
        cast(decision_makers.valid_from as date) as date_day
    from decision_makers
    inner join first_decision_makers
        on decision_makers.customer_id = first_decision_makers.customer_id
    where decision_makers.valid_from > first_decision_makers.first_valid_from
),

final as (
    select
        customer_id,
        date_day,
        count(*) as key_contact_events
    from events
    group by customer_id, date_day
)

select * from final
