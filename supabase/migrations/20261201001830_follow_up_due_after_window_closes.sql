-- Follow-up judgement: a contact whose 24 h messaging window closes before (or as) the reason it
-- waits for ends has no due time (due_at null), in Explain, the monitor, the snapshot and the views.
-- Re-created: leadflow_private.automation_due_at_of, with one more argument (when the contact's
-- window closes), so it is dropped and created again with its grants; and the two functions that
-- call it, leadflow_private.automation_judge_contact and leadflow_private.automation_evaluate
-- (otherwise as in 20261201001690_follow_up_judgement_page_of_another_owner.sql: only that argument
-- is passed; same signatures, so their grants stay; their comments say the new rule).
--
-- Why: due_at said when the reason a contact waits for ends (the interval's end, the next active
-- hours, the next local midnight, the retry, the end of a takeover stop) without looking at the
-- person's 24 h window (last_customer_message_at + 24 h). For a contact whose window closes first,
-- Explain and the monitor promised a send ("Too soon after the last follow-up — sends in 4 h") that
-- never came: at that time the contact is outside_window, with no due time, and nothing is sent
-- until the person writes again. With the default 4 h interval this is every contact followed up in
-- the last 4 hours of their window: the person wrote 21 h ago, follow-up #1 goes out now, #2 is
-- "due" in 4 h, but the window closes in 3 h.
--
-- Now automation_due_at_of answers null when the time it finds is at or after the window's close
-- (a window closed at p_now is outside_window: the judgement's own comparison, so "at" is too late),
-- and when the contact has no window (never wrote). The reason stays the one the contact waits for
-- (interval_not_elapsed, outside_active_hours, daily_limit_reached, failed, stopped), and so does its
-- status: only the promise of a time goes. A reader tells "the window closes first" from the reason
-- and the row's window_closes_at, which every caller already has (docs/follow-up.md, When a contact
-- is due). A due contact's due_at (p_now) is always before its window's close, so it is unchanged.
-- The claim never read due_at: what it takes and counts is as before.
--
-- Cost: one comparison of two timestamps per contact, the window's close computed from the column
-- the judgement already reads (no new read, no new join). The functions stay SQL without a SET
-- clause, so the planner still inlines automation_due_at_of into its callers. Measured: see the
-- commit.

-- =============================================================================================
-- automation_due_at_of: null when the window closes first
-- =============================================================================================
-- The old signature goes: the functions calling it are created again below with the new one.
drop function if exists leadflow_private.automation_due_at_of(text, timestamptz, timestamptz, timestamptz, timestamptz, numeric, timestamptz, timestamptz);

-- When a contact not due will be (p_now when due; null when nothing says, or when that time is at
-- or after the contact's 24 h window closes: then nothing is sent unless the person writes again).
create function leadflow_private.automation_due_at_of(
  p_reason text, p_now timestamptz, p_stop_until timestamptz, p_retry_at timestamptz, p_last_follow_up_at timestamptz,
  p_min_hours_between_follow_ups numeric, p_next_active_at timestamptz, p_next_day_start timestamptz,
  p_window_closes_at timestamptz
)
returns timestamptz
language sql
stable
parallel safe
as $$
  -- least(t, close) is t when t is before the close, else the close, which nullif makes null; a
  -- contact with no window (never wrote) compares with -infinity, so it has no due time either.
  -- Written so that each of the reason's arguments is read once (the next active start is a call
  -- in automation_judge_contact): the planner then inlines this function into its callers.
  select nullif(
           least(
             case
               when p_reason is null then p_now
               when p_reason = 'stopped' then p_stop_until
               when p_reason = 'failed' then p_retry_at
               when p_reason = 'interval_not_elapsed' then p_last_follow_up_at + p_min_hours_between_follow_ups * interval '1 hour'
               when p_reason = 'outside_active_hours' then p_next_active_at
               when p_reason = 'daily_limit_reached' then p_next_day_start
             end,
             coalesce(p_window_closes_at, '-infinity'::timestamptz)),
           coalesce(p_window_closes_at, '-infinity'::timestamptz))
