-- Follow-up monitor: a contact held by the daily limit is due at the rule's next local midnight,
-- also on the days the clocks change; and the monitor's totals say how much of the daily limit is
-- used (used_today), the figure the limit itself compares.
-- New: leadflow_private.automation_next_local_day_start(text, timestamptz).
-- Re-created: leadflow_private.automation_judge_contact and leadflow_private.automation_evaluate
-- (otherwise as in 20261201000820_follow_up_evaluate_set_based.sql: only the expression of the next
-- local day changes), leadflow_private.automation_rule_summary (otherwise as in
-- 20261122000210_follow_up_automation_judgement.sql, with used_today after sent_today_count; its
-- result columns change, so it is dropped and created again with the view
-- public.automation_monitor_summary, which reads them, and both their grants), and
-- public.automation_monitor_page (otherwise as in 20261201000750_console_monitor_page.sql, with
-- used_today in its stats; same signature, so its grants stay).
--
-- Why:
--   * A contact refused for daily_limit_reached is due when the rule's next local day begins. The
--     judgement computed it as the start of the local day of p_now + 24 hours: a day late, or
--     already past, when the local day is not 24 hours long. Europe/Berlin, daily limit 1: at
--     2026-03-28T22:30Z (23:30 on the night of the 23-hour day) Explain and the monitor said
--     2026-03-29T22:00Z, where the limit starts again at 2026-03-28T23:00Z; at 2026-10-24T22:30Z
--     (00:30 on the 25-hour day) they said 2026-10-24T22:00Z, before now, where it starts again at
--     2026-10-25T23:00Z. automation_next_local_day_start adds the day to the local date instead
--     ((date_trunc('day', local time) + 1 day) at the rule's time zone). It is SQL with no SET
--     clause, as automation_local_day_start, so the planner inlines it: the claim's path
--     (automation_judge_contact, once per contact) costs what it did.
--   * The monitor's sent_today_count counts the duplicate guard's rows with status sent since local
--     midnight, while the daily limit (automation_rule_usage) also counts sends in progress or
--     uncertain, and contacts claimed and not yet sending. With one send reaped to send_uncertain
--     the monitor showed 0 sent of a limit of 1 while contacts were refused for the limit (the
--     claim's summary said usedToday 1). The summary (automation_monitor_summary,
--     automation_snapshot's stats) and automation_monitor_page's stats now carry used_today,
--     automation_rule_usage at p_now, beside sent_today_count (unchanged: what was sent).

-- =============================================================================================
-- The start of the rule's next local day: where its daily limit starts counting again
-- =============================================================================================
create or replace function leadflow_private.automation_next_local_day_start(p_time_zone text, p_at timestamptz)
returns timestamptz
language sql
stable
parallel safe
as $$
  select (date_trunc('day', p_at at time zone p_time_zone) + interval '1 day') at time zone p_time_zone
$$;
comment on function leadflow_private.automation_next_local_day_start(text, timestamptz) is
  'The midnight that ends p_at''s day in p_time_zone (the next day''s start, also when that day has 23 or 25 hours): when a rule''s daily limit starts counting again.';

revoke all on function leadflow_private.automation_next_local_day_start(text, timestamptz) from public, anon;
grant execute on function leadflow_private.automation_next_local_day_start(text, timestamptz) to authenticated, service_role;

-- =============================================================================================
-- automation_judge_contact: as in 20261201000820, the next local day from the helper above
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
      s.current_stage, s.locked_until, s.retry_at, s.follow_up_count, s.last_follow_up_at,
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
-- automation_evaluate: as in 20261201000820, the next local day from the helper above
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
      s.current_stage, s.locked_until, s.retry_at, s.follow_up_count, s.last_follow_up_at,
      r.enabled, r.max_follow_ups, r.min_hours_between_follow_ups, r.daily_limit,
      r.in_active_hours, r.used_today,
      ex.conversation_id is not null, c.is_active, f.stop_reason, c.last_customer_message_at) as reason
    offset 0
  ) x
$$;
comment on function leadflow_private.automation_evaluate(uuid, timestamptz) is
  'Every contact carrying the rule''s tags, judged as automation_judge_contact judges one (the same rows, read with joins): the first reason it is not due (null: due) and when it will be.';

-- =============================================================================================
-- automation_rule_summary: as in 20261122000210, with used_today (what the daily limit counts)
-- =============================================================================================
-- The view reads the function's columns: both go, and come back with their grants.
drop view if exists public.automation_monitor_summary;
drop function if exists leadflow_private.automation_rule_summary(uuid, timestamptz);

create function leadflow_private.automation_rule_summary(p_rule_id uuid, p_now timestamptz default leadflow_private.now())
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
  used_today integer,
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
    -- What the daily limit counts: sends since local midnight (also in progress or uncertain) plus
    -- contacts claimed and not yet sending, as the claim and the judgement count it.
    leadflow_private.automation_rule_usage(r.id, r.time_zone, p_now),
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
  'A rule''s monitor totals: contacts with tags, eligible, processing, recently sent, stopped, skipped (by reason), failed, sends today, the daily limit''s use today (used_today: what the limit counts), and contacts per stage.';

