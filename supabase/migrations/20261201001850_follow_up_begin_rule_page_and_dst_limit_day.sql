-- Follow-up: the begin skips a contact no longer on the rule's Page or on a Page another owner
-- connected since the claim; the daily limit's day never begins after the instant it is asked for
-- (the nights the clocks change).
-- Re-created, as their latest definitions with the changes below (same signatures, grants; comments
-- updated to say so):
--   * public.automation_begin_send (as in 20261201001820_follow_up_begin_send_rule_still_allows.sql);
--   * leadflow_private.automation_limit_day_start (as in 20261201001840_follow_up_overnight_window_one_day.sql).
--
-- 1. The begin and the rule's Page.
-- Why: 1820 promised "the begin also checks, per contact, what the rule allows now", but it read
-- neither the rule's Page nor the contact's. The judgement keeps a rule's contacts to its Page
-- (automation_judge_contact, automation_evaluate: r.page_id is null or c.page_id = r.page_id). A
-- run claimed and generated; while it sent, the owner pointed the rule at another Page of theirs
-- (update ai_automation_rules set page_id = ...): the begin answered send and the follow-up went out
-- from the old Page, after which Explain said the conversation is not among the rule's contacts.
-- Likewise a Page of the contact's that another owner connected between the claim and the begin:
-- the claim passes such a contact over (page_of_another_owner, 20261201001620), the begin did not.
-- Now two more reasons, checked in the same statement for the whole batch:
--   not_on_rule_page       the rule has a Page (page_id not null) and the contact's conversation is
--                          on another one (the rule was moved, or the conversation): it is no
--                          longer among the rule's contacts, so, like not_tagged, it has no
--                          judgement reason of its own and the word is the begin's;
--   page_of_another_owner  messenger_pages connects the conversation's Page to an owner other than
--                          the rule's: the judgement's word (automation_reason_of) and the claim's.
--                          Tested as the claim tests it (a probe of messenger_pages' primary key
--                          per contact of the batch), not with the judgement's list
--                          automation_other_owner_pages(rule): for a conversation of the rule's
--                          owner the two say the same, and the probe needs no call per rule.
-- Order: rule_disabled, not_tagged, not_on_rule_page, excluded_tag, page_of_another_owner, then as
-- in 1820 stopped, inactive, max_follow_ups, outside_window (page_of_another_owner after
-- excluded_tag, as in the judgement). A contact that fails is skipped as in 1820 (no guard, lease
-- ended, count unchanged) and judged again at the next claim.
--
-- 2. The daily limit's day on the nights the clocks change.
-- Why: automation_limit_day_start computed (date_trunc('day', local - end) + end) at time zone.
-- When that local time is one the clocks repeat or skip that night (an overnight window ending at
-- 01:30 in New York's autumn night, 02:30 in its spring night), PostgreSQL reads it in standard time,
-- which can be after p_at: from 01:30 to 01:59 EDT on 1 Nov 2026 the day of a 22:00-01:30 rule began
-- at 01:30 EST, an hour ahead, so its usage read 0, and with 01:45-01:30 a claim took 2 more beyond
-- a limit of 2 (4 in one day of the limit); from 03:00 to 03:29 EDT on 8 Mar 2026 a 22:00-02:30
-- rule's day began at 03:30 EDT. The 1840 header's promise (the repeated hour counts with the night before,
-- never as a day of its own) held only for the instants after the day's start.
-- Now: when that start is after p_at, the day holding p_at is the previous date's (its start and, for
-- p_days_after, every later day counted from that date), so the day's start is never after p_at
-- and the next day's start (p_days_after = 1) is always after it: the repeated hour counts with the
-- day before, and on the spring night the day changes at the end read in standard time (02:30 EST,
-- 03:30 EDT), never before. Wherever the start was not after p_at, the instants are exactly
-- as before (automation_local_day_start and automation_next_local_day_start for rules whose hours
-- stay inside one day, as the 1840 test checks). Still one expression with no FROM, so the planner
-- still inlines it where it did (the claim's walk, automation_judge_contact).

-- =============================================================================================
-- automation_limit_day_start: as in 20261201001840, never after p_at
-- =============================================================================================
-- The local day begins at the active hours' end when they pass midnight (p_start > p_end), else at
-- midnight: date_trunc('day', local time - end) + end, as an instant in p_time_zone; one day earlier
-- when that instant is after p_at (the local time repeated or skipped that night, read in standard
-- time). p_days_after = 1 gives the next day's start, by the calendar from that date, so a day of
-- 23 or 25 hours ends where it should. One expression, no FROM: the planner inlines it.
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
          - case when (date_trunc('day', (p_at at time zone p_time_zone)
                                         - case when p_start > p_end then p_end - time '00:00' else interval '0' end)
                       + case when p_start > p_end then p_end - time '00:00' else interval '0' end) at time zone p_time_zone > p_at
                 then interval '1 day' else interval '0' end
          + p_days_after * interval '1 day') at time zone p_time_zone
