{#- One row per subscription. start_date is the first day of service; end_date is
    the first day without service (exclusive), null while the subscription runs.
    billing_interval_count (periods per invoice) is 1 when the export has none.
    Rename and cast only; keeps the most recent sync of each subscription_id. -#}

with source as (
    select * from {{ source('billing', 'subscriptions') }}
),

renamed as (
    select
        cast(subscription_id as {{ dbt.type_string() }}) as subscription_id,
        cast(account_id as {{ dbt.type_string() }}) as customer_id,
        cast(plan_name as {{ dbt.type_string() }}) as plan_name,
        cast(status as {{ dbt.type_string() }}) as subscription_status,
        cast(billing_interval as {{ dbt.type_string() }}) as billing_interval,
        cast(coalesce(billing_interval_count, 1) as {{ dbt.type_int() }}) as billing_interval_count,
        cast(mrr as {{ dbt.type_numeric() }}) as mrr,
        cast(currency as {{ dbt.type_string() }}) as currency,
        cast(started_at as {{ dbt.type_timestamp() }}) as started_at,
        cast(ended_at as {{ dbt.type_timestamp() }}) as ended_at,
        cast(started_at as date) as start_date,
        cast(ended_at as date) as end_date,
        cast(renewal_date as date) as renewal_date,
        cast(canceled_at as {{ dbt.type_timestamp() }}) as canceled_at,
        cast(_synced_at as {{ dbt.type_timestamp() }}) as synced_at
    from source
),

deduplicated as (
    {{ deduplicate('renamed', partition_by='subscription_id', order_by='synced_at desc') }}
)

select * from deduplicated
