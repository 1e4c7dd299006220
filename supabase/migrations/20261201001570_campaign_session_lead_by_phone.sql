-- Campaign sessions sharing a phone: a campaign session's Queue Ledger lead is the owner's lead
-- holding it, or else the owner's lead with the session's phone, everywhere a session and its lead
-- are paired, so a person in two campaigns of one owner is followed through their one lead.
-- Re-created: public.record_session_objective and leadflow_private.session_info_mark_contacted
-- (otherwise as in 20261201001550), public.queue_complete (otherwise as in 20261201001510),
-- leadflow_private.leads_mark_campaign_session_contacted (otherwise as in 20261201001325),
-- leadflow_private.leads_mark_campaign_session_contacted_on_insert (otherwise as in
-- 20261201001350), public.queue_add_leads_from_crm and public.create_campaign_sessions (otherwise
-- as in 20261201001520). Same signatures and results, so their grants and triggers stay; the
-- comments that change are re-stated (the two leads' trigger functions get one). No index is
-- added: the phone lookups use the unique leads (user_id, phone) and session_info_owner_phone_idx
-- (user_id, phone_e164).
--
-- Why: leads are unique per (user_id, phone) and a lead holds one campaign_session_id. When two
-- campaigns of one owner have a session for the same phone and the owner imports both
-- (queue_add_leads_from_crm with p_campaign_id), the first import creates the lead holding its
-- session; the second finds that lead by phone (existing) and its session stays unlinked. Every
-- pairing followed leads.campaign_session_id only, so for the second campaign:
--   * its "no" (record_session_objective: rejected) did not move the lead, which was then prepared
--     and sent a first-contact WhatsApp message anyway (interested / started work did not make it
--     engaged either);
--   * its outreach's outbound chat_history / call_info row (session_info_mark_contacted) did not
--     make the waiting lead contacted, so the queue contacted the person a second time;
--   * the queue's send (queue_complete, and the leads' triggers when the lead becomes contacted or
--     is inserted contacted) marked only the held session contacted: the second campaign's stats
--     said contacted 0;
--   * create_campaign_sessions did not count the second session as on the Queue Ledger, so a
--     replay after the lease handed it to the outreach again;
--   * the import answered existing with another campaign_session_id and nothing said why.
-- Now the session's lead is: the owner's lead whose campaign_session_id is the session, else the
-- owner's lead whose phone is the session's phone_e164 (at most one of each: both are unique per
-- owner). Conversely, a lead's sessions are the one it holds and every session of the owner with its
-- phone that no lead holds. Applied in:
--   * record_session_objective: the lead it locks and moves (rejected → not_interested, interested /
--     started work → engaged, only a lead still new or queued, as before);
--   * session_info_mark_contacted: the lead still new or queued it makes contacted;
--   * queue_complete and the two leads' triggers: every session of the lead sent (or made / inserted
--     contacted) gets contacted_at (the earliest kept, as before). So a lead made contacted by one
--     campaign's outreach (session_contacted) marks its other campaign's session contacted too, as
--     a send does: the person was contacted, and neither the queue nor that campaign's outreach
--     (the session is on the Queue Ledger) will contact them for it;
--   * create_campaign_sessions: a session whose phone has a lead is on the Queue Ledger
--     (outreach_started; never handed out again), as one held by a lead;
--   * queue_add_leads_from_crm: a session whose phone has a lead is never skipped (that lead is
--     found, existing, as for a held session), and when that lead holds another session the row
--     says so: outcome existing, reason phone_holds_other_session (campaign_session_id: the one the
--     lead holds). queue_add_lead_rows is unchanged (it already finds the lead by phone first).
-- A session a lead holds keeps that lead even when another lead has its phone (a lead given a
-- campaign session and another phone by Add Leads): the held pairing wins, as before.
-- Lock order is unchanged: the lead (FOR NO KEY UPDATE) before the session, in
-- record_session_objective and session_info_mark_contacted; queue_complete and the leads' triggers
-- update the sessions after the lead, as before (a lead's sessions are now possibly several, each
-- found by its primary key or the owner-and-phone index).
-- Not changed: queue_prepare (it takes new leads only), campaign_session_stats (it reads the
-- sessions, now contacted).

