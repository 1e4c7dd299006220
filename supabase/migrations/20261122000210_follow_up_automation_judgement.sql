-- Follow-up automation, part 2 of 3: when a contact is due, why not, and the monitor's views.
-- Functions: automation_in_active_hours, automation_next_active_start, automation_local_day_start,
-- automation_rule_usage, automation_judge_contact (the one judgement of "due", per contact: used by
-- the claim and by automation_evaluate, which explain, the views and the snapshot use),
-- automation_evaluate, automation_rule_summary, automation_stage_stats, automation_active_contacts.
-- Views (security_invoker, so a signed-in user sees only their own rows): automation_eligible_contacts,
-- active_automation_contacts, automation_monitor_summary, automation_live_stats.
-- All functions here are SECURITY INVOKER, so row level security applies to whoever calls them.
-- The SQL ones have no SET clause, so the planner inlines them into the query that calls them
-- (the claim's plan uses the indexes directly); automation_rule_usage is plpgsql (see there).

-- =============================================================================================
-- Clock helpers: a rule's active hours and local day, in its own time zone
-- =============================================================================================
create or replace function leadflow_private.automation_in_active_hours(
  p_start time, p_end time, p_days smallint[], p_time_zone text, p_at timestamptz
)
returns boolean
language sql
stable
parallel safe
as $$
  select case
    when p_start = p_end then
      extract(isodow from (p_at at time zone p_time_zone))::smallint = any (p_days)
    when p_start < p_end then
      (p_at at time zone p_time_zone)::time >= p_start
      and (p_at at time zone p_time_zone)::time < p_end
      and extract(isodow from (p_at at time zone p_time_zone))::smallint = any (p_days)
    else
      -- Past midnight: the early hours belong to the previous day's window.
      ((p_at at time zone p_time_zone)::time >= p_start
        and extract(isodow from (p_at at time zone p_time_zone))::smallint = any (p_days))
      or ((p_at at time zone p_time_zone)::time < p_end
        and extract(isodow from (p_at at time zone p_time_zone) - interval '1 day')::smallint = any (p_days))
  end
$$;
comment on function leadflow_private.automation_in_active_hours(time, time, smallint[], text, timestamptz) is
  'True when p_at falls inside the active hours (start, end, ISO days 1 = Monday) in time zone p_time_zone.';

create or replace function leadflow_private.automation_next_active_start(
  p_start time, p_end time, p_days smallint[], p_time_zone text, p_at timestamptz
)
returns timestamptz
language sql
stable
parallel safe
as $$
  select case
    when leadflow_private.automation_in_active_hours(p_start, p_end, p_days, p_time_zone, p_at) then p_at
    else (
      select min(((local_day + k) + p_start) at time zone p_time_zone)
        from (select (p_at at time zone p_time_zone)::date as local_day) d
       cross join generate_series(0, 8) k
       where extract(isodow from local_day + k)::smallint = any (p_days)
         and ((local_day + k) + p_start) at time zone p_time_zone > p_at
    )
  end
$$;
comment on function leadflow_private.automation_next_active_start(time, time, smallint[], text, timestamptz) is
  'When the active hours next begin (p_at itself when inside them).';

create or replace function leadflow_private.automation_local_day_start(p_time_zone text, p_at timestamptz)
returns timestamptz
language sql
stable
parallel safe
as $$
  select date_trunc('day', p_at at time zone p_time_zone) at time zone p_time_zone
$$;
comment on function leadflow_private.automation_local_day_start(text, timestamptz) is
  'Midnight of p_at''s day in p_time_zone: where a rule''s daily limit starts counting.';

-- What counts against a rule's daily limit: today's sends (guard rows taken since local midnight,
-- except those Facebook refused or that failed for good: summed from the rule's quarter-hour send
-- counts, which a trigger keeps from the ledger) plus the contacts claimed and not yet at
-- the send step (they will take a guard row) while their lease lasts: a contact abandoned by a dead
-- execution stops counting when its lease runs out, for the monitor as for the claim (which
-- reaps it before counting).
-- plpgsql rather than sql: it is called once per rule (never inlined: it has subqueries), and
-- PostgreSQL 17 plans a SQL function's query on every call, while plpgsql keeps the plan for the
-- session (the claim runs it on every call).
create or replace function leadflow_private.automation_rule_usage(p_rule_id uuid, p_time_zone text, p_now timestamptz)
returns integer
language plpgsql
stable
parallel safe
set search_path = ''
as $$
begin
  return (
    (select coalesce(sum(k.sends), 0) from public.ai_automation_rule_send_counts k
      where k.rule_id = p_rule_id and k.slot >= leadflow_private.automation_local_day_start(p_time_zone, p_now))
    + (select count(*) from public.ai_automation_contact_states h
        where h.rule_id = p_rule_id and h.current_stage in ('checking', 'eligible', 'generating', 'ready_to_send')
          and h.locked_until > p_now)
  )::integer;
end;
$$;
comment on function leadflow_private.automation_rule_usage(uuid, text, timestamptz) is
  'A rule''s use of its daily limit at p_now: sends since local midnight plus contacts claimed and not yet sending.';

-- =============================================================================================
-- automation_judge_contact: the one judgement of "due", for one contact under one rule
-- =============================================================================================
-- One row when conversation p_conversation_id belongs to the rule's owner (and page) and carries
-- the rule's include tags (any or all), whether or not it has a state row yet; no row otherwise.
-- `reason` is null when the contact is due now, else the first of, in this order:
--   in_progress           held by an execution (checking … ready_to_send with a live lease, or sending)
--   rule_disabled         the rule is switched off
--   excluded_tag          the contact carries one of the rule's excluded tags
--   inactive              the conversation is not active
--   stopped               a stop row for this rule or for all rules (stop_reason says which; a
--                         customer reply adds one by trigger when stop_on_reply is on, and
--                         deleting the row resumes the contact)
--   failed                the last attempt failed; due again at retry_at, or never by itself
--   max_follow_ups        follow_up_count has reached the rule's maximum
--   interval_not_elapsed  the minimum hours since the last follow-up have not passed
--   outside_window        the person's last message is more than 24 h old (Messenger's window)
--   outside_active_hours  the rule is outside its active hours now
--   daily_limit_reached   the rule's use of its daily limit (p_used_today) reaches the limit
-- `due_at` is when that reason stops applying where there is such a time (p_now when due).
-- `contact_status` is the monitor's word: eligible | processing | recently_sent | stopped | skipped.
--
-- p_used_today is automation_rule_usage(rule, time zone, p_now): a count over the day's ledger, the
-- one per-rule input too costly to repeat per contact, so every caller computes it once per rule
-- and passes it in (automation_evaluate below; the claim, which computes it under the rule's lock).
--
-- Why one contact at a time: every lookup here (the conversation, its state, its tags, its stops)
-- is an index probe on the contact's key, whatever the planner estimates. The claim walks
-- conversations soonest-closing first and calls this per contact until it has enough due ones,
-- so its cost follows the batch size, not the rule's size. The final `limit 1` (a pair has at
-- most one row anyway) keeps the planner from flattening this into the caller's query, where it
-- used to join all of a rule's ~90,000 states by hash to judge a page of 400 contacts.
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
    case
      when x.reason is null then p_now
      when x.reason = 'failed' then s.retry_at
      when x.reason = 'interval_not_elapsed' then s.last_follow_up_at + r.min_hours_between_follow_ups * interval '1 hour'
      when x.reason = 'outside_active_hours' then
        leadflow_private.automation_next_active_start(r.active_hours_start, r.active_hours_end, r.active_days, r.time_zone, p_now)
      when x.reason = 'daily_limit_reached' then leadflow_private.automation_local_day_start(r.time_zone, p_now + interval '1 day')
    end,
    case
      when x.reason is null then 'eligible'
      when x.reason = 'in_progress' then 'processing'
      when x.reason = 'stopped' then 'stopped'
      when x.reason = 'interval_not_elapsed' then 'recently_sent'
      else 'skipped'
    end,
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
      (select st.reason from public.ai_automation_stops st
        where st.conversation_id = c.id and (st.rule_id = r.id or st.rule_id is null)
        order by st.rule_id nulls first limit 1) as stop_reason
  ) f
  cross join lateral (
    select case
      when s.current_stage = 'sending'
        or (s.current_stage in ('checking', 'eligible', 'generating', 'ready_to_send') and s.locked_until > p_now) then 'in_progress'
      when not r.enabled then 'rule_disabled'
      when f.excluded then 'excluded_tag'
      when not c.is_active then 'inactive'
      when f.stop_reason is not null then 'stopped'
      when s.current_stage = 'failed' and (s.retry_at is null or s.retry_at > p_now) then 'failed'
      when coalesce(s.follow_up_count, 0) >= r.max_follow_ups then 'max_follow_ups'
      when s.last_follow_up_at + r.min_hours_between_follow_ups * interval '1 hour' > p_now then 'interval_not_elapsed'
      when c.last_customer_message_at is null or c.last_customer_message_at <= p_now - interval '24 hours' then 'outside_window'
      when not leadflow_private.automation_in_active_hours(r.active_hours_start, r.active_hours_end, r.active_days, r.time_zone, p_now)
        then 'outside_active_hours'
      when p_used_today >= r.daily_limit then 'daily_limit_reached'
    end as reason
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
  'The one judgement of "due" for one contact under one rule (no row when the contact does not carry the rule''s tags): the first reason it is not due (null: due) and when it will be.';

-- =============================================================================================
-- automation_evaluate: every contact carrying a rule's tags, judged
-- =============================================================================================
-- automation_judge_contact for each conversation carrying any of the rule's include tags (the
-- judgement itself drops those that lack one under tag_match = all), with the rule's usage of its
-- daily limit counted once. Used by explain, the snapshot and the views; the claim calls
-- automation_judge_contact directly, on the contacts it walks.
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
  select j.*
  from public.ai_automation_rules r
  -- The rule's usage, once per rule; offset 0 keeps it a subquery evaluated once.
  cross join lateral (select leadflow_private.automation_rule_usage(r.id, r.time_zone, p_now) as used_today offset 0) k
  cross join lateral (
    select distinct ct.conversation_id from public.conversation_tags ct where ct.tag_id = any (r.include_tag_ids)
  ) t
  cross join lateral leadflow_private.automation_judge_contact(r.id, t.conversation_id, p_now, k.used_today) j
  where r.id = p_rule_id
