{#- One row per contact role at a customer (valid_from / valid_to).
    Rename and cast only; keeps the most recent sync of each contact_id. -#}

with source as (
    select * from {{ source('crm', 'contacts') }}
),

renamed as (
    select
        cast(contact_id as {{ dbt.type_string() }}) as contact_id,
        cast(account_id as {{ dbt.type_string() }}) as customer_id,
        cast(full_name as {{ dbt.type_string() }}) as full_name,
        cast(email as {{ dbt.type_string() }}) as email,
        cast(title as {{ dbt.type_string() }}) as title,
        cast(is_decision_maker as {{ dbt.type_boolean() }}) as is_decision_maker,
        cast(valid_from as {{ dbt.type_timestamp() }}) as valid_from,
        cast(valid_to as {{ dbt.type_timestamp() }}) as valid_to,
        cast(_synced_at as {{ dbt.type_timestamp() }}) as synced_at
    from source
),

deduplicated as (
    {{ deduplicate('renamed', partition_by='contact_id', order_by='synced_at desc') }}
)

select * from deduplicated
