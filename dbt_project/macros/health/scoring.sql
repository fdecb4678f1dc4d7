{#- The scoring functions of the health score (docs/HEALTH_SCORE.md), written once. -#}

{#- Weighted mean of the non-null scores, the weights re-normalised over the scores
    present: sum(w_i * s_i) / sum(w_i) over non-null s_i; null when every score is
    null. `pairs` is a list of (score_expr, weight_expr). With weight 1 each it is the
    mean of the available values. -#}
{% macro renormalised_weighted_mean(pairs) -%}
    case
        when {% for score, weight in pairs %}({{ score }}) is not null{% if not loop.last %} or {% endif %}{% endfor %}
        then (
            {%- for score, weight in pairs %}
            coalesce(({{ score }}) * ({{ weight }}), 0){% if not loop.last %} +{% endif %}
            {%- endfor %}
        ) / nullif(
            {%- for score, weight in pairs %}
            case when ({{ score }}) is not null then ({{ weight }}) else 0 end{% if not loop.last %} +{% endif %}
            {%- endfor %}
        , 0)
    end
{%- endmacro %}

{#- Mean of the non-null expressions (null when all are null). -#}
{% macro mean_of_available(exprs) -%}
    {%- set pairs = [] -%}
    {%- for expr in exprs %}{% do pairs.append((expr, '1.0')) %}{% endfor -%}
    {{ renormalised_weighted_mean(pairs) }}
{%- endmacro %}

{#- A score as a whole number 0-100 (half away from zero; null stays null). -#}
{% macro whole_score(expr) -%}
    cast(round(cast({{ expr }} as {{ dbt.type_numeric() }}), 0) as {{ dbt.type_int() }})
{%- endmacro %}

{#- Level of a financial indicator: normal, warning or danger (null when unknown). -#}
{% macro financial_indicator_level(decline, warning_at, danger_at) -%}
    case
        when ({{ decline }}) is null then null
        when ({{ decline }}) > ({{ danger_at }}) then 'danger'
        when ({{ decline }}) >= ({{ warning_at }}) then 'warning'
        else 'normal'
    end
{%- endmacro %}

{#- Band of a dimension score (high / medium / low), ranges from
    health_dimension_bands.csv. -#}
{% macro score_band(score) -%}
    case
        when ({{ score }}) is null then null
        when ({{ score }}) >= {{ band_bound('high', 'min_score') }} then 'high'
        when ({{ score }}) >= {{ band_bound('medium', 'min_score') }} then 'medium'
        else 'low'
    end
{%- endmacro %}

{#- Warning tier of an overall score (red / yellow / green), ranges from
    health_tiers.csv (defaults: red 0-59, yellow 60-75, green 76-100). -#}
{% macro health_tier(score) -%}
    case
        when ({{ score }}) is null then null
        when ({{ score }}) <= {{ tier_bound('red', 'max_score') }} then 'red'
        when ({{ score }}) <= {{ tier_bound('yellow', 'max_score') }} then 'yellow'
        else 'green'
    end
{%- endmacro %}

{#- A ratio, null when the denominator is 0 or null (numeric operands, so no integer
    division on engines that have it). -#}
{% macro safe_ratio(numerator, denominator) -%}
    cast({{ numerator }} as {{ dbt.type_numeric() }}) / nullif(cast({{ denominator }} as {{ dbt.type_numeric() }}), 0)
{%- endmacro %}

{#- Round to `digits` decimals (through numeric, which every engine can round). Ratios
    and declines are rounded to 4 decimals so that a value exactly on a threshold
    (a 10% decline) compares equal to it instead of landing on either side by a
    floating-point hair. -#}
{% macro rounded(expr, digits=4) -%}
    round(cast({{ expr }} as {{ dbt.type_numeric() }}), {{ digits }})
{%- endmacro %}

{#- Months in one billing period of a subscription (an unknown interval counts as a month). -#}
{% macro billing_interval_months(interval) -%}
    case lower({{ interval }})
        when 'year' then 12
        when 'annual' then 12
        when 'half_year' then 6
        when 'quarter' then 3
        else 1
    end
{%- endmacro %}
