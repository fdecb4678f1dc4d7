{#- Purchases per customer for RFM (recency, frequency, monetary) scoring, as of the warehouse's
    as-of date: completed orders and subscription invoices (recurring billing, void
    ones excluded; one-off invoices are not counted again because they bill orders),
    within the trailing 365 days. Recency is the days since the latest purchase ever. -#}

with orders as (
    select * from {{ ref('stg_billing__orders') }}
    where order_status = 'completed'
),

invoices as (
    select * from {{ ref('stg_billing__invoices') }}
    where subscription_id is not null
        and invoice_status != 'void'
),

bounds as (
    select * from {{ ref('util_date_bounds') }}
),

purchases as (
    select customer_id, ordered_date as purchase_date, amount
    from orders

    union all

    select customer_id, issued_date as purchase_date, amount_due as amount
    from invoices
),

final as (
    select
        purchases.customer_id,
        max(purchases.purchase_date) as last_purchase_date,
        {{ days_between('max(purchases.purchase_date)', 'max(bounds.as_of_date)') }} as days_since_last_purchase,
        sum(case when purchases.purchase_date > {{ add_days('bounds.as_of_date', -365) }} then 1 else 0 end)
            as purchases_365d,
        sum(case when purchases.purchase_date > {{ add_days('bounds.as_of_date', -365) }} then purchases.amount else 0 end)
            as purchase_amount_365d
    from purchases
    cross join bounds
    where purchases.purchase_date <= bounds.as_of_date
    group by purchases.customer_id
)

select * from final
