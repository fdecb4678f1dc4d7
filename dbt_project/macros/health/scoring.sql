{#- The scoring functions of the health score (docs/HEALTH_SCORE.md), written once. -#}

{#- 0-100 by linear interpolation: `zero_at` scores 0, `full_at` scores 100, clamped
    outside; works in both directions (zero_at > full_at for "less is better").
    Null in, null out. -#}
{% macro score_ramp(expr, zero_at, full_at) -%}
    case
        when ({{ expr }}) is null then null
        when ({{ full_at }}) > ({{ zero_at }}) and ({{ expr }}) <= ({{ zero_at }}) then 0.0
        when ({{ full_at }}) > ({{ zero_at }}) and ({{ expr }}) >= ({{ full_at }}) then 100.0
        when ({{ full_at }}) < ({{ zero_at }}) and ({{ expr }}) >= ({{ zero_at }}) then 0.0
        when ({{ full_at }}) < ({{ zero_at }}) and ({{ expr }}) <= ({{ full_at }}) then 100.0
        else 100.0 * (({{ expr }}) - ({{ zero_at }})) / (({{ full_at }}) - ({{ zero_at }}))
    end
{%- endmacro %}

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
        ) / (
            {%- for score, weight in pairs %}
            case when ({{ score }}) is not null then ({{ weight }}) else 0 end{% if not loop.last %} +{% endif %}
            {%- endfor %}
        )
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

{#- Score of one financial indicator of SPEC section 6 from its decline (a share for
    amounts and counts, days for payment delay; a negative decline is growth):
    - growing (decline <= -growth_threshold, when given): 100;
    - normal (below the warning threshold): the stable score (85 by default);
    - warning (warning <= decline <= danger): 59 falling linearly to 40;
    - danger (decline > danger): 39 falling linearly to 0 at twice the danger threshold.
    The thresholds themselves set the scale, so changing them in warning_rules.csv
    rescales the score. Null in, null out. -#}
{% macro financial_indicator_score(decline, warning_at, danger_at, stable_score, growth_threshold=none) -%}
    case
        when ({{ decline }}) is null then null
        {%- if growth_threshold is not none %}
        when ({{ decline }}) <= -({{ growth_threshold }}) then 100.0
        {%- endif %}
        when ({{ decline }}) < ({{ warning_at }}) then {{ stable_score }}
        when ({{ decline }}) <= ({{ danger_at }})
            then 59.0 - 19.0 * (({{ decline }}) - ({{ warning_at }})) / nullif(({{ danger_at }}) - ({{ warning_at }}), 0)
        when ({{ decline }}) >= 2 * ({{ danger_at }}) then 0.0
        else 39.0 - 39.0 * (({{ decline }}) - ({{ danger_at }})) / ({{ danger_at }})
    end
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
