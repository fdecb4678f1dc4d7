{#- Quarterly KPIs by segment (and segment = 'all'); same definitions as kpi_monthly. -#}
{{ kpi_period_report('quarter') }}
