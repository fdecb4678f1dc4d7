{#- Product logins per customer per day (only days with at least one login). -#}

with logins as (
    select * from {{ ref('stg_crm__logins') }}
),

final as (
    select
        customer_id,
        logged_in_date as date_day,
        count(*) as logins,
        count(distinct product_user_id) as active_users,
        sum(session_seconds) as session_seconds
    from logins
    group by customer_id, logged_in_date
)

select * from final
