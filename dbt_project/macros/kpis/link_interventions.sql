{#- The one rule that links retention interventions to alert episodes, used by the alert
    list (customer_alerts: intervention count, latest outcome, is the response overdue)
    and by the KPIs (kpi_alert_outcomes: SLA, applied playbook). An intervention answers
    an episode when it carries the episode's alert_id, or when it carries no alert_id,
    is for the same customer and was opened between the episode's opening day and its
    closing day (the as-of date while open). Episodes of one customer never overlap, so
    an intervention answers at most one episode.

    Returns one row per (episode, linked intervention) with link_rank 1 for the
    intervention that answered first: those carrying the alert_id first, then by
    opening time and id. `episodes` needs alert_id, customer_id, opened_date,
    closed_date and as_of_date; `interventions` is int_retention_interventions. -#}
{% macro link_interventions(episodes, interventions) -%}
    select
        {{ episodes }}.alert_id,
        {{ interventions }}.intervention_id,
        {{ interventions }}.playbook,
        {{ interventions }}.cost,
        {{ interventions }}.opened_at,
        {{ interventions }}.first_contact_at,
        {{ interventions }}.interview_at,
        {{ interventions }}.solution_at,
        {{ interventions }}.outcome,
        row_number() over (
            partition by {{ episodes }}.alert_id
            order by
                case when {{ interventions }}.alert_id = {{ episodes }}.alert_id then 0 else 1 end,
                {{ interventions }}.opened_at,
                {{ interventions }}.intervention_id
        ) as link_rank,
        row_number() over (
            partition by {{ episodes }}.alert_id
            order by {{ interventions }}.opened_at desc, {{ interventions }}.intervention_id desc
        ) as recency_rank
    from {{ episodes }}
    inner join {{ interventions }}
        on {{ interventions }}.alert_id = {{ episodes }}.alert_id
        or (
            {{ interventions }}.alert_id is null
            and {{ interventions }}.customer_id = {{ episodes }}.customer_id
            and {{ interventions }}.opened_date >= {{ episodes }}.opened_date
            and {{ interventions }}.opened_date <= coalesce({{ episodes }}.closed_date, {{ episodes }}.as_of_date)
        )
{%- endmacro %}
