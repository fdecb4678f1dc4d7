{#- Completed orders per customer per day (refunded and canceled orders excluded).

    A table, not a view, on every engine: the lifecycle spells and the customer-day facts
    read every day of it (last order), and its data tests; as a view each re-aggregated the
    raw orders (docs/SCALING.md, "Daily aggregates as tables"). -#}

{{ config(materialized='table') }}

with orders as (
    select * from {{ ref('stg_billing__orders') }}
),

final as (
    select
        customer_id,
        ordered_date as date_day,
        count(*) as orders,
        sum(amount) as order_amount
    from orders
    where order_status = 'completed'
    group by customer_id, ordered_date
)

select * from final
