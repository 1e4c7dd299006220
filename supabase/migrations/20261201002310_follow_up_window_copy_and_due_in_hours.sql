-- Follow-up: (1) a contact tagged while their message is being recorded is claimed, as Explain and the
-- monitor say; (2) a due time is never outside the rule's active hours.
-- New: leadflow_private.conversation_tags_settle_window() and its statement trigger
-- conversation_tags_settle_window on public.conversation_tags (after insert).
-- Re-created: leadflow_private.automation_due_at_of, with the rule's active hours as four more
-- arguments, so it is dropped and created again with its grants; and the two functions that call it,
-- leadflow_private.automation_judge_contact and leadflow_private.automation_evaluate (otherwise as in
-- 20261201001840_follow_up_overnight_window_one_day.sql: only the due time's arguments change; same
-- signatures, so their grants stay; their comments say the new rule).
--
-- (1) Why: every tag link carries a copy of its conversation's last customer message time (the
-- claim's (tag, window) index, 20261122000200_follow_up_automation.sql). The copy was set when a link
-- was made, from the conversation read without a lock, and rewritten on the conversation's links when
-- its time moved. When the person's message was recorded while the owner tagged them, in either order
-- of the two transactions, the new link kept the old time: the link's insert read the conversation
-- before the message's transaction committed (the insert's key check takes FOR KEY SHARE, which the
-- message's FOR NO KEY UPDATE does not wait for), and the message's rewrite of the links could not see
-- a link not yet committed. The claim walks the links inside the window by that copy, so it never
-- found the contact and counted it outside_window at every run, while Explain and the monitor, which
-- read the conversation itself, said it was due now; until the person wrote again.
--
-- Now, after each insert statement, the new links' conversations are locked FOR SHARE, in id order,
-- and the links whose copy differs from the conversation are set to it. FOR SHARE waits for a
-- message's transaction that holds the conversation and then reads the time it committed; held until
-- the tagging commits, it makes a message that comes meanwhile wait, so its rewrite of the links then
-- sees the new link. Both orders end with the conversation's time on the link. In id order, as every
-- writer of conversations takes them (the messages' trigger messenger_messages_touch_conversations,
-- messenger_record, the pipelines' assign and move; the claim skips what is locked): one insert of
-- many links (bulk tagging, an automation's add_tag) cannot deadlock with a message batch. Locked by
-- each link's own row trigger instead, in the order of the statement's rows, it could: the insert
-- shares conversation B, the messages lock A (the smaller id) and wait for B, the insert waits for A.
-- What it costs: one lock and one read per conversation of the statement's new links, and an update
-- only of the links whose copy was read stale (none unless a message was being recorded).
-- Links whose copy is stale already (made by that race before this migration) are set right below,
-- so those contacts are claimed at the next run.
--
-- (2) Why: the due time of a contact waiting for its interval, a retry or a takeover stop's end, or
-- for the daily limit's next day, was that instant itself, compared with the window's close
-- (20261201001830_follow_up_due_after_window_closes.sql), without looking at the active hours. For a
-- 09:00-17:00 New York rule, a contact followed up at 16:00 showed due at 20:00 (the 4 h interval's
-- end): at 20:00 the claim says outside_active_hours, at 09:00 the window had closed, and nothing was
-- ever sent. The daily limit's next day (local midnight) was promised the same way.
-- Now each of those times is moved to when the rule's active hours next begin at or after it
-- (automation_next_active_start: itself when inside the hours) before it is compared with the window's
-- close, so a send that can only come after the window closes shows no due time, as 1830 meant. The
-- daily limit's next day is moved once per rule (a rule's time, computed where the rule is read); the
-- interval's end, the retry and the stop's end per contact, for the contacts with those reasons only.
-- The reasons, statuses and counts are unchanged; the claim never read due_at.

-- =============================================================================================
-- (1) The tag links' window copy, settled after each insert
-- =============================================================================================
-- Security definer: signed-in users insert tag links but may not update them (no update policy) or
-- lock conversations; this only waits for the links' own conversations and copies their own times.
create or replace function leadflow_private.conversation_tags_settle_window()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform from public.messenger_conversations c
   where c.id in (select distinct n.conversation_id from new_links n)
   order by c.id
     for share of c;
  -- A new statement: it reads the times committed by the transactions the lock waited for.
  update public.conversation_tags ct
     set last_customer_message_at = c.last_customer_message_at
    from new_links n
    join public.messenger_conversations c on c.id = n.conversation_id
   where ct.conversation_id = n.conversation_id and ct.tag_id = n.tag_id
     and ct.last_customer_message_at is distinct from c.last_customer_message_at;
  return null;
end;
$$;
comment on function leadflow_private.conversation_tags_settle_window() is
  'After an insert into conversation_tags: locks the new links'' conversations FOR SHARE in id order (waiting for a message being recorded, and making one that comes meanwhile wait for the commit), then sets each new link''s last_customer_message_at copy to its conversation''s where it differs.';
revoke all on function leadflow_private.conversation_tags_settle_window() from public, anon, authenticated, service_role;

drop trigger if exists conversation_tags_settle_window on public.conversation_tags;
create trigger conversation_tags_settle_window
  after insert on public.conversation_tags
  referencing new table as new_links
  for each statement execute function leadflow_private.conversation_tags_settle_window();

-- The links the race left with an old time.
update public.conversation_tags ct
   set last_customer_message_at = c.last_customer_message_at
  from public.messenger_conversations c
 where c.id = ct.conversation_id and ct.last_customer_message_at is distinct from c.last_customer_message_at;

-- =============================================================================================
-- (2) automation_due_at_of: each time moved into the active hours first
-- =============================================================================================
-- The old signature goes: the functions calling it are created again below with the new one.
drop function if exists leadflow_private.automation_due_at_of(text, timestamptz, timestamptz, timestamptz, timestamptz, numeric, timestamptz, timestamptz, timestamptz);

-- When a contact not due will be (p_now when due; null when nothing says, or when that time is at
-- or after the contact's 24 h window closes: then nothing is sent unless the person writes again).
-- p_next_active_at and p_next_day_active_at are the rule's (computed once per rule by the callers):
-- when its active hours next begin, and when they first begin from the daily limit's next day on.
create function leadflow_private.automation_due_at_of(
  p_reason text, p_now timestamptz, p_stop_until timestamptz, p_retry_at timestamptz, p_last_follow_up_at timestamptz,
  p_min_hours_between_follow_ups numeric, p_next_active_at timestamptz, p_next_day_active_at timestamptz,
  p_window_closes_at timestamptz,
  p_active_hours_start time, p_active_hours_end time, p_active_days smallint[], p_time_zone text
)
returns timestamptz
language sql
stable
parallel safe
as $$
  -- least(t, close) is t when t is before the close, else the close, which nullif makes null; a
  -- contact with no window (never wrote) compares with -infinity, so it has no due time either.
  -- The stop's end, the retry and the interval's end are moved to the next start of the active
  -- hours (the time itself when inside them); only for those reasons is it computed.
  select nullif(
           least(
             case
               when p_reason is null then p_now
               when p_reason = 'outside_active_hours' then p_next_active_at
               when p_reason = 'daily_limit_reached' then p_next_day_active_at
               when p_reason in ('stopped', 'failed', 'interval_not_elapsed') then
                 leadflow_private.automation_next_active_start(
                   p_active_hours_start, p_active_hours_end, p_active_days, p_time_zone,
                   case p_reason
                     when 'stopped' then p_stop_until
                     when 'failed' then p_retry_at
                     else p_last_follow_up_at + p_min_hours_between_follow_ups * interval '1 hour'
                   end)
             end,
             coalesce(p_window_closes_at, '-infinity'::timestamptz)),
           coalesce(p_window_closes_at, '-infinity'::timestamptz))
$$;
comment on function leadflow_private.automation_due_at_of(text, timestamptz, timestamptz, timestamptz, timestamptz, numeric, timestamptz, timestamptz, timestamptz, time, time, smallint[], text) is
  'When a contact will be due, given its reason: now when due, the next active hours, and the stop''s end, the retry, the interval''s end or the daily limit''s next day each moved to the next start of the rule''s active hours (itself when inside them); null when that is at or after its 24 h window closes (p_window_closes_at), since nothing is sent then unless the person writes again.';

revoke all on function leadflow_private.automation_due_at_of(text, timestamptz, timestamptz, timestamptz, timestamptz, numeric, timestamptz, timestamptz, timestamptz, time, time, smallint[], text) from public, anon;
grant execute on function leadflow_private.automation_due_at_of(text, timestamptz, timestamptz, timestamptz, timestamptz, numeric, timestamptz, timestamptz, timestamptz, time, time, smallint[], text) to authenticated, service_role;

-- =============================================================================================
-- automation_judge_contact: as in 20261201001840_follow_up_overnight_window_one_day, the due time in the active hours
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
      r.active_hours_start, r.active_hours_end, r.active_days, r.time_zone),
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
-- automation_evaluate: as in 20261201001840_follow_up_overnight_window_one_day, the due time in the active hours
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
                                          r.active_hours_start, r.active_hours_end, r.active_days, r.time_zone),
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
