{#- Who is told about a customer's alerts, one row per customer: the account manager
    (the account's owner, or the dbt var default_owner_user_id when the account has
    none), the customer-success manager, and the sales lead: the nearest user with the
    role sales_lead up the owner's management chain (the owner's manager, then that
    user's manager, then one more level). customer_alerts turns these into the
    notify_user_ids list of each episode (red: CSM and sales lead; yellow: account
    manager). -#}

{%- set default_owner = var('default_owner_user_id', none) %}

with accounts as (
    select * from {{ ref('stg_crm__accounts') }}
),

users as (
    select * from {{ ref('stg_crm__users') }}
),

owners as (
    select
        customer_id,
        coalesce(
            account_manager_id,
            {% if default_owner %}'{{ default_owner }}'{% else %}cast(null as {{ dbt.type_string() }}){% endif %}
        ) as account_manager_id,
        account_manager_id is null as is_default_owner,
        csm_user_id
    from accounts
),

chain as (
    select
        owners.customer_id,
        owners.account_manager_id,
        owners.is_default_owner,
        owners.csm_user_id,
        level_1.user_id as level_1_user_id,
        level_1.user_role as level_1_role,
        level_2.user_id as level_2_user_id,
        level_2.user_role as level_2_role,
        level_3.user_id as level_3_user_id,
        level_3.user_role as level_3_role
    from owners
    left join users as owner_user
        on owners.account_manager_id = owner_user.user_id
    left join users as level_1
        on owner_user.manager_user_id = level_1.user_id
    left join users as level_2
        on level_1.manager_user_id = level_2.user_id
    left join users as level_3
        on level_2.manager_user_id = level_3.user_id
),

final as (
    select
        chain.customer_id,
        chain.account_manager_id,
        chain.is_default_owner,
        account_manager.full_name as account_manager_name,
        account_manager.email as account_manager_email,
        chain.csm_user_id,
        csm.full_name as csm_name,
        sales_lead.user_id as sales_lead_user_id,
        sales_lead.full_name as sales_lead_name,
        sales_lead.email as sales_lead_email
    from chain
    left join users as account_manager
        on chain.account_manager_id = account_manager.user_id
    left join users as csm
        on chain.csm_user_id = csm.user_id
    left join users as sales_lead
        on sales_lead.user_id = case
            when chain.level_1_role = 'sales_lead' then chain.level_1_user_id
            when chain.level_2_role = 'sales_lead' then chain.level_2_user_id
            when chain.level_3_role = 'sales_lead' then chain.level_3_user_id
        end
)

select * from final