$$;
comment on function leadflow_private.automation_due_at_of(text, timestamptz, timestamptz, timestamptz, timestamptz, numeric, timestamptz, timestamptz, timestamptz) is
  'When a contact will be due, given its reason: now when due, the stop''s end, the retry, the interval''s end, the next active hours, the next local day; null when that is at or after its 24 h window closes (p_window_closes_at), since nothing is sent then unless the person writes again.';

revoke all on function leadflow_private.automation_due_at_of(text, timestamptz, timestamptz, timestamptz, timestamptz, numeric, timestamptz, timestamptz, timestamptz) from public, anon;
grant execute on function leadflow_private.automation_due_at_of(text, timestamptz, timestamptz, timestamptz, timestamptz, numeric, timestamptz, timestamptz, timestamptz) to authenticated, service_role;

-- =============================================================================================
-- automation_judge_contact: as in 20261201001690, the window's close passed to automation_due_at_of
-- =============================================================================================
create or replace function leadflow_private.automation_judge_contact(
  p_rule_id uuid, p_conversation_id uuid, p_now timestamptz, p_used_today integer
)
returns table (
  rule_id uuid,
  user_id uuid,
  conversation_id uuid,
  page_id text,
  sender_id text,
  sender_name text,
  last_customer_message_at timestamptz,
  window_closes_at timestamptz,
  state_id uuid,
  current_stage text,
  stage_entered_at timestamptz,
  follow_up_count integer,
  last_follow_up_at timestamptz,
  locked_by text,
  locked_until timestamptz,
  error_code text,
  skip_reason text,
  stop_reason text,
  reason text,
  due boolean,
  due_at timestamptz,
  contact_status text,
  is_being_processed boolean,
  matching_tags text[],
  executions_last_7_days integer,
  last_execution_at timestamptz
)
language sql
stable
as $$
  select
    r.id,
    r.user_id,
    c.id,
    c.page_id,
    c.sender_id,
    c.sender_name,
    c.last_customer_message_at,
    c.last_customer_message_at + interval '24 hours',
    s.id,
    s.current_stage,
    s.stage_entered_at,
    coalesce(s.follow_up_count, 0),
    s.last_follow_up_at,
    s.locked_by,
    s.locked_until,
    s.error_code,
    s.skip_reason,
    f.stop_reason,
    x.reason,
    x.reason is null,
    leadflow_private.automation_due_at_of(
      x.reason, p_now, f.stop_until, s.retry_at, s.last_follow_up_at, r.min_hours_between_follow_ups,
      leadflow_private.automation_next_active_start(r.active_hours_start, r.active_hours_end, r.active_days, r.time_zone, p_now),
      leadflow_private.automation_next_local_day_start(r.time_zone, p_now),
      c.last_customer_message_at + interval '24 hours'),
    leadflow_private.automation_status_of(x.reason),
    x.reason is not distinct from 'in_progress',
    array(
      select t.name from public.conversation_tags ct join public.tags t on t.id = ct.tag_id
       where ct.conversation_id = c.id and ct.tag_id = any (r.include_tag_ids)
       order by t.name
    ),
    (select count(*)::integer from public.ai_automation_executions e
      where e.conversation_id = c.id and e.rule_id = r.id and e.status = 'sent'
        and e.attempted_at > p_now - interval '7 days'),
    (select max(e.attempted_at) from public.ai_automation_executions e
      where e.conversation_id = c.id and e.rule_id = r.id)
  from public.ai_automation_rules r
  join public.messenger_conversations c
    on c.id = p_conversation_id and c.user_id = r.user_id and (r.page_id is null or c.page_id = r.page_id)
  left join public.ai_automation_contact_states s
    on s.rule_id = r.id and s.conversation_id = c.id
  cross join lateral (
    select
      exists (
        select from public.conversation_tags ct
         where ct.conversation_id = c.id and ct.tag_id = any (r.exclude_tag_ids)
      ) as excluded,
      so.stop_reason,
      so.stop_until
    from leadflow_private.automation_stop_of(c.id, r.id, r.resume_after_takeover_hours, p_now) so
    offset 0
  ) f
  cross join lateral (
    select leadflow_private.automation_reason_of(
      p_now,
      s.current_stage, s.locked_until, s.retry_at, s.follow_up_count, s.last_follow_up_at, s.skip_reason, s.claimed_at,
      r.enabled, r.max_follow_ups, r.min_hours_between_follow_ups, r.daily_limit,
      leadflow_private.automation_in_active_hours(r.active_hours_start, r.active_hours_end, r.active_days, r.time_zone, p_now),
      p_used_today,
      f.excluded,
      -- On a Page another owner connected: the Pages of the rule's reach (computed once, see above).
      c.page_id = any ((select leadflow_private.automation_other_owner_pages(p_rule_id))::text[]),
      c.is_active, f.stop_reason, c.last_customer_message_at) as reason
    offset 0
  ) x
  where r.id = p_rule_id
    and exists (
      select from public.conversation_tags ct
       where ct.conversation_id = c.id and ct.tag_id = any (r.include_tag_ids)
    )
    and (
      r.tag_match = 'any'
      or not exists (
        select from unnest(r.include_tag_ids) wanted (tag_id)
         where not exists (
           select from public.conversation_tags ct
            where ct.conversation_id = c.id and ct.tag_id = wanted.tag_id
         )
      )
    )
  limit 1
