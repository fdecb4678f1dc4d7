{#- Retention playbooks with the save success rate and cost used for retention ROI
    (CLV x save success rate - retention cost): the rate and average cost observed in the customer's own
    interventions once a playbook has at least min_decided_interventions decided
    outcomes (saved, churned or no_response; pending ones are not decided yet),
    otherwise the defaults of retention_playbooks.csv. -#}

with playbooks as (
    select * from {{ ref('retention_playbooks') }}
),

interventions as (
    select * from {{ ref('stg_crm__interventions') }}
),

params as (
    select {{ health_param('min_decided_interventions') }} as min_decided_interventions
),

observed as (
    select
        playbook,
        sum(case when outcome in ('saved', 'churned', 'no_response') then 1 else 0 end) as decided_interventions,
        sum(case when outcome = 'saved' then 1 else 0 end) as saved_interventions,
        avg(cost) as observed_average_cost
    from interventions
    group by playbook
),

final as (
    select
        playbooks.playbook,
        playbooks.description,
        coalesce(observed.decided_interventions, 0) as decided_interventions,
        coalesce(observed.saved_interventions, 0) as saved_interventions,
        {{ safe_ratio('observed.saved_interventions', 'observed.decided_interventions') }} as observed_save_rate,
        observed.observed_average_cost,
        playbooks.default_save_rate,
        playbooks.default_cost,
        coalesce(observed.decided_interventions, 0) >= params.min_decided_interventions as uses_observed_rates,
        cast(
            case
                when coalesce(observed.decided_interventions, 0) >= params.min_decided_interventions
                    then {{ safe_ratio('observed.saved_interventions', 'observed.decided_interventions') }}
                else playbooks.default_save_rate
            end as {{ dbt.type_numeric() }}
        ) as save_success_rate,
        cast(
            case
                when coalesce(observed.decided_interventions, 0) >= params.min_decided_interventions
                    then observed.observed_average_cost
                else playbooks.default_cost
            end as {{ dbt.type_numeric() }}
        ) as retention_cost
    from playbooks
    cross join params
    left join observed
        on playbooks.playbook = observed.playbook
)

select * from final