-- =============================================================================================
-- public.record_session_objective: the session's lead, by the session or else by its phone
-- =============================================================================================
create or replace function public.record_session_objective(
  p_owner uuid,
  p_session_id text,
  p_objective text,
  p_value jsonb default 'true'::jsonb,
  p_source text default 'other',
  p_occurred_at timestamptz default null,
  p_event_key text default null
)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_session public.session_info%rowtype;
  -- An SQL null (what the Data API passes for a JSON null) is the JSON null: never true.
  v_value jsonb := coalesce(p_value, 'null'::jsonb);
  v_recorded boolean;
  v_first jsonb;
  v_old_status text;
  v_lead uuid;
begin
  -- The session's lead first, then the session: the order of queue_complete (the lead, then the
  -- session). The session's lead is the owner's lead holding it (leads.campaign_session_id, unique
  -- per owner), else the owner's lead with its phone (leads are unique per owner and phone): a
  -- phone shared by two campaigns has one lead, holding the session imported first.
  select l.id into v_lead
    from public.leads l
   where l.id = (select coalesce(
                          (select h.id from public.leads h where h.user_id = p_owner and h.campaign_session_id = s.id),
                          (select p.id from public.leads p where p.user_id = p_owner and p.phone = s.phone_e164))
                   from public.session_info s
                  where s.user_id = p_owner and s.session_id = p_session_id)
     for no key update of l;

  select * into v_session from public.session_info s
   where s.user_id = p_owner and s.session_id = p_session_id
   for update;
  if not found then
    return jsonb_build_object('outcome', 'session_not_found');
  end if;
  v_old_status := v_session.status;

  insert into public.session_objective_events (user_id, session_info_id, objective, value, source, event_key, occurred_at)
  values (p_owner, v_session.id, p_objective, v_value, p_source, p_event_key, coalesce(p_occurred_at, now()))
  on conflict (session_info_id, objective, event_key) do nothing;
  v_recorded := found;

  -- The key was seen for this objective: a retry if the value is the same, else refused.
  if not v_recorded then
    select ev.value into v_first
      from public.session_objective_events ev
     where ev.session_info_id = v_session.id and ev.objective = p_objective and ev.event_key = p_event_key;
    if v_first is distinct from v_value then
      return jsonb_build_object(
        'outcome', 'event_key_reused',
        'session', v_session.session_id,
        'objective', p_objective,
        'event_key', p_event_key,
        'recorded_value', v_first
      );
    end if;
  end if;

  -- The latest event of each objective (by when it happened) is the session's value for it, so
  -- reports arriving out of order still leave the right state.
  if v_recorded then
    update public.session_info s
       set objectives = (
             select coalesce(jsonb_object_agg(e.objective, e.value), '{}'::jsonb)
               from (
                 select distinct on (ev.objective) ev.objective, ev.value
                   from public.session_objective_events ev
                  where ev.session_info_id = v_session.id
                  order by ev.objective, ev.occurred_at desc, ev.created_at desc
               ) e
           )
     where s.id = v_session.id
     returning * into v_session;
  end if;

  -- The person answered: the session's lead still waiting for its first message follows (its
  -- waiting message and backlog item are cancelled by leads_follow_status). Only when this report
  -- changed the status, and only a lead still new or queued.
  if v_lead is not null and v_recorded and v_session.status is distinct from v_old_status
     and v_session.status in ('rejected', 'interested', 'started_work') then
    perform leadflow_private.queue_set_actor('automation', null, 'session_' || v_session.status);
    update public.leads l
       set status = case when v_session.status = 'rejected' then 'not_interested' else 'engaged' end,
           updated_at = leadflow_private.now()
     where l.id = v_lead and l.status in ('new', 'queued');
    perform leadflow_private.queue_set_actor(null);
  end if;

  return jsonb_build_object(
    'outcome', 'ok',
    'recorded', v_recorded,
    'session', v_session.session_id,
    'status', v_session.status,
    'objectives', v_session.objectives
  );
end;
$$;

