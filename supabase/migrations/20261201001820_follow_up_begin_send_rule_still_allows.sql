-- Follow-up begin: a contact the rule no longer allows is skipped, not sent.
-- Re-created: public.automation_begin_send (same signature, grants and behaviour as in
-- 20261201001380_follow_up_begin_send_repeated.sql, plus the re-check below; its comment says so).
--
-- Why: the begin, the last step before Facebook is called, re-checked only the stops (and a reply
-- since the claim), whether the conversation is active and the 24 h window. What the rule allows
-- was judged at the claim only. A run's claim holds up to 1,000 contacts, and at 10 messages a
-- second the last begins ~100 s after it: when the owner switched the rule off, gave a contact an
-- excluded tag ("Do Not Contact"), took the rule's include tag off it, or lowered the follow-ups per
-- contact (max_follow_ups) in that time, the begin still answered send and the message went out,
-- while Explain, the monitor and the console then said of the person just messaged "The rule is
-- switched off", "Carries an excluded tag", "All follow-ups sent".
--
-- Now the begin also checks, per contact, what the rule allows now, in the same statement and for
-- the whole batch at once (the rule row is joined already; the batch's conversations' tags are read
-- in one grouped pass of conversation_tags by its primary key, not a lookup per contact):
--   rule_disabled   the rule is switched off (enabled false);
--   not_tagged      the contact no longer carries the rule's include tags as its tag match says
--                   (any: one of them; all: every one), the judgement's own test
--                   (automation_judge_contact / automation_evaluate), which, failing, leaves the
--                   contact out of the rule's contacts: it has no judgement reason of its own, so
--                   this word is the begin's;
--   excluded_tag    it carries one of the rule's excluded tags;
--   max_follow_ups  the follow-up it was claimed for is past the rule's maximum (the claimed
--                   follow-up number > max_follow_ups: the rule was lowered to what was sent).
-- The words are the judgement's (automation_reason_of), so the begin's answer, Facebook Send's
-- Skipped item, the run's skippedByReason, Explain and the monitor agree. Order: rule_disabled,
-- not_tagged, excluded_tag, then as before stopped, inactive, then max_follow_ups, outside_window
-- (the judgement's order, the begin's stopped-before-inactive kept). A reply since the claim still
-- records its replied stop whatever the reason given.
-- A contact that fails is what a skipped contact is today: ready_to_send -> skipped with
-- skip_reason the reason, no duplicate guard taken, its lease ended, follow_up_count unchanged; it
-- no longer counts in the day's use (it is not claimed) and is judged again at the next claim: due
-- again once the rule allows it (switched back on, the tag back), never otherwise. error_message
-- says "stopped: <why>" only when the reason is stopped. The daily limit is not re-checked: the
-- claim reserved the contact's place in it. Repeats with the same p_begin_key answer as before.

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
           coalesce(t.tag_ids, '{}') as tag_ids,
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
         when j.tag_ids && j.exclude_tag_ids then 'excluded_tag'
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
  'Batch: take the duplicate guard, re-check what the rule allows now (enabled, its include and excluded tags, max follow-ups: rule_disabled, not_tagged, excluded_tag, max_follow_ups) and stop / active / window, and move ready_to_send → sending; per item send | duplicate | skipped | lease_lost. Repeated with the same p_begin_key, the contacts that key began get the first answer (send, skipped) and nothing is written.';

revoke all on function public.automation_begin_send(text, uuid[], integer, timestamptz, uuid) from public, anon, authenticated;
grant execute on function public.automation_begin_send(text, uuid[], integer, timestamptz, uuid) to service_role;
