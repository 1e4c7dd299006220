-- automation_explain can return only the due contacts, its limit counting those, and puts the due
-- contacts of every rule first; and active hours whose start equals their end (the whole day) next
-- begin at midnight. Re-created: public.automation_explain (otherwise as in 20261122000220), with a
-- new last argument, p_only_due (default false: every tagged contact, as before), and
-- leadflow_private.automation_next_active_start (otherwise as in 20261122000210).
--
-- Why: the Tag Eligibility node's Explain with "Only Due Contacts" asked for p_limit rows (50 by
-- default) and dropped the contacts that were not due afterwards. With no rule chosen the rows were
-- ordered by rule first (due ones first only within each rule): a rule whose id sorts first and
-- that had 50 tagged contacts not due filled the limit, the node dropped them all and said there
-- were no contacts, while another rule's contacts were due and waiting. Now the filter is in the
-- query (p_only_due), so the limit counts due contacts, and the order is due first across the rules
-- (then rule, when due, contact), so a limited answer without the filter shows the due contacts
-- too. One rule's answer is in the order it had.
--
-- The old four-argument function is dropped, so that a call naming only those four arguments
-- (PostgREST, the Tag Eligibility node of older packages, positional SQL) finds the one function,
-- with p_only_due false.

drop function if exists public.automation_explain(uuid, uuid[], integer, timestamptz);

create or replace function public.automation_explain(
  p_rule_id uuid default null,
  p_conversation_ids uuid[] default null,
  p_limit integer default 1000,
  p_now timestamptz default leadflow_private.now(),
  p_only_due boolean default false
)
returns table (
  rule_id uuid,
  rule_name text,
  conversation_id uuid,
  page_id text,
  sender_id text,
  sender_name text,
  matching_tags text[],
  due boolean,
  contact_status text,
  reason text,
  stop_reason text,
  due_at timestamptz,
  current_stage text,
  follow_up_count integer,
  next_follow_up_number integer,
  max_follow_ups integer,
  last_follow_up_at timestamptz,
  last_customer_message_at timestamptz,
  window_closes_at timestamptz,
  executions_last_7_days integer,
  last_execution_at timestamptz
)
language sql
stable
set search_path = ''
as $$
  select e.rule_id, r.name, e.conversation_id, e.page_id, e.sender_id, e.sender_name, e.matching_tags,
         e.reason is null, e.contact_status, e.reason, e.stop_reason, e.due_at, e.current_stage,
         e.follow_up_count, e.follow_up_count + 1, r.max_follow_ups, e.last_follow_up_at,
         e.last_customer_message_at, e.window_closes_at, e.executions_last_7_days, e.last_execution_at
    from public.ai_automation_rules r
   cross join lateral leadflow_private.automation_evaluate(r.id, p_now) e
   where (case when p_rule_id is null then r.enabled else r.id = p_rule_id end)
     and (p_conversation_ids is null or e.conversation_id = any (p_conversation_ids))
     and (not coalesce(p_only_due, false) or e.reason is null)
   order by e.reason is not null, r.id, e.due_at nulls last, e.conversation_id
   limit greatest(1, least(coalesce(p_limit, 1000), 100000))
$$;
comment on function public.automation_explain(uuid, uuid[], integer, timestamptz, boolean) is
  'Why each tagged contact is or is not due under a rule (or every enabled rule), without claiming anything; due contacts first. With p_only_due, only the due ones (the limit counts those).';

revoke all on function public.automation_explain(uuid, uuid[], integer, timestamptz, boolean) from public, anon, authenticated;
grant execute on function public.automation_explain(uuid, uuid[], integer, timestamptz, boolean) to service_role, authenticated;

-- =============================================================================================
-- automation_next_active_start: start = end begins at midnight
-- =============================================================================================
-- Why: automation_in_active_hours reads start = end as the whole of each active day, but this gave
-- the next active day at the start time. For 09:00-09:00 on weekdays, on a Saturday the contacts'
-- due_at (explain, the monitor) and the claim summary's nextActiveAt said Monday 09:00 while the
-- claims take them from Monday 00:00. Now start = end gives the next active day's 00:00, the
-- instant automation_in_active_hours first says true. Other hours are judged as before. Still SQL
-- with no SET clause, as before.
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
      select min(((local_day + k) + b.day_start) at time zone p_time_zone)
        from (select (p_at at time zone p_time_zone)::date as local_day) d
       cross join (select case when p_start = p_end then time '00:00' else p_start end as day_start) b
       cross join generate_series(0, 8) k
       where extract(isodow from local_day + k)::smallint = any (p_days)
         and ((local_day + k) + b.day_start) at time zone p_time_zone > p_at
    )
  end
$$;
comment on function leadflow_private.automation_next_active_start(time, time, smallint[], text, timestamptz) is
  'When the active hours next begin (p_at itself when inside them; start = end, the whole day: the next active day''s midnight).';