comment on function public.record_session_objective(uuid, text, text, jsonb, text, timestamptz, text) is
  'Records an objective''s value on a session (null is recorded as null, not reached), once per event key and objective; the same key and objective with another value is refused (event_key_reused). A status it changes to rejected moves the session''s lead (the one holding it, else the one with its phone) still new or queued to not_interested, to interested or started_work to engaged.';

-- =============================================================================================
-- leadflow_private.session_info_mark_contacted: the session's lead, by the session or else by its phone
-- =============================================================================================
create or replace function leadflow_private.session_info_mark_contacted()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_at timestamptz;
  v_lead uuid;
  v_actor text[];
begin
  if new.direction <> 'outbound' then
    return null;
  end if;
  -- Two tables, two column names; each branch is planned only when it runs.
  if tg_table_name = 'call_info' then
    v_at := new.started_at;
  else
    v_at := new.sent_at;
  end if;

  -- The session's lead, when still waiting for its first message, locked before the session: the
  -- owner's lead holding the session (leads.campaign_session_id, unique per owner), else the
  -- owner's lead with the session's phone (unique per owner and phone), as a phone shared by two
  -- campaigns has one lead, holding the session imported first.
  select l.id into v_lead
    from public.leads l
   where l.id = coalesce(
           (select h.id from public.leads h where h.user_id = new.user_id and h.campaign_session_id = new.session_info_id),
           (select p.id from public.session_info s
              join public.leads p on p.user_id = s.user_id and p.phone = s.phone_e164
             where s.id = new.session_info_id and s.user_id = new.user_id))
     and l.status in ('new', 'queued')
     for no key update of l;

  -- The first outbound message or call marks the session contacted, whoever writes it.
  update public.session_info s
     set contacted_at = least(coalesce(s.contacted_at, v_at), v_at)
   where s.id = new.session_info_id
     and (s.contacted_at is null or s.contacted_at > v_at);

  if v_lead is not null then
    v_actor := array[pg_catalog.current_setting('leadflow.queue_actor', true),
                     pg_catalog.current_setting('leadflow.queue_actor_id', true),
                     pg_catalog.current_setting('leadflow.queue_reason', true),
                     pg_catalog.current_setting('leadflow.queue_detail', true)];
    perform leadflow_private.queue_set_actor('automation', null, 'session_contacted');
    -- updated_at set here: the leads' touch trigger leaves it to writers that set an actor. The
    -- lead's ledger row, and its message's cancellation, are at the move, now.
    update public.leads l
       set status = 'contacted', updated_at = leadflow_private.now()
     where l.id = v_lead and l.status in ('new', 'queued');
    perform pg_catalog.set_config('leadflow.queue_actor', coalesce(v_actor[1], ''), true),
            pg_catalog.set_config('leadflow.queue_actor_id', coalesce(v_actor[2], ''), true),
            pg_catalog.set_config('leadflow.queue_reason', coalesce(v_actor[3], ''), true),
            pg_catalog.set_config('leadflow.queue_detail', coalesce(v_actor[4], ''), true);
  end if;
  return null;
end;
$$;

comment on function leadflow_private.session_info_mark_contacted() is
  'After an outbound chat_history or call_info row: its session contacted (contacted_at, the earliest kept) and the session''s lead (the one holding it, else the one with its phone) still new or queued made contacted (ledger reason session_contacted; its waiting message and backlog item cancelled by leads_follow_status).';

revoke all on function leadflow_private.session_info_mark_contacted() from public, anon, authenticated;

-- =============================================================================================
-- public.queue_complete: every campaign session of a lead sent
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
         set status = case when l.id = any (v_unreachable) then 'invalid' else 'new' end, updated_at = p_now
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
  'Batch: records what became of claimed messages (sent with its id; failed, retried with backoff, then dead; released untried), from the worker holding them; the same report repeated by that worker (its answer lost) is answered as the first time, nothing written. A message cancelled before its send began is refused; one whose send began before a take-over is recorded (sent, or cancelled). A sent message marks its lead''s campaign sessions contacted (the one it holds, and those of its phone no other lead holds), whatever the lead''s status. A dead message makes its lead invalid only for 131026; uncertain keeps it queued; otherwise it is new again, its backlog item queued (also for a lead already new).';

