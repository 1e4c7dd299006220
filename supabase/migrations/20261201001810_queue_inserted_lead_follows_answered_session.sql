-- A lead the owner's app inserts with the phone of a person whose campaign outreach started is
-- moved as that answer moves it, as a lead given that phone later is.
-- New: leadflow_private.lead_follow_answered_session (the move, shared by both triggers),
-- leadflow_private.leads_inserted_follow_answered_session and its trigger
-- leads_on_insert_follow_answered_session (leads).
-- Re-created: leadflow_private.leads_follow_answered_session (otherwise as in
-- 20261201001760_queue_prepare_and_phone_answered_session.sql: it now calls the shared move; its
-- trigger is unchanged and not re-created; no grants, as there).
--
-- Why: 20261201001730 applies the rule "nobody whose campaign outreach started is made a lead"
-- inside Add Leads, and 20261201001760 when a new or queued lead's phone changes. A row the owner's
-- app inserts into leads itself (documented as a writer of leads) passed neither: with the phone of
-- a person who said no, the lead was new, Prepare queued it and Claim handed the first message out
-- to her (a reviewer's repro on a real stack).
--
-- Now an AFTER INSERT trigger, per statement (one probe for the whole insert: Add Leads inserts
-- thousands of rows at once, and nearly no phone has a session), moves each inserted new or queued
-- lead whose phone belongs to a session of its owner that no other lead holds and whose outreach
-- started, exactly as leads_follow_answered_session moves a lead whose phone changed (the same
-- function): rejected -> not_interested, interested / started_work -> engaged, otherwise
-- contacted; ledger actor automation, reason session_<status>; leads_follow_status then cancels
-- its backlog item. Its name sorts after leads_follow_status_insert (statement triggers of one
-- event fire in name order), so the insert's ledger row (added) and backlog item exist first and
-- the move is recorded after them, as for a lead moved later. Add Leads' own inserts never meet it
-- (…1730 skips such items before inserting); the campaign import skips them too.

-- =============================================================================================
-- leadflow_private.lead_follow_answered_session: the move, for one lead
-- =============================================================================================
create or replace function leadflow_private.lead_follow_answered_session(p_lead_id uuid, p_user_id uuid, p_phone text, p_at timestamptz)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_reason text;
  v_actor text[];
begin
  -- Nearly every phone has no session: one probe. The sessions with it locked for share, so one
  -- answered meanwhile is either committed (read below) or waits for this transaction.
  perform from public.session_info p
    where p.user_id = p_user_id and p.phone_e164 = p_phone
      for share;
  if not found then
    return;
  end if;

  -- Of those no other lead holds (this lead is their lead), the first whose outreach started.
  select leadflow_private.queue_session_outreach_started(p.status, p.contacted_at, p.objectives) into v_reason
    from public.session_info p
   where p.user_id = p_user_id and p.phone_e164 = p_phone
     and leadflow_private.queue_session_outreach_started(p.status, p.contacted_at, p.objectives) is not null
     and not exists (select from public.leads h where h.user_id = p.user_id and h.campaign_session_id = p.id and h.id <> p_lead_id)
   order by p.status = 'rejected' desc, p.id
   limit 1;
  if v_reason is null then
    return;
  end if;

  v_actor := array[pg_catalog.current_setting('leadflow.queue_actor', true),
                   pg_catalog.current_setting('leadflow.queue_actor_id', true),
                   pg_catalog.current_setting('leadflow.queue_reason', true),
                   pg_catalog.current_setting('leadflow.queue_detail', true)];
  perform leadflow_private.queue_set_actor('automation', null, v_reason);
  update public.leads l
     set status = case v_reason when 'session_rejected' then 'not_interested'
                                when 'session_interested' then 'engaged'
                                when 'session_started_work' then 'engaged'
                                else 'contacted' end,
         updated_at = p_at
   where l.id = p_lead_id and l.status in ('new', 'queued');
  perform pg_catalog.set_config('leadflow.queue_actor', coalesce(v_actor[1], ''), true),
          pg_catalog.set_config('leadflow.queue_actor_id', coalesce(v_actor[2], ''), true),
          pg_catalog.set_config('leadflow.queue_reason', coalesce(v_actor[3], ''), true),
          pg_catalog.set_config('leadflow.queue_detail', coalesce(v_actor[4], ''), true);
end;
$$;

comment on function leadflow_private.lead_follow_answered_session(uuid, uuid, text, timestamptz) is
  'Moves a new or queued lead whose phone p_phone belongs to a session of its owner that no other lead holds and whose outreach started (leadflow_private.queue_session_outreach_started, a rejected one first) as that session''s answer moves it: rejected to not_interested, interested or started_work to engaged, otherwise contacted (ledger actor automation, reason session_<status> or session_objective_recorded), at p_at. Called by the leads triggers leads_follow_answered_session (a phone changed) and leads_on_insert_follow_answered_session (a lead inserted).';

revoke all on function leadflow_private.lead_follow_answered_session(uuid, uuid, text, timestamptz) from public, anon, authenticated, service_role;

-- =============================================================================================
-- leadflow_private.leads_follow_answered_session: as in 20261201001760, through the shared move
-- =============================================================================================
create or replace function leadflow_private.leads_follow_answered_session()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  -- updated_at: the phone change's (the leads' touch trigger leaves it to writers that set an
  -- actor), so the ledger row and the message's cancellation are at that moment.
  perform leadflow_private.lead_follow_answered_session(
    new.id, new.user_id, new.phone,
    case when new.updated_at is distinct from old.updated_at then new.updated_at else leadflow_private.now() end);
  return null;
end;
$$;

comment on function leadflow_private.leads_follow_answered_session() is
  'After a new or queued lead gets a phone (whoever writes it): leadflow_private.lead_follow_answered_session moves it when a session of the owner with that phone that no other lead holds had its outreach started; leads_follow_status cancels its waiting message.';

revoke all on function leadflow_private.leads_follow_answered_session() from public, anon, authenticated, service_role;

-- =============================================================================================
-- leadflow_private.leads_inserted_follow_answered_session: the same for inserted leads
-- =============================================================================================
create or replace function leadflow_private.leads_inserted_follow_answered_session()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  r record;
begin
  -- Only the inserted leads whose phone some session of their owner has (one set-based probe on
  -- session_info_owner_phone_idx); each is then moved by the shared rule.
  for r in
    select n.id, n.user_id, n.phone, n.updated_at
      from new_rows n
     where n.phone is not null and n.status in ('new', 'queued')
       and exists (select from public.session_info p where p.user_id = n.user_id and p.phone_e164 = n.phone)
     order by n.id
  loop
    perform leadflow_private.lead_follow_answered_session(r.id, r.user_id, r.phone, r.updated_at);
  end loop;
  return null;
end;
$$;

comment on function leadflow_private.leads_inserted_follow_answered_session() is
  'After leads are inserted (whoever inserts them): each new or queued one whose phone belongs to a session of its owner that no other lead holds and whose outreach started is moved by leadflow_private.lead_follow_answered_session.';

revoke all on function leadflow_private.leads_inserted_follow_answered_session() from public, anon, authenticated, service_role;

-- After leads_follow_status_insert (statement triggers of one event fire in name order): the
-- insert's ledger row and backlog item first, then the move and its cancellations.
drop trigger if exists leads_on_insert_follow_answered_session on public.leads;
create trigger leads_on_insert_follow_answered_session
  after insert on public.leads
  referencing new table as new_rows
  for each statement execute function leadflow_private.leads_inserted_follow_answered_session();
