{#- Test scope. Every generic data test reads its model through this macro (dbt's hook for
    the `where` test config). On top of `where`, a test of a model whose config declares
    `meta: {test_window_column: <column or SQL expression>}` reads only the rows of the
    current build window when the run asks for it with the var `test_scope: window`:

        <test_window_column> >= <window start>

    The window start is the var `test_start_date` (the first day of a window built in
    batches, see churnguard.history_batches), else `start_date` (see run_var) (what a
    scheduler passed for the partitions it rebuilt), else the warehouse's as_of_date minus `lookback_days` (what an incremental run
    rebuilt by itself). So a nightly run tests the days it wrote, not the whole history,
    and its cost follows the new day's data. `test_scope: full` (the default) tests every
    row; the nightly orchestration runs that once a week and after every full refresh.
    See docs/DECISIONS.md, "Nightly tests cover the build window". -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- set window_filter = churnguard_test_window_filter() -%}
    {%- set conditions = [] -%}
    {%- if where -%}{%- do conditions.append('(' ~ where ~ ')') -%}{%- endif -%}
    {%- if window_filter -%}{%- do conditions.append(window_filter) -%}{%- endif -%}
    {%- if conditions -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ conditions | join(' and ') }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}


{#- The window condition for the model under test, or none (full scope, or a model without
    `test_window_column`, or a test not attached to one model). -#}
{% macro churnguard_test_window_filter() -%}
    {%- set scope = run_var('test_scope', 'full') -%}
    {%- if scope not in ('full', 'window') -%}
        {{ exceptions.raise_compiler_error("var test_scope must be 'full' or 'window', not '" ~ scope ~ "'") }}
    {%- endif -%}
    {%- if scope != 'window' or not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set attached = model.get('attached_node') if model is mapping else none -%}
    {%- if not attached or attached not in graph.nodes -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set column = graph.nodes[attached].config.get('meta', {}).get('test_window_column') -%}
    {%- if not column -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set start = churnguard_test_window_start() -%}
    {{ return(column ~ ' >= ' ~ start if start else none) }}
{%- endmacro %}


{#- First day a window-scoped test reads, as a SQL date literal. -#}
{% macro churnguard_test_window_start() -%}
    {%- set start = run_var('test_start_date') or run_var('start_date') -%}
    {%- if start -%}
        {{ return(date_literal(start | string)) }}
    {%- endif -%}
    {#- Read through the graph, not ref(): a test does not depend on the clock model. A test
        that runs before the clock model exists (the first build of a warehouse asked for
        window-scoped tests) reads every row. -#}
    {%- set clock = graph.nodes[['model', project_name, 'util_date_bounds'] | join('.')] -%}
    {%- if adapter.get_relation(database=clock.database, schema=clock.schema, identifier=clock.alias) is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set as_of = run_query("select as_of_date from " ~ clock.relation_name).rows[0][0] -%}
    {%- if as_of is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set first = modules.datetime.date.fromisoformat(as_of | string)
                    - modules.datetime.timedelta(days=var('lookback_days') | int) -%}
    {{ return(date_literal(first | string)) }}
{%- endmacro %}
