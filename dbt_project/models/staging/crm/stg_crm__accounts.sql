{#- One row per customer account. account_id is renamed customer_id, owner_user_id
    account_manager_id.
    Rename and cast only; keeps the most recent sync of each customer_id. -#}

with source as (
    select * from {{ source('crm', 'accounts') }}
),

renamed as (
    select
        cast(account_id as {{ dbt.type_string() }}) as customer_id,
        cast(account_name as {{ dbt.type_string() }}) as customer_name,
        cast(segment as {{ dbt.type_string() }}) as segment,
        cast(industry as {{ dbt.type_string() }}) as industry,
        cast(region as {{ dbt.type_string() }}) as region,
        cast(owner_user_id as {{ dbt.type_string() }}) as account_manager_id,
        cast(csm_user_id as {{ dbt.type_string() }}) as csm_user_id,
        cast(business_model as {{ dbt.type_string() }}) as business_model,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(created_at as date) as created_date,
        cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at,
        cast(_synced_at as {{ dbt.type_timestamp() }}) as synced_at
    from source
),

deduplicated as (
    {{ deduplicate('renamed', partition_by='customer_id', order_by='synced_at desc') }}
)

select * from deduplicated
