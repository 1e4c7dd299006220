-- The lead queue's throughput: Claim and Complete look rows up by id, updates of leads and of the
-- backlog can stay on their page, and a message's content is checked once per statement.
-- Functions replaced: public.queue_claim, public.queue_complete, leadflow_private.queue_items_ledger.
-- New: the type leadflow_private.queue_send_result. Changed: the check of
-- whatsapp_message_queue.message, the storage of leads and lead_processing_queue; dropped: the
-- index lead_processing_queue_waiting_idx.
--
-- Measured with bench/queue-claim.ts (4 workers, batches of 100, over the Data API):
-- 1. Claim and Complete joined the batch to the messages (a CTE of 100 ids, a JSON array of
--    reports): on a small table the planner read the whole table and hashed it, on a large one it
--    depended on its guess of the batch's size. Each now collects the batch's ids into an array
--    and reads and updates the messages by `id = any (ids)`, an index lookup each; the backlog
--    items and leads likewise by their leads' ids. Complete reads the owners' settings once per
--    call instead of joining them per message.
-- 2. A message's status change re-checked its content on every update (the CHECK called a
--    PL/pgSQL validator per row, twice per message sent). The content is set when the message is
--    queued and never changes: the CHECK now only asks for a JSON object; the ledger trigger
--    validates each distinct message of an INSERT once (a day's queue shares one), and refuses an
--    UPDATE that changes one.
-- 3. Leads and backlog items change status (and score, holder, times) but never a column their
--    indexes hold once lead_processing_queue_waiting_idx is gone (queue_prepare reads the backlog
--    by owner, which (user_id, dedupe_key) leads with, or all of it): with room left on each page
--    (fillfactor), those updates are HOT, writing no index entry. The messages' updates change
--    their due index and cannot be.

do $$
begin
  create type leadflow_private.queue_send_result as (
    item_index integer,
    item_id uuid,
    outcome text,
    message_id text,
    error jsonb,
    permanent boolean,
    retry_after numeric
  );
exception when duplicate_object then null;
end
$$;

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
  if p_user_id is not null and not p_user_id = any (leadflow_private.queue_known_users(array[p_user_id])) then
    raise exception 'p_user_id: user % does not exist', p_user_id using errcode = 'P0002', hint = 'Use the id of a user of this project (auth.users).';
  end if;

  -- The owners whose sending hours are open now.
  v_open := array(
    select s.user_id from public.user_queue_settings s
     cross join lateral (select p_now at time zone s.time_zone as local_now) t
     where (p_user_id is null or s.user_id = p_user_id)
       and extract(isodow from t.local_now)::integer = any (s.days_of_week)
       and t.local_now::time >= s.send_from and t.local_now::time < s.send_until);
  if cardinality(v_open) = 0 then
    return;
  end if;

  -- The due messages, locked (SKIP LOCKED: another claim's are skipped, never waited for); then
  -- updated by their ids, an index lookup each whatever the planner guesses of their number.
  v_ids := array(
    select q.id from public.whatsapp_message_queue q
     where q.status in ('queued', 'failed', 'claimed') and q.available_at <= p_now and q.user_id = any (v_open)
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
             attempts = q.attempts + 1, updated_at = p_now
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
  -- became of each, one row per message changed.
  perform from public.whatsapp_message_queue q where q.id = any (v_ids) order by q.id for update;
  select coalesce(jsonb_object_agg(s.user_id, jsonb_build_object('max', s.max_attempts, 'backoff', s.retry_backoff_seconds)), '{}'::jsonb)
    into v_settings
    from public.user_queue_settings s
   where s.user_id in (select q.user_id from public.whatsapp_message_queue q where q.id = any (v_ids));
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
     where q.id = any (v_ids) and q.id = r.item_id and q.status = 'claimed' and q.lease_holder = p_worker
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
      left join (select q.id, q.status from public.whatsapp_message_queue q where q.id = any (v_ids)) q on q.id = (e.item ->> 'item_id')::uuid
     order by e.n;
end;
$$;

create or replace function leadflow_private.queue_items_ledger()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_who record;
  v_bad record;
begin
  select * into v_who from leadflow_private.queue_actor();
  if tg_op = 'INSERT' then
    select n.id, n.status into v_bad from new_rows n
     where not leadflow_private.queue_transition_allowed(tg_table_name, null, n.status) limit 1;
    if found then
      raise exception '%: an item is inserted queued (item % was inserted %)', tg_table_name, v_bad.id, v_bad.status
        using errcode = '23514';
    end if;
    -- A message's content, once per distinct message (a day's queue shares its owner's).
    if tg_table_name = 'whatsapp_message_queue' then
      perform leadflow_private.queue_message_valid(m.message) from (select distinct n.message from new_rows n) m;
    end if;
    insert into public.queue_ledger (user_id, queue, item_id, lead_id, day, from_status, to_status, attempt, worker,
                                     actor, actor_id, reason, detail, scheduled_for, at)
    select n.user_id, tg_table_name, n.id, n.lead_id, case when tg_table_name = 'whatsapp_message_queue' then n.day end,
           null, n.status, n.attempts, null, v_who.actor, v_who.actor_id,
           coalesce(v_who.reason, case when tg_table_name = 'whatsapp_message_queue' then 'prepared' else 'added' end),
           v_who.detail, n.scheduled_for, n.created_at
      from new_rows n;
  else
    -- What a message says is fixed once it is queued (the ledger and the export tell what was sent).
    if tg_table_name = 'whatsapp_message_queue' then
      select n.id into v_bad from new_rows n join old_rows o on o.id = n.id where n.message is distinct from o.message limit 1;
      if found then
        raise exception 'whatsapp_message_queue: the message of item % cannot change once queued', v_bad.id
          using errcode = '23514', hint = 'Cancel it and queue another (queue_prepare uses the settings'' message).';
      end if;
    end if;
    insert into public.queue_ledger (user_id, queue, item_id, lead_id, day, from_status, to_status, attempt, worker,
                                     actor, actor_id, reason, detail, scheduled_for, at)
    select n.user_id, tg_table_name, n.id, n.lead_id, case when tg_table_name = 'whatsapp_message_queue' then n.day end,
           o.status,
           -- The status machine: a move it does not allow fails the statement.
           case when n.status is not distinct from o.status or leadflow_private.queue_transition_allowed(tg_table_name, o.status, n.status)
                then n.status else leadflow_private.queue_refuse_transition(tg_table_name, n.id, o.status, n.status) end,
           n.attempts,
           case when n.status = 'claimed' then n.lease_holder when o.status = 'claimed' then o.lease_holder end,
           v_who.actor, v_who.actor_id,
           coalesce(v_who.reason, case
             when n.status = 'claimed' and o.status = 'claimed' then 'lease_expired'
             when n.status = 'claimed' then 'claimed'
             when n.status = 'sent' then 'sent'
             when n.status = 'failed' then 'send_failed'
             when n.status = 'dead' and (n.last_error ->> 'permanent') = 'true' then 'permanent_error'
             when n.status = 'dead' then 'max_attempts'
             when n.status = 'queued' and o.status = 'claimed' then 'released'
             when n.status = 'queued' then 'reopened'
             -- Cancelled by a change of its lead (the lead's new status is visible here).
             when n.status = 'cancelled' then (select case when l.status = 'human_controlled' then 'human_takeover' else 'lead_' || l.status end
                                                  from public.leads l where l.id = n.lead_id)
             else 'updated'
           end),
           coalesce(case when n.status = 'sent' and n.message_id is not null then jsonb_build_object('message_id', n.message_id)
                         when n.status in ('failed', 'dead') then n.last_error end,
                    v_who.detail),
           case when n.status in ('queued', 'failed') then n.scheduled_for end,
           n.updated_at
      from new_rows n join old_rows o on o.id = n.id
     where n.status is distinct from o.status or n.attempts is distinct from o.attempts
        or n.lease_holder is distinct from o.lease_holder;
  end if;
  return null;
end;
$$;

-- 2. The content check: a JSON object here, the rest by the ledger trigger.
alter table public.whatsapp_message_queue
  drop constraint if exists whatsapp_message_queue_message_check,
  add constraint whatsapp_message_queue_message_check check (jsonb_typeof(message) = 'object');

-- 3. Room for HOT updates; the backlog read by owner through (user_id, dedupe_key).
drop index if exists public.lead_processing_queue_waiting_idx;
alter table public.leads set (fillfactor = 85);
alter table public.lead_processing_queue set (fillfactor = 80);
