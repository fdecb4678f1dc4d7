{#- Proactive outreach (outbound interactions) as it becomes known: a contact counts as
    answered when the reply came within outreach_reply_window_days (health scoring
    parameter, default 7), otherwise as unanswered, and the outcome is known on its
    decision day (contact day + the reply window). One row per customer per decision
    day: contacts decided, how many went unanswered, and the run of unanswered contacts
    in a row after that day's decisions (the streak of the latest contact).
    Nothing here needs to know the future: a reply that arrives after the decision day
    does not change the row. -#}

with interactions as (
    select * from {{ ref('stg_crm__interactions') }}
    where direction = 'outbound'
),

params as (
    select cast({{ health_param('outreach_reply_window_days') }} as {{ dbt.type_int() }}) as reply_window_days
),

outreach as (
    select
        interactions.customer_id,
        interactions.interaction_id,
        interactions.occurred_at,
        {{ add_days('interactions.occurred_date', 'params.reply_window_days') }} as decided_date,
        coalesce(
            interactions.is_answered
            and (
                interactions.answered_at is null
                or cast(interactions.answered_at as date)
                    <= {{ add_days('interactions.occurred_date', 'params.reply_window_days') }}
            ),
            false
        ) as is_answered_in_window
    from interactions
    cross join params
),

answered_counts as (
    select
        *,
        sum(case when is_answered_in_window then 1 else 0 end) over (
            partition by customer_id
            order by occurred_at, interaction_id
            rows between unbounded preceding and current row
        ) as answered_so_far
    from outreach
),

-- Each answered contact starts a group; the unanswered contacts after it extend the run.
streaks as (
    select
        *,
        row_number() over (
            partition by customer_id, answered_so_far
            order by occurred_at, interaction_id
        ) - case when answered_so_far > 0 then 1 else 0 end as unanswered_streak,
        row_number() over (
            partition by customer_id, decided_date
            order by occurred_at desc, interaction_id desc
        ) as latest_in_day
    from answered_counts
),

final as (
    select
        customer_id,
        decided_date as date_day,
        count(*) as outreach_decided,
        sum(case when is_answered_in_window then 0 else 1 end) as outreach_unanswered,
        max(case when latest_in_day = 1 then unanswered_streak end) as unanswered_streak
    from streaks
    group by customer_id, decided_date
)

select * from final
