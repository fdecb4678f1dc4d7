{#- One row per product usage event (any event stream: features used, pages viewed, API
    calls). user_id is the customer's product user, renamed product_user_id.
    Rename and cast only; keeps the most recent sync of each event_id. -#}

with source as (
    select * from {{ source('crm', 'product_events') }}
),

renamed as (
    select
        cast(event_id as {{ dbt.type_string() }}) as event_id,
        cast(account_id as {{ dbt.type_string() }}) as customer_id,
        cast(user_id as {{ dbt.type_string() }}) as product_user_id,
        cast(event_type as {{ dbt.type_string() }}) as event_type,
        cast(occurred_at as {{ dbt.type_timestamp() }}) as occurred_at,
        cast(occurred_at as date) as occurred_date,
        cast(_synced_at as {{ dbt.type_timestamp() }}) as synced_at
    from source
),

deduplicated as (
    {{ deduplicate('renamed', partition_by='event_id', order_by='synced_at desc') }}
)

select * from deduplicated
