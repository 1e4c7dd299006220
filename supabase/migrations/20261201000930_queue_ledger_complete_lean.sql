-- The lead queue's Complete does no work for what it has just finished.
-- Re-created: leadflow_private.leads_follow_status (otherwise as in 20261201000920) and
-- public.queue_complete (otherwise as in 20261201000910).
--
-- Why (auto_explain with triggers on bench/queue-claim.ts's work, one batch of 100):
--   - Complete marks its leads contacted, and the leads' trigger then cancels what still waits for
--     them. Complete has just marked their messages and backlog items sent, so both cancel
--     statements found nothing, yet each still ran as an UPDATE: an AFTER UPDATE statement trigger
--     fires for zero rows too, and so the ledger's trigger ran twice for nothing. The trigger now
--     looks first (the same index lookups by lead) and updates only when something waits. A
--     message's two times are read from its lead with one subquery instead of two.
--   - Complete's answer read every message of the batch again (100 more lookups by key) to say
--     why a result was refused; it now reads a message only for a refused result.
--   - The owners' settings are read for the owners of the messages Complete has just locked (the
--     lock statement collects them) instead of looking the messages up once more.
-- Same rows written, same ledger, same answers (test/db/queue). One connection, batches of 100,
-- the old and new functions alternating on one stack, medians of 160 batches, two runs:
-- Complete 17.4 -> 15.4 ms and 15.0 -> 14.0 ms; Claim + Complete 26.0 -> 23.4 ms and
-- 22.4 -> 21.4 ms; the backend's CPU per batch 25.7 -> 23.6 ms and 21.0 -> 20.1 ms.

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
  -- backlog and those to stop (one join of the statement's old and new rows, whatever follows).
  with changed as (
    insert into public.queue_ledger (user_id, queue, item_id, lead_id, from_status, to_status, actor, actor_id, reason, detail, at)
    select n.user_id, 'leads', n.id, n.id, o.status, n.status, v_who.actor, v_who.actor_id,
           coalesce(v_who.reason, case when n.status = 'human_controlled' then 'human_takeover' else 'updated' end), v_who.detail, n.updated_at
      from new_rows n join old_rows o on o.id = n.id
     where n.status is distinct from o.status
    returning lead_id, to_status
  )
  select array_agg(c.lead_id) filter (where c.to_status = 'new'), array_agg(c.lead_id) filter (where c.to_status not in ('new', 'queued'))
    into v_reopen, v_stop
    from changed c;

  -- Back to new: back in the backlog.
  if v_reopen is not null then
    update public.lead_processing_queue p
       set status = 'queued', day = null, lease_holder = null, lease_expires_at = null, scheduled_for = l.updated_at, updated_at = l.updated_at
      from public.leads l
     where l.id = any (v_reopen) and p.lead_id = l.id and p.status in ('sent', 'dead', 'cancelled');
    insert into public.lead_processing_queue (user_id, lead_id, status, scheduled_for, dedupe_key, created_at, updated_at)
    select l.user_id, l.id, 'queued', l.updated_at, 'lead:' || l.id, l.updated_at, l.updated_at
      from public.leads l
     where l.id = any (v_reopen)
    on conflict (user_id, dedupe_key) do nothing;
  end if;

  -- Done with, taken over or not to be contacted: nothing waits for it any more.
  -- Their ledger rows say why from the lead's status (not the reason of the statement that fired
  -- this one).
  if v_stop is not null then
    v_reason := pg_catalog.current_setting('leadflow.queue_reason', true);
    perform pg_catalog.set_config('leadflow.queue_reason', '', true);
    if exists (select from public.whatsapp_message_queue q where q.lead_id = any (v_stop) and q.status in ('queued', 'claimed', 'failed')) then
      update public.whatsapp_message_queue q
         set status = 'cancelled', lease_expires_at = null, (completed_at, updated_at) = (select l.updated_at, l.updated_at from public.leads l where l.id = q.lead_id)
       where q.lead_id = any (v_stop) and q.status in ('queued', 'claimed', 'failed');
    end if;
    if exists (select from public.lead_processing_queue p where p.lead_id = any (v_stop) and p.status in ('queued', 'claimed')) then
      update public.lead_processing_queue p
         set status = 'cancelled', updated_at = (select l.updated_at from public.leads l where l.id = p.lead_id)
       where p.lead_id = any (v_stop) and p.status in ('queued', 'claimed');
    end if;
    perform pg_catalog.set_config('leadflow.queue_reason', coalesce(v_reason, ''), true);
  end if;
  return null;
end;
$$;

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

  -- The messages first (the lock order), those this worker holds, each by its id; then what
  -- became of each, one row per message changed. Each result finds its message by the primary key
  -- (q.id = r.item_id is the only condition on q an index can serve).
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
           lease_expires_at = null,
           completed_at = case when r.outcome = 'sent' or (r.outcome = 'failed' and (r.permanent or q.attempts >= coalesce((v_settings #>> array[q.user_id::text, 'max'])::integer, 3))) then p_now end,
           updated_at = p_now
      from unnest(v_results) r
     where q.id = r.item_id and q.status = 'claimed' and q.lease_holder = p_worker
    returning q.id, q.lead_id, q.status, q.message_id, q.scheduled_for
  )
  select coalesce(jsonb_object_agg(d.id, jsonb_build_object('status', d.status, 'next', case when d.status = 'failed' then d.scheduled_for end)), '{}'::jsonb),
         array_agg(d.lead_id) filter (where d.status = 'sent'), array_agg(d.lead_id) filter (where d.status = 'dead'),
         jsonb_object_agg(d.lead_id, d.message_id) filter (where d.status = 'sent')
    into v_done, v_sent, v_dead, v_message_ids
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
    end if;
    if v_dead is not null then
      perform leadflow_private.queue_set_actor('automation', null, 'message_dead');
      update public.leads l set status = 'invalid', updated_at = p_now where l.id = any (v_dead) and l.status in ('new', 'queued');
    end if;
  end if;
  perform leadflow_private.queue_set_actor(null);

  return query
    select (e.n - 1)::integer, (e.item ->> 'item_id')::uuid,
           coalesce(v_done -> (e.item ->> 'item_id') ->> 'status', q.status),
           v_done ? (e.item ->> 'item_id'),
           case when v_done ? (e.item ->> 'item_id') then null
                when q.id is null then 'not_found'
                when q.status = 'cancelled' then 'cancelled'
                when q.status in ('sent', 'failed', 'dead') then 'already_completed'
                else 'not_held' end,
           (v_done -> (e.item ->> 'item_id') ->> 'next')::timestamptz
      from jsonb_array_elements(p_results) with ordinality e (item, n)
      -- Why a result was refused: its message as it is now, read only for a refused one.
      left join lateral (
        select q.id, q.status from public.whatsapp_message_queue q
         where not v_done ? (e.item ->> 'item_id') and q.id = (e.item ->> 'item_id')::uuid
         limit 1
      ) q on true
     order by e.n;
end;
$$;
