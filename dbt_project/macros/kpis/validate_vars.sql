{#- Checks the dbt vars before anything is built (on-run-start), so that a wrong value
    stops the run with a message that names it, instead of building silently (a month
    13, a reversed date range, churn_definition: weekly) or failing deep inside a model
    or a unit test (churn_grace_days: abc). Every problem is reported at once, when the run
    executes (the build window may come from the environment then, see run_var). -#}
{% macro validate_vars() %}
    {%- set problems = [] -%}
    {%- set definition = var('churn_definition') -%}
    {%- if definition not in ['subscription', 'activity', 'order'] -%}
        {%- do problems.append("churn_definition must be subscription, activity or order, not '" ~ definition ~ "'") -%}
    {%- endif -%}
    {%- for name in ['churn_grace_days', 'churn_inactivity_days', 'churn_no_order_days', 'lookback_days',
                     'kpi_save_window_days', 'kpi_min_sample_for_comparison', 'sla_interview_days',
                     'sla_solution_days'] -%}
        {%- set value = var(name) -%}
        {%- if value is none or not (value | string | trim).isdigit() -%}
            {%- do problems.append(name ~ " must be a whole number of days (0 or more), not '" ~ value ~ "'") -%}
        {%- endif -%}
    {%- endfor -%}
    {%- for name in ['kpi_gross_margin', 'kpi_target_max_monthly_churn_rate', 'kpi_target_min_monthly_retention_rate',
                     'kpi_target_min_save_rate'] -%}
        {%- set text = var(name) | string | trim -%}
        {%- if not modules.re.match('^[0-9]*\.?[0-9]+$', text) or (text | float) > 1 -%}
            {%- do problems.append(name ~ " must be a share between 0 and 1, not '" ~ var(name) ~ "'") -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set dates = {} -%}
    {%- for name in ['start_date', 'end_date', 'as_of_date', 'history_start_date'] -%}
        {%- set value = run_var(name) if name in ['start_date', 'end_date'] else var(name, none) -%}
        {%- if value is not none and (value | string | trim) not in ['', 'None', 'none', 'null'] -%}
            {%- set parsed = churnguard_parse_date(value | string | trim) -%}
            {%- if parsed is none -%}
                {%- do problems.append(name ~ " must be a calendar date YYYY-MM-DD, not '" ~ value ~ "'") -%}
            {%- else -%}
                {%- do dates.update({name: parsed}) -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if 'start_date' in dates and 'end_date' in dates and dates['start_date'] > dates['end_date'] -%}
        {%- do problems.append("start_date " ~ run_var('start_date') ~ " is after end_date " ~ run_var('end_date')
            ~ ": give the first day, then the last") -%}
    {%- endif -%}
    {%- if 'history_start_date' in dates and 'as_of_date' in dates and dates['history_start_date'] > dates['as_of_date'] -%}
        {%- do problems.append("history_start_date " ~ var('history_start_date') ~ " is after as_of_date "
            ~ var('as_of_date')) -%}
    {%- endif -%}
    {%- if problems and execute -%}
        {{ exceptions.raise_compiler_error("Invalid dbt vars (dbt_project.yml or --vars):\n  - " ~ problems | join("\n  - ")) }}
    {%- endif -%}
    select 1
{% endmacro %}

{#- A YYYY-MM-DD string as a comparable 'YYYYMMDD' string, or none when it is not a real
    calendar date (2025-13-01, 2025-02-30). -#}
{% macro churnguard_parse_date(text) %}
    {%- set match = modules.re.match('^(\d{4})-(\d{2})-(\d{2})$', text) -%}
    {%- if not match -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set year, month, day = match.group(1) | int, match.group(2) | int, match.group(3) | int -%}
    {%- set leap = (year % 4 == 0 and year % 100 != 0) or year % 400 == 0 -%}
    {%- set month_days = [31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] -%}
    {%- if month < 1 or month > 12 or day < 1 or day > month_days[month - 1] -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(match.group(1) ~ match.group(2) ~ match.group(3)) }}
{% endmacro %}
