-- Follow-up judgement: a contact on a Page another owner connected is not due
-- (page_of_another_owner), in Explain, the monitor, the snapshot and the views, as the claim says.
-- New: leadflow_private.automation_other_owner_pages(uuid).
-- Re-created: leadflow_private.automation_reason_of, with one more argument (whether the contact's
-- Page is another owner's), so it is dropped and created again with its grants; and the two
-- functions that call it, leadflow_private.automation_judge_contact and
-- leadflow_private.automation_evaluate (otherwise as in
-- 20261201001660_follow_up_window_refusal_not_due.sql: only that argument is passed, and evaluate's
-- once-per-rule row reads the Pages; same signatures, so their grants stay).
--
-- Why: since 20261201001620_claim_page_of_owner.sql the follow-up claim never takes a contact
-- whose conversation's page_id messenger_pages connects to an owner other than its rule's, and
-- counts it notClaimed.page_of_another_owner. The judgement that Explain (automation_explain), the
-- monitor (automation_monitor_page, automation_rule_summary, so automation_snapshot's stats and the
-- view automation_monitor_summary), the snapshot's contacts, the view automation_eligible_contacts
-- and the console's rule preview (console_rule_write, console_rules, console_rule_prompt) build on
-- did not read messenger_pages: such a contact showed due there, with a due time of now, while no
-- run ever claimed it ("contacts waiting but nothing sends").
--
-- Now the judgement (automation_reason_of, so automation_judge_contact and automation_evaluate)
-- says page_of_another_owner for exactly those contacts: the contact's page_id is a Page
-- messenger_pages connects to an owner other than the rule's. Its place in the order is the one the
-- claim counts it in (1620's header): after in_progress, rule_disabled and excluded_tag, before
-- inactive, stopped and every other reason (the claim counts it before the walk's judgement, and,
-- among the contacts it passes over on their state, right after in_progress; excluded contacts stay
-- excluded_tag). Its status is skipped and it has no due time (it never becomes due by itself: the
-- owner moves the contact to a Page of theirs, or deletes it). A Page nobody connected, or the
-- owner's own, is judged as before. As before, the claim counts every contact whose 24 h window is
-- closed as outside_window whatever else holds it (the judgement gives the first reason: such a
-- contact on another owner's Page is page_of_another_owner in Explain, as an inactive one is
-- inactive).
--
-- Who can see it: the views are security_invoker, so a signed-in user's judgement runs under their
-- row level security, which shows them their own Pages only: a plain read of messenger_pages would
-- never find another owner's Page there. The Pages are read by
-- leadflow_private.automation_other_owner_pages(rule), security definer: the Pages connected to
-- another owner on which the rule's owner has conversations (only the rule's Page when it has one),
-- answered for a signed-in user's own rules only (another's rule: none).
--
-- Cost: the monitor and Explain judge every contact of a rule. automation_evaluate reads that list
-- once per rule (its materialized rule row) and compares each contact's page_id with it: no probe
-- of messenger_pages per contact, and a list that is almost always empty. The list costs one probe
-- of messenger_pages' primary key for a rule with a Page; for a rule of every Page, one probe per
-- Page the owner has conversations on (those Pages found by one step each of
-- messenger_conversations' unique (user_id, page_id, sender_id), however many conversations), and
-- nothing of other owners' Pages or conversations is read: it costs the same in a project of one
-- owner and of thousands. automation_judge_contact (one contact: the claim's walk, the monitor's
-- page of rows) reads the list in an uncorrelated subquery, once per statement where the rule is a
-- parameter (the claim's cursor, the monitor's page), not once per contact. Measured: see the
-- commit.

-- =============================================================================================
-- automation_other_owner_pages: the Pages of another owner a rule's contacts may be on
-- =============================================================================================
create or replace function leadflow_private.automation_other_owner_pages(p_rule_id uuid)
returns text[]
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_rule public.ai_automation_rules;
  v_pages text[];
begin
  select * into v_rule from public.ai_automation_rules r where r.id = p_rule_id;
  -- A signed-in user (the views run as their reader) is answered for their own rules only.
  if not found or (auth.uid() is not null and v_rule.user_id is distinct from auth.uid()) then
    return '{}';
  end if;
  if v_rule.page_id is not null then
    -- Every contact of the rule is on its Page: that Page, by messenger_pages' primary key.
    select coalesce(array_agg(mp.page_id), '{}') into v_pages
      from public.messenger_pages mp
     where mp.page_id = v_rule.page_id and mp.user_id <> v_rule.user_id;
    return v_pages;
  end if;
  -- A rule for every Page: each Page the owner has conversations on (one step of the unique index
  -- (user_id, page_id, sender_id) per Page, however many conversations), each probed by
  -- messenger_pages' primary key. Other owners' Pages and conversations are not read.
  with recursive owner_pages (page_id) as (
    select (select min(c.page_id) from public.messenger_conversations c where c.user_id = v_rule.user_id)
    union all
    select (select min(c.page_id) from public.messenger_conversations c
             where c.user_id = v_rule.user_id and c.page_id > o.page_id)
      from owner_pages o
     where o.page_id is not null
  )
  select coalesce(array_agg(mp.page_id order by mp.page_id), '{}') into v_pages
    from owner_pages o
    join public.messenger_pages mp on mp.page_id = o.page_id and mp.user_id <> v_rule.user_id;
  return v_pages;
end;
$$;
comment on function leadflow_private.automation_other_owner_pages(uuid) is
  'The Pages messenger_pages connects to an owner other than the rule''s on which the rule''s owner has conversations (only the rule''s Page when it has one), in page_id order; empty when none. The judgement''s page_of_another_owner. Security definer, so a signed-in reader''s judgement sees other owners'' Pages; answers a signed-in user for their own rules only.';

revoke all on function leadflow_private.automation_other_owner_pages(uuid) from public, anon;
grant execute on function leadflow_private.automation_other_owner_pages(uuid) to authenticated, service_role;

-- =============================================================================================
-- automation_reason_of: page_of_another_owner, after excluded_tag
-- =============================================================================================
-- The old signature goes: the functions calling it are created again below with the new one.
drop function if exists leadflow_private.automation_reason_of(
  timestamptz, text, timestamptz, timestamptz, integer, timestamptz, text, timestamptz, boolean, integer, numeric, integer, boolean, integer, boolean, boolean, text, timestamptz);

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
  -- the contact (p_page_of_another_owner: its Page is connected to an owner other than the rule's)
  p_excluded boolean, p_page_of_another_owner boolean, p_is_active boolean, p_stop_reason text, p_last_customer_message_at timestamptz
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
    -- Never claimed: another owner's send would carry this rule (20261201001620). Where the claim counts it.
    when p_page_of_another_owner then 'page_of_another_owner'
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
comment on function leadflow_private.automation_reason_of(timestamptz, text, timestamptz, timestamptz, integer, timestamptz, text, timestamptz, boolean, integer, numeric, integer, boolean, integer, boolean, boolean, boolean, text, timestamptz) is
  'The first reason a contact is not due under a rule (null: due), from its state, the rule and the contact: the judgement''s one definition of the reason. outside_window also while its last send was refused for the window and the person has not written since that send''s claim. page_of_another_owner: on a Page another owner connected, never claimed.';

revoke all on function leadflow_private.automation_reason_of(timestamptz, text, timestamptz, timestamptz, integer, timestamptz, text, timestamptz, boolean, integer, numeric, integer, boolean, integer, boolean, boolean, boolean, text, timestamptz) from public, anon;
grant execute on function leadflow_private.automation_reason_of(timestamptz, text, timestamptz, timestamptz, integer, timestamptz, text, timestamptz, boolean, integer, numeric, integer, boolean, integer, boolean, boolean, boolean, text, timestamptz) to authenticated, service_role;

-- =============================================================================================
-- automation_judge_contact: as in 20261201001660, whether the contact's Page is another owner's passed on
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
  'The one judgement of "due" for one contact under one rule (no row when the contact does not carry the rule''s tags): the first reason it is not due (null: due) and when it will be (a stopped contact: when its stop ends by itself, null if never).';

-- =============================================================================================
-- automation_evaluate: as in 20261201001660, the Pages of another owner read once per rule
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
      ex.conversation_id is not null, c.page_id = any (r.other_owner_pages), c.is_active, f.stop_reason, c.last_customer_message_at) as reason
    offset 0
  ) x
$$;
comment on function leadflow_private.automation_evaluate(uuid, timestamptz) is
  'Every contact carrying the rule''s tags, judged as automation_judge_contact judges one (the same rows, read with joins): the first reason it is not due (null: due) and when it will be.';