$$;
comment on function leadflow_private.automation_evaluate(uuid, timestamptz) is
  'Every contact carrying the rule''s tags, judged by automation_judge_contact: the first reason it is not due (null: due) and when it will be.';

-- =============================================================================================
-- Monitor aggregates (parameterised by time so the snapshot and tests can fix "now")
-- =============================================================================================
create or replace function leadflow_private.automation_stage_stats(p_rule_id uuid, p_now timestamptz default leadflow_private.now())
returns table (rule_id uuid, user_id uuid, stage text, stage_order integer, contact_count integer, avg_seconds numeric)
language sql
stable
as $$
  select
    r.id,
    r.user_id,
    st.stage,
    st.ord::integer,
    (select count(*)::integer from public.ai_automation_contact_states s
      where s.rule_id = r.id and s.current_stage = st.stage),
    -- Time spent in the stage: from entering it to the next transition, over the last 7 days.
    (select round(avg(extract(epoch from d.left_at - d.occurred_at))::numeric, 3)
       from (
         select ev.to_stage, ev.occurred_at,
                lead(ev.occurred_at) over (partition by ev.state_id order by ev.occurred_at, ev.id) as left_at
           from public.ai_automation_stage_events ev
          where ev.rule_id = r.id and ev.occurred_at > p_now - interval '7 days' and ev.occurred_at <= p_now
       ) d
      where d.to_stage = st.stage and d.left_at is not null)
  from public.ai_automation_rules r
  cross join unnest(array['queued', 'checking', 'eligible', 'generating', 'ready_to_send', 'sending', 'sent',
                          'failed', 'skipped', 'completed']) with ordinality as st (stage, ord)
  where r.id = p_rule_id
