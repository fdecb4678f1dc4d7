{#- One row per CRM user (vendor side: account managers, CSMs, sales leads).
    Rename and cast only; keeps the most recent sync of each user_id. -#}

with source as (
    select * from {{ source('crm', 'users') }}
),

renamed as (
    select
        cast(user_id as {{ dbt.type_string() }}) as user_id,
        cast(full_name as {{ dbt.type_string() }}) as full_name,
        cast(email as {{ dbt.type_string() }}) as email,
        cast(role as {{ dbt.type_string() }}) as user_role,
        cast(manager_user_id as {{ dbt.type_string() }}) as manager_user_id,
        cast(is_active as {{ dbt.type_boolean() }}) as is_active,
        cast(_synced_at as {{ dbt.type_timestamp() }}) as synced_at
    from source
),

deduplicated as (
    {{ deduplicate('renamed', partition_by='user_id', order_by='synced_at desc') }}
)

select * from deduplicated
