-- 131050 no longer makes a lead do_not_contact; a text setting that is only {{name}} is refused.
-- Re-created: public.queue_complete (otherwise as in 20261201002240_queue_loose_ends.sql; same
-- signature, so its grants stay; comment re-stated) and leadflow_private.queue_message_sendable
-- (otherwise as in 20261201002240; the check user_queue_settings_message_sendable calls it, so it
-- refuses the new case from the next write of a row on; grants and comment re-stated).
--
-- Why:
-- 1. queue_complete (migration 20261201002240) made the lead of a message dead with Meta's 131050
--    do_not_contact for good. 131050 means the person stopped the business's marketing messages
--    only: they can still get service replies and utility templates, and can opt back in. As
--    do_not_contact, a campaign answer ("interested") no longer moved the lead, Take Lead kept the
--    status (opted out: never to be contacted) and the console offered no Take Lead. Now such a
--    lead keeps its status (queued, as after an uncertain send), its backlog item dead and never
--    queued again by queue_complete (also for a lead set back to new while the message waited),
--    so no Prepare takes it again by itself; the message keeps Meta's code (last_error, its ledger
--    row's detail) for the owner to see why. The owner setting the lead to new (the person opted
--    back in) queues it again, as for any lead.
-- 2. queue_message_sendable accepted a text that is only {{name}} (with white space): for a lead
--    without a name Claim removes the placeholder, so the message was empty and Send refused it
--    (invalid_message, dead) for every such lead. Now it is refused as a text of only white space
--    is (23514, naming message.text).

-- =============================================================================================
-- leadflow_private.queue_message_sendable: a text of only {{name}} refused
-- =============================================================================================
create or replace function leadflow_private.queue_message_sendable(p_message jsonb, p_field text default 'message')
returns boolean
language plpgsql
immutable
set search_path = ''
as $$
begin
  perform leadflow_private.queue_message_valid(p_message, p_field);
  -- White space as JavaScript's trim() reads it (Send's rule): spaces, tabs, line breaks,
  -- no-break and other Unicode spaces, the byte order mark.
  -- A text that is only {{name}} (and white space) is empty for a lead without a name: Claim
  -- removes the placeholder then.
  if p_message ->> 'type' = 'text'
     and replace(p_message ->> 'text', '{{name}}', '') ~ '^[\u0009-\u000d\u0020\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]*$' then
    raise exception '%.text: required, 1 to 4096 characters without control characters, not only white space or {{name}} (a lead without a name gets it empty) (got %)', p_field,
      left((p_message -> 'text')::text, 100) using errcode = '23514';
  end if;
  if p_message ->> 'type' = 'template' and (p_message ->> 'language') !~ '^[a-z]{2,3}(_[A-Z]{2})?$' then
    raise exception '%.language: required, a template language code as Meta writes it: two or three lowercase letters, then optionally _ and the country in two capitals, such as en, en_US or pt_BR (got %)',
      p_field, left((p_message -> 'language')::text, 100) using errcode = '23514';
  end if;
  return true;
end;
$$;

comment on function leadflow_private.queue_message_sendable(jsonb, text) is
  'The owner''s message as Send (Queue Ledger) takes it: queue_message_valid, and a text not only white space (as JavaScript''s trim reads it) or {{name}} (empty for a lead without a name), a template language of two or three lowercase letters and an optional _ with two capitals (en, en_US). Raises 23514 naming the field.';

revoke all on function leadflow_private.queue_message_sendable(jsonb, text) from public, anon;
grant execute on function leadflow_private.queue_message_sendable(jsonb, text) to authenticated, service_role;

-- =============================================================================================
-- public.queue_complete: 131050 leaves the lead as it is, its backlog item dead
-- =============================================================================================
create or replace function public.queue_complete(
  p_worker text,
  p_results jsonb,
  p_now timestamptz default leadflow_private.now()
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
  v_message_ids jsonb;
  v_settings jsonb;
  v_users uuid[];
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
                     and (r.outcome <> 'sent' or q.send_started_at is null))
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
    returning q.id, q.lead_id, q.status, q.message_id, q.scheduled_for, q.last_error ->> 'code' as error_code
  )
  select coalesce(jsonb_object_agg(d.id, jsonb_build_object('status', d.status, 'next', case when d.status = 'failed' then d.scheduled_for end)), '{}'::jsonb),
         array_agg(d.lead_id) filter (where d.status = 'sent'), array_agg(d.lead_id) filter (where d.status = 'dead'),
         -- Dead: the recipient's fault (131026: invalid), or the lead back to new unless the send
         -- may have gone out (uncertain) or the person stopped the business's marketing messages
         -- (131050): then the lead keeps its status, its backlog item dead, out of Prepare's reach.
         array_agg(d.lead_id) filter (where d.status = 'dead' and d.error_code = '131026'),
         array_agg(d.lead_id) filter (where d.status = 'dead' and d.error_code is distinct from '131026' and d.error_code is distinct from '131050'
                                      and d.error_code is distinct from 'uncertain'),
         jsonb_object_agg(d.lead_id, d.message_id) filter (where d.status = 'sent')
    into v_done, v_sent, v_dead, v_unreachable, v_reopen, v_message_ids
    from done d;

  -- Then the backlog items and the leads of the messages sent or dead, by their leads' ids.
  if v_sent is not null or v_dead is not null then
    update public.lead_processing_queue p
       set status = case when p.lead_id = any (v_sent) then 'sent' else 'dead' end,
           message_id = v_message_ids ->> p.lead_id::text, updated_at = p_now
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
                else 'not_held' end,
           coalesce((v_done -> (e.item ->> 'item_id') ->> 'next')::timestamptz,
                    case when q.repeated and q.status = 'failed' then q.scheduled_for end)
      from jsonb_array_elements(p_results) with ordinality e (item, n)
      join unnest(v_results) r on r.item_index = (e.n - 1)::integer
      -- Why a result was refused: its message as it is now, read only for a refused one.
      left join lateral (
        select q.id, q.status, q.scheduled_for,
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

comment on function public.queue_complete(text, jsonb, timestamptz) is
  'Batch: records what became of claimed messages (sent with its id; failed, retried with backoff, then dead; released untried, its send_started_at cleared), from the worker holding them; the same report repeated by that worker (its answer lost) is answered as the first time, nothing written. A message cancelled before its send began is refused; one whose send began before a take-over is recorded (sent, or cancelled). A sent message marks its lead''s campaign sessions contacted (the one it holds, and those of its phone no other lead holds), whatever the lead''s status. A dead message makes its lead invalid for 131026; uncertain, and 131050 (the person stopped the business''s marketing messages only: not do_not_contact), leave the lead as it is, its backlog item dead, never queued again by itself; otherwise it is new again, its backlog item queued (also for a lead already new).';
