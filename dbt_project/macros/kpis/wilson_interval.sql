{#- Wilson score interval for a proportion successes / trials at confidence z (1.96 = 95%).
    Returns the lower or upper bound as a SQL expression; null when trials = 0 or null.
    Preferred to the normal approximation p +- z*sqrt(p(1-p)/n), which leaves [0, 1] and
    collapses to zero width at p = 0 or 1 on the small samples playbook tests produce.

    The bounds are exact where the formula is exact in real arithmetic but not in floating
    point: the lower bound is 0 when there is no success, the upper bound 1 when every
    trial succeeded (the formula gives 0.99999999999999978 or 1.0000000000000002 there),
    and every bound is clamped to [0, 1]. Every division goes through nullif(n, 0), so
    engines that raise on a division by zero (PostgreSQL) never see one. -#}
{% macro wilson_bound(successes, trials, bound='lower', z=1.96) -%}
    {%- set s = "cast(" ~ successes ~ " as " ~ type_double() ~ ")" -%}
    {%- set n = "nullif(cast(" ~ trials ~ " as " ~ type_double() ~ "), 0)" -%}
    {%- set p = "(" ~ s ~ " / " ~ n ~ ")" -%}
    {%- set sign = '-' if bound == 'lower' else '+' -%}
    {%- set exact_value = '0.0' if bound == 'lower' else '1.0' -%}
    {%- set exact_when = s ~ " = 0" if bound == 'lower' else s ~ " = cast(" ~ trials ~ " as " ~ type_double() ~ ")" -%}
    (case
        when {{ n }} is null then null
        when {{ exact_when }} then cast({{ exact_value }} as {{ type_double() }})
        else least(cast(1.0 as {{ type_double() }}), greatest(cast(0.0 as {{ type_double() }}),
            ({{ p }} + {{ z * z }} / (2 * {{ n }})
                {{ sign }} {{ z }} * sqrt(greatest(cast(0.0 as {{ type_double() }}),
                    {{ p }} * (1 - {{ p }}) / {{ n }} + {{ z * z }} / (4 * {{ n }} * {{ n }}))))
            / (1 + {{ z * z }} / {{ n }})
        ))
    end)
{%- endmacro %}