$$;
comment on function leadflow_private.automation_stage_stats(uuid, timestamptz) is
  'Per stage of a rule: contacts in it now, and the average seconds contacts spent in it over the last 7 days.';

create or replace function leadflow_private.automation_rule_summary(p_rule_id uuid, p_now timestamptz default leadflow_private.now())
returns table (
  rule_id uuid,
  user_id uuid,
  rule_name text,
  enabled boolean,
  total_with_tags integer,
  eligible_count integer,
  active_count integer,
  recently_sent_count integer,
  stopped_count integer,
  skipped_count integer,
  failed_count integer,
  skipped_by_reason jsonb,
  sent_today_count integer,
  sent_last_24h_count integer,
  daily_limit integer,
  in_active_hours boolean,
  next_active_at timestamptz,
  queued_count integer,
  checking_count integer,
  generating_count integer,
  ready_to_send_count integer,
  sending_count integer,
  sent_count integer,
  completed_count integer,
  stage_failed_count integer,
  stage_skipped_count integer
)
language sql
stable
as $$
  select
    r.id,
    r.user_id,
    r.name,
    r.enabled,
    coalesce(e.total, 0),
    coalesce(e.eligible, 0),
    coalesce(e.processing, 0),
    coalesce(e.recently_sent, 0),
    coalesce(e.stopped, 0),
    coalesce(e.skipped, 0),
    coalesce(e.failed, 0),
    coalesce(e.by_reason, '{}'::jsonb),
    (select count(*)::integer from public.ai_automation_executions x
      where x.rule_id = r.id and x.status = 'sent'
        and x.attempted_at >= leadflow_private.automation_local_day_start(r.time_zone, p_now)),
    (select count(*)::integer from public.ai_automation_executions x
      where x.rule_id = r.id and x.status = 'sent' and x.attempted_at > p_now - interval '24 hours'),
    r.daily_limit,
    leadflow_private.automation_in_active_hours(r.active_hours_start, r.active_hours_end, r.active_days, r.time_zone, p_now),
    leadflow_private.automation_next_active_start(r.active_hours_start, r.active_hours_end, r.active_days, r.time_zone, p_now),
    coalesce(s.queued, 0),
    coalesce(s.checking, 0),
    coalesce(s.generating, 0),
    coalesce(s.ready_to_send, 0),
    coalesce(s.sending, 0),
    coalesce(s.sent, 0),
    coalesce(s.completed, 0),
    coalesce(s.failed, 0),
    coalesce(s.skipped, 0)
  from public.ai_automation_rules r
  left join lateral (
    select
      sum(g.n)::integer as total,
      (sum(g.n) filter (where g.contact_status = 'eligible'))::integer as eligible,
      (sum(g.n) filter (where g.contact_status = 'processing'))::integer as processing,
      (sum(g.n) filter (where g.contact_status = 'recently_sent'))::integer as recently_sent,
      (sum(g.n) filter (where g.contact_status = 'stopped'))::integer as stopped,
      (sum(g.n) filter (where g.contact_status = 'skipped'))::integer as skipped,
      (sum(g.n) filter (where g.reason = 'failed'))::integer as failed,
      jsonb_object_agg(g.reason, g.n) filter (where g.reason is not null and g.reason <> 'in_progress') as by_reason
    from (
      select v.reason, v.contact_status, count(*)::integer as n
        from leadflow_private.automation_evaluate(r.id, p_now) v
       group by v.reason, v.contact_status
    ) g
  ) e on true
  left join lateral (
    select
      (count(*) filter (where h.current_stage = 'queued'))::integer as queued,
      (count(*) filter (where h.current_stage = 'checking'))::integer as checking,
      (count(*) filter (where h.current_stage = 'generating'))::integer as generating,
      (count(*) filter (where h.current_stage = 'ready_to_send'))::integer as ready_to_send,
      (count(*) filter (where h.current_stage = 'sending'))::integer as sending,
      (count(*) filter (where h.current_stage = 'sent'))::integer as sent,
      (count(*) filter (where h.current_stage = 'completed'))::integer as completed,
      (count(*) filter (where h.current_stage = 'failed'))::integer as failed,
      (count(*) filter (where h.current_stage = 'skipped'))::integer as skipped
    from public.ai_automation_contact_states h
    where h.rule_id = r.id
  ) s on true
  where r.id = p_rule_id
