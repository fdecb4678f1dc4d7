{#- A KPI target of a period of `months_column` months, from its monthly default, as an
    exact number: a monthly churn target m gives 1 - (1 - m)^k, a monthly retention target
    m gives m^k. Computed in floating point, 1 - (1 - 0.05) is 0.050000000000000044, so a
    churn rate of exactly 5% would meet a "< 5%" target on some engines and not on others.
    Here the value for 1, 3 and 12 months is computed once at compile time, rounded to 12
    decimal places (0.05, 0.142625) and written as a literal; other lengths fall back to
    power(). -#}
{% macro period_target(kind, monthly, months_column) -%}
    {%- set m = monthly | float -%}
    (case {{ months_column }}
    {%- for k in [1, 3, 12] %}
        {%- set value = (1 - (1 - m) ** k) if kind == 'max_churn' else m ** k %}
        when {{ k }} then cast({{ '%.12f' | format(value) }} as {{ type_double() }})
    {%- endfor %}
        else {% if kind == 'max_churn' %}1 - power(1 - cast({{ m }} as {{ type_double() }}), {{ months_column }})
             {%- else %}power(cast({{ m }} as {{ type_double() }}), {{ months_column }}){% endif %}
    end)
{%- endmacro %}
