{#- Overdue receivables per customer per day: invoices past their due date and not yet
    paid at the end of that day, with what was still outstanding then (amount due less
    the payments made by that day: no look-ahead). Only days with something overdue.

    A table, not a view, on every engine: its data tests and the customer-day facts read it;
    as a view each re-ran the overdue-day expansion and its payment sums (its rows are the
    overdue invoice-days only, a small table) (docs/SCALING.md, "Daily aggregates as
    tables"). -#}

{{ config(materialized='table') }}

with invoice_payments as (
    select * from {{ ref('int_invoice_payments') }}
),

payments as (
    select * from {{ ref('stg_billing__payments') }}
    where payment_status = 'succeeded'
),

calendar as (
    select date_day from {{ ref('util_calendar') }}
),

overdue_invoice_days as (
    select
        invoice_payments.invoice_id,
        invoice_payments.customer_id,
        calendar.date_day,
        invoice_payments.amount_due,
        {{ days_between('invoice_payments.due_date', 'calendar.date_day') }} as days_past_due
    from invoice_payments
    inner join calendar
        on calendar.date_day > invoice_payments.due_date
        and (invoice_payments.paid_date is null or calendar.date_day < invoice_payments.paid_date)
),

outstanding as (
    select
        overdue_invoice_days.customer_id,
        overdue_invoice_days.date_day,
        overdue_invoice_days.days_past_due,
        overdue_invoice_days.amount_due - coalesce(sum(payments.amount), 0) as amount_outstanding
    from overdue_invoice_days
    left join payments
        on overdue_invoice_days.invoice_id = payments.invoice_id
        and payments.paid_date <= overdue_invoice_days.date_day
    group by
        overdue_invoice_days.invoice_id,
        overdue_invoice_days.customer_id,
        overdue_invoice_days.date_day,
        overdue_invoice_days.days_past_due,
        overdue_invoice_days.amount_due
),

final as (
    select
        customer_id,
        date_day,
        count(*) as overdue_invoices,
        sum(amount_outstanding) as overdue_amount,
        max(days_past_due) as max_days_past_due
    from outstanding
    group by customer_id, date_day
)

select * from final