$$;
comment on function leadflow_private.automation_rule_summary(uuid, timestamptz) is
  'A rule''s monitor totals: contacts with tags, eligible, processing, recently sent, stopped, skipped (by reason), failed, sends today, and contacts per stage.';

create or replace function leadflow_private.automation_active_contacts(p_rule_id uuid, p_now timestamptz default leadflow_private.now())
returns table (
  state_id uuid,
  rule_id uuid,
  rule_name text,
  user_id uuid,
  conversation_id uuid,
  page_id text,
  sender_id text,
  sender_name text,
  current_stage text,
  stage_entered_at timestamptz,
  seconds_in_stage integer,
  is_in_flight boolean,
  follow_up_count integer,
  max_follow_ups integer,
  claimed_follow_up_number integer,
  last_follow_up_at timestamptz,
  generated_message text,
  generation_ms integer,
  generation_model text,
  facebook_message_id text,
  error_code text,
  error_message text,
  skip_reason text,
  retry_at timestamptz,
  execution_id text,
  locked_by text,
  locked_until timestamptz
)
language sql
stable
as $$
  select
    s.id, s.rule_id, r.name, s.user_id, s.conversation_id, c.page_id, c.sender_id, c.sender_name,
    s.current_stage, s.stage_entered_at,
    greatest(0, extract(epoch from p_now - s.stage_entered_at))::integer,
    s.current_stage in ('checking', 'eligible', 'generating', 'ready_to_send', 'sending'),
    s.follow_up_count, r.max_follow_ups, s.claimed_follow_up_number, s.last_follow_up_at,
    s.generated_message, s.generation_ms, s.generation_model, s.facebook_message_id,
    s.error_code, s.error_message, s.skip_reason, s.retry_at, s.execution_id, s.locked_by, s.locked_until
  from public.ai_automation_rules r
  join public.ai_automation_contact_states s on s.rule_id = r.id
  join public.messenger_conversations c on c.id = s.conversation_id
  where r.id = p_rule_id
    and (s.current_stage in ('checking', 'eligible', 'generating', 'ready_to_send', 'sending')
         or s.stage_entered_at > p_now - interval '24 hours')
