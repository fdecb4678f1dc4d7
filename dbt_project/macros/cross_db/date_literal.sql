{#- Render a YYYY-MM-DD string (e.g. from a var) as a SQL date, or `null`. -#}
{% macro date_literal(value) -%}
    {%- if value is none or value == '' or value == 'null' -%}
        cast(null as date)
    {%- else -%}
        cast('{{ value }}' as date)
    {%- endif -%}
{%- endmacro %}
