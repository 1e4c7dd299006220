-- Every path that changes a lead and its messages locks the lead first: no deadlock between the
-- owner's app (or queue_take_lead) taking a lead and a worker's Complete.
-- Re-created: public.queue_complete (otherwise as in 20261201001050) and public.queue_take_lead
-- (otherwise as in 20261201001160; same signature, so its grants and comment stay).
--
-- Why: 20261201001160's trigger whatsapp_message_queue_lead_stopped reads a message's lead FOR SHARE
-- when Complete sends a claimed message back to failed or queued, with the message already locked
-- (Complete locked its messages first). Changing a lead's status (the owner's app, n8n) locks the
-- lead, then its trigger leads_follow_status cancels the lead's claimed messages not yet begun: it
-- waits for the message. Released (untried) or failed at that moment, the two waited for each
-- other and Postgres aborted one with 40P01 "deadlock detected": the owner's take-over or the
-- worker's whole report was lost (test/db/queue/take-lead.test.ts reproduces it). Complete reported
-- `sent` for a message whose send never began (no queue_begin_send) had the same circle through
-- its update of the lead (contacted), and queue_take_lead (messages, then the lead) with the app.
--
-- Now the order is lead, message, backlog item everywhere:
--   queue_complete   first locks (FOR NO KEY UPDATE, one statement, in id order) the leads of the
--                    results it holds that are failed or released, or sent without a begun send;
--                    then the messages, as before. The trigger's FOR SHARE then finds the lock
--                    held. A `sent` result whose send began (Send's usual report) takes no lead
--                    lock before its message: no other writer touches such a message, so there is
--                    no circle; its lead is updated afterwards, as before. Answers unchanged.
--   queue_take_lead  locks its lead (FOR NO KEY UPDATE) when it reads it, before its messages.
--                    Answers unchanged.
--   The trigger keeps its FOR SHARE (any other writer sending a claimed message back still sees a
--   take-over, or waits for it), now a lock its caller already holds.

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
           lease_expires_at = null,
           completed_at = case when r.outcome = 'sent' or (r.outcome = 'failed' and (r.permanent or q.attempts >= coalesce((v_settings #>> array[q.user_id::text, 'max'])::integer, 3))) then p_now end,
           updated_at = p_now
      from unnest(v_results) r
     where q.id = r.item_id and q.status = 'claimed' and q.lease_holder = p_worker
    returning q.id, q.lead_id, q.status, q.message_id, q.scheduled_for, q.last_error ->> 'code' as error_code
  )
  select coalesce(jsonb_object_agg(d.id, jsonb_build_object('status', d.status, 'next', case when d.status = 'failed' then d.scheduled_for end)), '{}'::jsonb),
         array_agg(d.lead_id) filter (where d.status = 'sent'), array_agg(d.lead_id) filter (where d.status = 'dead'),
         -- Dead: the recipient's fault (131026), or the lead back to new unless the send may have
         -- gone out (uncertain: the lead stays queued, out of Prepare's reach).
         array_agg(d.lead_id) filter (where d.status = 'dead' and d.error_code = '131026'),
         array_agg(d.lead_id) filter (where d.status = 'dead' and d.error_code is distinct from '131026' and d.error_code is distinct from 'uncertain'),
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
    end if;
    if v_unreachable is not null or v_reopen is not null then
      perform leadflow_private.queue_set_actor('automation', null, 'message_dead');
      -- Back to new, the leads' trigger re-queues the backlog item (dead -> queued) for the next Prepare.
      update public.leads l
         set status = case when l.id = any (v_unreachable) then 'invalid' else 'new' end, updated_at = p_now
       where l.id = any (coalesce(v_unreachable, '{}') || coalesce(v_reopen, '{}'))
         and l.status in ('new', 'queued') and (l.status = 'queued' or l.id = any (v_unreachable));
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

create or replace function public.queue_take_lead(
  p_lead_id uuid,
  p_actor_id uuid default null,
  p_reason text default null,
  p_now timestamptz default leadflow_private.now(),
  p_user_id uuid default null
)
returns table (lead_id uuid, user_id uuid, status text, already_taken boolean, cancelled jsonb, stopped_rules integer, sending jsonb)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_lead record;
  v_take_over uuid := gen_random_uuid();
  v_detail jsonb;
  v_changed integer;
  v_rules integer := 0;
  v_cancelled jsonb;
  v_sending jsonb;
  v_note text;
begin
  if p_lead_id is null then
    raise exception 'p_lead_id: required, the lead to take over' using errcode = '22023';
  end if;
  v_note := btrim(p_reason, E' \t\n\r\u2028\u2029');
  if p_reason is not null and (length(v_note) not between 1 and 2000 or not leadflow_private.is_valid_text(p_reason, 'multiline')) then
    raise exception 'p_reason: must be text of 1 to 2000 characters (line breaks allowed), or null' using errcode = '22023';
  end if;
  -- The lead first (the lock order: lead, messages, backlog item, as the leads' trigger and
  -- queue_complete take them), held until the end.
  select l.user_id, l.conversation_id into v_lead from public.leads l where l.id = p_lead_id and (p_user_id is null or l.user_id = p_user_id)
     for no key update;
  if not found then
    raise exception 'p_lead_id: lead % does not exist%', p_lead_id, case when p_user_id is not null then ' for user ' || p_user_id else '' end
      using errcode = 'P0002', hint = 'Use an id from leads (of that owner).';
  end if;
  if p_actor_id is not null and not p_actor_id = any (leadflow_private.queue_known_users(array[p_actor_id])) then
    raise exception 'p_actor_id: user % does not exist', p_actor_id
      using errcode = '22023', hint = 'Pass the id of the person taking the lead over (auth.users), or leave it out.';
  end if;

  v_detail := jsonb_strip_nulls(jsonb_build_object('take_over_id', v_take_over, 'note', v_note));
  perform leadflow_private.queue_set_actor('user', p_actor_id, 'human_takeover', v_detail);
  -- Its messages, then its backlog item, then the lead's status. What has not begun sending is
  -- cancelled; a claimed message whose send began (it may be out) and its backlog item are left
  -- to its worker's Complete.
  update public.whatsapp_message_queue q
     set status = 'cancelled', lease_expires_at = null, completed_at = p_now, updated_at = p_now
   where q.lead_id = p_lead_id and q.status in ('queued', 'claimed', 'failed')
     and (q.status <> 'claimed' or q.send_started_at is null);
  update public.lead_processing_queue p
     set status = 'cancelled', updated_at = p_now
   where p.lead_id = p_lead_id and p.status in ('queued', 'claimed')
     and not exists (select from public.whatsapp_message_queue q
                      where q.lead_id = p.lead_id and q.status = 'claimed' and q.send_started_at is not null);
  -- (Its trigger cancels what a concurrent queue_prepare queued meanwhile, with the same detail.)
  update public.leads l
     set status = 'human_controlled', taken_over_at = p_now, taken_over_by = p_actor_id, updated_at = p_now
   where l.id = p_lead_id and l.status <> 'human_controlled';
  get diagnostics v_changed = row_count;

  if v_lead.conversation_id is not null then
    select count(*) into v_rules
      from public.ai_automation_rules r
      join public.messenger_conversations c on c.id = v_lead.conversation_id
     where r.user_id = v_lead.user_id and r.enabled and (r.page_id is null or r.page_id = c.page_id)
       and not exists (select from public.ai_automation_stops s
                        where s.conversation_id = v_lead.conversation_id and (s.rule_id is null or s.rule_id = r.id));
    insert into public.ai_automation_stops (user_id, conversation_id, rule_id, reason, note)
    values (v_lead.user_id, v_lead.conversation_id, null, 'human_takeover', coalesce(v_note, 'lead taken over (' || p_lead_id || ')'))
    on conflict (conversation_id, rule_id) do nothing;
  end if;
  perform leadflow_private.queue_set_actor(null);

  select coalesce(jsonb_agg(jsonb_build_object('queue', g.queue, 'item_id', g.item_id, 'from_status', g.from_status) order by g.id), '[]'::jsonb)
    into v_cancelled
    from public.queue_ledger g
   where g.lead_id = p_lead_id and g.to_status = 'cancelled' and g.detail ->> 'take_over_id' = v_take_over::text;
  -- The lead's messages being sent now: left to their worker, maybe delivered.
  select coalesce(jsonb_agg(jsonb_build_object('item_id', q.id, 'send_started_at', q.send_started_at, 'worker', q.lease_holder)
                            order by q.send_started_at, q.id), '[]'::jsonb)
    into v_sending
    from public.whatsapp_message_queue q
   where q.lead_id = p_lead_id and q.status = 'claimed' and q.send_started_at is not null;

  return query select p_lead_id, v_lead.user_id, 'human_controlled'::text, v_changed = 0, v_cancelled, v_rules, v_sending;
end;
$$;