create view public.automation_monitor_summary
with (security_invoker = true) as
select m.*
from public.ai_automation_rules r
cross join lateral leadflow_private.automation_rule_summary(r.id, leadflow_private.now()) m;
comment on view public.automation_monitor_summary is 'One row per rule: the live monitor''s totals.';

revoke all on public.automation_monitor_summary from anon, authenticated, service_role;
grant select on public.automation_monitor_summary to authenticated, service_role;
revoke all on function leadflow_private.automation_rule_summary(uuid, timestamptz) from public, anon;
grant execute on function leadflow_private.automation_rule_summary(uuid, timestamptz) to authenticated, service_role;

-- =============================================================================================
-- automation_monitor_page: as in 20261201000750, with used_today in its stats
-- =============================================================================================
create or replace function public.automation_monitor_page(
  p_rule_id uuid default null,
  p_status text default null,
  p_reason text default null,
  p_search text default null,
  p_offset integer default 0,
  p_limit integer default 50,
  p_now timestamptz default leadflow_private.now()
)
returns jsonb
language plpgsql
stable
set search_path = ''
as $$
declare
  v_rule public.ai_automation_rules;
  v_rules jsonb;
  v_search text;
  v_used integer;
  v_result jsonb;
begin
  if p_status is not null and p_status not in ('eligible', 'processing', 'recently_sent', 'stopped', 'skipped') then
    raise exception 'p_status must be eligible, processing, recently_sent, stopped or skipped (got %)', p_status
      using errcode = '22023', hint = 'Leave it out for every status.';
  end if;
  if p_reason is not null and p_reason !~ '^[a-z_]{1,64}$' then
    raise exception 'p_reason must be a reason code such as outside_window (got %)', left(p_reason, 80)
      using errcode = '22023', hint = 'Use a key of stats.skipped_by_reason, or leave it out.';
  end if;
  if p_offset is null or p_offset < 0 or p_offset > 1000000 then
    raise exception 'p_offset must be between 0 and 1000000 (got %)', coalesce(p_offset::text, 'null')
      using errcode = '22023', hint = 'Start at 0 and add p_limit for each next page.';
  end if;
  if p_limit is null or p_limit not between 1 and 500 then
    raise exception 'p_limit must be between 1 and 500 contacts (got %)', coalesce(p_limit::text, 'null')
      using errcode = '22023', hint = 'Ask for a page of at most 500 contacts.';
  end if;
  if p_search is not null and length(p_search) > 200 then
    raise exception 'p_search must be at most 200 characters (got %)', length(p_search)
      using errcode = '22023', hint = 'Search by a part of the contact''s name or Messenger id.';
  end if;

  select coalesce(jsonb_agg(jsonb_build_object('id', r.id, 'name', r.name, 'enabled', r.enabled, 'page_id', r.page_id)
                            order by r.name, r.id), '[]'::jsonb)
    into v_rules
    from public.ai_automation_rules r;

  if p_rule_id is null then
    return jsonb_build_object('rules', v_rules, 'rule', null, 'generatedAt', p_now);
  end if;
  select * into v_rule from public.ai_automation_rules r where r.id = p_rule_id;
  if not found then
    return null;
  end if;

  v_used := leadflow_private.automation_rule_usage(v_rule.id, v_rule.time_zone, p_now);

  -- The search matches a part of the name or the Messenger id, its wildcards taken literally.
  v_search := case when nullif(btrim(p_search), '') is null then null
                   else '%' || replace(replace(replace(btrim(p_search), '\', '\\'), '%', '\%'), '_', '\_') || '%' end;

  -- Only what the totals, the filters and the order need is judged for every contact (the judgement
  -- is inlined, so the tag names and execution counts are not computed for them); the page's rows
  -- are judged again in full below, 50 contacts instead of 10,000.
  with judged as materialized (
    select case e.contact_status when 'eligible' then 0 when 'processing' then 1 when 'recently_sent' then 2
                                 when 'skipped' then 3 else 4 end as rank,
           e.conversation_id, e.sender_id, e.sender_name, e.contact_status, e.reason, e.due_at
      from leadflow_private.automation_evaluate(v_rule.id, p_now) e
  ),
  counts as (
    select count(*)::integer as total,
           (count(*) filter (where j.contact_status = 'eligible'))::integer as eligible,
           (count(*) filter (where j.contact_status = 'processing'))::integer as processing,
           (count(*) filter (where j.contact_status = 'recently_sent'))::integer as recently_sent,
           (count(*) filter (where j.contact_status = 'stopped'))::integer as stopped,
           (count(*) filter (where j.contact_status = 'skipped'))::integer as skipped,
           (count(*) filter (where j.reason = 'failed'))::integer as failed
      from judged j
  ),
  by_reason as (
    select coalesce(jsonb_object_agg(g.reason, g.n), '{}'::jsonb) as by_reason
      from (select j.reason, count(*)::integer as n from judged j
             where j.reason is not null and j.reason <> 'in_progress' group by j.reason) g
  ),
  matching as (
    select j.* from judged j
     where (p_status is null or j.contact_status = p_status)
       and (p_reason is null or j.reason = p_reason)
       and (v_search is null or j.sender_name ilike v_search or j.sender_id ilike v_search)
  ),
  page as (
    select m.rank, d.*
      from (select * from matching
             order by rank, due_at nulls last, sender_name, conversation_id
             offset p_offset limit p_limit) m
     cross join lateral leadflow_private.automation_judge_contact(v_rule.id, m.conversation_id, p_now, v_used) d
  ),
  stages as (
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
    where h.rule_id = v_rule.id
  )
  select jsonb_build_object(
    'rules', v_rules,
    'rule', jsonb_build_object('id', v_rule.id, 'name', v_rule.name, 'enabled', v_rule.enabled, 'page_id', v_rule.page_id,
                               'daily_limit', v_rule.daily_limit, 'max_follow_ups', v_rule.max_follow_ups,
                               'time_zone', v_rule.time_zone),
    'generatedAt', p_now,
    -- The same fields as automation_snapshot's stats (automation_rule_summary's row).
    'stats', jsonb_build_object(
      'rule_id', v_rule.id,
      'user_id', v_rule.user_id,
      'rule_name', v_rule.name,
      'enabled', v_rule.enabled,
      'total_with_tags', c.total,
      'eligible_count', c.eligible,
      'active_count', c.processing,
      'recently_sent_count', c.recently_sent,
      'stopped_count', c.stopped,
      'skipped_count', c.skipped,
      'failed_count', c.failed,
      'skipped_by_reason', br.by_reason,
      'sent_today_count', (select count(*)::integer from public.ai_automation_executions x
                            where x.rule_id = v_rule.id and x.status = 'sent'
                              and x.attempted_at >= leadflow_private.automation_local_day_start(v_rule.time_zone, p_now)),
      'used_today', v_used,
      'sent_last_24h_count', (select count(*)::integer from public.ai_automation_executions x
                               where x.rule_id = v_rule.id and x.status = 'sent' and x.attempted_at > p_now - interval '24 hours'),
      'daily_limit', v_rule.daily_limit,
      'in_active_hours', leadflow_private.automation_in_active_hours(v_rule.active_hours_start, v_rule.active_hours_end,
                                                                     v_rule.active_days, v_rule.time_zone, p_now),
      'next_active_at', leadflow_private.automation_next_active_start(v_rule.active_hours_start, v_rule.active_hours_end,
                                                                      v_rule.active_days, v_rule.time_zone, p_now),
      'queued_count', s.queued,
      'checking_count', s.checking,
      'generating_count', s.generating,
      'ready_to_send_count', s.ready_to_send,
      'sending_count', s.sending,
      'sent_count', s.sent,
      'completed_count', s.completed,
      'stage_failed_count', s.failed,
      'stage_skipped_count', s.skipped
    ),
    'stages', coalesce((select jsonb_agg(to_jsonb(st) order by st.stage_order)
                          from leadflow_private.automation_stage_stats(v_rule.id, p_now) st), '[]'::jsonb),
    'contacts', jsonb_build_object(
      'total', (select count(*)::integer from matching),
      'offset', p_offset,
      'limit', p_limit,
      'rows', coalesce((
        select jsonb_agg(jsonb_build_object(
                 'conversation_id', p.conversation_id, 'page_id', p.page_id, 'sender_id', p.sender_id,
                 'sender_name', p.sender_name, 'matching_tags', p.matching_tags, 'is_being_processed', p.is_being_processed,
                 'current_stage', p.current_stage, 'contact_status', p.contact_status, 'status_reason', p.reason,
                 'stop_reason', p.stop_reason, 'due_at', p.due_at, 'follow_up_count', p.follow_up_count,
                 'last_follow_up_at', p.last_follow_up_at, 'last_customer_message_at', p.last_customer_message_at,
                 'window_closes_at', p.window_closes_at, 'stage_entered_at', p.stage_entered_at, 'error_code', p.error_code)
               order by p.rank, p.due_at nulls last, p.sender_name, p.conversation_id)
          from page p), '[]'::jsonb)
    ),
    'activeContacts', coalesce((
      select jsonb_agg(to_jsonb(a) order by a.stage_entered_at desc, a.state_id)
        from (select x.state_id, x.conversation_id, x.sender_id, x.sender_name, x.current_stage, x.stage_entered_at,
                     x.seconds_in_stage, x.is_in_flight, x.follow_up_count, x.max_follow_ups, x.claimed_follow_up_number,
                     x.generated_message, x.generation_ms, x.generation_model, x.error_code, x.error_message,
                     x.skip_reason, x.retry_at
                from leadflow_private.automation_active_contacts(v_rule.id, p_now) x
               order by x.stage_entered_at desc, x.state_id
               limit p_limit) a), '[]'::jsonb)
  )
  into v_result
  from counts c cross join by_reason br cross join stages s;

  return v_result;
end;
$$;
comment on function public.automation_monitor_page(uuid, text, text, text, integer, integer, timestamptz) is
  'The console''s monitor of one rule in one call: totals, stages, one page of tagged contacts (filtered by status, reason, search), recent active contacts, and the rules.';
