-- After Meta's 131050 (the person stopped the business's marketing messages), a lead is never left
-- new with a dead backlog item, and a give-back does not queue the refused message again.
-- Re-created: public.queue_complete (otherwise as in
-- 20261201002320_queue_opted_out_marketing_keeps_lead.sql; same signature, so its grants stay;
-- comment re-stated) and leadflow_private.leads_follow_status (otherwise as in
-- 20261201002190_queue_give_back_after_send_contacted.sql; a trigger function, its revokes stay).
--
-- Why (review T of migration 20261201002320):
-- 1. A lead set back to new by the owner while its message waited (or given back while it was
--    being sent) stayed new after its message died with 131050, its backlog item dead: no Prepare
--    took it, it was counted nowhere, and the owner setting it to new did nothing (the leads'
--    trigger acts on a change of status only), though the docs say that queues it again. Now
--    queue_complete makes such a lead queued (actor automation, reason message_dead), as a queued
--    lead stays after 131050: setting it to new then queues it again.
-- 2. A lead taken over (Take Lead) after 131050 and given back (human_controlled -> new, whoever
--    writes it) went back in the backlog (dead -> queued), and the next Prepare queued the same
--    marketing message to the person who had stopped them. A give-back is not the person opting
--    back in: as a lead given back after its message was sent is made contacted (migration
--    20261201002190), one whose last message died with 131050 is made queued at the end of the
--    same statement (actor automation, reason message_dead, at the give-back's updated_at), its
--    backlog item left dead. The owner setting it to new from another status (queued) queues it
--    again, as for any lead.
-- Unchanged: a give-back after a message dead of anything else (uncertain included) or cancelled
-- puts the lead back in the backlog, as before.

-- =============================================================================================
-- public.queue_complete: 131050 makes a lead still new queued
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
  v_opted_out uuid[];
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
         -- 131050: a lead still new (set back to new while the message waited) is made queued below.
         array_agg(d.lead_id) filter (where d.status = 'dead' and d.error_code = '131050'),
         jsonb_object_agg(d.lead_id, d.message_id) filter (where d.status = 'sent')
    into v_done, v_sent, v_dead, v_unreachable, v_reopen, v_opted_out, v_message_ids
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
    -- 131050 (the person stopped the business's marketing messages): a lead the owner set back to
    -- new while its message waited (or given back while it was being sent) would stay new with its
    -- backlog item dead, which no Prepare takes and which setting it to new again could not queue
    -- (the leads' trigger acts on a change of status only). It is made queued, as a lead queued
    -- already stays: out of Prepare's reach until the owner sets it to new (ledger: automation,
    -- message_dead).
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
  'Batch: records what became of claimed messages (sent with its id; failed, retried with backoff, then dead; released untried, its send_started_at cleared), from the worker holding them; the same report repeated by that worker (its answer lost) is answered as the first time, nothing written. A message cancelled before its send began is refused; one whose send began before a take-over is recorded (sent, or cancelled). A sent message marks its lead''s campaign sessions contacted (the one it holds, and those of its phone no other lead holds), whatever the lead''s status. A dead message makes its lead invalid for 131026; uncertain, and 131050 (the person stopped the business''s marketing messages only: not do_not_contact), leave the lead as it is (131050 makes a lead still new queued), its backlog item dead, never queued again by itself; otherwise it is new again, its backlog item queued (also for a lead already new).';

-- =============================================================================================
-- leadflow_private.leads_follow_status: a give-back after 131050 is queued, its backlog item dead
-- =============================================================================================
create or replace function leadflow_private.leads_follow_status()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_who record;
  v_reason text;
  v_reopen uuid[];
  v_stop uuid[];
  v_given_back uuid[];
  v_contacted uuid[];
  v_opted_out uuid[];
  v_settings text[];
begin
  select * into v_who from leadflow_private.queue_actor();
  if tg_op = 'INSERT' then
    insert into public.queue_ledger (user_id, queue, item_id, lead_id, from_status, to_status, actor, actor_id, reason, detail, at)
    select n.user_id, 'leads', n.id, n.id, null, n.status, v_who.actor, v_who.actor_id, coalesce(v_who.reason, 'added'), v_who.detail, n.created_at
      from new_rows n;
    insert into public.lead_processing_queue (user_id, lead_id, status, scheduled_for, dedupe_key, created_at, updated_at)
    select n.user_id, n.id, 'queued', n.created_at, 'lead:' || n.id, n.created_at, n.created_at
      from new_rows n
     where n.status = 'new'
    on conflict (user_id, dedupe_key) do nothing;
    return null;
  end if;

  -- The ledger rows of the leads whose status changed; from them, the leads to put back in the
  -- backlog, those to stop, and those given back by a person (one join of the statement's old and
  -- new rows, whatever follows).
  with changed as (
    insert into public.queue_ledger (user_id, queue, item_id, lead_id, from_status, to_status, actor, actor_id, reason, detail, at)
    select n.user_id, 'leads', n.id, n.id, o.status, n.status, v_who.actor, v_who.actor_id,
           coalesce(v_who.reason, case when n.status = 'human_controlled' then 'human_takeover'
                                        -- Its phone removed while its message waited: back in the backlog
                                        -- (leads_waiting_messages_follow_phone), without a number.
                                        when n.status = 'new' and o.status = 'queued' and n.phone is null and o.phone is not null then 'phone_removed'
                                        else 'updated' end), v_who.detail, n.updated_at
      from new_rows n join old_rows o on o.id = n.id
     where n.status is distinct from o.status
    returning lead_id, from_status, to_status
  )
  select array_agg(c.lead_id) filter (where c.to_status = 'new'), array_agg(c.lead_id) filter (where c.to_status not in ('new', 'queued')),
         array_agg(c.lead_id) filter (where c.to_status = 'new' and c.from_status = 'human_controlled')
    into v_reopen, v_stop, v_given_back
    from changed c;

  -- Given back after its message went out (taken over while it was being sent, or after): its
  -- backlog item is sent. It is contacted, below, its backlog item left as it is.
  if v_given_back is not null then
    select array_agg(p.lead_id) into v_contacted
      from public.lead_processing_queue p
     where p.lead_id = any (v_given_back) and p.status = 'sent';
    -- Given back after its last message died with 131050 (the person stopped the business's
    -- marketing messages): a give-back is not the person opting back in. Its backlog item stays
    -- dead and it is made queued, below, as the opted-out lead it was; only the owner setting it to
    -- new from another status (queued) puts it back in the backlog.
    select array_agg(p.lead_id) into v_opted_out
      from public.lead_processing_queue p
     where p.lead_id = any (v_given_back) and p.status = 'dead'
       and (select q.status = 'dead' and q.last_error ->> 'code' = '131050'
              from public.whatsapp_message_queue q
             where q.lead_id = p.lead_id
             order by q.day desc, q.created_at desc
             limit 1);
  end if;

  -- Back to new: back in the backlog.
  if v_reopen is not null then
    update public.lead_processing_queue p
       set status = 'queued', day = null, lease_holder = null, lease_expires_at = null, scheduled_for = l.updated_at, updated_at = l.updated_at
      from public.leads l
     where l.id = any (v_reopen) and p.lead_id = l.id and p.status in ('sent', 'dead', 'cancelled')
       and not (l.id = any (coalesce(v_contacted, '{}') || coalesce(v_opted_out, '{}')));
    insert into public.lead_processing_queue (user_id, lead_id, status, scheduled_for, dedupe_key, created_at, updated_at)
    select l.user_id, l.id, 'queued', l.updated_at, 'lead:' || l.id, l.updated_at, l.updated_at
      from public.leads l
     where l.id = any (v_reopen)
    on conflict (user_id, dedupe_key) do nothing;
  end if;

  -- Done with, taken over or not to be contacted: nothing waits for it any more. A claimed
  -- message whose send began is not waiting (it may be out): its worker's Complete records it,
  -- and its backlog item with it.
  -- Their ledger rows say why from the lead's status (not the reason of the statement that fired
  -- this one).
  if v_stop is not null then
    v_reason := pg_catalog.current_setting('leadflow.queue_reason', true);
    perform pg_catalog.set_config('leadflow.queue_reason', '', true);
    if exists (select from public.whatsapp_message_queue q
                where q.lead_id = any (v_stop) and q.status in ('queued', 'claimed', 'failed')
                  and (q.status <> 'claimed' or q.send_started_at is null)) then
      update public.whatsapp_message_queue q
         set status = 'cancelled', lease_expires_at = null, (completed_at, updated_at) = (select l.updated_at, l.updated_at from public.leads l where l.id = q.lead_id)
       where q.lead_id = any (v_stop) and q.status in ('queued', 'claimed', 'failed')
         and (q.status <> 'claimed' or q.send_started_at is null);
    end if;
    if exists (select from public.lead_processing_queue p where p.lead_id = any (v_stop) and p.status in ('queued', 'claimed')) then
      update public.lead_processing_queue p
         set status = 'cancelled', updated_at = (select l.updated_at from public.leads l where l.id = p.lead_id)
       where p.lead_id = any (v_stop) and p.status in ('queued', 'claimed')
         and not exists (select from public.whatsapp_message_queue q
                          where q.lead_id = p.lead_id and q.status = 'claimed' and q.send_started_at is not null);
    end if;
    perform pg_catalog.set_config('leadflow.queue_reason', coalesce(v_reason, ''), true);
  end if;

  -- The leads given back after their message went out: contacted, as queue_complete makes a lead
  -- given back before it recorded the send (actor automation, reason message_sent), at the time of
  -- the give-back (the queue's actor set: leads_touch_updated_at keeps updated_at). This trigger
  -- runs again for that update (its ledger row; nothing waits for the lead). The statement's own
  -- actor settings are put back after it.
  if v_contacted is not null then
    v_settings := array[pg_catalog.current_setting('leadflow.queue_actor', true), pg_catalog.current_setting('leadflow.queue_actor_id', true),
                        pg_catalog.current_setting('leadflow.queue_reason', true), pg_catalog.current_setting('leadflow.queue_detail', true)];
    perform leadflow_private.queue_set_actor('automation', null, 'message_sent');
    update public.leads l set status = 'contacted' where l.id = any (v_contacted) and l.status = 'new';
    perform pg_catalog.set_config('leadflow.queue_actor', coalesce(v_settings[1], ''), true),
            pg_catalog.set_config('leadflow.queue_actor_id', coalesce(v_settings[2], ''), true),
            pg_catalog.set_config('leadflow.queue_reason', coalesce(v_settings[3], ''), true),
            pg_catalog.set_config('leadflow.queue_detail', coalesce(v_settings[4], ''), true);
  end if;
  -- The leads given back after their last message died with 131050: queued (out of Prepare's
  -- reach, their backlog item dead), the same way (actor automation, reason message_dead, at the
  -- give-back's updated_at).
  if v_opted_out is not null then
    v_settings := array[pg_catalog.current_setting('leadflow.queue_actor', true), pg_catalog.current_setting('leadflow.queue_actor_id', true),
                        pg_catalog.current_setting('leadflow.queue_reason', true), pg_catalog.current_setting('leadflow.queue_detail', true)];
    perform leadflow_private.queue_set_actor('automation', null, 'message_dead');
    update public.leads l set status = 'queued' where l.id = any (v_opted_out) and l.status = 'new';
    perform pg_catalog.set_config('leadflow.queue_actor', coalesce(v_settings[1], ''), true),
            pg_catalog.set_config('leadflow.queue_actor_id', coalesce(v_settings[2], ''), true),
            pg_catalog.set_config('leadflow.queue_reason', coalesce(v_settings[3], ''), true),
            pg_catalog.set_config('leadflow.queue_detail', coalesce(v_settings[4], ''), true);
  end if;
  return null;
end;
$$;
