-- Facebook Send: a begin sent again (its answer lost) answers send again for the contacts it began.
-- Re-created: public.automation_begin_send with a new last argument, p_begin_key (default null: as
-- before), otherwise as in 20261201000500. New column: ai_automation_executions.begin_key.
--
-- Why: when automation_begin_send committed but its answer was lost on the way back (a gateway's
-- 502/504, a reset connection), Facebook Send stopped with an error and called nothing: the
-- contacts stayed in sending behind a guard row at status sending, the reaper turned them into
-- failed send_uncertain when their lease ran out (never resent), and n8n running the same items
-- again got duplicate for each. Nothing had been sent. The node cannot simply call again: the
-- contacts are no longer ready_to_send and the guard is taken, so a repeat answers duplicate /
-- lease_lost, as it must for anyone else. Matching on the holder (p_execution_id) is not enough:
-- every sub-execution of one run, and a duplicated sub-execution, shares the claim's holder.
--
-- Now the node gives each begin a key of its own (a random UUID, p_begin_key) and repeats the call
-- with the same key when it fails for a moment (nodes/FacebookSend/transport/sendState.ts). The
-- key is written on the guard row (begin_key) and in the contact's stage detail (so its stage
-- event says which begin moved it). A call with a key finds the contacts that key began exactly
-- where it left them and answers as the first call did, writing nothing:
--   send     still sending, held by p_execution_id, the lease not run out, moved by this key: send
--            again, with the attempt id, follow-up number and message of the first answer;
--   skipped  skipped by this key (stopped, inactive, outside_window): skipped, the same reason.
-- Anything else is judged as before (duplicate, lease_lost): another key, no key, a contact
-- recorded, reaped or moved on since. The check reads the locked contact row (its latest version,
-- also when the repeat waited for the first call's lock), not the guard row: a guard row inserted
-- by a call that committed while this one waited is not in this statement's snapshot.
--
-- The old four-argument function is dropped, so that a call naming only those four arguments
-- (PostgREST, the Facebook Send node of older packages, positional SQL) finds the one function,
-- with p_begin_key null.

alter table public.ai_automation_executions add column if not exists begin_key uuid;
comment on column public.ai_automation_executions.begin_key is
  'The key of the automation_begin_send call that took the guard (Facebook Send: one per begin, kept when the call is repeated); null for callers that give none.';

drop function if exists public.automation_begin_send(text, uuid[], integer, timestamptz);

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
  judged as materialized (
    select l.*, c.page_id, c.sender_id, c.is_active, c.last_customer_message_at,
           g.id as guard_id, g.status as guard_status,
           st.stop_reason as stop_row_reason,
           -- A customer message since the last follow-up (or since the claim) stops the contact.
           st.stop_reason is null and r.stop_on_reply
             and c.last_customer_message_at > greatest(l.last_follow_up_at, l.claimed_at) as replied
      from locked l
      join public.messenger_conversations c on c.id = l.conversation_id
      join public.ai_automation_rules r on r.id = l.rule_id
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
         when j.stop_row_reason is not null or j.replied then 'stopped'
         when not j.is_active then 'inactive'
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
                                when d.stop_reason is not null then 'stopped: ' || d.stop_reason end,
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
  'Batch: take the duplicate guard, re-check stop / active / window, and move ready_to_send → sending; per item send | duplicate | skipped | lease_lost. Repeated with the same p_begin_key, the contacts that key began get the first answer (send, skipped) and nothing is written.';

revoke all on function public.automation_begin_send(text, uuid[], integer, timestamptz, uuid) from public, anon, authenticated;
grant execute on function public.automation_begin_send(text, uuid[], integer, timestamptz, uuid) to service_role;
