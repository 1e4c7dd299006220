-- The lead queue follows its lead: a message not yet begun goes to the lead's current phone (or is
-- not sent once the lead has none), and a session's answer moves its lead whoever writes it.
-- New: leadflow_private.leads_waiting_messages_follow_phone and its trigger
-- leads_waiting_messages_follow_phone (leads); leadflow_private.session_info_lead_follows_status and
-- its triggers session_info_lead_follows_status_insert / _update (session_info).
-- Re-created: public.queue_begin_send (otherwise as in 20261201001100; same signature, so its grants
-- stay; comment re-stated), leadflow_private.leads_follow_status (otherwise as in 20261201001160)
-- and public.record_session_objective (otherwise as in 20261201001570; same signature and grants;
-- comment re-stated).
--
-- Why:
--   1. queue_prepare copies the lead's phone into whatsapp_message_queue.phone and queue_claim hands
--      out that copy; nothing followed leads.phone. A lead whose phone the owner corrected after
--      Prepare (a mistyped number, the app or a workflow writing leads) was messaged at the old
--      number the next morning, while the export and the console showed the corrected one; a lead
--      whose phone was removed was still messaged at the old one. With the old number given to
--      another lead meanwhile, that person got both messages and the lead none.
--   2. (3 of the review) The lead followed its session's answer only inside
--      record_session_objective (and the outreach's first outbound row, session_info_mark_contacted).
--      The session's status is derived by a trigger (session_info_keep_status) whoever writes
--      objectives or contacted_at, and the owner's app may write them (row level security lets it;
--      docs/database.md lists it as a writer): its "rejected" left the lead queued and the queue
--      sent the person their first message.
--
-- Now:
--   leads_waiting_messages_follow_phone  BEFORE UPDATE OF phone on leads, per row, only when the
--       phone changes (WHEN: no call otherwise) and the lead is new or queued (only such a lead has
--       a message waiting). Its waiting messages (queued, failed, or claimed with their send not
--       begun: queue_begin_send never let them go) follow the phone:
--         * a new phone: queued and failed messages take it (same status, slot and attempts: no
--           ledger row); a claimed one is released to it (claimed -> queued, the attempt given back,
--           its holder and lease cleared, as Complete's `released`; ledger reason phone_changed,
--           the worker named), so the run that holds the old number cannot send it: its
--           queue_begin_send refuses it (reason phone_changed) and the next claim hands it out
--           with the new number.
--         * no phone any more: those messages are cancelled (ledger reason phone_removed; a claimed
--           one's worker refused the same way), the backlog item waits again (claimed -> cancelled
--           -> queued, reason phone_removed) and a queued lead is new again (its ledger row:
--           phone_removed, by leads_follow_status): back in the backlog, which Prepare skips as
--           no_phone until the lead has a number.
--       A claimed message whose send began may be out: it is left to its worker's Complete, as a
--       take-over leaves it. The ledger rows' actor is the writer's (user for a signed-in user,
--       system for a direct write, the function's when a queue function writes). Lock order as
--       the leads' trigger: the lead (locked by the update), its messages, its backlog item.
--       The one-message-per-lead-per-day key (dedupe_key wa:<lead>:<day>) names the lead, not the
--       phone, so a message rewritten to a new number keeps its key, and a lead given the old
--       number (its own lead, its own key) gets its own message: nobody gets two.
--   queue_begin_send  a message this worker no longer holds because its lead's phone changed or
--       was removed (the last ledger row that ended this worker's claim of it says phone_changed or
--       phone_removed) is refused with reason phone_changed; nothing else changes.
--   session_info_lead_follows_status  AFTER INSERT / UPDATE on session_info, per row, only when the
--       status is set or changes (WHEN): the session's lead (the owner's lead holding it, else the
--       owner's lead with its phone: migration 20261201001570) still new or queued follows, whoever
--       wrote the session: rejected -> not_interested, interested / started_work -> engaged,
--       contacted -> contacted; ledger actor automation, reason session_<status> (the rows
--       record_session_objective and session_info_mark_contacted wrote); its waiting message and
--       backlog item are cancelled by leads_follow_status as before. A lead in any other status is
--       never touched. record_session_objective now relies on it (it locks the lead first, as
--       before, and no longer moves it itself); session_info_mark_contacted is unchanged (it
--       locks the lead first, and its own move finds the lead contacted already).
--       A session made contacted by a send queue_complete records (reason message_sent) does not
--       call it (WHEN): its lead is the lead sent, so Complete does not slow down.
--       Lock order: record_session_objective, session_info_mark_contacted, queue_complete and the
--       leads' triggers lock the lead before the session, and the trigger finds it locked. A
--       direct write of a session (the owner's app) locks the session, then its lead: at the same
--       moment as a send of that very lead recorded by queue_complete, the two may deadlock and
--       Postgres ends one (40P01, nothing written: write again).
--   leads_follow_status  only the ledger reason of a lead made new by the removal of its phone
--       (phone_removed, instead of updated).
-- Not changed: queue_claim and queue_prepare (the message's phone is the lead's while it waits),
-- queue_complete.

-- =============================================================================================
-- leadflow_private.leads_waiting_messages_follow_phone: a lead's waiting messages follow its phone
-- =============================================================================================
create or replace function leadflow_private.leads_waiting_messages_follow_phone()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_at timestamptz;
  v_actor text[];
  v_sending boolean;
begin
  -- Nearly every change of a phone finds nothing waiting: one probe of the lead's messages.
  if not exists (select from public.whatsapp_message_queue q
                  where q.lead_id = new.id and q.status in ('queued', 'claimed', 'failed')
                    and (q.status <> 'claimed' or q.send_started_at is null)) then
    return new;
  end if;
  -- The change's time: the writer's updated_at, else the clock (leads_touch_updated_at leaves it to
  -- writers that set an actor).
  v_at := case when new.updated_at is distinct from old.updated_at then new.updated_at else leadflow_private.now() end;
  -- The writer's actor, with this change's reason; put back afterwards.
  v_actor := array[pg_catalog.current_setting('leadflow.queue_actor', true),
                   pg_catalog.current_setting('leadflow.queue_actor_id', true),
                   pg_catalog.current_setting('leadflow.queue_reason', true),
                   pg_catalog.current_setting('leadflow.queue_detail', true)];
  perform pg_catalog.set_config('leadflow.queue_reason', case when new.phone is null then 'phone_removed' else 'phone_changed' end, true);

  if new.phone is not null then
    -- Queued and failed: the new number, nothing else. Claimed, its send not begun: released to it
    -- (as Complete's released: the attempt given back), out of its worker's hands.
    update public.whatsapp_message_queue q
       set phone = new.phone,
           status = case when q.status = 'claimed' then 'queued' else q.status end,
           attempts = case when q.status = 'claimed' then q.attempts - 1 else q.attempts end,
           lease_holder = case when q.status = 'claimed' then null else q.lease_holder end,
           lease_expires_at = case when q.status = 'claimed' then null else q.lease_expires_at end,
           updated_at = v_at
     where q.lead_id = new.id and q.status in ('queued', 'claimed', 'failed')
       and (q.status <> 'claimed' or q.send_started_at is null);
  else
    -- No number: nothing to send it to. The messages cancelled; the backlog item waiting again
    -- (unless a message of the lead is being sent: its worker's Complete settles it), and a queued
    -- lead new again, so Prepare takes it once it has a number.
    update public.whatsapp_message_queue q
       set status = 'cancelled', lease_expires_at = null, completed_at = v_at, updated_at = v_at
     where q.lead_id = new.id and q.status in ('queued', 'claimed', 'failed')
       and (q.status <> 'claimed' or q.send_started_at is null);
    v_sending := exists (select from public.whatsapp_message_queue q
                          where q.lead_id = new.id and q.status = 'claimed' and q.send_started_at is not null);
    if not v_sending then
      update public.lead_processing_queue p
         set status = 'cancelled', updated_at = v_at
       where p.lead_id = new.id and p.status = 'claimed';
      if found then
        update public.lead_processing_queue p
           set status = 'queued', day = null, lease_holder = null, lease_expires_at = null, scheduled_for = v_at, updated_at = v_at
         where p.lead_id = new.id and p.status = 'cancelled';
      end if;
      if new.status = 'queued' then
        new.status := 'new';
      end if;
    end if;
  end if;

  perform pg_catalog.set_config('leadflow.queue_actor', coalesce(v_actor[1], ''), true),
          pg_catalog.set_config('leadflow.queue_actor_id', coalesce(v_actor[2], ''), true),
          pg_catalog.set_config('leadflow.queue_reason', coalesce(v_actor[3], ''), true),
          pg_catalog.set_config('leadflow.queue_detail', coalesce(v_actor[4], ''), true);
  return new;
end;
$$;

comment on function leadflow_private.leads_waiting_messages_follow_phone() is
  'Before a lead''s phone changes (new or queued lead): its waiting messages (queued, failed, claimed with the send not begun) take the new number, a claimed one released to it (reason phone_changed); with no number they are cancelled, the backlog item waits again and a queued lead is new again (reason phone_removed). A message whose send began is left to its worker.';

revoke all on function leadflow_private.leads_waiting_messages_follow_phone() from public, anon, authenticated, service_role;

drop trigger if exists leads_waiting_messages_follow_phone on public.leads;
create trigger leads_waiting_messages_follow_phone
  before update of phone on public.leads
  for each row when (old.phone is distinct from new.phone and new.status in ('new', 'queued'))
  execute function leadflow_private.leads_waiting_messages_follow_phone();

-- =============================================================================================
-- leadflow_private.session_info_lead_follows_status: the session's lead follows its status
-- =============================================================================================
create or replace function leadflow_private.session_info_lead_follows_status()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_lead uuid;
  v_actor text[];
begin
  if new.status not in ('contacted', 'interested', 'started_work', 'rejected') then
    return null;
  end if;
  -- The session's lead still waiting for its first message: the owner's lead holding the session
  -- (leads.campaign_session_id, unique per owner), else the owner's lead with its phone (unique per
  -- owner and phone). Locked; the functions that change a session lock it first, so this waits
  -- only for a direct write of the session.
  select l.id into v_lead
    from public.leads l
   where l.id = coalesce(
           (select h.id from public.leads h where h.user_id = new.user_id and h.campaign_session_id = new.id),
           (select p.id from public.leads p where p.user_id = new.user_id and p.phone = new.phone_e164))
     and l.status in ('new', 'queued')
     for no key update of l;
  if v_lead is null then
    return null;
  end if;

  v_actor := array[pg_catalog.current_setting('leadflow.queue_actor', true),
                   pg_catalog.current_setting('leadflow.queue_actor_id', true),
                   pg_catalog.current_setting('leadflow.queue_reason', true),
                   pg_catalog.current_setting('leadflow.queue_detail', true)];
  perform leadflow_private.queue_set_actor('automation', null, 'session_' || new.status);
  -- updated_at set here: the leads' touch trigger leaves it to writers that set an actor. The
  -- lead's ledger row, and its message's cancellation, are at the move, now.
  update public.leads l
     set status = case new.status when 'rejected' then 'not_interested' when 'contacted' then 'contacted' else 'engaged' end,
         updated_at = leadflow_private.now()
   where l.id = v_lead and l.status in ('new', 'queued');
  perform pg_catalog.set_config('leadflow.queue_actor', coalesce(v_actor[1], ''), true),
          pg_catalog.set_config('leadflow.queue_actor_id', coalesce(v_actor[2], ''), true),
          pg_catalog.set_config('leadflow.queue_reason', coalesce(v_actor[3], ''), true),
          pg_catalog.set_config('leadflow.queue_detail', coalesce(v_actor[4], ''), true);
  return null;
end;
$$;

comment on function leadflow_private.session_info_lead_follows_status() is
  'After a session''s status is set or changes, whoever wrote it: the session''s lead (the one holding it, else the one with its phone) still new or queued follows: rejected to not_interested, interested or started_work to engaged, contacted to contacted (ledger actor automation, reason session_<status>); leads_follow_status cancels its waiting message.';

revoke all on function leadflow_private.session_info_lead_follows_status() from public, anon, authenticated, service_role;

drop trigger if exists session_info_lead_follows_status_insert on public.session_info;
create trigger session_info_lead_follows_status_insert
  after insert on public.session_info
  for each row when (new.status <> 'pending')
  execute function leadflow_private.session_info_lead_follows_status();
drop trigger if exists session_info_lead_follows_status_update on public.session_info;
-- Not for a session made contacted by a send queue_complete records (ledger reason message_sent:
-- its own statement, and leads_mark_campaign_session_contacted after its update of the leads):
-- that session's lead is the lead sent (the one holding it, or the one with its phone), contacted
-- or moved on already, so the call would find nothing; the WHEN clause spares Complete a call per
-- session. (`is not distinct from`: the setting is null in a connection that never set it, and a
-- null WHEN fires nothing.)
create trigger session_info_lead_follows_status_update
  after update on public.session_info
  for each row when (old.status is distinct from new.status
                     and not (new.status = 'contacted' and pg_catalog.current_setting('leadflow.queue_reason', true) is not distinct from 'message_sent'))
  execute function leadflow_private.session_info_lead_follows_status();

-- =============================================================================================
-- public.record_session_objective: the lead moved by the session's trigger
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

  -- The person answered: the session's lead still waiting for its first message follows, moved by
  -- the session's trigger session_info_lead_follows_status when the update above changed the
  -- status (the lead is locked already, first).

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
  'Records an objective''s value on a session (null is recorded as null, not reached), once per event key and objective; the same key and objective with another value is refused (event_key_reused). A status it changes moves the session''s lead (the one holding it, else the one with its phone) still new or queued through the session''s trigger: rejected to not_interested, interested or started_work to engaged.';

-- =============================================================================================
-- public.queue_begin_send: a message released or cancelled by its lead's phone says so
-- =============================================================================================
create or replace function public.queue_begin_send(
  p_worker text,
  p_item_ids uuid[],
  p_lease_seconds integer default 300,
  p_now timestamptz default leadflow_private.now()
)
returns table (item_id uuid, send boolean, status text, reason text, lease_expires_at timestamptz)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_renewed jsonb;
begin
  if p_worker is null or length(btrim(p_worker)) = 0 or length(p_worker) > 200 or not leadflow_private.is_valid_text(p_worker, 'line') then
    raise exception 'p_worker: required, the worker that claimed the items (one line of at most 200 characters)' using errcode = '22023';
  end if;
  if p_item_ids is null or cardinality(p_item_ids) > 1000 or array_position(p_item_ids, null) is not null then
    raise exception 'p_item_ids: required, at most 1000 item ids without nulls (got %)', coalesce(cardinality(p_item_ids)::text, 'null')
      using errcode = '22023', hint = 'Pass the item_id Claim gave each message about to be sent.';
  end if;
  if p_lease_seconds is null or p_lease_seconds not between 5 and 86400 then
    raise exception 'p_lease_seconds: must be between 5 and 86400 (got %)', p_lease_seconds using errcode = '22023';
  end if;

  -- The lease renewed and the send's start recorded in one statement: a message this answers
  -- `send` for is one queue_claim never hands out again.
  with held as (
    select q.id from public.whatsapp_message_queue q
     where q.id = any (p_item_ids) and q.status = 'claimed' and q.lease_holder = p_worker
     order by q.id
       for update
  ), renewed as (
    update public.whatsapp_message_queue q
       set lease_expires_at = p_now + make_interval(secs => p_lease_seconds), send_started_at = coalesce(q.send_started_at, p_now),
           updated_at = p_now
      from held h
     where q.id = h.id
    returning q.id, q.lease_expires_at
  )
  select coalesce(jsonb_object_agg(r.id, r.lease_expires_at), '{}'::jsonb) into v_renewed from renewed r;

  return query
    select i.id, v_renewed ? i.id::text,
           coalesce(q.status, 'not_found'),
           case when v_renewed ? i.id::text then null
                when q.id is null then 'not_found'
                -- This worker's hold ended by its lead's phone changing (released to the new number,
                -- or cancelled when the lead has none): the last ledger row of the message that
                -- ended a claim of this worker says so. Read only for a refused message.
                when q.status in ('queued', 'failed', 'claimed', 'cancelled')
                     and (select g.reason from public.queue_ledger g
                           where g.lead_id = q.lead_id and g.queue = 'whatsapp_message_queue' and g.item_id = q.id
                             and g.from_status = 'claimed' and g.worker = p_worker
                           order by g.id desc
                           limit 1) in ('phone_changed', 'phone_removed') then 'phone_changed'
                when q.status = 'cancelled' then 'cancelled'
                when q.status in ('sent', 'failed', 'dead') then 'already_completed'
                else 'not_held' end,
           (v_renewed ->> i.id::text)::timestamptz
      from unnest(p_item_ids) with ordinality i (id, n)
      left join public.whatsapp_message_queue q on q.id = i.id
     order by i.n;
end;
$$;
comment on function public.queue_begin_send(text, uuid[], integer, timestamptz) is
  'Just before sending: renews the lease of the messages p_worker still holds and records that their send began (send true; never handed out again), and refuses the others (not_held, cancelled, phone_changed, already_completed, not_found), so a message is never sent after another claim took it, its lead was taken over, or its lead''s phone changed.';

-- =============================================================================================
-- leadflow_private.leads_follow_status: a lead made new by the removal of its phone says so
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
           coalesce(v_who.reason, case when n.status = 'human_controlled' then 'human_takeover'
                                        -- Its phone removed while its message waited: back in the backlog
                                        -- (leads_waiting_messages_follow_phone), without a number.
                                        when n.status = 'new' and o.status = 'queued' and n.phone is null and o.phone is not null then 'phone_removed'
                                        else 'updated' end), v_who.detail, n.updated_at
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
  return null;
end;
$$;
