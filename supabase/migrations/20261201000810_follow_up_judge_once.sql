-- The follow-up judgement computes each contact's reason once.
-- Re-created: leadflow_private.automation_judge_contact (same signature, rows and values as in
-- 20261201000500).
--
-- Why: the console polls automation_monitor_page every 2 s, and issue 14 asks its first page for
-- 10,000 tagged contacts in at most 200 ms. The judgement's two lateral subqueries (f: the exclude
-- tag and the stop; x: the reason) were pulled up into the query that uses them, so each mention
-- of x.reason was replaced by the whole CASE: the reason column, due, due_at, contact_status and
-- is_being_processed each evaluated it again, and with it the exclude-tag probe and the active-hours
-- check. EXPLAIN ANALYZE of automation_evaluate over 10,000 contacts showed the exclude probe run up
-- to 14 times per contact. Each subquery now ends with OFFSET 0, which keeps it a subquery: it runs
-- once per contact and its columns are read, not recomputed.
--
-- Measured (automation_monitor_page for a rule with 10,000 tagged contacts, the old and the new
-- definition alternated 7 times each in one run, each in a rolled-back transaction, load average
-- 10 on 2 cores): median 337 ms before, 263 ms after; answers identical. The figures for the
-- closing note come from bench/console-monitor.ts.
--
-- Nothing else changes: the same rows, the same values, the same order of the reasons.

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
      when x.reason = 'stopped' then f.stop_until
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
      so.stop_reason,
      so.stop_until
    from leadflow_private.automation_stop_of(c.id, r.id, r.resume_after_takeover_hours, p_now) so
    offset 0
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
