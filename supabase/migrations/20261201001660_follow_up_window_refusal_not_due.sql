-- Follow-up: a contact whose send was refused for the 24 h window is not due until the person
-- writes again.
-- Re-created: leadflow_private.automation_reason_of, with two more arguments (the state's
-- skip_reason and claimed_at), so it is dropped and created again with its grants; and the two
-- functions that call it, leadflow_private.automation_judge_contact and
-- leadflow_private.automation_evaluate (otherwise as in
-- 20261201001490_follow_up_next_local_day_and_usage.sql: only the call passes the two columns;
-- same signatures, so their grants stay).
--
-- Why: when Facebook refuses a send for the window (Graph 10 / 2018278, or code 10 naming the
-- window: docs/graph-errors.md), automation_record_send makes the contact skipped with skip_reason
-- outside_window, and nothing else. The judgement's window is the database's
-- (messenger_conversations.last_customer_message_at + 24 h), which Facebook has just said is not
-- the one that counts, and still looked open: Explain and the monitor said due, and every run
-- claimed the contact again, paid a Gemini generation, called Graph, and recorded one more skip,
-- every 5 minutes until the database's window closed (up to ~288 times a contact).
-- docs/messenger.md promised "It becomes due again only when the person writes again".
--
-- Now the judgement (automation_reason_of, so automation_judge_contact: the claims; and
-- automation_evaluate: Explain, the snapshot, the monitor, the views) says outside_window for a
-- contact whose state is skipped with skip_reason outside_window while the conversation has no
-- message from the person newer than the claim of that send (last_customer_message_at <=
-- claimed_at), in the window's place in the order (after the state's reasons, before the active
-- hours), with no due time (as outside_window always had: nothing says when the person writes).
-- A message from the person after that moves last_customer_message_at past claimed_at, which
-- opens a new window: the contact is due again (unless stop on reply stops it: the trigger stops
-- a contact whose reply is newer than its last follow-up sent, so a first follow-up refused for
-- the window, none sent yet, is due again and not stopped).
-- claimed_at rather than stage_entered_at (when the skip was recorded): the skip is written at the
-- batch's end, and a reply the person wrote after Facebook refused but before the batch ended
-- opened a new window too. A message between the claim and Facebook's answer would have opened the
-- window Facebook checked, so Facebook did not count it; the contact is then tried once more at
-- most (the next refusal's claim is newer than that message). claimed_at is written by the claim
-- (automation_claim_take) on every cycle, skips included; a state whose claimed_at is null (none
-- the pipeline writes) is judged as before.
-- Skips for other reasons (stopped, unavailable, …) and skipped/outside_window from the database's
-- own window check (automation_begin_send, Facebook Send before each call: that window has closed,
-- so outside_window already) are judged as before.
--
-- The claims are not re-created. Their pass-over probe (leadflow_private.automation_state_reason,
-- 20261201001000) reads the state row only; this reason needs the conversation's last message too,
-- so it belongs to the window's part of the judgement, as outside_window always did. Such a contact
-- is not passed over: the walk judges it (one automation_judge_contact, as for any contact without
-- a state reason) and the judgement says outside_window, so neither claim takes it, and the
-- explained claim counts it among the walk's reasons (notClaimed.outside_window). The probe's
-- promise stands: where it gives a reason the judgement gives the same (test/db/follow-up/
-- judgement.test.ts). Few contacts are in this state at a time (each was refused once), so the
-- walk's cost is what it was (`npm run bench -- claim`: see the commit).

-- =============================================================================================
-- automation_reason_of: a send refused for the window keeps the contact outside_window
-- =============================================================================================
-- The old signature goes: the functions calling it are created again below with the new one.
drop function if exists leadflow_private.automation_reason_of(
  timestamptz, text, timestamptz, timestamptz, integer, timestamptz, boolean, integer, numeric, integer, boolean, integer, boolean, boolean, text, timestamptz);

-- The reason a contact is not due under a rule at p_now (null: due), in the order the judgement
-- has always had: the first that applies.
create function leadflow_private.automation_reason_of(
  p_now timestamptz,
  -- the contact's state under the rule (nulls when it has none)
  p_stage text, p_locked_until timestamptz, p_retry_at timestamptz, p_follow_up_count integer, p_last_follow_up_at timestamptz,
  p_skip_reason text, p_claimed_at timestamptz,
  -- the rule
  p_enabled boolean, p_max_follow_ups integer, p_min_hours_between_follow_ups numeric, p_daily_limit integer,
  p_in_active_hours boolean, p_used_today integer,
  -- the contact
  p_excluded boolean, p_is_active boolean, p_stop_reason text, p_last_customer_message_at timestamptz
)
returns text
language sql
stable
parallel safe
as $$
  select case
    when p_stage = 'sending'
      or (p_stage in ('checking', 'eligible', 'generating', 'ready_to_send') and p_locked_until > p_now) then 'in_progress'
    when not p_enabled then 'rule_disabled'
    when p_excluded then 'excluded_tag'
    when not p_is_active then 'inactive'
    when p_stop_reason is not null then 'stopped'
    when p_stage = 'failed' and (p_retry_at is null or p_retry_at > p_now) then 'failed'
    when coalesce(p_follow_up_count, 0) >= p_max_follow_ups then 'max_follow_ups'
    when p_last_follow_up_at + p_min_hours_between_follow_ups * interval '1 hour' > p_now then 'interval_not_elapsed'
    when p_last_customer_message_at is null or p_last_customer_message_at <= p_now - interval '24 hours' then 'outside_window'
    -- Facebook refused the last send for the window, and the person has not written since its claim.
    when p_stage = 'skipped' and p_skip_reason = 'outside_window' and p_last_customer_message_at <= p_claimed_at then 'outside_window'
    when not p_in_active_hours then 'outside_active_hours'
    when p_used_today >= p_daily_limit then 'daily_limit_reached'
  end
$$;
comment on function leadflow_private.automation_reason_of(timestamptz, text, timestamptz, timestamptz, integer, timestamptz, text, timestamptz, boolean, integer, numeric, integer, boolean, integer, boolean, boolean, text, timestamptz) is
  'The first reason a contact is not due under a rule (null: due), from its state, the rule and the contact: the judgement''s one definition of the reason. outside_window also while its last send was refused for the window and the person has not written since that send''s claim.';

revoke all on function leadflow_private.automation_reason_of(timestamptz, text, timestamptz, timestamptz, integer, timestamptz, text, timestamptz, boolean, integer, numeric, integer, boolean, integer, boolean, boolean, text, timestamptz) from public, anon;
grant execute on function leadflow_private.automation_reason_of(timestamptz, text, timestamptz, timestamptz, integer, timestamptz, text, timestamptz, boolean, integer, numeric, integer, boolean, integer, boolean, boolean, text, timestamptz) to authenticated, service_role;

-- =============================================================================================
-- automation_judge_contact: as in 20261201001490, the state's skip_reason and claimed_at passed on
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
      leadflow_private.automation_next_local_day_start(r.time_zone, p_now)),
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
      f.excluded, c.is_active, f.stop_reason, c.last_customer_message_at) as reason
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
  'The one judgement of "due" for one contact under one rule (no row when the contact does not carry the rule''s tags): the first reason it is not due (null: due) and when it will be (a stopped contact: when its stop ends by itself, null if never).';

