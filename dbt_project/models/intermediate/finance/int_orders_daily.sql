{#- Completed orders per customer per day (refunded and canceled orders excluded). -#}

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
