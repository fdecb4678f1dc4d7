{#- One row per CSAT rating (score 1-5).
    Rename and cast only; keeps the most recent sync of each rating_id. -#}

with source as (
    select * from {{ source('support', 'csat_ratings') }}
),

renamed as (
    select
        cast(rating_id as {{ dbt.type_string() }}) as rating_id,
        cast(ticket_id as {{ dbt.type_string() }}) as ticket_id,
        cast(account_id as {{ dbt.type_string() }}) as customer_id,
        cast(score as {{ dbt.type_int() }}) as csat_score,
        cast(rated_at as {{ dbt.type_timestamp() }}) as rated_at,
        cast(rated_at as date) as rated_date,
        cast(comment as {{ dbt.type_string() }}) as comment,
        cast(_synced_at as {{ dbt.type_timestamp() }}) as synced_at
    from source
),

deduplicated as (
    {{ deduplicate('renamed', partition_by='rating_id', order_by='synced_at desc') }}
)

select * from deduplicated
