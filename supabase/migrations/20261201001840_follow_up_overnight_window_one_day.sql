-- Follow-up daily limit: one active window that passes midnight (22:00-02:00) is one day of the
-- limit, not two.
-- New: leadflow_private.automation_limit_day_start(text, time, time, timestamptz, integer), the one
-- definition of the daily limit's day, from the rule's time zone and active hours.
-- Re-created to use it, otherwise unchanged:
--   * leadflow_private.automation_rule_usage (as in 20261122000210_follow_up_automation_judgement.sql:
--     the rule's sends counted since its day began; what the claim, Explain and the monitor compare
--     with the limit, used_today);
--   * leadflow_private.automation_judge_contact and leadflow_private.automation_evaluate (as in
--     20261201001830_follow_up_due_after_window_closes.sql: the due time of daily_limit_reached, the start of the limit's next day);
--   * leadflow_private.automation_rule_summary (as in 20261201001490_follow_up_next_local_day_and_usage.sql) and
--     public.automation_monitor_page (as in 20261201001490_follow_up_next_local_day_and_usage.sql): sent_today_count, the sends
--     since the limit's day began.
-- Same signatures and result columns, so their grants, comments and the view
-- public.automation_monitor_summary stay.
--
-- Why: the active hours give the early hours to the previous day's window (automation_in_active_hours:
-- 22:00-02:00 on Wednesdays is open Wednesday 22:00 to Thursday 02:00), but the daily limit counted
-- the calendar day, from local midnight. A rule active 22:00-02:00 (Europe/London), Wednesdays only,
-- daily limit 2, sent 2 before midnight and 2 more after it, 4 in one window, and at Thursday 01:45
-- the monitor said sent_today_count 2 of 2, hiding the 4; a contact held by the limit at 23:30 was
-- shown due at midnight, inside the same window.
--
-- Now, for a rule whose active hours pass midnight (start later than end), the limit's day begins at
-- the end of the active hours, local time: 22:00-02:00 counts Wednesday 02:00 to Thursday 02:00 as
-- Wednesday's day, so Wednesday night's window is one day of the limit whatever side of midnight its
-- sends are on. Any other rule (no hours, 00:00-00:00; the same time twice, all day; a window inside
-- one day, 09:00-17:00; one ending at midnight, 22:00-00:00) keeps local midnight exactly: the helper
-- computes the very expressions automation_local_day_start and automation_next_local_day_start did
-- (an end of 00:00 adds nothing), so nothing changes for them. The day is a local date plus the end
-- time, so it is 23 or 25 hours long when the clocks change within it, as midnight's is. An end time
-- the clocks skip or repeat that night (01:30 in New York's autumn night) is read as PostgreSQL reads
-- that local time (in standard time): the limit then counts the repeated hour with the night before,
-- never as a new day.
--
-- The send counts are per quarter hour of UTC. Every zone's midnight and every end on a quarter hour
-- (02:00, 01:45) starts on a slot, so the sum is exact as before. An end off the quarter hour (02:10)
-- starts inside a slot: the slot is counted with the new day (slot > start - 15 minutes, the same
-- slots as slot >= start for a start on a slot), so the sends of the night's last minutes in it count
-- for both days: the limit may allow fewer than it says that day, never more.
--
-- Cost: automation_rule_usage reads the rule's hours by its primary key, once per call (it is
-- called once per rule: the claim, the monitor, Explain). The helper is SQL without a SET clause,
-- a single expression, so the planner inlines it where automation_next_local_day_start was (the
-- claim's walk judges each contact with automation_judge_contact). Measured: see the commit.

-- =============================================================================================
-- automation_limit_day_start: when the daily limit's day holding p_at begins
-- =============================================================================================
-- The local day begins at the active hours' end when they pass midnight (p_start > p_end), else at
-- midnight: date_trunc('day', local time - end) + end, as an instant in p_time_zone. p_days_after = 1
-- gives the next day's start (when the limit starts counting again), by the calendar, so a day of 23
-- or 25 hours ends where it should. One expression, no FROM: the planner inlines it.
create or replace function leadflow_private.automation_limit_day_start(
  p_time_zone text, p_start time, p_end time, p_at timestamptz, p_days_after integer
)
returns timestamptz
language sql
stable
parallel safe
as $$
  select (date_trunc('day', (p_at at time zone p_time_zone)
                            - case when p_start > p_end then p_end - time '00:00' else interval '0' end)
          + case when p_start > p_end then p_end - time '00:00' else interval '0' end
          + p_days_after * interval '1 day') at time zone p_time_zone
$$;
comment on function leadflow_private.automation_limit_day_start(text, time, time, timestamptz, integer) is
  'When the daily limit''s day holding p_at begins (p_days_after = 1: the next one), in time zone p_time_zone: at the active hours'' end when they pass midnight (start > end, 22:00-02:00: one night is one day), else at local midnight.';

revoke all on function leadflow_private.automation_limit_day_start(text, time, time, timestamptz, integer) from public, anon;
grant execute on function leadflow_private.automation_limit_day_start(text, time, time, timestamptz, integer) to authenticated, service_role;

-- The calendar-day helpers stay (a rule whose hours stay inside one day gets the same instants from
-- the helper above); their comments say so.
comment on function leadflow_private.automation_local_day_start(text, timestamptz) is
  'Midnight of p_at''s day in p_time_zone. The daily limit''s day: automation_limit_day_start (midnight too, unless the active hours pass midnight).';
comment on function leadflow_private.automation_next_local_day_start(text, timestamptz) is
  'The midnight that ends p_at''s day in p_time_zone (the next day''s start, also when that day has 23 or 25 hours). The daily limit''s next day: automation_limit_day_start(…, 1).';

-- =============================================================================================
-- automation_rule_usage: as in 20261122000210, counted since the limit's day began
-- =============================================================================================
-- What counts against a rule's daily limit: the sends since its day began (guard rows in sending,
-- sent or uncertain, summed from the rule's quarter-hour send counts, which a trigger keeps from the
-- ledger; the slot holding the day's start counts with the day, see the header) plus the contacts
-- claimed and not yet at the send step while their lease lasts. The day is
-- automation_limit_day_start's, from the rule's active hours (read here by its primary key, so the
-- callers' arguments stay) in p_time_zone. plpgsql, as before: called once per rule, its plan kept.
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
      where k.rule_id = p_rule_id
        and k.slot > (select leadflow_private.automation_limit_day_start(p_time_zone, r.active_hours_start, r.active_hours_end, p_now, 0)
                        from public.ai_automation_rules r where r.id = p_rule_id) - interval '15 minutes')
    + (select count(*) from public.ai_automation_contact_states h
        where h.rule_id = p_rule_id and h.current_stage in ('checking', 'eligible', 'generating', 'ready_to_send')
          and h.locked_until > p_now)
  )::integer;
