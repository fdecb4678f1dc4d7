{#- Overdue receivables per customer per day: invoices past their due date and not yet
    paid at the end of that day. Only days with something overdue. -#}

with invoice_payments as (
    select * from {{ ref('int_invoice_payments') }}
),

calendar as (
    select date_day from {{ ref('util_calendar') }}
),

overdue_invoice_days as (
    select
        invoice_payments.customer_id,
        calendar.date_day,
        invoice_payments.amount_due - invoice_payments.amount_paid as amount_outstanding,
        {{ days_between('invoice_payments.due_date', 'calendar.date_day') }} as days_past_due
    from invoice_payments
    inner join calendar
        on calendar.date_day > invoice_payments.due_date
        and (invoice_payments.paid_date is null or calendar.date_day < invoice_payments.paid_date)
),

final as (
    select
        customer_id,
        date_day,
        count(*) as overdue_invoices,
        sum(amount_outstanding) as overdue_amount,
        max(days_past_due) as max_days_past_due
    from overdue_invoice_days
    group by customer_id, date_day
)

select * from final