-- =============================================================================================
-- leadflow_private.leads_mark_campaign_session_contacted: every campaign session of a lead made contacted
-- =============================================================================================
create or replace function leadflow_private.leads_mark_campaign_session_contacted()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  -- Each lead newly contacted marks its sessions: the one it holds, and those of its phone no lead
  -- holds; a lead with neither a session nor a phone is filtered out before the lookups, and each
  -- session is found by its primary key or by (user_id, phone_e164).
  update public.session_info s
     set contacted_at = least(coalesce(s.contacted_at, x.at), x.at)
    from (select x.id, min(n.updated_at) as at
            from new_rows n
            join old_rows o on o.id = n.id
           cross join lateral (
             select h.id from public.session_info h
              where h.id = n.campaign_session_id and h.user_id = n.user_id
             union all
             select p.id from public.session_info p
              where n.phone is not null and p.user_id = n.user_id and p.phone_e164 = n.phone
                and not exists (select from public.leads l where l.user_id = p.user_id and l.campaign_session_id = p.id)
           ) x
           where (n.campaign_session_id is not null or n.phone is not null)
             and n.status = 'contacted' and o.status is distinct from 'contacted'
           group by x.id) x
   where s.id = x.id
     and (s.contacted_at is null or s.contacted_at > x.at);
  return null;
end;
$$;

comment on function leadflow_private.leads_mark_campaign_session_contacted() is
  'After an update of leads: each lead newly contacted marks its campaign sessions contacted (the one it holds, and those of its phone no lead holds), at the lead''s updated_at or earlier.';

revoke all on function leadflow_private.leads_mark_campaign_session_contacted() from public, anon, authenticated, service_role;

-- =============================================================================================
-- leadflow_private.leads_mark_campaign_session_contacted_on_insert: the same for a lead inserted
-- contacted
-- =============================================================================================
create or replace function leadflow_private.leads_mark_campaign_session_contacted_on_insert()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.session_info s
     set contacted_at = least(coalesce(s.contacted_at, x.at), x.at)
    from (select x.id, min(n.updated_at) as at
            from new_rows n
           cross join lateral (
             select h.id from public.session_info h
              where h.id = n.campaign_session_id and h.user_id = n.user_id
             union all
             select p.id from public.session_info p
              where n.phone is not null and p.user_id = n.user_id and p.phone_e164 = n.phone
                and not exists (select from public.leads l where l.user_id = p.user_id and l.campaign_session_id = p.id)
           ) x
           where (n.campaign_session_id is not null or n.phone is not null)
             and n.status = 'contacted'
           group by x.id) x
   where s.id = x.id
     and (s.contacted_at is null or s.contacted_at > x.at);
  return null;
end;
$$;

comment on function leadflow_private.leads_mark_campaign_session_contacted_on_insert() is
  'After an insert into leads: each lead inserted contacted marks its campaign sessions contacted (the one it holds, and those of its phone no lead holds), at the lead''s updated_at or earlier.';

revoke all on function leadflow_private.leads_mark_campaign_session_contacted_on_insert() from public, anon, authenticated, service_role;

-- =============================================================================================
-- public.queue_add_leads_from_crm: a session whose phone has a lead is found, and says when that lead holds another
-- =============================================================================================
create or replace function public.queue_add_leads_from_crm(
  p_user_id uuid,
  p_tag_id uuid default null,
  p_campaign_id uuid default null,
  p_now timestamptz default leadflow_private.now(),
  p_after uuid default null,
  p_limit integer default 1000
)
returns table (from_id uuid, lead_id uuid, outcome text, status text, source text, name text, phone text,
               conversation_id uuid, campaign_session_id uuid, reason text)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_items leadflow_private.queue_new_lead[];
  v_skipped jsonb := '[]';