end;
$$;
comment on function leadflow_private.automation_rule_usage(uuid, text, timestamptz) is
  'A rule''s use of its daily limit at p_now: sends since the limit''s day began (automation_limit_day_start: local midnight, or the active hours'' end when they pass midnight) plus contacts claimed and not yet sending.';

-- =============================================================================================
-- automation_judge_contact: as in 20261201001830_follow_up_due_after_window_closes, the limit's next day from the helper
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
      leadflow_private.automation_limit_day_start(r.time_zone, r.active_hours_start, r.active_hours_end, p_now, 1),
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
-- automation_evaluate: as in 20261201001830_follow_up_due_after_window_closes, the limit's next day from the helper
-- =============================================================================================
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
    -- they next begin, when its daily limit's next day begins, how many distinct tags tag_match = all needs,
    -- the Pages of another owner its contacts may be on.
    select r.*,
           leadflow_private.automation_rule_usage(r.id, r.time_zone, p_now) as used_today,
           leadflow_private.automation_in_active_hours(r.active_hours_start, r.active_hours_end, r.active_days, r.time_zone, p_now) as in_active_hours,
           leadflow_private.automation_next_active_start(r.active_hours_start, r.active_hours_end, r.active_days, r.time_zone, p_now) as next_active_at,
           leadflow_private.automation_limit_day_start(r.time_zone, r.active_hours_start, r.active_hours_end, p_now, 1) as next_day_start,
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

-- =============================================================================================
-- automation_rule_summary: as in 20261201001490_follow_up_next_local_day_and_usage, sent_today_count since the limit's day began
-- =============================================================================================
-- Same signature and columns: the view automation_monitor_summary and the grants stay.
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
        and x.attempted_at >= leadflow_private.automation_limit_day_start(r.time_zone, r.active_hours_start, r.active_hours_end, p_now, 0)),
    -- What the daily limit counts: sends since its day began (also in progress or uncertain) plus
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

-- =============================================================================================
-- automation_monitor_page: as in 20261201001490_follow_up_next_local_day_and_usage, sent_today_count since the limit's day began
-- =============================================================================================
-- Same signature: its grants stay.
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
                              and x.attempted_at >= leadflow_private.automation_limit_day_start(v_rule.time_zone, v_rule.active_hours_start,
                                                                                          v_rule.active_hours_end, p_now, 0)),
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
