-- Queue: a message dead `uncertain` never leaves its lead `new` with its backlog item dead (review
-- RM2 F2a). Re-created, same signatures (create or replace keeps the grants, re-stated all the
-- same; comments re-stated): public.queue_complete (otherwise as in
-- 20261201002770_queue_send_not_made.sql) and public.queue_claim (otherwise as in
-- 20261201002430_queue_backlog_dead_carries_cause.sql).
--
-- Why: after an uncertain send (it may have reached the person) the lead stays `queued` with its
-- backlog item `dead`, which Prepare never takes, and the owner decides: `contacted` if it arrived,
-- `new` to have it queued and sent again (docs/whatsapp.md, What each error leads to; the console's
-- words under the message). A lead the owner set back to `new` while its message was being sent
-- stayed `new` instead, its backlog item dead: no Prepare took it, and setting it to `new` again
-- changed no status, so the leads' trigger never queued it. The lead was stranded, silently.
-- Migration 20261201002360_queue_opted_out_marketing_stays_out.sql had mended exactly this for
-- 131050 only. Now both deaths that end a message `uncertain` make such a lead `queued`:
-- - queue_complete (Send's own report of `uncertain`): as for 131050 (ledger actor automation,
--   reason message_dead); the lead was locked first already (a failed report's lead is).
-- - queue_claim's reaper (a send begun whose lease ran out without a report): ledger actor
--   automation, reason send_uncertain, as the message's and the backlog item's rows. The reaper
--   changes the lead, so it locks it with its message, SKIP LOCKED both (lead, then message, is
--   the lock order of the leads' trigger, queue_take_lead and queue_complete: a reaper waiting for
--   a lead while holding its message could deadlock with a late Complete of that message). A
--   stranded message whose lead is locked is left to a later claim, as one a Complete is recording.
-- A lead of another status (taken over, contacted, do not contact…) keeps it, as before.
-- Leads left so before this migration are made queued at its end (below).

-- =============================================================================================
-- public.queue_complete: an uncertain death makes a lead still new queued, as 131050's
-- =============================================================================================
create or replace function public.queue_complete(
  p_worker text,
  p_results jsonb,
  p_now timestamptz default leadflow_private.now(),
  p_send_begun_only boolean default false
)
returns table (item_index integer, item_id uuid, status text, accepted boolean, reason text, next_attempt_at timestamptz)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_bad record;
  v_results leadflow_private.queue_send_result[];
  v_ids uuid[];
  v_done jsonb;
  v_sent uuid[];
  v_dead uuid[];
  v_unreachable uuid[];
  v_reopen uuid[];
  v_opted_out uuid[];
  v_message_ids jsonb;
  v_errors jsonb;
  v_settings jsonb;
  v_users uuid[];
  -- Sent or failed only for a message whose send began (queue_begin_send let it go).
  v_begun_only boolean := coalesce(p_send_begun_only, false);
  -- The messages released for phone_mismatch (their answers).
  v_mismatched jsonb := '{}'::jsonb;
  -- Reports refused because the message's send began (already_sending): any release, or a failure
  -- with a code Send gives only before a send begins.
  v_begun_refused uuid[] := '{}';
  -- As a tool: the messages whose failed invalid_message is taken (the stored message fails Send's rule).
  v_unsendable uuid[] := '{}';
begin
  if p_worker is null or length(btrim(p_worker)) = 0 or length(p_worker) > 200 or not leadflow_private.is_valid_text(p_worker, 'line') then
    raise exception 'p_worker: required, the worker that claimed the items (one line of at most 200 characters)' using errcode = '22023';
  end if;
  if jsonb_typeof(p_results) is distinct from 'array' then
    raise exception 'p_results: must be a JSON array of send results (got %)', coalesce(jsonb_typeof(p_results), 'null')
      using errcode = '22023', hint = 'Send [{"item_id": …, "outcome": "sent", "message_id": …}, …].';
  end if;
  if jsonb_array_length(p_results) > 1000 then
    raise exception 'p_results: at most 1000 results per call (got %)', jsonb_array_length(p_results)
      using errcode = '22023', hint = 'Split the batch: the Data API answers at most 1000 rows (max-rows), one per item.';
  end if;
  select e.n - 1 as idx, p.problem into v_bad
    from jsonb_array_elements(p_results) with ordinality e (item, n)
   cross join lateral (
     select case
       when jsonb_typeof(e.item) is distinct from 'object' then ': must be an object (got ' || coalesce(jsonb_typeof(e.item), 'null') || ')'
       when e.item - '{item_id,outcome,message_id,error}'::text[] <> '{}'::jsonb then
         '.' || (jsonb_path_query_array(e.item - '{item_id,outcome,message_id,error}'::text[], '$.keyvalue().key') ->> 0)
           || ': not a field of a send result; the fields are item_id, outcome, message_id, error'
       when not leadflow_private.pipeline_is_uuid(e.item -> 'item_id') then
         '.item_id: required, the item_id the claim gave (a uuid) (got ' || coalesce(left((e.item -> 'item_id')::text, 100), 'nothing') || ')'
       when (e.item ->> 'outcome') is null or (e.item ->> 'outcome') not in ('sent', 'failed', 'released') then
         '.outcome: required, sent, failed or released (got ' || coalesce(left((e.item -> 'outcome')::text, 100), 'nothing') || ')'
       when not leadflow_private.pipeline_is_null(e.item -> 'message_id')
            and (jsonb_typeof(e.item -> 'message_id') <> 'string' or length(e.item ->> 'message_id') not between 1 and 200
                 or not leadflow_private.is_valid_text(e.item ->> 'message_id', 'token')) then
         '.message_id: must be WhatsApp''s message id: 1 to 200 characters without spaces (got ' || left((e.item -> 'message_id')::text, 100) || ')'
       when e.item ->> 'outcome' = 'sent' and leadflow_private.pipeline_is_null(e.item -> 'message_id') then
         '.message_id: required when the outcome is sent: the id WhatsApp answered (messages[0].id)'
       when not leadflow_private.pipeline_is_null(e.item -> 'error') and jsonb_typeof(e.item -> 'error') <> 'object' then
         '.error: must be an object {"code"?, "message"} or null (got ' || jsonb_typeof(e.item -> 'error') || ')'
       when jsonb_typeof(e.item -> 'error') = 'object' and (e.item -> 'error') - '{code,message,permanent,retry_after_seconds}'::text[] <> '{}'::jsonb then
         '.error.' || (jsonb_path_query_array((e.item -> 'error') - '{code,message,permanent,retry_after_seconds}'::text[], '$.keyvalue().key') ->> 0)
           || ': not a field of an error; the fields are code, message, permanent and retry_after_seconds'
       when jsonb_typeof(e.item -> 'error') = 'object'
            and (jsonb_typeof(e.item #> '{error,message}') is distinct from 'string' or length(btrim(e.item #>> '{error,message}')) not between 1 and 2000
                 or not leadflow_private.is_valid_text(e.item #>> '{error,message}', 'multiline')) then
         '.error.message: required, 1 to 2000 characters without control characters'
       when jsonb_typeof(e.item -> 'error') = 'object' and not leadflow_private.pipeline_is_null(e.item #> '{error,code}')
            and (jsonb_typeof(e.item #> '{error,code}') not in ('string', 'number') or length(e.item #>> '{error,code}') not between 1 and 100
                 or not leadflow_private.is_valid_text(e.item #>> '{error,code}', 'line')) then
         '.error.code: must be a string or a number of at most 100 characters, or null'
       when jsonb_typeof(e.item -> 'error') = 'object' and not leadflow_private.pipeline_is_null(e.item #> '{error,permanent}')
            and jsonb_typeof(e.item #> '{error,permanent}') <> 'boolean' then
         '.error.permanent: must be true, false or null (got ' || left((e.item #> '{error,permanent}')::text, 100) || ')'
       when jsonb_typeof(e.item -> 'error') = 'object' and not leadflow_private.pipeline_is_null(e.item #> '{error,retry_after_seconds}')
            and (jsonb_typeof(e.item #> '{error,retry_after_seconds}') <> 'number'
                 or (e.item #>> '{error,retry_after_seconds}')::numeric not between 0 and 86400) then
         '.error.retry_after_seconds: must be a number of seconds from 0 to 86400, or null (got '
           || left((e.item #> '{error,retry_after_seconds}')::text, 100) || ')'
     end as problem
   ) p
   where p.problem is not null
   order by e.n
   limit 1;
  if found then
    raise exception 'p_results[%]%', v_bad.idx, v_bad.problem
      using errcode = '22023', hint = 'Correct that result and send the batch again: nothing was written.';
  end if;
  select min(e.n) - 1 as first_index, max(e.n) - 1 as second_index, e.item ->> 'item_id' as id into v_bad
    from jsonb_array_elements(p_results) with ordinality e (item, n)
   group by e.item ->> 'item_id'
  having count(*) > 1
   limit 1;
  if found then
    raise exception 'p_results[%].item_id: item % is listed twice (also p_results[%])', v_bad.second_index, v_bad.id, v_bad.first_index
      using errcode = '22023', hint = 'Report each item once.';
  end if;

  perform leadflow_private.queue_set_actor('automation');
  v_results := array(
    select row((e.n - 1)::integer, (e.item ->> 'item_id')::uuid, e.item ->> 'outcome', e.item ->> 'message_id',
               case when e.item ->> 'outcome' = 'failed' then
                 jsonb_build_object('message', 'send failed (no error given)')
                   || jsonb_strip_nulls(jsonb_build_object('code', e.item #>> '{error,code}', 'message', btrim(e.item #>> '{error,message}'),
                                                           'permanent', case when (e.item #> '{error,permanent}') = 'true'::jsonb then true end))
               end,
               coalesce((e.item #>> '{error,permanent}')::boolean, false),
               (e.item #>> '{error,retry_after_seconds}')::numeric)::leadflow_private.queue_send_result
      from jsonb_array_elements(p_results) with ordinality e (item, n));
  v_ids := array(select r.item_id from unnest(v_results) r);

  -- The lock order is lead, message, backlog item: the leads' trigger (the owner's app, n8n) and
  -- queue_take_lead lock the lead, then its messages. So first the leads of the results that may
  -- wait for one of them: a failed or released message (its trigger reads the lead FOR SHARE:
  -- 20261201001160; a dead one changes it) and one reported sent whose send never began (a
  -- take-over would cancel it; the lead becomes contacted), those this worker holds, in id order,
  -- one statement. A message whose send began and is sent is left out: nobody else touches it, and
  -- Send's reports are mostly those.
  perform from public.leads l
   where l.id in (select q.lead_id
                    from unnest(v_results) r
                    join public.whatsapp_message_queue q on q.id = r.item_id
                   where q.status = 'claimed' and q.lease_holder = p_worker
                     and (r.outcome <> 'sent' or q.send_started_at is null)
                     -- (a superset of the reports taken: locking one lead more is harmless)
                     and (not v_begun_only or r.outcome = 'released' or q.send_started_at is not null
                          or (r.outcome = 'failed' and r.error ->> 'code' = 'invalid_message')))
   order by l.id
     for no key update of l;
  -- Then the messages, those this worker holds, each by its id; then what became of each, one row
  -- per message changed. Each result finds its message by the primary key (q.id = r.item_id is the
  -- only condition on q an index can serve).
  v_users := array(select distinct l.user_id
                      from (select q.user_id from public.whatsapp_message_queue q where q.id = any (v_ids) order by q.id for update) l);
  select coalesce(jsonb_object_agg(s.user_id, jsonb_build_object('max', s.max_attempts, 'backoff', s.retry_backoff_seconds)), '{}'::jsonb)
    into v_settings
    from public.user_queue_settings s
   where s.user_id = any (v_users);
  -- A report that cannot be what became of a message whose send began (held by this worker):
  -- - any release, whatever its code and its lead's status (20261201002770): Send, which alone
  --   knows a request it let go was not made (Meta refused it: invalid_token, business_account; the
  --   batch stopped or the run was cancelled before it: not_attempted; a later queue_begin_send
  --   call of its group failed: not_checked), takes its own mark back first
  --   (queue_send_not_made), so its release finds the send not begun. Before, those four codes
  --   were taken on the reporter's word: an agent's Complete or a workflow's own report of
  --   released not_attempted for a delivered message put it back in the queue (sent twice);
  -- - a failure with a code Send (or Claim) gives only for a message it never let go:
  --   invalid_message (failed before any call), queue_begin_send's refusals (already_sending,
  --   phone_mismatch, not_held, cancelled, phone_changed, already_completed, not_found), the codes
  --   of its releases (not_checked, not_attempted) and of a node's give-back (send_setup_failed,
  --   claim_failed). Send's failures of a message it let go (Meta's codes, not_sent, uncertain)
  --   are taken.
  -- Such a report comes from a second Send of it (an AI agent calling Send again), from an agent's
  -- or a workflow's own report, or is made up; taken, it cleared the send's mark (released: due
  -- again, sent twice), made it due again after the backoff (failed: sent twice), or ended a
  -- delivered message dead and its lead new (another message later). Refused, reason
  -- already_sending, nothing written: the report of the Send that let it go is the one recorded
  -- (migrations 20261201002690, 20261201002700, 20261201002720). The message stays claimed until
  -- its lease ends, then the next claim ends it dead uncertain.
  v_begun_refused := array(
    select q.id
      from jsonb_array_elements(p_results) e (item)
      join public.whatsapp_message_queue q on q.id = (e.item ->> 'item_id')::uuid
     where q.status = 'claimed' and q.lease_holder = p_worker and q.send_started_at is not null
       and (e.item ->> 'outcome' = 'released'
            or (e.item ->> 'outcome' = 'failed'
                -- Send's every failure carries a code (Meta's, not_sent, uncertain): one without a
                -- code, or a refused code in other letter case, is not Send's report either (…2730).
                and lower(btrim(coalesce(e.item #>> '{error,code}', ''))) = any (array['', 'invalid_message', 'already_sending', 'phone_mismatch', 'not_held', 'cancelled',
                                                           'phone_changed', 'already_completed', 'not_found', 'not_checked', 'not_attempted',
                                                           'send_setup_failed', 'claim_failed']))));
  -- As a tool, failed with invalid_message for a message whose send never began is taken only when
  -- the message as stored, {{name}} filled as Claim hands it out, fails Send's rule
  -- (queue_message_sends): then no Send can send it and it ends dead, as in a workflow. Otherwise
  -- the text was the model's (Send's Message filled by $fromAI): refused send_not_begun below, the
  -- message still held for a Send with a text that fits.
  if v_begun_only then
    v_unsendable := array(
      select q.id
        from jsonb_array_elements(p_results) e (item)
        join public.whatsapp_message_queue q on q.id = (e.item ->> 'item_id')::uuid
        join public.leads l on l.id = q.lead_id
       where e.item ->> 'outcome' = 'failed' and e.item #>> '{error,code}' = 'invalid_message'
         and q.status = 'claimed' and q.lease_holder = p_worker and q.send_started_at is null
         and not leadflow_private.queue_message_sends(q.message, l.name));
  end if;
  -- A message Send released because its Phone was not the message's (error code phone_mismatch),
  -- its send not begun: released here, in one statement, so that its ledger row says why (reason
  -- phone_mismatch). The detail is the database's own words, never the report's text: Send's
  -- message names the phone it was given, often another lead's (another owner's, when one Claim
  -- serves every owner), and the ledger is append-only. The statement below then leaves it alone
  -- (no longer claimed) and its answer is taken from here.
  perform leadflow_private.queue_set_actor('automation', null, 'phone_mismatch',
                                           jsonb_build_object('code', 'phone_mismatch', 'message',
                                             'Not sent: Send was given a phone that is not this message''s (its lead''s phone, the one Claim gave); the phone given is not stored. Map the phone Claim returns in Send''s Phone.'));
  with mismatched as (
    update public.whatsapp_message_queue q
       set status = 'queued', attempts = q.attempts - 1, lease_holder = null, send_started_at = null, lease_expires_at = null,
           completed_at = null, updated_at = p_now
      from jsonb_array_elements(p_results) e (item)
     where q.id = (e.item ->> 'item_id')::uuid
       and e.item ->> 'outcome' = 'released' and e.item #>> '{error,code}' = 'phone_mismatch'
       and q.status = 'claimed' and q.lease_holder = p_worker and q.send_started_at is null
    returning q.id
  )
  select coalesce(jsonb_object_agg(m.id, jsonb_build_object('status', 'queued', 'next', null)), '{}'::jsonb)
    into v_mismatched
    from mismatched m;
  perform leadflow_private.queue_set_actor('automation');
  with done as (
    update public.whatsapp_message_queue q
       set status = case when r.outcome = 'sent' then 'sent' when r.outcome = 'released' then 'queued'
                         when r.permanent or q.attempts >= coalesce((v_settings #>> array[q.user_id::text, 'max'])::integer, 3) then 'dead' else 'failed' end,
           attempts = case when r.outcome = 'released' then q.attempts - 1 else q.attempts end,
           message_id = case when r.outcome = 'sent' then r.message_id else q.message_id end,
           last_error = case when r.outcome = 'failed' then r.error else q.last_error end,
           scheduled_for = case when r.outcome = 'failed' and not r.permanent and q.attempts < coalesce((v_settings #>> array[q.user_id::text, 'max'])::integer, 3)
                                then p_now + make_interval(secs => greatest(least(86400, coalesce((v_settings #>> array[q.user_id::text, 'backoff'])::integer, 300) * power(2, q.attempts - 1)),
                                                                           coalesce(r.retry_after, 0))::double precision)
                                else q.scheduled_for end,
           lease_holder = case when r.outcome = 'released' then null else q.lease_holder end,
           -- Released: not sent, so no send of it began (queue_begin_send's mark is taken back).
           send_started_at = case when r.outcome = 'released' then null else q.send_started_at end,
           lease_expires_at = null,
           completed_at = case when r.outcome = 'sent' or (r.outcome = 'failed' and (r.permanent or q.attempts >= coalesce((v_settings #>> array[q.user_id::text, 'max'])::integer, 3))) then p_now end,
           updated_at = p_now
      from unnest(v_results) r
     where q.id = r.item_id and q.status = 'claimed' and q.lease_holder = p_worker
       -- p_send_begun_only: a sent or failed report of a message whose send never began is refused
       -- (send_not_begun below), nothing written.
       -- Failed invalid_message is taken when the stored message cannot be sent (v_unsendable).
       and (not v_begun_only or r.outcome = 'released' or q.send_started_at is not null or q.id = any (v_unsendable))
       -- A report that cannot describe a send that began (v_begun_refused): refused already_sending.
       and not q.id = any (v_begun_refused)
    returning q.id, q.lead_id, q.status, q.message_id, q.scheduled_for, q.last_error ->> 'code' as error_code, q.last_error
  )
  select coalesce(jsonb_object_agg(d.id, jsonb_build_object('status', d.status, 'next', case when d.status = 'failed' then d.scheduled_for end)), '{}'::jsonb),
         array_agg(d.lead_id) filter (where d.status = 'sent'), array_agg(d.lead_id) filter (where d.status = 'dead'),
         -- Dead: the recipient's fault (131026: invalid), or the lead back to new unless the send
         -- may have gone out (uncertain) or the person stopped the business's marketing messages
         -- (131050): then the lead keeps its status, its backlog item dead, out of Prepare's reach.
         array_agg(d.lead_id) filter (where d.status = 'dead' and d.error_code = '131026'),
         array_agg(d.lead_id) filter (where d.status = 'dead' and d.error_code is distinct from '131026' and d.error_code is distinct from '131050'
                                      and d.error_code is distinct from 'uncertain'),
         -- 131050 and uncertain: a lead still new (set back to new while the message waited or was
         -- being sent) is made queued below.
         array_agg(d.lead_id) filter (where d.status = 'dead' and d.error_code in ('131050', 'uncertain')),
         jsonb_object_agg(d.lead_id, d.message_id) filter (where d.status = 'sent'),
         jsonb_object_agg(d.lead_id, d.last_error) filter (where d.status = 'dead')
    into v_done, v_sent, v_dead, v_unreachable, v_reopen, v_opted_out, v_message_ids, v_errors
    from done d;
  v_done := v_done || v_mismatched;

  -- Then the backlog items and the leads of the messages sent or dead, by their leads' ids. A dead
  -- backlog item takes its message's error as its last_error, so its ledger row says what the
  -- message's says (permanent_error for a permanent one, max_attempts otherwise; the error as its
  -- detail), never max_attempts for a message that died on its first attempt.
  if v_sent is not null or v_dead is not null then
    update public.lead_processing_queue p
       set status = case when p.lead_id = any (v_sent) then 'sent' else 'dead' end,
           message_id = v_message_ids ->> p.lead_id::text,
           last_error = case when p.lead_id = any (v_sent) then p.last_error else v_errors -> p.lead_id::text end,
           updated_at = p_now
     where p.lead_id = any (coalesce(v_sent, '{}') || coalesce(v_dead, '{}')) and p.status = 'claimed';
    if v_sent is not null then
      perform leadflow_private.queue_set_actor('automation', null, 'message_sent');
      update public.leads l set status = 'contacted', updated_at = p_now where l.id = any (v_sent) and l.status in ('new', 'queued');
      -- The lead's campaign sessions are contacted by the send, whatever the lead's status (taken
      -- over, engaged while its message went out): contacted_at is the earliest send, never moved
      -- later. A lead's sessions: the one it holds (campaign_session_id), and every session of the
      -- owner with its phone that no lead holds (a phone shared by two campaigns: one lead, one
      -- message, both sessions contacted). After the lead (its trigger did this already for a lead
      -- just made contacted): the lock order of the leads' trigger, lead then session.
      update public.session_info s
         set contacted_at = least(coalesce(s.contacted_at, p_now), p_now)
        from (select distinct x.id
                from public.leads l
               cross join lateral (
                 select h.id from public.session_info h
                  where h.id = l.campaign_session_id and h.user_id = l.user_id
                 union all
                 select p.id from public.session_info p
                  where l.phone is not null and p.user_id = l.user_id and p.phone_e164 = l.phone
                    and not exists (select from public.leads o where o.user_id = p.user_id and o.campaign_session_id = p.id)
               ) x
               where l.id = any (v_sent)) x
       where s.id = x.id
         and (s.contacted_at is null or s.contacted_at > p_now);
    end if;
    if v_unreachable is not null or v_reopen is not null then
      perform leadflow_private.queue_set_actor('automation', null, 'message_dead');
      -- Back to new, the leads' trigger re-queues the backlog item (dead -> queued) for the next Prepare.
      update public.leads l
         set status = case when l.id = any (v_unreachable) then 'invalid' else 'new' end,
             updated_at = p_now
       where l.id = any (coalesce(v_unreachable, '{}') || coalesce(v_reopen, '{}'))
         and l.status in ('new', 'queued') and (l.status = 'queued' or l.id = any (v_unreachable));
      -- A lead new already (set back to new while its message waited or was being sent: its backlog
      -- item was claimed, so the leads' trigger left it) gets its backlog item queued again here, as
      -- that trigger does: dead -> queued, its ledger row by the ledger trigger (reason
      -- message_dead). Those just made new by the statement above are queued already.
      if v_reopen is not null then
        update public.lead_processing_queue p
           set status = 'queued', day = null, lease_holder = null, lease_expires_at = null, scheduled_for = p_now, updated_at = p_now
          from public.leads l
         where l.id = any (v_reopen) and l.status = 'new' and p.lead_id = l.id and p.status = 'dead';
      end if;
    end if;
    -- 131050 (the person stopped the business's marketing messages) and uncertain (the send may
    -- have reached the person): a lead the owner set back to new while its message waited or was
    -- being sent would stay new with its backlog item dead, which no Prepare takes and which
    -- setting it to new again could not queue (the leads' trigger acts on a change of status only).
    -- It is made queued, as a lead queued already stays: out of Prepare's reach until the owner
    -- sets it to new (ledger: automation, message_dead). For uncertain the owner decides: contacted
    -- if it arrived, new to have it queued and sent again.
    if v_opted_out is not null then
      perform leadflow_private.queue_set_actor('automation', null, 'message_dead');
      update public.leads l
         set status = 'queued', updated_at = p_now
       where l.id = any (v_opted_out) and l.status = 'new';
    end if;
  end if;
  perform leadflow_private.queue_set_actor(null);

  -- A result not recorded now may be this worker's report recorded by an earlier call whose answer
  -- was lost (n8n's Retry On Fail sends the same batch again): then the answer is that call's
  -- (accepted, the status it left, when a failed one is due) and nothing is written. It is that
  -- report only if the message's last change is that report's own: its latest ledger row moved it
  -- from claimed, by this worker, to the status it still has, with the attempt as that report
  -- leaves it (released gives the attempt back), and the same message id (sent) or the same error
  -- (failed). Anything else is refused as before.
  return query
    select (e.n - 1)::integer, (e.item ->> 'item_id')::uuid,
           coalesce(v_done -> (e.item ->> 'item_id') ->> 'status', q.status),
           v_done ? (e.item ->> 'item_id') or coalesce(q.repeated, false),
           case when v_done ? (e.item ->> 'item_id') or q.repeated then null
                when q.id is null then 'not_found'
                when q.status = 'cancelled' then 'cancelled'
                when q.status in ('sent', 'failed', 'dead') then 'already_completed'
                when q.status = 'claimed' and q.lease_holder = p_worker and q.id = any (v_begun_refused) then 'already_sending'
                when v_begun_only and r.outcome <> 'released' and q.status = 'claimed' and q.lease_holder = p_worker
                     and q.send_started_at is null and not q.id = any (v_unsendable) then 'send_not_begun'
                else 'not_held' end,
           coalesce((v_done -> (e.item ->> 'item_id') ->> 'next')::timestamptz,
                    case when q.repeated and q.status = 'failed' then q.scheduled_for end)
      from jsonb_array_elements(p_results) with ordinality e (item, n)
      join unnest(v_results) r on r.item_index = (e.n - 1)::integer
      -- Why a result was refused: its message as it is now, read only for a refused one.
      left join lateral (
        select q.id, q.status, q.scheduled_for, q.lease_holder, q.send_started_at,
               coalesce(l.from_status = 'claimed' and l.worker = p_worker and l.to_status = q.status and l.actor = 'automation'
                        and case r.outcome
                              when 'sent' then q.status = 'sent' and q.message_id = r.message_id
                              when 'failed' then q.status in ('failed', 'dead', 'cancelled') and q.last_error = r.error
                                                 and l.attempt = l.claimed_attempt
                              else q.status in ('queued', 'cancelled') and l.attempt = l.claimed_attempt - 1
                            end, false) as repeated
          from public.whatsapp_message_queue q
          left join lateral (
            select l.from_status, l.to_status, l.worker, l.actor, l.attempt,
                   (select b.attempt from public.queue_ledger b
                     where b.lead_id = q.lead_id and b.queue = 'whatsapp_message_queue' and b.item_id = q.id and b.id < l.id
                     order by b.id desc limit 1) as claimed_attempt
              from public.queue_ledger l
             where l.lead_id = q.lead_id and l.queue = 'whatsapp_message_queue' and l.item_id = q.id
             order by l.id desc
             limit 1
          ) l on q.status <> 'claimed'
         where not v_done ? (e.item ->> 'item_id') and q.id = (e.item ->> 'item_id')::uuid
         limit 1
      ) q on true
     order by e.n;
end;
$$;

comment on function public.queue_complete(text, jsonb, timestamptz, boolean) is
  'Batch: records what became of claimed messages (sent with its id; failed, retried with backoff, then dead; released untried, its send_started_at cleared), from the worker holding them; the same report repeated by that worker (its answer lost) is answered as the first time, nothing written. A message cancelled before its send began is refused; one whose send began before a take-over is recorded (sent, or cancelled). With p_send_begun_only (an AI agent''s tool), a sent or failed report of a message whose send never began is refused (send_not_begun), except a failed one with code invalid_message when the message as stored ({{name}} filled as Claim hands it out) fails Send''s rule (queue_message_sends). For a message whose send began (send_started_at set), every release is refused, reason already_sending, nothing written, for every caller, whatever its code and its lead''s status: Send gives back a message it let go whose request it did not make by first taking its mark back (queue_send_not_made), then releasing it as a message whose send did not begin (queued again, or cancelled for a lead taken over); so is a failure with a code Send or Claim gives only for a message it never let go (invalid_message, already_sending, phone_mismatch, not_held, cancelled, phone_changed, already_completed, not_found, not_checked, not_attempted, send_setup_failed, claim_failed). A refused report leaves the message claimed until its lease ends; the next claim then ends it dead uncertain. A release with error code phone_mismatch (Send''s Phone was not the message''s) leaves ledger reason phone_mismatch with a fixed detail (the code and the database''s sentence; the phone given is not stored). A sent message marks its lead''s campaign sessions contacted (the one it holds, and those of its phone no other lead holds), whatever the lead''s status. A dead message makes its lead invalid for 131026; uncertain, and 131050 (the person stopped the business''s marketing messages only: not do_not_contact), leave the lead as it is (a lead still new is made queued, so that setting it to new queues it again), its backlog item dead, never queued again by itself; otherwise it is new again, its backlog item queued (also for a lead already new).';

revoke all on function public.queue_complete(text, jsonb, timestamptz, boolean) from public, anon, authenticated;
grant execute on function public.queue_complete(text, jsonb, timestamptz, boolean) to service_role;

-- =============================================================================================
-- public.queue_claim: the reaper's uncertain death makes a lead still new queued
-- =============================================================================================
create or replace function public.queue_claim(
  p_worker text,
  p_limit integer default 100,
  p_lease_seconds integer default 300,
  p_now timestamptz default leadflow_private.now(),
  p_user_id uuid default null
)
returns table (item_id uuid, user_id uuid, lead_id uuid, lead_name text, phone text, message jsonb, attempt integer,
               scheduled_for timestamptz, lease_expires_at timestamptz)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_open uuid[];
  v_ids uuid[];
  v_uncertain uuid[];
  v_errors jsonb;
begin
  if p_worker is null or length(btrim(p_worker)) = 0 or length(p_worker) > 200 or not leadflow_private.is_valid_text(p_worker, 'line') then
    raise exception 'p_worker: required, who claims (one line of at most 200 characters)'
      using errcode = '22023', hint = 'Pass the n8n execution id (or any id unique to this run): queue_complete checks it.';
  end if;
  if p_limit is null or p_limit not between 1 and 1000 then
    raise exception 'p_limit: must be between 1 and 1000 (got %)', p_limit using errcode = '22023';
  end if;
  if p_lease_seconds is null or p_lease_seconds not between 5 and 86400 then
    raise exception 'p_lease_seconds: must be between 5 and 86400 (got %)', p_lease_seconds using errcode = '22023';
  end if;
  -- One owner's claim: an owner without queue settings is refused as queue_prepare refuses them
  -- (P0002, has no queue settings): their sending hours are unknown, so nothing would ever be due.
  if p_user_id is not null and not exists (select from public.user_queue_settings s where s.user_id = p_user_id) then
    if not p_user_id = any (leadflow_private.queue_known_users(array[p_user_id])) then
      raise exception 'p_user_id: user % does not exist', p_user_id using errcode = 'P0002', hint = 'Use the id of a user of this project (auth.users).';
    end if;
    raise exception 'p_user_id: user % has no queue settings', p_user_id
      using errcode = 'P0002', hint = 'Insert their row in user_queue_settings (capacity, hours, time zone, message) first.';
  end if;

  -- The messages whose send began and whose worker never reported before its lease ran out: they
  -- may have been delivered, so they are never handed out again. Dead, uncertain, with their
  -- backlog items (the lead stays queued: the owner decides), in one statement each, by the
  -- partial index of messages being sent. Each with its lead, locked with it (the lock order
  -- elsewhere is lead, message, backlog item; the lead is changed below); SKIP LOCKED for both: one
  -- a Complete is recording (it holds the lead, then the message) is its, one whose lead the owner
  -- is changing is ended by a later claim; nothing is waited for.
  perform leadflow_private.queue_set_actor('automation', null, 'send_uncertain');
  with stranded as (
    select q.id from public.whatsapp_message_queue q
      join public.leads l on l.id = q.lead_id
     where q.status = 'claimed' and q.send_started_at is not null and q.lease_expires_at <= p_now
       and (p_user_id is null or q.user_id = p_user_id)
     order by q.id
       for update of q skip locked
       for no key update of l skip locked
  ), ended as (
    update public.whatsapp_message_queue q
       set status = 'dead',
           last_error = jsonb_build_object(
             'code', 'uncertain', 'permanent', true,
             'message', 'No outcome recorded: the run of worker ' || q.lease_holder || ' began sending it at '
                          || to_char(q.send_started_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
                          || ' and its lease ran out without a report; it may have been delivered, so it is not sent again'),
           lease_expires_at = null, completed_at = p_now, updated_at = p_now
      from stranded s
     where q.id = s.id
    returning q.lead_id, q.last_error
  )
  select array_agg(e.lead_id), jsonb_object_agg(e.lead_id, e.last_error) into v_uncertain, v_errors from ended e;
  -- The backlog item dies of its message's cause: that message's error is its last_error, so its
  -- ledger row carries it (reason send_uncertain, as the message's; detail the error).
  if v_uncertain is not null then
    update public.lead_processing_queue p
       set status = 'dead', last_error = v_errors -> p.lead_id::text, updated_at = p_now
     where p.lead_id = any (v_uncertain) and p.status = 'claimed';
    -- A lead the owner set back to new while its message was being sent would stay new with its
    -- backlog item dead: no Prepare takes it, and setting it to new again changes no status, so the
    -- leads' trigger never queues it. It is made queued, as a lead queued already stays (ledger:
    -- automation, send_uncertain): the owner then decides, contacted or new (queued again). A lead
    -- of any other status (taken over, contacted, do not contact…) keeps it.
    update public.leads l
       set status = 'queued', updated_at = p_now
     where l.id = any (v_uncertain) and l.status = 'new';
  end if;
  perform leadflow_private.queue_set_actor(null);

  -- The owners whose sending hours are open now: p_now inside a sending day's hours as instants,
  -- built as queue_prepare builds its slots ((day + send_from) at time zone, (day + send_until) at
  -- time zone), so every slot Prepare gives is inside the hours Claim opens, DST days included (a
  -- time the clock skips is read an hour later, one it shows twice is the second). The day is the
  -- owner's local day, or the day before it: hours ending at 24:00 where the clock goes back at
  -- 01:00 to 00:00 end at the second midnight, inside the next local day.
  v_open := array(
    select s.user_id from public.user_queue_settings s
     cross join lateral (select (p_now at time zone s.time_zone)::date as today) t
     where (p_user_id is null or s.user_id = p_user_id)
       and exists (select from (values (t.today), (t.today - 1)) d (day)
                    where extract(isodow from d.day)::integer = any (s.days_of_week)
                      and p_now >= (d.day + s.send_from) at time zone s.time_zone
                      and p_now < (d.day + s.send_until) at time zone s.time_zone));
  if cardinality(v_open) = 0 then
    return;
  end if;

  -- The due messages, locked (SKIP LOCKED: another claim's are skipped, never waited for); then
  -- updated by their ids, an index lookup each whatever the planner guesses of their number. A
  -- claimed one only when its send never began (its worker died before sending).
  v_ids := array(
    select q.id from public.whatsapp_message_queue q
     where q.status in ('queued', 'failed', 'claimed') and q.available_at <= p_now and q.user_id = any (v_open)
       and (q.status <> 'claimed' or q.send_started_at is null)
     order by q.available_at, q.id
     limit p_limit
       for update skip locked);
  if cardinality(v_ids) = 0 then
    return;
  end if;

  perform leadflow_private.queue_set_actor('automation');
  return query
    with claimed as (
      update public.whatsapp_message_queue q
         set status = 'claimed', lease_holder = p_worker, lease_expires_at = p_now + make_interval(secs => p_lease_seconds),
             send_started_at = null, attempts = q.attempts + 1, updated_at = p_now
       where q.id = any (v_ids)
      returning q.id, q.user_id, q.lead_id, q.phone, q.message, q.attempts, q.scheduled_for, q.lease_expires_at
    )
    select c.id, c.user_id, c.lead_id, l.name, c.phone,
           case when c.message ->> 'type' = 'text'
                then jsonb_build_object('type', 'text', 'text',
                       case when l.name is null then regexp_replace(c.message ->> 'text', ' ?\{\{name\}\}', '', 'g')
                            else replace(c.message ->> 'text', '{{name}}', l.name) end)
                else c.message end,
           c.attempts, c.scheduled_for, c.lease_expires_at
      from claimed c
      join public.leads l on l.id = c.lead_id
     order by c.scheduled_for, c.id;
  perform leadflow_private.queue_set_actor(null);
end;
$$;
comment on function public.queue_claim(text, integer, integer, timestamptz, uuid) is
  'Hands out up to p_limit due WhatsApp messages of owners inside their sending hours (as instants, built as queue_prepare builds its slots: the same on DST days), each to one worker with a lease (FOR UPDATE SKIP LOCKED), with the lead''s name and phone and the message to send. First ends dead (uncertain) every claimed message whose send began and whose lease ran out (each with its lead locked, SKIP LOCKED): it may have been delivered, it is never handed out again; its backlog item dies with it, and a lead still new is made queued (the owner decides: contacted, or new to queue it again). One owner (p_user_id) without queue settings is refused (P0002), as queue_prepare refuses them.';

-- =============================================================================================
-- The leads an uncertain death left new before this migration: made queued
-- =============================================================================================
-- A lead `new` whose backlog item is dead and whose last message is dead `uncertain` was stranded
-- as above (no Prepare takes it; setting it to `new` does nothing). It is made queued now (ledger:
-- automation, send_uncertain), so the owner's decision works: `new` queues it again.
select leadflow_private.queue_set_actor('automation', null, 'send_uncertain');
update public.leads l
   set status = 'queued', updated_at = leadflow_private.now()
 where l.status = 'new'
   and exists (select from public.lead_processing_queue p where p.lead_id = l.id and p.status = 'dead')
   and (select q.status = 'dead' and q.last_error ->> 'code' = 'uncertain'
          from public.whatsapp_message_queue q
         where q.lead_id = l.id
         order by q.day desc, q.created_at desc
         limit 1);
select leadflow_private.queue_set_actor(null);
