-- Facebook Send: a sent follow-up's time is when its send began, so a reply stored late still stops.
-- Re-created: public.automation_record_send (otherwise as in 20261201001300_follow_up_record_send_repeated.sql;
-- same signature and result, so its grants stay).
--
-- Why: automation_record_send set the contact's last_follow_up_at, and the outbound message's
-- sent_at, to p_now: when the record ran, once per batch at its end (Facebook Send begins a batch,
-- sends it at the Page's rate, then records it), not when the message went out. The stop-on-reply
-- trigger stops a sent contact only for a customer message after last_follow_up_at, and a reply is
-- stored with Facebook's own time. A person who answered after delivery but before the record
-- (the rest of the batch: ~110 s for 1,000 contacts at 10/s), whose reply was stored after the
-- record (Messenger Sync importing it later, a late webhook), had a reply older than
-- last_follow_up_at: no stop, and the next follow-up went to someone who had answered. The stored
-- follow-up also came after that reply in the conversation, so the history the next generation
-- reads had them in the wrong order. docs/database.md says a reply to a follow-up stops it.
--
-- Now a sent report takes both times from the send's start: the attempt's guard row's
-- attempted_at, which automation_begin_send writes (its p_now) before Facebook is called. That is
-- always before delivery: a customer message after it is a reply to this follow-up (or written
-- while it was being sent, which the trigger already stops while the contact is in sending: after
-- the claim), and one before it is not. Decisions:
--   * The interval (min_hours_between_follow_ups) and the stop-on-reply comparison are measured
--     from last_follow_up_at, now earlier by the time from the batch's begin to its record (about
--     the batch's length): the next follow-up may be due that much sooner, which is fine. The
--     daily limit and the send counts already count guard rows by attempted_at: unchanged, as are
--     follow_up_count and the ledger row (status, finished_at = p_now). stage_entered_at stays
--     p_now: the stage moved then.
--   * A report recorded again (20261201001300's repeat path) writes nothing and answers as before:
--     its check compares no time.
--   * A late sent for a contact the reaper made failed send_uncertain: its guard row is the attempt
--     that sent, so its begin is the time, as for any other.
--   * attempted_at is not null (default now()), so every guard row has a begin. A contact whose
--     guard row is gone (the ledger row deleted by hand: attempt_id has no foreign key) gets p_now,
--     as before. The begin is taken no later than p_now (least): a caller passing a p_now earlier
--     than its begin's gets p_now, as before.
--   * The stop trigger (leadflow_private.ai_automation_stop_on_reply) and automation_begin_send are
--     not changed: with last_follow_up_at at the send's start their comparison, a customer message
--     after greatest(last_follow_up_at, the claim while one is under way), is the right one. A
--     reply stored only after the next follow-up is claimed (hours late, past the interval) is
--     still compared with that claim, as before: that is what lets an owner resume a contact by
--     deleting its stop (begin_send must not stop it again for the message the stop was about).

create or replace function public.automation_record_send(
  p_execution_id text,
  p_items jsonb,
  p_now timestamptz default leadflow_private.now()
)
returns table (state_id uuid, outcome text)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_bad record;
  v_ids uuid[];
  v_outcomes text[];
  v_completed uuid[];
begin
  select x.state_id, x.outcome into v_bad
    from jsonb_to_recordset(p_items) as x (state_id uuid, outcome text)
   where x.state_id is null or x.outcome is null or x.outcome not in ('sent', 'skipped', 'failed', 'uncertain')
   limit 1;
  if found then
    raise exception 'each item needs a state_id and an outcome of sent, skipped, failed or uncertain (got %, %)', v_bad.state_id, v_bad.outcome
      using errcode = '22023';
  end if;

  with items as materialized (
    select distinct on (x.state_id) x.*
      from jsonb_to_recordset(p_items) as x (
        state_id uuid, outcome text, facebook_message_id text, reason text,
        error_code text, error_message text, retry_after_seconds integer
      )
     order by x.state_id
  ),
  -- Locked by key, in id order; whether each may take this report is checked on the locked row.
  locked as materialized (
    select i.*, s.user_id, s.rule_id, s.conversation_id, s.current_stage, s.locked_by, s.attempt_id,
           s.error_code as state_error_code, s.follow_up_count, s.generated_message, r.max_follow_ups
      from items i
      join public.ai_automation_contact_states s on s.id = i.state_id
      join public.ai_automation_rules r on r.id = s.rule_id
     order by s.id
       for update of s
  ),
  -- begun_at: when this attempt's send began (its guard row's attempted_at, written by
  -- automation_begin_send before Facebook was called), never later than this record; p_now when
  -- the guard row is gone. A sent follow-up's time, below.
  reported as materialized (
    select l.*,
           least((select e.attempted_at from public.ai_automation_executions e where e.id = l.attempt_id), p_now) as begun_at
      from locked l
     where l.attempt_id is not null
       and ((l.current_stage = 'sending' and l.locked_by = p_execution_id)
            or (l.current_stage = 'failed' and l.state_error_code = 'send_uncertain' and l.outcome = 'sent'))
  ),
  ledger as (
    update public.ai_automation_executions e
       set status = case v.outcome
                      when 'sent' then 'sent'
                      when 'skipped' then 'released'
                      when 'uncertain' then 'uncertain'
                      else case when v.retry_after_seconds is null then 'failed' else 'released' end
                    end,
           facebook_message_id = case when v.outcome = 'sent' then v.facebook_message_id else e.facebook_message_id end,
           finished_at = p_now,
           error_code = case v.outcome
                          when 'sent' then null
                          when 'skipped' then coalesce(v.error_code, v.reason)
                          when 'uncertain' then 'send_uncertain'
                          else v.error_code
                        end,
           error_message = case when v.outcome = 'sent' then null else v.error_message end
      from reported v
     where e.id = v.attempt_id
  ),
  unavailable as (
    insert into public.ai_automation_stops (user_id, conversation_id, rule_id, reason, note, execution_id)
    select distinct on (v.conversation_id) v.user_id, v.conversation_id, null, 'unavailable', v.error_message, p_execution_id
      from reported v
     where v.outcome = 'skipped' and v.reason = 'unavailable'
    on conflict (conversation_id, rule_id) do nothing
  ),
  outbound as (
    insert into public.messenger_messages (user_id, conversation_id, direction, text, facebook_message_id, sent_at)
    select v.user_id, v.conversation_id, 'outbound', v.generated_message, v.facebook_message_id, v.begun_at
      from reported v
     where v.outcome = 'sent'
    on conflict (facebook_message_id) do nothing
  ),
  moved as (
    update public.ai_automation_contact_states s
       set current_stage = case v.outcome when 'sent' then 'sent' when 'skipped' then 'skipped' else 'failed' end,
           stage_entered_at = p_now,
           stage_detail = case v.outcome
             when 'sent' then jsonb_build_object('facebook_message_id', v.facebook_message_id)
             when 'skipped' then jsonb_build_object('reason', coalesce(v.reason, 'skipped'), 'error_code', v.error_code)
             when 'uncertain' then jsonb_build_object('reason', 'send_uncertain', 'detail', v.error_message)
             else jsonb_build_object('error_code', v.error_code, 'retry_after_seconds', v.retry_after_seconds)
           end,
           execution_id = p_execution_id,
           follow_up_count = s.follow_up_count + case when v.outcome = 'sent' then 1 else 0 end,
           last_follow_up_at = case when v.outcome = 'sent' then v.begun_at else s.last_follow_up_at end,
           facebook_message_id = case when v.outcome = 'sent' then v.facebook_message_id else s.facebook_message_id end,
           skip_reason = case when v.outcome = 'skipped' then coalesce(v.reason, 'skipped') else s.skip_reason end,
           error_code = case v.outcome
                          when 'sent' then null
                          when 'skipped' then v.error_code
                          when 'uncertain' then 'send_uncertain'
                          else coalesce(v.error_code, 'send_failed')
                        end,
           error_message = case v.outcome
                             when 'sent' then null
                             when 'uncertain' then coalesce(v.error_message,
                               'No answer from Facebook: the message may or may not have been delivered, so it is not resent automatically.')
                             else v.error_message
                           end,
           retry_at = case v.outcome
                        when 'skipped' then s.retry_at
                        when 'failed' then p_now + make_interval(secs => v.retry_after_seconds)
                      end,
           locked_by = null,
           locked_until = null,
           updated_at = now()
      from reported v
     where s.id = v.state_id
    returning s.id,
              case when v.outcome = 'sent' and v.follow_up_count + 1 >= v.max_follow_ups then 'completed' else v.outcome end
                as outcome
  )
  select coalesce(array_agg(m.id), '{}'), coalesce(array_agg(m.outcome), '{}'),
         coalesce(array_agg(m.id) filter (where m.outcome = 'completed'), '{}')
    into v_ids, v_outcomes, v_completed
    from moved m;

  -- The rule's maximum reached: sent → completed (a second transition, so a second statement).
  update public.ai_automation_contact_states s
     set current_stage = 'completed',
         stage_detail = jsonb_build_object('reason', 'max_follow_ups', 'follow_up_count', s.follow_up_count)
   where s.id = any (v_completed);

  -- A report this execution already recorded, sent again because the answer to that call was lost
  -- (the node repeats the call on a transient failure): the same outcome as then, nothing written.
  -- It is that report only if the contact is where it left it: released, last moved by this
  -- execution, its guard row (the attempt this execution began) finished with the same status, and
  -- the same message id (sent) or the same stage detail (skipped, failed, uncertain: the reaper's
  -- send_uncertain names held_by, never equal). Anything else (another execution's, a different
  -- outcome, a contact moved on since) is lease_lost, as before. The rows were locked above.
  return query
    select u.id, u.outcome from unnest(v_ids, v_outcomes) u (id, outcome)
    union all
    select x.state_id, coalesce(again.outcome, 'lease_lost')
      from (select distinct on (y.state_id) y.*
              from jsonb_to_recordset(p_items) as y (
                state_id uuid, outcome text, facebook_message_id text, reason text,
                error_code text, error_message text, retry_after_seconds integer
              )
             order by y.state_id) x
      left join lateral (
        select case when s.current_stage = 'completed' then 'completed' else x.outcome end as outcome
          from public.ai_automation_contact_states s
          join public.ai_automation_executions e on e.id = s.attempt_id
         where s.id = x.state_id
           and s.locked_by is null
           and s.execution_id = p_execution_id
           and e.execution_id = p_execution_id
           and e.finished_at is not null
           and case x.outcome
                 when 'sent' then s.current_stage in ('sent', 'completed') and e.status = 'sent'
                                  and s.facebook_message_id = x.facebook_message_id
                                  and e.facebook_message_id = x.facebook_message_id
                 when 'skipped' then s.current_stage = 'skipped' and e.status = 'released'
                                  and s.stage_detail = jsonb_build_object('reason', coalesce(x.reason, 'skipped'), 'error_code', x.error_code)
                 when 'uncertain' then s.current_stage = 'failed' and e.status = 'uncertain'
                                  and s.stage_detail = jsonb_build_object('reason', 'send_uncertain', 'detail', x.error_message)
                 else s.current_stage = 'failed'
                      and e.status = case when x.retry_after_seconds is null then 'failed' else 'released' end
                      and s.stage_detail = jsonb_build_object('error_code', x.error_code, 'retry_after_seconds', x.retry_after_seconds)
               end
      ) again on true
     where x.state_id not in (select unnest(v_ids))
    order by 1;
end;
$$;
comment on function public.automation_record_send(text, jsonb, timestamptz) is
  'Batch: sending → sent (→ completed) / skipped (outside_window, unavailable → stop) / failed (retryable or permanent) / uncertain (no answer: guard kept, never resent); the same report again from the same execution answers as the first time and writes nothing.';
