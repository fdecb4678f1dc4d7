{#- One row per interaction (email, call, meeting, chat) with a customer.
    Rename and cast only; keeps the most recent sync of each interaction_id. -#}

with source as (
    select * from {{ source('crm', 'interactions') }}
),

renamed as (
    select
        cast(interaction_id as {{ dbt.type_string() }}) as interaction_id,
        cast(account_id as {{ dbt.type_string() }}) as customer_id,
        cast(contact_id as {{ dbt.type_string() }}) as contact_id,
        cast(user_id as {{ dbt.type_string() }}) as user_id,
        cast(channel as {{ dbt.type_string() }}) as channel,
        cast(direction as {{ dbt.type_string() }}) as direction,
        cast(occurred_at as {{ dbt.type_timestamp() }}) as occurred_at,
        cast(occurred_at as date) as occurred_date,
        cast(is_answered as {{ dbt.type_boolean() }}) as is_answered,
        cast(answered_at as {{ dbt.type_timestamp() }}) as answered_at,
        cast(_synced_at as {{ dbt.type_timestamp() }}) as synced_at
    from source
),

deduplicated as (
    {{ deduplicate('renamed', partition_by='interaction_id', order_by='synced_at desc') }}
)

select * from deduplicated
