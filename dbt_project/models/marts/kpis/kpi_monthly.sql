{#- Monthly KPIs by segment (and segment = 'all'). Definitions: macros/kpis/kpi_period_report.sql
    and the doc blocks in _kpis__docs.md. -#}
{{ kpi_period_report('month') }}
