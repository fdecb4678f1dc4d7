{#- Satisfaction history the health score compares with, per customer per day with a
    CSAT rating or an NPS response:
    - last_csat_ratings_low: after that day's ratings, the customer's last min_count
      ratings (rule low_service_ratings, default 2) were all at or below its threshold
      (default 2 on the 1-5 scale);
    - nps_score_avg / previous_nps_score_avg: the day's average NPS answer and the one
      of the customer's previous survey day (its own baseline). -#}

with csat as (
    select * from {{ ref('stg_support__csat_ratings') }}
),

satisfaction_daily as (
    select * from {{ ref('int_satisfaction_daily') }}
),

params as (
    select
        {{ rule_param('low_service_ratings', 'threshold') }} as low_rating_threshold,
        cast({{ rule_param('low_service_ratings', 'min_count') }} as {{ dbt.type_int() }}) as low_rating_count
),

rated as (
    select
        customer_id,
        rating_id,
        rated_date,
        csat_score,
        row_number() over (partition by customer_id order by rated_at, rating_id) as rating_sequence,
        row_number() over (
            partition by customer_id, rated_date
            order by rated_at desc, rating_id desc
        ) as latest_in_day
    from csat
),

last_ratings as (
    select
        latest.customer_id,
        latest.rated_date,
        latest.rating_sequence,
        latest.latest_in_day,
        count(*) as ratings_counted,
        sum(case when earlier.csat_score <= params.low_rating_threshold then 1 else 0 end) as low_ratings
    from rated as latest
    cross join params
    inner join rated as earlier
        on latest.customer_id = earlier.customer_id
        and earlier.rating_sequence > latest.rating_sequence - params.low_rating_count
        and earlier.rating_sequence <= latest.rating_sequence
    group by latest.customer_id, latest.rated_date, latest.rating_sequence, latest.latest_in_day
),

csat_days as (
    select
        last_ratings.customer_id,
        last_ratings.rated_date as date_day,
        last_ratings.ratings_counted = params.low_rating_count
            and last_ratings.low_ratings = params.low_rating_count as last_csat_ratings_low
    from last_ratings
    cross join params
    where last_ratings.latest_in_day = 1
),

nps_days as (
    select
        customer_id,
        date_day,
        nps_score_avg,
        lag(nps_score_avg) over (partition by customer_id order by date_day) as previous_nps_score_avg
    from satisfaction_daily
    where nps_responses > 0
),

final as (
    select
        coalesce(csat_days.customer_id, nps_days.customer_id) as customer_id,
        coalesce(csat_days.date_day, nps_days.date_day) as date_day,
        csat_days.last_csat_ratings_low,
        nps_days.nps_score_avg,
        nps_days.previous_nps_score_avg
    from csat_days
    full outer join nps_days
        on csat_days.customer_id = nps_days.customer_id
        and csat_days.date_day = nps_days.date_day
)

select * from final
