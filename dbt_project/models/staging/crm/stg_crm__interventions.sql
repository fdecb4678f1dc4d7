{#- One row per retention intervention.
    Rename and cast only; keeps the most recent sync of each intervention_id. -#}

with source as (
    select * from {{ source('crm', 'interventions') }}
),

renamed as (
    select
        cast(intervention_id as {{ dbt.type_string() }}) as intervention_id,
        cast(account_id as {{ dbt.type_string() }}) as customer_id,
        cast(alert_id as {{ dbt.type_string() }}) as alert_id,
        cast(user_id as {{ dbt.type_string() }}) as user_id,
        cast(playbook as {{ dbt.type_string() }}) as playbook,
        cast(channel as {{ dbt.type_string() }}) as channel,
        cast(opened_at as {{ dbt.type_timestamp() }}) as opened_at,
        cast(opened_at as date) as opened_date,
        cast(first_contact_at as {{ dbt.type_timestamp() }}) as first_contact_at,
        cast(interview_at as {{ dbt.type_timestamp() }}) as interview_at,
        cast(solution_at as {{ dbt.type_timestamp() }}) as solution_at,
        cast(cost as {{ dbt.type_numeric() }}) as cost,
        cast(currency as {{ dbt.type_string() }}) as currency,
        cast(outcome as {{ dbt.type_string() }}) as outcome,
        cast(outcome_at as {{ dbt.type_timestamp() }}) as outcome_at,
        cast(churn_reason as {{ dbt.type_string() }}) as churn_reason,
        cast(_synced_at as {{ dbt.type_timestamp() }}) as synced_at
    from source
),

deduplicated as (
    {{ deduplicate('renamed', partition_by='intervention_id', order_by='synced_at desc') }}
)

select * from deduplicated
