{#- CSAT ratings (1-5) and NPS responses (0-10) per customer per day, with the day's
    average scores. Only days with at least one rating or response.

    A table, not a view, on every engine: the customer-day facts and the satisfaction
    history read every day of it, and its data tests; as a view each re-aggregated the raw
    surveys (docs/SCALING.md, "Daily aggregates as tables"). -#}

{{ config(materialized='table') }}

with csat as (
    select
        customer_id,
        rated_date as date_day,
        count(*) as csat_responses,
        avg(cast(csat_score as {{ type_double() }})) as csat_score_avg
    from {{ ref('stg_support__csat_ratings') }}
    group by customer_id, rated_date
),

nps as (
    select
        customer_id,
        responded_date as date_day,
        count(*) as nps_responses,
        avg(cast(nps_score as {{ type_double() }})) as nps_score_avg
    from {{ ref('stg_support__nps_responses') }}
    group by customer_id, responded_date
),

final as (
    select
        coalesce(csat.customer_id, nps.customer_id) as customer_id,
        coalesce(csat.date_day, nps.date_day) as date_day,
        coalesce(csat.csat_responses, 0) as csat_responses,
        csat.csat_score_avg,
        coalesce(nps.nps_responses, 0) as nps_responses,
        nps.nps_score_avg
    from csat
    full outer join nps
        on csat.customer_id = nps.customer_id
        and csat.date_day = nps.date_day
)

select * from final