$$;
comment on function leadflow_private.automation_active_contacts(uuid, timestamptz) is
  'A rule''s contacts in the pipeline at p_now, or whose stage changed in the 24 h before it.';

-- =============================================================================================
-- Views (security_invoker: the caller's row level security applies)
-- =============================================================================================
-- Every contact carrying a rule's tags, the moment it is tagged, before any processing.
create or replace view public.automation_eligible_contacts
with (security_invoker = true) as
select
  e.rule_id,
  r.name as rule_name,
  e.user_id,
  e.conversation_id,
  e.page_id,
  e.sender_id,
  e.sender_name,
  e.matching_tags,
  e.is_being_processed,
  e.current_stage,
  e.contact_status,
  e.reason as status_reason,
  e.stop_reason,
  e.due_at,
  e.follow_up_count,
  e.last_follow_up_at,
  e.last_customer_message_at,
  e.window_closes_at,
  e.stage_entered_at,
  e.error_code,
  e.executions_last_7_days,
  e.last_execution_at
from public.ai_automation_rules r
cross join lateral leadflow_private.automation_evaluate(r.id, leadflow_private.now()) e;
comment on view public.automation_eligible_contacts is
  'Every contact carrying a rule''s tags, with its status (eligible, processing, recently_sent, stopped, skipped), the reason and when it will be due.';

-- Contacts in the pipeline now, or whose stage changed in the last 24 hours.
create or replace view public.active_automation_contacts
with (security_invoker = true) as
select a.*
from public.ai_automation_rules r
cross join lateral leadflow_private.automation_active_contacts(r.id, leadflow_private.now()) a;
comment on view public.active_automation_contacts is
  'Contacts in a follow-up pipeline now (or whose stage changed in the last 24 h), with their stage, message and errors.';

create or replace view public.automation_monitor_summary
with (security_invoker = true) as
select m.*
from public.ai_automation_rules r
cross join lateral leadflow_private.automation_rule_summary(r.id, leadflow_private.now()) m;
comment on view public.automation_monitor_summary is 'One row per rule: the live monitor''s totals.';

create or replace view public.automation_live_stats
with (security_invoker = true) as
select st.*
from public.ai_automation_rules r
cross join lateral leadflow_private.automation_stage_stats(r.id, leadflow_private.now()) st;
comment on view public.automation_live_stats is 'One row per rule and stage: contacts in the stage now and the average seconds spent in it (last 7 days).';

-- =============================================================================================
-- Privileges: signed-in users may use the judgement on their own rows (RLS applies inside)
-- =============================================================================================
revoke all on public.automation_eligible_contacts, public.active_automation_contacts,
  public.automation_monitor_summary, public.automation_live_stats from anon, authenticated, service_role;
grant select on public.automation_eligible_contacts, public.active_automation_contacts,
  public.automation_monitor_summary, public.automation_live_stats to authenticated, service_role;

revoke all on function leadflow_private.automation_in_active_hours(time, time, smallint[], text, timestamptz),
  leadflow_private.automation_next_active_start(time, time, smallint[], text, timestamptz),
  leadflow_private.automation_local_day_start(text, timestamptz),
  leadflow_private.automation_rule_usage(uuid, text, timestamptz),
  leadflow_private.automation_judge_contact(uuid, uuid, timestamptz, integer),
  leadflow_private.automation_evaluate(uuid, timestamptz),
  leadflow_private.automation_stage_stats(uuid, timestamptz),
  leadflow_private.automation_active_contacts(uuid, timestamptz),
  leadflow_private.automation_rule_summary(uuid, timestamptz) from public, anon;
grant execute on function leadflow_private.automation_in_active_hours(time, time, smallint[], text, timestamptz),
  leadflow_private.automation_next_active_start(time, time, smallint[], text, timestamptz),
  leadflow_private.automation_local_day_start(text, timestamptz),
  leadflow_private.automation_rule_usage(uuid, text, timestamptz),
  leadflow_private.automation_judge_contact(uuid, uuid, timestamptz, integer),
  leadflow_private.automation_evaluate(uuid, timestamptz),
  leadflow_private.automation_stage_stats(uuid, timestamptz),
  leadflow_private.automation_active_contacts(uuid, timestamptz),
  leadflow_private.automation_rule_summary(uuid, timestamptz) to authenticated, service_role;
