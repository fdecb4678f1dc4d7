{#- The overall health score on top of the dimension scores:
    the weighted mean of the dimension scores that have data, with the weights of
    health_dimensions.csv re-normalised over them (missing data never lowers the
    score), rounded to a whole number; its warning tier (health_tiers.csv); each
    dimension's band (health_dimension_bands.csv); and the explanation: the dimension
    that cost the overall score the most points, weight x (100 - score) / weights
    present (ties go to the dimension listed first). A view: the arithmetic is row by
    row; the incremental tables below and above it hold the data. -#}

{%- set dimensions = ['usage', 'engagement', 'financial', 'satisfaction', 'support'] %}

with dimension_scores as (
    select * from {{ ref('int_health_dimension_scores') }}
),

weights as (
    select
        {%- for dimension in dimensions %}
        {{ health_weight(dimension) }} as {{ dimension }}_weight{% if not loop.last %},{% endif %}
        {%- endfor %}
),

weighted as (
    select
        dimension_scores.*,
        (
            {%- for dimension in dimensions %}
            case when dimension_scores.{{ dimension }}_score is not null then weights.{{ dimension }}_weight else 0 end
            {%- if not loop.last %} +{% endif %}
            {%- endfor %}
        ) as weight_present,
        {{ renormalised_weighted_mean([
            ('dimension_scores.usage_score', 'weights.usage_weight'),
            ('dimension_scores.engagement_score', 'weights.engagement_weight'),
            ('dimension_scores.financial_score', 'weights.financial_weight'),
            ('dimension_scores.satisfaction_score', 'weights.satisfaction_weight'),
            ('dimension_scores.support_score', 'weights.support_weight'),
        ]) }} as weighted_score,
        {%- for dimension in dimensions %}
        weights.{{ dimension }}_weight * (100 - dimension_scores.{{ dimension }}_score) / nullif(
            {%- for other in dimensions %}
            case when dimension_scores.{{ other }}_score is not null then weights.{{ other }}_weight else 0 end
            {%- if not loop.last %} +{% endif %}
            {%- endfor %}
        , 0) as {{ dimension }}_points_lost{% if not loop.last %},{% endif %}
        {%- endfor %}
    from dimension_scores
    cross join weights
),

explained as (
    select
        weighted.*,
        {{ whole_score('weighted.weighted_score') }} as health_score,
        {{ health_tier(whole_score('weighted.weighted_score')) }} as health_tier,
        {%- for dimension in dimensions %}
        {{ score_band('weighted.' ~ dimension ~ '_score') }} as {{ dimension }}_band,
        {%- endfor %}
        (
            {%- for dimension in dimensions %}
            case when weighted.{{ dimension }}_score is not null then 1 else 0 end
            {%- if not loop.last %} +{% endif %}
            {%- endfor %}
        ) as dimensions_scored,
        case
            {%- for dimension in dimensions %}
            when coalesce(weighted.{{ dimension }}_points_lost, 0) > 0
                {%- for other in dimensions if other != dimension %}
                and coalesce(weighted.{{ dimension }}_points_lost, 0) >= coalesce(weighted.{{ other }}_points_lost, 0)
                {%- endfor %}
                then '{{ dimension }}'
            {%- endfor %}
        end as pulled_down_most_by
    from weighted
),

final as (
    select
        explained.*,
        case explained.pulled_down_most_by
            {%- for dimension in dimensions %}
            when '{{ dimension }}' then explained.{{ dimension }}_points_lost
            {%- endfor %}
        end as pulled_down_points
    from explained
)

select * from final
