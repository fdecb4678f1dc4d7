{#- Schemas are named for their layer (staging, intermediate, marts, ...) without the
    target schema prefix, so BI tools find `marts.health_scores` on every target. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
