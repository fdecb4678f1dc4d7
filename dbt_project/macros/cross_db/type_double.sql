{#- An 8-byte floating-point type (dbt.type_float() is 4-byte FLOAT on some engines). -#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'churnguard')()) }}
{%- endmacro %}

{% macro default__type_double() -%}double precision{%- endmacro %}
{% macro bigquery__type_double() -%}float64{%- endmacro %}
{% macro spark__type_double() -%}double{%- endmacro %}
{% macro databricks__type_double() -%}double{%- endmacro %}
