{#- Save rate per retention playbook actually applied (an A/B comparison of playbooks)
    and per value x risk cell, over alert episodes whose outcome is known, with a 95%
    Wilson interval and a two-proportion z-test against all other groups of the same
    comparison. Groups or comparisons with fewer than kpi_min_sample_for_comparison
    known outcomes are flagged as too small to conclude. -#}

with outcomes as (
    select * from {{ ref('kpi_alert_outcomes') }}
),

by_group as (
    select 'applied_playbook' as comparison, applied_playbook as group_value, save_outcome from outcomes
    union all
    select 'value_risk_cell' as comparison, value_risk_cell as group_value, save_outcome from outcomes
),

group_counts as (
    select
        comparison,
        group_value,
        count(*) as episodes,
        sum(case when save_outcome = 'saved' then 1 else 0 end) as saved_episodes,
        sum(case when save_outcome = 'churned' then 1 else 0 end) as lost_episodes,
        sum(case when save_outcome = 'pending' then 1 else 0 end) as pending_episodes
    from by_group
    group by comparison, group_value
),

comparison_totals as (
    select
        comparison,
        sum(saved_episodes) as total_saved,
        sum(saved_episodes + lost_episodes) as total_decided
    from group_counts
    group by comparison
),

with_rest as (
    select
        group_counts.*,
        group_counts.saved_episodes + group_counts.lost_episodes as decided_episodes,
        comparison_totals.total_saved - group_counts.saved_episodes as rest_saved,
        comparison_totals.total_decided - group_counts.saved_episodes - group_counts.lost_episodes as rest_decided,
        comparison_totals.total_saved,
        comparison_totals.total_decided
    from group_counts
    inner join comparison_totals
        on group_counts.comparison = comparison_totals.comparison
),

tested as (
    select
        *,
        cast(saved_episodes as {{ type_double() }}) / nullif(decided_episodes, 0) as save_rate,
        cast(rest_saved as {{ type_double() }}) / nullif(rest_decided, 0) as rest_save_rate,
        cast(total_saved as {{ type_double() }}) / nullif(total_decided, 0) as pooled_save_rate
    from with_rest
),

final as (
    select
        {{ surrogate_key(['comparison', 'group_value']) }} as playbook_outcome_id,
        comparison,
        group_value,
        cast(episodes as {{ dbt.type_bigint() }}) as episodes,
        cast(decided_episodes as {{ dbt.type_bigint() }}) as decided_episodes,
        cast(saved_episodes as {{ dbt.type_bigint() }}) as saved_episodes,
        cast(lost_episodes as {{ dbt.type_bigint() }}) as lost_episodes,
        cast(pending_episodes as {{ dbt.type_bigint() }}) as pending_episodes,
        cast(save_rate as {{ type_double() }}) as save_rate,
        {{ wilson_bound('saved_episodes', 'decided_episodes', 'lower') }} as save_rate_ci_lower,
        {{ wilson_bound('saved_episodes', 'decided_episodes', 'upper') }} as save_rate_ci_upper,
        rest_save_rate,
        (save_rate - rest_save_rate) / nullif(sqrt(
            pooled_save_rate * (1 - pooled_save_rate)
            * (1.0 / nullif(decided_episodes, 0) + 1.0 / nullif(rest_decided, 0))
        ), 0) as z_vs_rest,
        decided_episodes >= {{ var('kpi_min_sample_for_comparison') }}
            and rest_decided >= {{ var('kpi_min_sample_for_comparison') }} as is_sample_sufficient
    from tested
),

concluded as (
    select
        *,
        case
            when not is_sample_sufficient then 'too_small_to_conclude'
            when z_vs_rest >= 1.96 then 'better_than_rest'
            when z_vs_rest <= -1.96 then 'worse_than_rest'
            else 'no_significant_difference'
        end as conclusion
    from final
)

select * from concluded