$$;
comment on function leadflow_private.automation_limit_day_start(text, time, time, timestamptz, integer) is
  'When the daily limit''s day holding p_at begins (p_days_after = 1: the next one), in time zone p_time_zone: at the active hours'' end when they pass midnight (start > end, 22:00-02:00: one night is one day), else at local midnight. Never after p_at: a start the clocks repeat or skip that night, read in standard time after p_at, gives the previous date''s.';

revoke all on function leadflow_private.automation_limit_day_start(text, time, time, timestamptz, integer) from public, anon;
grant execute on function leadflow_private.automation_limit_day_start(text, time, time, timestamptz, integer) to authenticated, service_role;

-- =============================================================================================
-- automation_begin_send: as in 20261201001820, the rule's Page and another owner's Page checked too
-- =============================================================================================
create or replace function public.automation_begin_send(
  p_execution_id text,
  p_state_ids uuid[],
  p_lease_seconds integer default 120,
  p_now timestamptz default leadflow_private.now(),
  p_begin_key uuid default null
)
returns table (
  state_id uuid,
  outcome text,
  reason text,
  attempt_id uuid,
  follow_up_number integer,
  page_id text,
  recipient_id text,
  message text,
  window_closes_at timestamptz
)
language sql
volatile
set search_path = ''
as $$
  with locked as materialized (
    select s.id, s.user_id, s.rule_id, s.conversation_id, s.current_stage, s.locked_by, s.claimed_at,
           s.claimed_follow_up_number, s.last_follow_up_at, s.generated_message,
           s.locked_until, s.execution_id as state_execution_id, s.attempt_id as state_attempt_id,
           s.skip_reason as state_skip_reason, s.stage_detail ->> 'begin_key' as state_begin_key
      from public.ai_automation_contact_states s
     where s.id = any (p_state_ids)
     order by s.id
       for update
  ),
  -- The tags each of the batch's conversations carries now: one grouped read of conversation_tags
  -- (its primary key, conversation_id first) for the whole batch.
  carried as materialized (
    select ct.conversation_id, array_agg(ct.tag_id) as tag_ids
      from public.conversation_tags ct
     where ct.conversation_id in (select l.conversation_id from locked l)
     group by ct.conversation_id
  ),
  judged as materialized (
    select l.*, c.page_id, c.sender_id, c.is_active, c.last_customer_message_at,
           r.enabled as rule_enabled, r.tag_match, r.include_tag_ids, r.exclude_tag_ids, r.max_follow_ups,
           r.page_id as rule_page_id,
           coalesce(t.tag_ids, '{}') as tag_ids,
           -- Its Page connected to an owner other than the rule's: one probe of messenger_pages'
           -- primary key per contact, the claim's own test (20261201001620).
           exists (select from public.messenger_pages mp where mp.page_id = c.page_id and mp.user_id <> r.user_id)
             as page_of_another_owner,
           g.id as guard_id, g.status as guard_status,
           st.stop_reason as stop_row_reason,
           -- A customer message since the last follow-up (or since the claim) stops the contact.
           st.stop_reason is null and r.stop_on_reply
             and c.last_customer_message_at > greatest(l.last_follow_up_at, l.claimed_at) as replied
      from locked l
      join public.messenger_conversations c on c.id = l.conversation_id
      join public.ai_automation_rules r on r.id = l.rule_id
      left join carried t on t.conversation_id = l.conversation_id
      left join lateral (
        select e.id, e.status from public.ai_automation_executions e
         where e.rule_id = l.rule_id and e.conversation_id = l.conversation_id
           and e.follow_up_number = l.claimed_follow_up_number and e.status <> 'released'
         limit 1
      ) g on true
      cross join lateral leadflow_private.automation_stop_of(l.conversation_id, l.rule_id, r.resume_after_takeover_hours, p_now) st
  ),
  decided as materialized (
    select j.*,
           coalesce(j.stop_row_reason, case when j.replied then 'replied' end) as stop_reason,
           case
             -- This key's own begin, repeated: answered as the first time, nothing written.
             when j.state_begin_key = p_begin_key::text and j.current_stage = 'sending'
                  and j.locked_by = p_execution_id and j.locked_until > p_now then 'send_again'
             when j.state_begin_key = p_begin_key::text and j.current_stage = 'skipped'
                  and j.state_execution_id = p_execution_id then 'skipped_again'
             when j.guard_id is not null then 'duplicate'
             when j.current_stage <> 'ready_to_send' or j.locked_by is distinct from p_execution_id then 'lease_lost'
             when k.skip_reason is not null then 'skipped'
             else 'send'
           end as outcome,
           k.skip_reason,
           -- The guard row's id, chosen here so the transition below can name it without a join.
           gen_random_uuid() as new_attempt_id
      from judged j
     cross join lateral (
       select case
         -- What the rule allows now (it may have changed since the claim), in the judgement's words.
         when not j.rule_enabled then 'rule_disabled'
         when not (case when j.tag_match = 'all' then j.tag_ids @> j.include_tag_ids else j.tag_ids && j.include_tag_ids end) then 'not_tagged'
         -- The rule now sends from another Page: the contact is no longer among its contacts.
         when j.rule_page_id is not null and j.page_id is distinct from j.rule_page_id then 'not_on_rule_page'
         when j.tag_ids && j.exclude_tag_ids then 'excluded_tag'
         when j.page_of_another_owner then 'page_of_another_owner'
         when j.stop_row_reason is not null or j.replied then 'stopped'
         when not j.is_active then 'inactive'
         when j.claimed_follow_up_number > j.max_follow_ups then 'max_follow_ups'
         when j.last_customer_message_at is null or j.last_customer_message_at <= p_now - interval '24 hours' then 'outside_window'
       end as skip_reason
     ) k
  ),
  replied_stops as (
    insert into public.ai_automation_stops (user_id, conversation_id, rule_id, reason, note, execution_id)
    select d.user_id, d.conversation_id, d.rule_id, 'replied', 'customer message at ' || d.last_customer_message_at, p_execution_id
      from decided d
     where d.outcome = 'skipped' and d.replied
    on conflict (conversation_id, rule_id) do nothing
  ),
  guards as (
    insert into public.ai_automation_executions
      (id, user_id, rule_id, conversation_id, state_id, follow_up_number, execution_id, status, message, attempted_at, begin_key)
    select d.new_attempt_id, d.user_id, d.rule_id, d.conversation_id, d.id, d.claimed_follow_up_number, p_execution_id,
           'sending', d.generated_message, p_now, p_begin_key
      from decided d
     where d.outcome = 'send'
    on conflict (rule_id, conversation_id, follow_up_number) where status <> 'released' do nothing
    returning state_id
  ),
  moved as (
    update public.ai_automation_contact_states s
       set current_stage = case when d.outcome = 'send' then 'sending' else 'skipped' end,
           stage_entered_at = p_now,
           -- begin_key only when given: without one the detail is as before.
           stage_detail = case when d.outcome = 'send'
             then jsonb_build_object('attempt_id', d.new_attempt_id, 'follow_up_number', d.claimed_follow_up_number)
             else jsonb_build_object('reason', d.skip_reason, 'stop_reason', d.stop_reason) end
             || jsonb_strip_nulls(jsonb_build_object('begin_key', p_begin_key)),
           execution_id = p_execution_id,
           attempt_id = case when d.outcome = 'send' then d.new_attempt_id else s.attempt_id end,
           skip_reason = case when d.outcome = 'send' then s.skip_reason else d.skip_reason end,
           error_message = case when d.outcome = 'send' then s.error_message
                                when d.skip_reason = 'stopped' then 'stopped: ' || d.stop_reason end,
           locked_by = case when d.outcome = 'send' then s.locked_by end,
           locked_until = case when d.outcome = 'send' then p_now + make_interval(secs => p_lease_seconds) end,
           updated_at = now()
      from decided d
     where s.id = d.id
       and (d.outcome = 'skipped' or (d.outcome = 'send' and d.id in (select g.state_id from guards g)))
  ),
  -- A guard another execution took between our check and our insert: a duplicate after all.
  settled as (
    select d.*,
           case when d.outcome = 'send' and d.id not in (select g.state_id from guards g) then 'duplicate'
                when d.outcome = 'send_again' then 'send'
                when d.outcome = 'skipped_again' then 'skipped'
                else d.outcome end as final_outcome
      from decided d
  )
  select t.id,
         t.final_outcome,
         case t.final_outcome
           when 'duplicate' then coalesce(t.guard_status, 'sending')
           when 'lease_lost' then t.current_stage
           when 'skipped' then case when t.outcome = 'skipped_again' then t.state_skip_reason else t.skip_reason end
         end,
         case t.final_outcome
           when 'send' then case when t.outcome = 'send_again' then t.state_attempt_id else t.new_attempt_id end
           when 'duplicate' then t.guard_id
         end,
         t.claimed_follow_up_number,
         t.page_id,
         t.sender_id,
         case when t.final_outcome = 'send' then t.generated_message end,
         t.last_customer_message_at + interval '24 hours'
    from settled t
  union all
  select u.id, 'lease_lost', 'not_found', null, null, null, null, null, null
    from (select distinct u.id from unnest(p_state_ids) u (id)) u
   where u.id is not null and u.id not in (select l.id from locked l)
  order by 1
$$;
comment on function public.automation_begin_send(text, uuid[], integer, timestamptz, uuid) is
  'Batch: take the duplicate guard, re-check what the rule allows now (enabled, its include tags and Page, its excluded tags, the Page not another owner''s, max follow-ups: rule_disabled, not_tagged, not_on_rule_page, excluded_tag, page_of_another_owner, max_follow_ups) and stop / active / window, and move ready_to_send → sending; per item send | duplicate | skipped | lease_lost. Repeated with the same p_begin_key, the contacts that key began get the first answer (send, skipped) and nothing is written.';

revoke all on function public.automation_begin_send(text, uuid[], integer, timestamptz, uuid) from public, anon, authenticated;
grant execute on function public.automation_begin_send(text, uuid[], integer, timestamptz, uuid) to service_role;
