{#- One row per support ticket (state at export time).
    Rename and cast only; keeps the most recent sync of each ticket_id. -#}

with source as (
    select * from {{ source('support', 'tickets') }}
),

renamed as (
    select
        cast(ticket_id as {{ dbt.type_string() }}) as ticket_id,
        cast(account_id as {{ dbt.type_string() }}) as customer_id,
        cast(requester_contact_id as {{ dbt.type_string() }}) as requester_contact_id,
        cast(subject as {{ dbt.type_string() }}) as subject,
        cast(category as {{ dbt.type_string() }}) as category,
        cast(priority as {{ dbt.type_string() }}) as priority,
        cast(status as {{ dbt.type_string() }}) as ticket_status,
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(created_at as date) as created_date,
        cast(solved_at as {{ dbt.type_timestamp() }}) as solved_at,
        cast(solved_at as date) as solved_date,
        cast(reopen_count as {{ dbt.type_int() }}) as reopen_count,
        cast(_synced_at as {{ dbt.type_timestamp() }}) as synced_at
    from source
),

deduplicated as (
    {{ deduplicate('renamed', partition_by='ticket_id', order_by='synced_at desc') }}
)

select * from deduplicated