-- =============================================================================================
-- automation_evaluate: as in 20261201001490, the state's skip_reason and claimed_at passed on
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
    -- they next begin, when its next local day begins, how many distinct tags tag_match = all needs.
    select r.*,
           leadflow_private.automation_rule_usage(r.id, r.time_zone, p_now) as used_today,
           leadflow_private.automation_in_active_hours(r.active_hours_start, r.active_hours_end, r.active_days, r.time_zone, p_now) as in_active_hours,
           leadflow_private.automation_next_active_start(r.active_hours_start, r.active_hours_end, r.active_days, r.time_zone, p_now) as next_active_at,
           leadflow_private.automation_next_local_day_start(r.time_zone, p_now) as next_day_start,
           (select count(distinct w.tag_id) from unnest(r.include_tag_ids) w (tag_id))::integer as include_count
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
                                          r.min_hours_between_follow_ups, r.next_active_at, r.next_day_start),
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
      ex.conversation_id is not null, c.is_active, f.stop_reason, c.last_customer_message_at) as reason
    offset 0
  ) x
$$;
comment on function leadflow_private.automation_evaluate(uuid, timestamptz) is
  'Every contact carrying the rule''s tags, judged as automation_judge_contact judges one (the same rows, read with joins): the first reason it is not due (null: due) and when it will be.';
