-- Follow-up: the due time moved into the active hours (20261201002310) costs again about what it
-- did before that move, with the same answers.
-- New: leadflow_private.automation_active_starts (a rule's next openings, once) and
-- leadflow_private.automation_next_active_start_in (one time looked up in them).
-- Re-created: leadflow_private.automation_due_at_of, with the rule's openings as one more argument,
-- so it is dropped and created again with its grants; and the two functions that call it,
-- leadflow_private.automation_judge_contact and leadflow_private.automation_evaluate (otherwise as in
-- 20261201002310_follow_up_window_copy_and_due_in_hours.sql: only the due time's arguments change and
-- evaluate's rule row computes the openings; same signatures, so their grants stay; same comments).
--
-- Why: since 2310, automation_due_at_of moves the interval's end, a retry and a takeover stop's end
-- to automation_next_active_start per contact: a function with a sub-select over the next local
-- days that the planner does not write out, about 0.13 ms a contact. A 09:00-17:00 rule whose
-- 10,000 contacts all wait for an interval ending at 20:00 took automation_evaluate 7-9x as long as
-- before 2310 (Explain, the monitor's totals, the snapshot).
-- Now the rule's openings after p_now, over 11 local days, are computed once (automation_active_starts:
-- the same days, the same local start, the same "after" as automation_next_active_start), and each
-- contact's time is looked up in them with width_bucket (a binary search over at most 11 instants):
-- inside the hours the time itself, else the first opening after it. Only a time before the
-- window's close is looked up: the next start of a time at or after the close is at or after it too,
-- so it has no due time either way. So the array answers every time from p_now to the window's close,
-- which is at most 24 h after p_now unless the person's last message is after p_now; a time the
-- array does not reach (before p_now, or past its last opening) is computed per contact by
-- automation_next_active_start as before, so the answer is the same for every time.
-- test/db/follow-up/due-in-hours-openings.test.ts compares both ways over many instants and hours.

-- =============================================================================================
-- automation_active_starts, automation_next_active_start_in
-- =============================================================================================
create or replace function leadflow_private.automation_active_starts(
  p_start time, p_end time, p_days smallint[], p_time_zone text, p_at timestamptz
)
returns timestamptz[]
language sql
stable
parallel safe
as $$
  -- As automation_next_active_start's candidates (start = end: the day's midnight), from p_at's
  -- local day on, for 11 days: every opening after p_at of the next 10 local days at least, sorted.
  select array(
    select ((local_day + k) + b.day_start) at time zone p_time_zone
      from (select (p_at at time zone p_time_zone)::date as local_day) d
     cross join (select case when p_start = p_end then time '00:00' else p_start end as day_start) b
     cross join generate_series(0, 10) k
     where extract(isodow from local_day + k)::smallint = any (p_days)
       and ((local_day + k) + b.day_start) at time zone p_time_zone > p_at
     order by 1)
$$;
comment on function leadflow_private.automation_active_starts(time, time, smallint[], text, timestamptz) is
  'The openings of the active hours after p_at over its next 11 local days, in order (start = end, the whole day: each active day''s midnight): a rule''s, computed once, for automation_next_active_start_in.';

create or replace function leadflow_private.automation_next_active_start_in(
  p_start time, p_end time, p_days smallint[], p_time_zone text, p_starts timestamptz[], p_from timestamptz, p_at timestamptz
)
returns timestamptz
language sql
stable
parallel safe
as $$
  -- width_bucket gives how many openings are at or before p_at: the next one follows. The array
  -- holds every opening after p_from up to its last; outside that reach, computed as before.
  select case
    when p_at is null then null
    when leadflow_private.automation_in_active_hours(p_start, p_end, p_days, p_time_zone, p_at) then p_at
    when p_at >= p_from and p_at < p_starts[cardinality(p_starts)] then p_starts[width_bucket(p_at, p_starts) + 1]
    else leadflow_private.automation_next_active_start(p_start, p_end, p_days, p_time_zone, p_at)
  end
$$;
comment on function leadflow_private.automation_next_active_start_in(time, time, smallint[], text, timestamptz[], timestamptz, timestamptz) is
  'automation_next_active_start(p_at) read from p_starts = automation_active_starts(..., p_from) when p_at is from p_from to before its last opening (a binary search), computed otherwise: the same answer (null for a null p_at).';

revoke all on function leadflow_private.automation_active_starts(time, time, smallint[], text, timestamptz),
  leadflow_private.automation_next_active_start_in(time, time, smallint[], text, timestamptz[], timestamptz, timestamptz) from public, anon;
grant execute on function leadflow_private.automation_active_starts(time, time, smallint[], text, timestamptz),
  leadflow_private.automation_next_active_start_in(time, time, smallint[], text, timestamptz[], timestamptz, timestamptz) to authenticated, service_role;

-- =============================================================================================
-- automation_due_at_of: the time looked up in the rule's openings
-- =============================================================================================
-- The old signature goes: the functions calling it are created again below with the new one.
drop function if exists leadflow_private.automation_due_at_of(text, timestamptz, timestamptz, timestamptz, timestamptz, numeric, timestamptz, timestamptz, timestamptz, time, time, smallint[], text);

-- When a contact not due will be (p_now when due; null when nothing says, or when that time is at
-- or after the contact's 24 h window closes: then nothing is sent unless the person writes again).
-- p_next_active_at, p_next_day_active_at and p_starts are the rule's (computed once per rule by the
-- callers): when its active hours next begin, when they first begin from the daily limit's next day
-- on, and its openings after p_now (automation_active_starts).
create function leadflow_private.automation_due_at_of(
  p_reason text, p_now timestamptz, p_stop_until timestamptz, p_retry_at timestamptz, p_last_follow_up_at timestamptz,
  p_min_hours_between_follow_ups numeric, p_next_active_at timestamptz, p_next_day_active_at timestamptz,
  p_window_closes_at timestamptz,
  p_active_hours_start time, p_active_hours_end time, p_active_days smallint[], p_time_zone text,
  p_starts timestamptz[]
)
returns timestamptz
language sql
stable
parallel safe
as $$
  -- least(t, close) is t when t is before the close, else the close, which nullif makes null; a
  -- contact with no window (never wrote) compares with -infinity, so it has no due time either.
  -- The stop's end, the retry and the interval's end are moved to the next start of the active
  -- hours (the time itself when inside them), looked up in the rule's openings. Only a time before
  -- the close is (nullif(least(t, close), close) is t then, else null): the next start of a time at
  -- or after the close is at or after it too, null either way; no window: null, nothing looked up.
  select nullif(
           least(
             case
               when p_reason is null then p_now
               when p_reason = 'outside_active_hours' then p_next_active_at
               when p_reason = 'daily_limit_reached' then p_next_day_active_at
               when p_reason in ('stopped', 'failed', 'interval_not_elapsed') and p_window_closes_at is not null then
                 leadflow_private.automation_next_active_start_in(
                   p_active_hours_start, p_active_hours_end, p_active_days, p_time_zone, p_starts, p_now,
                   nullif(least(
                     case p_reason
                       when 'stopped' then p_stop_until
                       when 'failed' then p_retry_at
                       else p_last_follow_up_at + p_min_hours_between_follow_ups * interval '1 hour'
                     end,
                     p_window_closes_at), p_window_closes_at))
             end,
             coalesce(p_window_closes_at, '-infinity'::timestamptz)),
           coalesce(p_window_closes_at, '-infinity'::timestamptz))
$$;
comment on function leadflow_private.automation_due_at_of(text, timestamptz, timestamptz, timestamptz, timestamptz, numeric, timestamptz, timestamptz, timestamptz, time, time, smallint[], text, timestamptz[]) is
  'When a contact will be due, given its reason: now when due, the next active hours, and the stop''s end, the retry, the interval''s end or the daily limit''s next day each moved to the next start of the rule''s active hours (itself when inside them; looked up in p_starts, the rule''s openings after p_now); null when that is at or after its 24 h window closes (p_window_closes_at), since nothing is sent then unless the person writes again.';

revoke all on function leadflow_private.automation_due_at_of(text, timestamptz, timestamptz, timestamptz, timestamptz, numeric, timestamptz, timestamptz, timestamptz, time, time, smallint[], text, timestamptz[]) from public, anon;
grant execute on function leadflow_private.automation_due_at_of(text, timestamptz, timestamptz, timestamptz, timestamptz, numeric, timestamptz, timestamptz, timestamptz, time, time, smallint[], text, timestamptz[]) to authenticated, service_role;

-- =============================================================================================
-- automation_judge_contact: as in 20261201002310, the rule's next openings passed to the due time
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
      leadflow_private.automation_next_active_start(r.active_hours_start, r.active_hours_end, r.active_days, r.time_zone,
        leadflow_private.automation_limit_day_start(r.time_zone, r.active_hours_start, r.active_hours_end, p_now, 1)),
      c.last_customer_message_at + interval '24 hours',
      r.active_hours_start, r.active_hours_end, r.active_days, r.time_zone,
      leadflow_private.automation_active_starts(r.active_hours_start, r.active_hours_end, r.active_days, r.time_zone, p_now)),
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
  'The one judgement of "due" for one contact under one rule (no row when the contact does not carry the rule''s tags): the first reason it is not due (null: due) and when it will be (a stopped contact: when its stop ends by itself, null if never; each time moved to the next start of the rule''s active hours, null when that is at or after its 24 h window closes).';

