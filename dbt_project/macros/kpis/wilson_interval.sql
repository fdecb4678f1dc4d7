{#- Wilson score interval for a proportion successes / trials at confidence z (1.96 = 95%).
    Returns the lower or upper bound as a SQL expression; null when trials = 0.
    Preferred to the normal approximation p +- z*sqrt(p(1-p)/n), which leaves [0, 1] and
    collapses to zero width at p = 0 or 1 on the small samples playbook tests produce. -#}
{% macro wilson_bound(successes, trials, bound='lower', z=1.96) -%}
    {%- set n = "cast(" ~ trials ~ " as " ~ type_double() ~ ")" -%}
    {%- set p = "(cast(" ~ successes ~ " as " ~ type_double() ~ ") / nullif(" ~ n ~ ", 0))" -%}
    {%- set sign = '-' if bound == 'lower' else '+' -%}
    (
        ({{ p }} + {{ z * z }} / (2 * {{ n }})
            {{ sign }} {{ z }} * sqrt({{ p }} * (1 - {{ p }}) / {{ n }} + {{ z * z }} / (4 * {{ n }} * {{ n }})))
        / (1 + {{ z * z }} / {{ n }})
    )
{%- endmacro %}
