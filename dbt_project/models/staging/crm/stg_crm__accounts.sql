{#- One row per customer account. account_id is renamed customer_id, owner_user_id
    account_manager_id. Keeps the most recent sync of each customer_id.

    Rename and cast, plus the contract's defaults for what an export may leave out, so
    that every model downstream reads one answer:
    - account_name: the customer id; segment: 'unassigned';
    - business_model: when the account does not record one, it is inferred from the
      data (subscriptions -> subscription, else orders -> order, else logins or product
      events -> activity), else the dbt var churn_definition; business_model_source
      says which (recorded, inferred, default) and the run summary reports it. -#}

with source as (
    select * from {{ source('crm', 'accounts') }}
),

with_subscriptions as (
    select distinct account_id from {{ source('billing', 'subscriptions') }}
),

with_orders as (
    select distinct account_id from {{ source('billing', 'orders') }}
),

with_usage as (
    select account_id from {{ source('crm', 'logins') }}
    union
    select account_id from {{ source('crm', 'product_events') }}
),

renamed as (
    select
        cast(source.account_id as {{ dbt.type_string() }}) as customer_id,
        cast(coalesce(source.account_name, source.account_id) as {{ dbt.type_string() }}) as customer_name,
        cast(coalesce(source.segment, 'unassigned') as {{ dbt.type_string() }}) as segment,
        cast(source.industry as {{ dbt.type_string() }}) as industry,
        cast(source.region as {{ dbt.type_string() }}) as region,
        cast(source.owner_user_id as {{ dbt.type_string() }}) as account_manager_id,
        cast(source.csm_user_id as {{ dbt.type_string() }}) as csm_user_id,
        cast(coalesce(
            source.business_model,
            case
                when with_subscriptions.account_id is not null then 'subscription'
                when with_orders.account_id is not null then 'order'
                when exists (select 1 from with_usage where with_usage.account_id = source.account_id) then 'activity'
            end,
            '{{ var("churn_definition") }}'
        ) as {{ dbt.type_string() }}) as business_model,
        cast(case
            when source.business_model is not null then 'recorded'
            when with_subscriptions.account_id is not null or with_orders.account_id is not null
                or exists (select 1 from with_usage where with_usage.account_id = source.account_id)
                then 'inferred'
            else 'default'
        end as {{ dbt.type_string() }}) as business_model_source,
        cast(source.created_at as {{ dbt.type_timestamp() }}) as created_at,
        cast(source.created_at as date) as created_date,
        cast(source.updated_at as {{ dbt.type_timestamp() }}) as updated_at,
        cast(source._synced_at as {{ dbt.type_timestamp() }}) as synced_at
    from source
    left join with_subscriptions
        on source.account_id = with_subscriptions.account_id
    left join with_orders
        on source.account_id = with_orders.account_id
),

deduplicated as (
    {{ deduplicate('renamed', partition_by='customer_id', order_by='synced_at desc') }}
)

select * from deduplicated
