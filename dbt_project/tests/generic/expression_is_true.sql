{#- Fails for every row where `expression` is not true (optionally only rows matching
    `where`). Used for arithmetic identities and date-range sanity. -#}
{% test expression_is_true(model, expression, column_name=none) %}
select *
from {{ model }}
where not ({{ column_name ~ ' ' if column_name else '' }}{{ expression }})
{% endtest %}
