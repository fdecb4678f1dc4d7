{#- One row per payment attempt.
    Rename and cast only; keeps the most recent sync of each payment_id. -#}

with source as (
    select * from {{ source('billing', 'payments') }}
),

renamed as (
    select
        cast(payment_id as {{ dbt.type_string() }}) as payment_id,
        cast(invoice_id as {{ dbt.type_string() }}) as invoice_id,
        cast(account_id as {{ dbt.type_string() }}) as customer_id,
        cast(amount as {{ dbt.type_numeric() }}) as amount,
        cast(currency as {{ dbt.type_string() }}) as currency,
        cast(status as {{ dbt.type_string() }}) as payment_status,
        cast(paid_at as {{ dbt.type_timestamp() }}) as paid_at,
        cast(paid_at as date) as paid_date,
        cast(_synced_at as {{ dbt.type_timestamp() }}) as synced_at
    from source
),

deduplicated as (
    {{ deduplicate('renamed', partition_by='payment_id', order_by='synced_at desc') }}
)

select * from deduplicated