-- =============================================================================================
-- automation_evaluate: as in 20261201002310, the rule's next openings computed once in its rule row
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
    -- they next begin, when they first begin from its daily limit's next day on, how many distinct
    -- tags tag_match = all needs, the Pages of another owner its contacts may be on.
    select r.*,
           leadflow_private.automation_rule_usage(r.id, r.time_zone, p_now) as used_today,
           leadflow_private.automation_in_active_hours(r.active_hours_start, r.active_hours_end, r.active_days, r.time_zone, p_now) as in_active_hours,
           leadflow_private.automation_next_active_start(r.active_hours_start, r.active_hours_end, r.active_days, r.time_zone, p_now) as next_active_at,
           -- The daily limit's next day, from its first active instant on (a due time in the hours).
           leadflow_private.automation_next_active_start(r.active_hours_start, r.active_hours_end, r.active_days, r.time_zone,
             leadflow_private.automation_limit_day_start(r.time_zone, r.active_hours_start, r.active_hours_end, p_now, 1)) as next_day_active_at,
           -- The openings of its active hours after p_now (11 local days): each contact's time is
           -- looked up in them (automation_due_at_of) instead of computed per contact.
           leadflow_private.automation_active_starts(r.active_hours_start, r.active_hours_end, r.active_days, r.time_zone, p_now) as active_starts,
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
                                          r.min_hours_between_follow_ups, r.next_active_at, r.next_day_active_at,
                                          c.last_customer_message_at + interval '24 hours',
                                          r.active_hours_start, r.active_hours_end, r.active_days, r.time_zone, r.active_starts),
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
  'Every contact carrying the rule''s tags, judged as automation_judge_contact judges one (the same rows, read with joins): the first reason it is not due (null: due) and when it will be (in the rule''s active hours; null when that is at or after its 24 h window closes).';