begin
  if p_user_id is null then
    raise exception 'p_user_id: required, the owner whose CRM the leads come from' using errcode = '22023';
  end if;
  if (p_tag_id is null) = (p_campaign_id is null) then
    raise exception 'p_tag_id, p_campaign_id: give exactly one (got %)', case when p_tag_id is null then 'neither' else 'both' end
      using errcode = '22023', hint = 'p_tag_id: the conversations carrying a tag; p_campaign_id: the sessions of a campaign.';
  end if;
  if p_limit is null or p_limit not between 1 and 1000 then
    raise exception 'p_limit: must be between 1 and 1000 (got %)', p_limit
      using errcode = '22023', hint = 'The Data API answers at most 1000 rows: page with p_after.';
  end if;
  if not p_user_id = any (leadflow_private.queue_known_users(array[p_user_id])) then
    raise exception 'p_user_id: user % does not exist', p_user_id using errcode = 'P0002', hint = 'Use the id of a user of this project (auth.users).';
  end if;
  if p_tag_id is not null and not exists (select from public.tags t where t.id = p_tag_id and t.user_id = p_user_id) then
    raise exception 'p_tag_id: tag % does not exist for user %', p_tag_id, p_user_id
      using errcode = 'P0002', hint = 'Use an id from tags of the same owner.';
  end if;
  if p_campaign_id is not null and not exists (select from public.campaign_info c where c.id = p_campaign_id and c.user_id = p_user_id) then
    raise exception 'p_campaign_id: campaign % does not exist for user %', p_campaign_id, p_user_id
      using errcode = 'P0002', hint = 'Use an id from campaign_info of the same owner.';
  end if;

  if p_tag_id is not null then
    v_items := array(
      select row((row_number() over (order by c.id) - 1)::integer, p_user_id,
                 case when length(btrim(c.sender_name)) between 1 and 200 and leadflow_private.is_valid_text(c.sender_name, 'line')
                      then btrim(c.sender_name) end,
                 null, c.id, null, 'crm_tag', null)::leadflow_private.queue_new_lead
        from public.conversation_tags ct
        join public.messenger_conversations c on c.id = ct.conversation_id
       where ct.tag_id = p_tag_id and c.user_id = p_user_id and (p_after is null or c.id > p_after)
       order by c.id
       limit p_limit);
  else
    -- A page of the campaign's sessions. One whose outreach started (contacted, or an objective
    -- recorded: create_campaign_sessions' rule) is skipped, with the reason, unless it has a lead
    -- already (then that lead is found, existing, as before): the owner's lead holding it, or the
    -- owner's lead with its phone (a phone shared by two campaigns has one lead).
    with page as materialized (
      select (row_number() over (order by s.id) - 1)::integer as idx, s.id, s.phone_e164,
             case when length(btrim(coalesce(s.display_name, n.contact_name))) between 1 and 200
                   and leadflow_private.is_valid_text(coalesce(s.display_name, n.contact_name), 'line')
                  then btrim(coalesce(s.display_name, n.contact_name)) end as name,
             case when exists (select from public.leads l where l.user_id = s.user_id and l.campaign_session_id = s.id)
                    or exists (select from public.leads l where l.user_id = s.user_id and l.phone = s.phone_e164) then null
                  when s.status <> 'pending' then 'session_' || s.status
                  when s.contacted_at is not null then 'session_contacted'
                  when s.objectives <> '{}'::jsonb then 'session_objective_recorded'
             end as skip
        from public.session_info s
        left join public.numbers n on n.user_id = s.user_id and n.phone_e164 = s.phone_e164
       where s.campaign_id = p_campaign_id and s.user_id = p_user_id and (p_after is null or s.id > p_after)
       order by s.id
       limit p_limit
    )
    select coalesce(array_agg(row(p.idx, p_user_id, p.name, p.phone_e164, null, p.id, 'campaign', null)::leadflow_private.queue_new_lead
                              order by p.idx) filter (where p.skip is null), '{}'),
           coalesce(jsonb_agg(jsonb_build_object('from_id', p.id, 'name', p.name, 'phone', p.phone_e164, 'reason', p.skip)
                              order by p.idx) filter (where p.skip is not null), '[]')
      into v_items, v_skipped
      from page p;
  end if;
  if cardinality(v_items) = 0 and jsonb_array_length(v_skipped) = 0 then
    return;
  end if;

  -- One answer in from_id order: the leads added or found, and the sessions skipped (no lead:
  -- outcome skipped, the session's name and phone, and why). A session found as the lead of its
  -- phone that holds another session (a phone shared by two campaigns: a lead holds one session)
  -- says so: existing, reason phone_holds_other_session; that lead is this session's lead all the
  -- same (its answers, its outreach's first contact and the queue's send follow it).
  if cardinality(v_items) > 0 then
    perform leadflow_private.queue_set_actor('automation', null, 'added');
  end if;
  return query
    select x.from_id, x.lead_id, x.outcome, x.status, x.source, x.name, x.phone, x.conversation_id, x.campaign_session_id, x.reason
      from (
        select coalesce(i.conversation_id, i.campaign_session_id) as from_id, r.lead_id, r.outcome, r.status, r.source,
               r.name, r.phone, r.conversation_id, r.campaign_session_id,
               case when i.campaign_session_id is not null and r.campaign_session_id <> i.campaign_session_id
                    then 'phone_holds_other_session' end as reason
          from leadflow_private.queue_add_lead_rows(v_items, p_now) r
          join unnest(v_items) i on i.item_index = r.item_index
         where cardinality(v_items) > 0
        union all
        select (k ->> 'from_id')::uuid, null::uuid, 'skipped', null::text, null::text,
               k ->> 'name', k ->> 'phone', null::uuid, (k ->> 'from_id')::uuid, k ->> 'reason'
          from jsonb_array_elements(v_skipped) k
      ) x
     order by x.from_id;
  if cardinality(v_items) > 0 then
    perform leadflow_private.queue_set_actor(null);
  end if;
end;
$$;
comment on function public.queue_add_leads_from_crm(uuid, uuid, uuid, timestamptz, uuid, integer) is
  'Adds leads from the conversations carrying a tag or the sessions of a campaign, page by page (from_id, p_after), deduplicated like queue_add_leads (an existing lead takes the name, conversation or session it lacks); each row the stored lead. A session whose outreach started (contacted, rejected or another objective recorded) and that has no lead (none holds it, none has its phone) is skipped: outcome skipped, with its reason. A session whose phone''s lead holds another session is found existing, reason phone_holds_other_session.';
revoke all on function public.queue_add_leads_from_crm(uuid, uuid, uuid, timestamptz, uuid, integer) from public, anon, authenticated;
grant execute on function public.queue_add_leads_from_crm(uuid, uuid, uuid, timestamptz, uuid, integer) to service_role;

-- =============================================================================================
-- public.create_campaign_sessions: a session whose phone has a lead is on the Queue Ledger
-- =============================================================================================
create or replace function public.create_campaign_sessions(
  p_owner uuid,
  p_campaign jsonb,
  p_tasks jsonb,
  p_idempotency_key text default null,
  p_now timestamptz default null,
  p_emit_lease_seconds integer default 3600,
  p_holder text default null
)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_name_uid text := p_campaign ->> 'name_uid';
  v_campaign public.campaign_info%rowtype;
  v_campaign_created boolean := false;
  v_fingerprint text;
  v_request public.campaign_session_requests%rowtype;
  v_result jsonb;
  v_now timestamptz := coalesce(p_now, leadflow_private.now());
begin
  if p_owner is null or not exists (select from auth.users u where u.id = p_owner) then
    return jsonb_build_object('outcome', 'owner_not_found');
  end if;
  if jsonb_typeof(p_campaign) is distinct from 'object' or v_name_uid is null then
    raise exception 'p_campaign must be an object with a name_uid' using errcode = '22023';
  end if;
  if jsonb_typeof(p_tasks) is distinct from 'array' then
    raise exception 'p_tasks must be an array' using errcode = '22023';
  end if;
  if p_emit_lease_seconds is null or p_emit_lease_seconds not between 60 and 2592000 then
    raise exception 'p_emit_lease_seconds must be between 60 and 2592000 (30 days)' using errcode = '22023';
  end if;
  if p_holder is not null and (length(p_holder) not between 1 and 200 or p_holder ~ '[[:cntrl:]]') then
    raise exception 'p_holder must be 1 to 200 characters without control characters' using errcode = '22023';
  end if;

  -- Key first, then campaign: always the same order, so two launches never wait on each other in a circle.
  if p_idempotency_key is not null then
    perform pg_advisory_xact_lock(hashtextextended('campaign_session_requests:' || p_owner || ':' || p_idempotency_key, 0));
  end if;
  perform pg_advisory_xact_lock(hashtextextended('campaign_info:' || p_owner || ':' || v_name_uid, 0));

  select encode(sha256(convert_to(v_name_uid || E'\n' || coalesce(string_agg(t ->> 'phone', E'\n' order by t ->> 'phone'), ''), 'UTF8')), 'hex')
    into v_fingerprint
    from jsonb_array_elements(p_tasks) t;

  if p_idempotency_key is not null then
    select * into v_request from public.campaign_session_requests r
     where r.user_id = p_owner and r.idempotency_key = p_idempotency_key;
    if found and v_request.fingerprint <> v_fingerprint then
      return jsonb_build_object('outcome', 'idempotency_key_reused');
    end if;
  end if;

  -- The writes, in a savepoint: a launch of which not one task gets a session is rolled back whole.
  begin
    insert into public.campaign_info (user_id, name_uid, name, job_description, objectives)
    values (
      p_owner,
      v_name_uid,
      coalesce(p_campaign ->> 'name', v_name_uid),
      coalesce(p_campaign ->> 'job_description', ''),
      coalesce(p_campaign -> 'objectives', '{}'::jsonb)
    )
    on conflict (user_id, name_uid) do nothing
    returning * into v_campaign;
    v_campaign_created := found;
    if not v_campaign_created then
      select * into v_campaign from public.campaign_info c where c.user_id = p_owner and c.name_uid = v_name_uid;
    end if;

    if p_idempotency_key is not null then
      insert into public.campaign_session_requests (user_id, idempotency_key, campaign_id, fingerprint)
      values (p_owner, p_idempotency_key, v_campaign.id, v_fingerprint)
      on conflict (user_id, idempotency_key) do nothing;
    end if;

    -- A name given now fills a blank one, never overwrites.
    insert into public.numbers (user_id, phone_e164, contact_name)
    select distinct on (t ->> 'phone') p_owner, t ->> 'phone', t ->> 'name'
      from jsonb_array_elements(p_tasks) t
     order by t ->> 'phone', t ->> 'name' nulls last
    on conflict (user_id, phone_e164) do update
      set contact_name = excluded.contact_name
      where public.numbers.contact_name is null and excluded.contact_name is not null;

    with input as (
      select (t.ordinality - 1)::int as task_index,
             t.value ->> 'phone' as phone,
             t.value ->> 'name' as name,
             coalesce(t.value ->> 'session', gen_random_uuid()::text) as session_id
        from jsonb_array_elements(p_tasks) with ordinality t
    ),
    inserted as (
      -- A session created now is handed to the outreach by this call.
      insert into public.session_info (user_id, session_id, campaign_id, phone_e164, display_name, outreach_emitted_at, outreach_emitted_by)
      select p_owner, i.session_id, v_campaign.id, i.phone, i.name, v_now, p_holder from input i
      on conflict do nothing
      returning id, session_id, phone_e164, display_name, status
    ),
    linked as (
      insert into public.campaigns (campaign_id, session_info_id, user_id)
      select v_campaign.id, ins.id, p_owner from inserted ins
      returning session_info_id
    ),
    -- An existing session is handed out again only while its outreach has not started (never
    -- contacted, no objective, not on the Queue Ledger: no lead of the owner holds it or has its
    -- phone, as a phone shared by two campaigns has one lead) and its last hand-out is older than
    -- the lease; within the lease, nothing. It updates only rows that existed before this statement
    -- (not those `inserted` adds), under their row locks, after the campaign lock: two calls never
    -- both claim a session.
    claimed as (
      update public.session_info s
         set outreach_emitted_at = v_now, outreach_emitted_by = p_holder
        from input i
       where s.user_id = p_owner and s.campaign_id = v_campaign.id and s.phone_e164 = i.phone
         and s.contacted_at is null and s.objectives = '{}'::jsonb
         and not exists (select from public.leads l where l.user_id = s.user_id and l.campaign_session_id = s.id)
         and not exists (select from public.leads l where l.user_id = s.user_id and l.phone = s.phone_e164)
         and (s.outreach_emitted_at is null or s.outreach_emitted_at <= v_now - make_interval(secs => p_emit_lease_seconds))
      returning s.id
    ),
    -- `existing` reads the table as it was before this statement: sessions made by earlier launches.
    outcome as (
      select i.task_index,
             i.phone,
             coalesce(ins.id, ex.id) as id,
             coalesce(ins.session_id, ex.session_id) as session_id,
             coalesce(ins.display_name, ex.display_name) as display_name,
             coalesce(ins.status, ex.status) as status,
             ins.id is not null as created,
             -- Outreach started: the session was contacted (an outbound message or call), reached
             -- any objective (even one that leaves the status pending), or is on the Queue Ledger
             -- (a lead holds it, or has its phone).
             ins.id is null and ex.id is not null
               and (ex.contacted_at is not null or ex.objectives <> '{}'::jsonb
                    or exists (select from public.leads l where l.user_id = p_owner and l.campaign_session_id = ex.id)
                    or exists (select from public.leads l where l.user_id = p_owner and l.phone = ex.phone_e164)) as outreach_started,
             -- Handed to the outreach by this call: created now, or claimed again after the lease.
             ins.id is not null or cl.id is not null as emitted,
             ex.outreach_emitted_at
        from input i
        left join inserted ins on ins.phone_e164 = i.phone
        left join public.session_info ex on ins.id is null and ex.user_id = p_owner and ex.campaign_id = v_campaign.id and ex.phone_e164 = i.phone
        left join claimed cl on cl.id = ex.id
    )
    select jsonb_build_object(
             'outcome', 'ok',
             'campaign', jsonb_build_object(
               'id', v_campaign.name_uid,
               'name', v_campaign.name,
               'created', v_campaign_created,
               'created_at', v_campaign.created_at
             ),
             'created', (select count(*) from outcome o where o.created),
             'existing', (select count(*) from outcome o where not o.created and o.session_id is not null),
             'outreach_started', (select count(*) from outcome o where o.outreach_started),
             'emitted', (select count(*) from outcome o where o.emitted),
             -- Existing, not started, and handed out by another call within the lease: not again now.
             'already_emitted', (select count(*) from outcome o where o.session_id is not null and not o.emitted and not o.outreach_started),
             -- When the first of those may be handed out again (a replay after it gets it back).
             'emit_again_after', (select min(o.outreach_emitted_at) + make_interval(secs => p_emit_lease_seconds)
                                    from outcome o where o.session_id is not null and not o.emitted and not o.outreach_started),
             'linked', (select count(*) from linked),
             'sessions', coalesce((
               select jsonb_agg(jsonb_build_object(
                        'task_index', o.task_index,
                        'campaign_session_id', o.id,
                        'session', o.session_id,
                        'phone_number', o.phone,
                        'name', o.display_name,
                        'status', o.status,
                        'created', o.created,
                        'outreach_started', o.outreach_started,
                        'emitted', o.emitted
                      ) order by o.task_index)
                 from outcome o where o.session_id is not null), '[]'::jsonb),
             'conflicts', coalesce((
               select jsonb_agg(jsonb_build_object('task_index', o.task_index, 'phone_number', o.phone) order by o.task_index)
                 from outcome o where o.session_id is null), '[]'::jsonb)
           )
      into v_result;

    -- Tasks given, not one with a session: nothing to run, so nothing is kept.
    if jsonb_array_length(v_result -> 'sessions') = 0 and jsonb_array_length(v_result -> 'conflicts') > 0 then
      raise exception 'every task of the launch conflicts' using errcode = 'LFACF';
    end if;
  exception
    when sqlstate 'LFACF' then
      return jsonb_build_object('outcome', 'all_conflict', 'conflicts', v_result -> 'conflicts');
  end;
  return v_result;
end;
$$;
