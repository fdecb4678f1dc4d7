{#- Configuration read from the reference seeds, as uncorrelated scalar subqueries
    (evaluated once per query on every engine). Models put them in a one-row `params`
    CTE and cross join it, so each value is read in one place.

    - health_param(name): a value of seeds/reference/health_scoring_parameters.csv;
    - health_weight(dimension): a dimension weight: calibrated (health_calibration.csv,
      written by `churnguard calibrate`) when present, else health_dimensions.csv;
    - rule_param(reason_code, field): threshold, window_days, min_count, opens_episode
      or is_enabled of a rule in warning_rules.csv;
    - tier_bound(tier, 'min_score' | 'max_score'): a tier range of health_tiers.csv;
    - band_bound(band, 'min_score' | 'max_score'): a band range of
      health_dimension_bands.csv. -#}

{% macro health_param(name) -%}
    (select cast(parameter_value as {{ dbt.type_numeric() }})
     from {{ ref('health_scoring_parameters') }}
     where parameter_name = '{{ name }}')
{%- endmacro %}

{% macro health_weight(dimension) -%}
    coalesce(
        (select max(cast(value as {{ dbt.type_numeric() }}))
         from {{ ref('health_calibration') }}
         where item_type = 'dimension_weight' and name = '{{ dimension }}'),
        (select cast(weight as {{ dbt.type_numeric() }})
         from {{ ref('health_dimensions') }}
         where dimension = '{{ dimension }}')
    )
{%- endmacro %}

{% macro rule_param(reason_code, field) -%}
    (select {{ field }}
     from {{ ref('warning_rules') }}
     where reason_code = '{{ reason_code }}')
{%- endmacro %}

{% macro tier_bound(tier, bound) -%}
    (select {{ bound }} from {{ ref('health_tiers') }} where tier = '{{ tier }}')
{%- endmacro %}

{% macro band_bound(band, bound) -%}
    (select {{ bound }} from {{ ref('health_dimension_bands') }} where band = '{{ band }}')
{%- endmacro %}

{#- A rule's window_days as a compile-time integer, for window frames
    (`rows between N preceding`) that need a literal. Read from the loaded
    warning_rules seed when the model runs; `default` while parsing, before the seed is
    loaded, and in unit tests (where a fixture stands in for the seed): the defaults
    are the seed's shipped values. -#}
{% macro rule_window_days_literal(reason_code, default) -%}
    {%- if not execute -%}
        {{ return(default | int) }}
    {%- endif -%}
    {%- set seed = ref('warning_rules') -%}
    {%- if seed.schema is none or seed.identifier is none -%}
        {#- a unit test's fixture CTE stands in for the seed -#}
        {{ return(default | int) }}
    {%- endif -%}
    {%- set relation = adapter.get_relation(database=seed.database, schema=seed.schema, identifier=seed.identifier) -%}
    {%- if relation is none -%}
        {{ return(default | int) }}
    {%- endif -%}
    {%- set result = run_query("select window_days from " ~ relation ~ " where reason_code = '" ~ reason_code ~ "'") -%}
    {%- if result.rows | length == 0 or result.rows[0][0] is none -%}
        {{ return(default | int) }}
    {%- endif -%}
    {{ return(result.rows[0][0] | int) }}
{%- endmacro %}

{#- The rules that fired during each alert episode, one row per episode and reason
    code: rule hits from first_alert_date (the first day of the run that opened the
    episode) to last_alert_date. Written once for customer_alerts (its reason_codes
    list) and customer_alert_reasons (the long table BI tools read). -#}
{% macro alert_reason_rollup(episodes, rule_hits) -%}
    select
        {{ episodes }}.alert_id,
        {{ rule_hits }}.reason_code,
        min({{ rule_hits }}.dimension) as dimension,
        min({{ rule_hits }}.severity) as severity,
        min({{ rule_hits }}.date_day) as first_fired_date,
        max({{ rule_hits }}.date_day) as last_fired_date,
        count(*) as days_fired
    from {{ episodes }}
    inner join {{ rule_hits }}
        on {{ episodes }}.customer_id = {{ rule_hits }}.customer_id
        and {{ rule_hits }}.date_day >= {{ episodes }}.first_alert_date
        and {{ rule_hits }}.date_day <= {{ episodes }}.last_alert_date
    group by {{ episodes }}.alert_id, {{ rule_hits }}.reason_code
{%- endmacro %}
