{#- One row per product login. user_id is the customer's product user, renamed
    product_user_id so that it is not confused with a CRM user.
    Rename and cast only; keeps the most recent sync of each login_id. -#}

with source as (
    select * from {{ source('crm', 'logins') }}
),

renamed as (
    select
        cast(login_id as {{ dbt.type_string() }}) as login_id,
        cast(account_id as {{ dbt.type_string() }}) as customer_id,
        cast(user_id as {{ dbt.type_string() }}) as product_user_id,
        cast(logged_in_at as {{ dbt.type_timestamp() }}) as logged_in_at,
        cast(logged_in_at as date) as logged_in_date,
        cast(session_seconds as {{ dbt.type_int() }}) as session_seconds,
        cast(_synced_at as {{ dbt.type_timestamp() }}) as synced_at
    from source
),

deduplicated as (
    {{ deduplicate('renamed', partition_by='login_id', order_by='synced_at desc') }}
)

select * from deduplicated
