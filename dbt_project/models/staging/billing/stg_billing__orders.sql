{#- One row per order.
    Rename and cast; a missing status means completed (a purchase log lists purchases).
    Keeps the most recent sync of each order_id. -#}

with source as (
    select * from {{ source('billing', 'orders') }}
),

renamed as (
    select
        cast(order_id as {{ dbt.type_string() }}) as order_id,
        cast(account_id as {{ dbt.type_string() }}) as customer_id,
        cast(ordered_at as {{ dbt.type_timestamp() }}) as ordered_at,
        cast(ordered_at as date) as ordered_date,
        cast(amount as {{ dbt.type_numeric() }}) as amount,
        cast(currency as {{ dbt.type_string() }}) as currency,
        cast(coalesce(status, 'completed') as {{ dbt.type_string() }}) as order_status,
        cast(_synced_at as {{ dbt.type_timestamp() }}) as synced_at
    from source
),

deduplicated as (
    {{ deduplicate('renamed', partition_by='order_id', order_by='synced_at desc') }}
)

select * from deduplicated
