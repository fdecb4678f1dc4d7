{#- Keep one row per `partition_by`: the first in `order_by` order (staging passes
    `synced_at desc`, so the most recent sync of each primary key wins).

    `relation` is a relation or a CTE name; the result has exactly its columns.
    Implementations by engine:
    - default: `qualify row_number() over (...) = 1` (DuckDB, Snowflake, BigQuery,
      Databricks, Redshift and other engines with QUALIFY);
    - postgres: `distinct on`, which Postgres has instead of QUALIFY;
    - redshift: falls back to the QUALIFY form (Redshift has no `distinct on`).
    An engine with neither (e.g. Trino, SQL Server, Apache Spark without Databricks)
    adds `<adapter>__deduplicate` to a project macro; the row_number() window stays the
    same, only the filter around it changes. -#}
{% macro deduplicate(relation, partition_by, order_by) -%}
    {{ return(adapter.dispatch('deduplicate', 'churnguard')(relation, partition_by, order_by)) }}
{%- endmacro %}

{% macro default__deduplicate(relation, partition_by, order_by) -%}
    select *
    from {{ relation }}
    where 1 = 1
    qualify row_number() over (
        partition by {{ partition_by }}
        order by {{ order_by }}
    ) = 1
{%- endmacro %}

{% macro postgres__deduplicate(relation, partition_by, order_by) -%}
    select distinct on ({{ partition_by }}) *
    from {{ relation }}
    order by {{ partition_by }}, {{ order_by }}
{%- endmacro %}

{% macro redshift__deduplicate(relation, partition_by, order_by) -%}
    {{ return(churnguard.default__deduplicate(relation, partition_by, order_by)) }}
{%- endmacro %}
