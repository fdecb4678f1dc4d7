{#- One row per NPS survey response (score 0-10).
    Rename and cast only; keeps the most recent sync of each response_id. -#}

with source as (
    select * from {{ source('support', 'nps_responses') }}
),

renamed as (
    select
        cast(response_id as {{ dbt.type_string() }}) as response_id,
        cast(account_id as {{ dbt.type_string() }}) as customer_id,
        cast(contact_id as {{ dbt.type_string() }}) as contact_id,
        cast(score as {{ dbt.type_int() }}) as nps_score,
        cast(responded_at as {{ dbt.type_timestamp() }}) as responded_at,
        cast(responded_at as date) as responded_date,
        cast(comment as {{ dbt.type_string() }}) as comment,
        cast(_synced_at as {{ dbt.type_timestamp() }}) as synced_at
    from source
),

deduplicated as (
    {{ deduplicate('renamed', partition_by='response_id', order_by='synced_at desc') }}
)

select * from deduplicated
