{#- One row per invoice.
    Rename and cast only; keeps the most recent sync of each invoice_id. -#}

with source as (
    select * from {{ source('billing', 'invoices') }}
),

renamed as (
    select
        cast(invoice_id as {{ dbt.type_string() }}) as invoice_id,
        cast(account_id as {{ dbt.type_string() }}) as customer_id,
        cast(subscription_id as {{ dbt.type_string() }}) as subscription_id,
        cast(amount_due as {{ dbt.type_numeric() }}) as amount_due,
        cast(currency as {{ dbt.type_string() }}) as currency,
        cast(status as {{ dbt.type_string() }}) as invoice_status,
        cast(issued_at as {{ dbt.type_timestamp() }}) as issued_at,
        cast(issued_at as date) as issued_date,
        cast(due_at as {{ dbt.type_timestamp() }}) as due_at,
        cast(due_at as date) as due_date,
        cast(_synced_at as {{ dbt.type_timestamp() }}) as synced_at
    from source
),

deduplicated as (
    {{ deduplicate('renamed', partition_by='invoice_id', order_by='synced_at desc') }}
)

select * from deduplicated
