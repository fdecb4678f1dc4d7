{#- A warning rule's description with its parameters filled in, as people read them:
    {threshold} as a plain number (20, not 20.000000; 0.4 stays 0.4), {threshold_pct} as
    a percentage of a share threshold (0.40 -> 40%), {window_days} and {min_count} as
    whole numbers. Written once for customer_alert_reasons. -#}
{% macro rule_description(rules) -%}
    replace(replace(replace(replace({{ rules }}.description,
        '{threshold_pct}', coalesce(
            {{ dbt.concat(["cast(cast(round(" ~ rules ~ ".threshold * 100) as " ~ dbt.type_bigint() ~ ") as " ~ dbt.type_string() ~ ")", "'%'"]) }},
            '')),
        '{threshold}', coalesce(
            case
                when {{ rules }}.threshold = floor({{ rules }}.threshold)
                    then cast(cast({{ rules }}.threshold as {{ dbt.type_bigint() }}) as {{ dbt.type_string() }})
                else cast(cast({{ rules }}.threshold as {{ type_double() }}) as {{ dbt.type_string() }})
            end,
            '')),
        '{window_days}', coalesce(cast({{ rules }}.window_days as {{ dbt.type_string() }}), '')),
        '{min_count}', coalesce(cast({{ rules }}.min_count as {{ dbt.type_string() }}), ''))
{%- endmacro %}
