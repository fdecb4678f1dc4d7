{#- One row per invoice with how and when it was paid. An invoice counts as paid on
    the day its succeeded payments first cover the amount due; payment delay is the
    days from due date to that day (negative = early). Void invoices are excluded.

    A table, not a view, on every engine: int_invoices_daily, int_receivables_daily and
    eight data tests read it; as a view each re-ran the running payment sums over every
    payment (docs/SCALING.md, "Daily aggregates as tables"). -#}

{{ config(materialized='table') }}

with invoices as (
    select * from {{ ref('stg_billing__invoices') }}
),

payments as (
    select * from {{ ref('stg_billing__payments') }}
    where payment_status = 'succeeded'
),

payments_running as (
    select
        invoice_id,
        paid_date,
        sum(amount) over (
            partition by invoice_id
            order by paid_at, payment_id
            rows between unbounded preceding and current row
        ) as amount_paid_to_date
    from payments
),

invoice_paid as (
    select
        invoices.invoice_id,
        min(case when payments_running.amount_paid_to_date >= invoices.amount_due
            then payments_running.paid_date end) as paid_date,
        max(payments_running.amount_paid_to_date) as amount_paid
    from invoices
    left join payments_running
        on invoices.invoice_id = payments_running.invoice_id
    group by invoices.invoice_id
),

final as (
    select
        invoices.invoice_id,
        invoices.customer_id,
        invoices.subscription_id,
        invoices.amount_due,
        coalesce(invoice_paid.amount_paid, 0) as amount_paid,
        invoices.issued_date,
        invoices.due_date,
        invoice_paid.paid_date,
        invoice_paid.paid_date is not null as is_paid,
        case
            when invoice_paid.paid_date is not null
                then {{ days_between('invoices.due_date', 'invoice_paid.paid_date') }}
        end as payment_delay_days
    from invoices
    inner join invoice_paid
        on invoices.invoice_id = invoice_paid.invoice_id
    where invoices.invoice_status != 'void'
)

select * from final