$$;
comment on function leadflow_private.automation_judge_contact(uuid, uuid, timestamptz, integer) is
  'The one judgement of "due" for one contact under one rule (no row when the contact does not carry the rule''s tags): the first reason it is not due (null: due) and when it will be (a stopped contact: when its stop ends by itself, null if never; null too when that time is at or after its 24 h window closes).';

-- =============================================================================================
-- automation_evaluate: as in 20261201001690, the window's close passed to automation_due_at_of
-- =============================================================================================
-- The same rows as automation_judge_contact for each conversation carrying one of the rule's
-- include tags (and all of them under tag_match = all), on the rule's Page, of the rule's owner.
create or replace function leadflow_private.automation_evaluate(p_rule_id uuid, p_now timestamptz default leadflow_private.now())
returns table (
  rule_id uuid,
  user_id uuid,
  conversation_id uuid,
  page_id text,
  sender_id text,
  sender_name text,
  last_customer_message_at timestamptz,
  window_closes_at timestamptz,
  state_id uuid,
  current_stage text,
  stage_entered_at timestamptz,
  follow_up_count integer,
  last_follow_up_at timestamptz,
  locked_by text,
  locked_until timestamptz,
  error_code text,
  skip_reason text,
  stop_reason text,
  reason text,
  due boolean,
  due_at timestamptz,
  contact_status text,
  is_being_processed boolean,
  matching_tags text[],
  executions_last_7_days integer,
  last_execution_at timestamptz
)
language sql
stable
as $$
  with rule as materialized (
    -- Once per rule: its usage of the daily limit, whether p_now is inside its active hours, when
    -- they next begin, when its next local day begins, how many distinct tags tag_match = all needs,
    -- the Pages of another owner its contacts may be on.
    select r.*,
           leadflow_private.automation_rule_usage(r.id, r.time_zone, p_now) as used_today,
           leadflow_private.automation_in_active_hours(r.active_hours_start, r.active_hours_end, r.active_days, r.time_zone, p_now) as in_active_hours,
           leadflow_private.automation_next_active_start(r.active_hours_start, r.active_hours_end, r.active_days, r.time_zone, p_now) as next_active_at,
           leadflow_private.automation_next_local_day_start(r.time_zone, p_now) as next_day_start,
           (select count(distinct w.tag_id) from unnest(r.include_tag_ids) w (tag_id))::integer as include_count,
           -- The Pages another owner connected that hold contacts of the rule's owner (of its Page):
           -- usually none, so each contact's check below is a comparison with an empty list.
           leadflow_private.automation_other_owner_pages(r.id) as other_owner_pages
      from public.ai_automation_rules r
     where r.id = p_rule_id
  ),
  -- Each conversation carrying any of the include tags, with how many of them (a conversation
  -- carries a tag once) and their names.
  tagged as (
    select ct.conversation_id, count(*)::integer as include_count,
           coalesce(array_agg(t.name order by t.name) filter (where t.id is not null), '{}'::text[]) as names
      from rule r
      join public.conversation_tags ct on ct.tag_id = any (r.include_tag_ids)
      left join public.tags t on t.id = ct.tag_id
     group by ct.conversation_id
  ),
  excluded as (
    select distinct ct.conversation_id
      from rule r join public.conversation_tags ct on ct.tag_id = any (r.exclude_tag_ids)
  ),
  -- Conversations with a stop row for the rule or for every rule: only they can be stopped.
  with_stops as (
    select distinct st.conversation_id
      from rule r join public.ai_automation_stops st on st.rule_id = r.id or st.rule_id is null
  ),
  executions as (
    select e.conversation_id,
           (count(*) filter (where e.status = 'sent' and e.attempted_at > p_now - interval '7 days'))::integer as sent_last_7_days,
           max(e.attempted_at) as last_at
      from public.ai_automation_executions e
     where e.rule_id = p_rule_id
     group by e.conversation_id
  )
  select
    r.id,
    r.user_id,
    c.id,
    c.page_id,
    c.sender_id,
    c.sender_name,
    c.last_customer_message_at,
    c.last_customer_message_at + interval '24 hours',
    s.id,
    s.current_stage,
    s.stage_entered_at,
    coalesce(s.follow_up_count, 0),
    s.last_follow_up_at,
    s.locked_by,
    s.locked_until,
    s.error_code,
    s.skip_reason,
    f.stop_reason,
    x.reason,
    x.reason is null,
    leadflow_private.automation_due_at_of(x.reason, p_now, f.stop_until, s.retry_at, s.last_follow_up_at,
                                          r.min_hours_between_follow_ups, r.next_active_at, r.next_day_start,
                                          c.last_customer_message_at + interval '24 hours'),
    leadflow_private.automation_status_of(x.reason),
    x.reason is not distinct from 'in_progress',
    t.names,
    coalesce(e.sent_last_7_days, 0),
    e.last_at
  from rule r
  join tagged t on r.tag_match = 'any' or t.include_count = r.include_count
  join public.messenger_conversations c
    on c.id = t.conversation_id and c.user_id = r.user_id and (r.page_id is null or c.page_id = r.page_id)
  left join public.ai_automation_contact_states s on s.rule_id = r.id and s.conversation_id = c.id
  left join excluded ex on ex.conversation_id = c.id
  left join with_stops ws on ws.conversation_id = c.id
  left join executions e on e.conversation_id = c.id
  cross join lateral (
    select so.stop_reason, so.stop_until
      from leadflow_private.automation_stop_of(c.id, r.id, r.resume_after_takeover_hours, p_now) so
     where ws.conversation_id is not null
    union all
    select null::text, null::timestamptz
     where ws.conversation_id is null
  ) f
  cross join lateral (
    select leadflow_private.automation_reason_of(
      p_now,
      s.current_stage, s.locked_until, s.retry_at, s.follow_up_count, s.last_follow_up_at, s.skip_reason, s.claimed_at,
      r.enabled, r.max_follow_ups, r.min_hours_between_follow_ups, r.daily_limit,
      r.in_active_hours, r.used_today,
      ex.conversation_id is not null, c.page_id = any (r.other_owner_pages), c.is_active, f.stop_reason, c.last_customer_message_at) as reason
    offset 0
  ) x
$$;
comment on function leadflow_private.automation_evaluate(uuid, timestamptz) is
  'Every contact carrying the rule''s tags, judged as automation_judge_contact judges one (the same rows, read with joins): the first reason it is not due (null: due) and when it will be (null when that is at or after its 24 h window closes).';
