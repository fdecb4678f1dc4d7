{#- Invoice events per customer per day: invoices issued, and invoices settled with
    their payment delay (days after the due date). Only days with an event.

    A table, not a view, on every engine: the customer-day facts and its data tests read it;
    as a view each re-ran the invoice payment matching (docs/SCALING.md, "Daily aggregates
    as tables"). -#}

{{ config(materialized='table') }}

with invoice_payments as (
    select * from {{ ref('int_invoice_payments') }}
),

issued as (
    select
        customer_id,
        issued_date as date_day,
        count(*) as invoices_issued,
        sum(amount_due) as invoiced_amount
    from invoice_payments
    group by customer_id, issued_date
),

paid as (
    select
        customer_id,
        paid_date as date_day,
        count(*) as invoices_paid,
        sum(case when payment_delay_days > 0 then 1 else 0 end) as invoices_paid_late,
        max(payment_delay_days) as max_payment_delay_days
    from invoice_payments
    where paid_date is not null
    group by customer_id, paid_date
),

final as (
    select
        coalesce(issued.customer_id, paid.customer_id) as customer_id,
        coalesce(issued.date_day, paid.date_day) as date_day,
        coalesce(issued.invoices_issued, 0) as invoices_issued,
        coalesce(issued.invoiced_amount, 0) as invoiced_amount,
        coalesce(paid.invoices_paid, 0) as invoices_paid,
        coalesce(paid.invoices_paid_late, 0) as invoices_paid_late,
        paid.max_payment_delay_days
    from issued
    full outer join paid
        on issued.customer_id = paid.customer_id
        and issued.date_day = paid.date_day
)

select * from final
