-- Campaign objectives: a session's answer moves its Queue Ledger lead that still waits for its first
-- message, so someone who said no to the outreach gets no WhatsApp message from the queue.
-- Re-created: public.record_session_objective (otherwise as in 20261201001330; same signature, so
-- its grants stay; its comment is re-stated).
--
-- Why: a lead imported from a campaign (leads.campaign_session_id) before the outreach reached the
-- person stayed `new` or `queued` whatever the session's outcome: record_session_objective never
-- touched the session's lead and queue_prepare never reads the session, so a candidate whose
-- session became `rejected` was still prepared, claimed and sent a first-contact WhatsApp message
-- (20261201001520 only stops the import of such sessions, not a lead imported earlier).
-- Now, when a recorded objective changes the session's status to one that says the person
-- answered, its lead still `new` or `queued` follows in the same transaction, one statement:
--   rejected                   → not_interested
--   interested, started_work   → engaged
-- A lead in any other status (contacted, engaged, human_controlled, …: the queue or the owner moved
-- it on) is never touched. The lead's change goes through the existing trigger
-- leads_follow_status: its waiting message (queued, failed, or claimed with its send not begun)
-- and backlog item are cancelled (ledger reason lead_not_interested / lead_engaged); a message
-- whose send began is left to its worker. The lead's own ledger row says why: actor automation,
-- reason session_rejected / session_interested / session_started_work.
-- Prepare takes `new` leads only and Claim never takes a cancelled message, so queue_prepare is not
-- re-created.
-- Lock order: the lead (FOR NO KEY UPDATE) before the session, as queue_complete does (it updates
-- the lead, then the trigger leads_mark_campaign_session_contacted of 20261201001325 updates the
-- session): the two never wait for each other in a circle. The lead moved here never becomes
-- `contacted`, so that trigger does nothing for it.
-- Not changed: a session that only becomes `contacted` (contacted_at, set by the chat_history /
-- call_info triggers or the owner's app) does not move its lead.

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
begin
  -- The session's lead first (at most one: leads.campaign_session_id is unique), then the session:
  -- the order of queue_complete (the lead, then its trigger's update of the session).
  perform from public.leads l
   where l.user_id = p_owner
     and l.campaign_session_id = (select s.id from public.session_info s
                                   where s.user_id = p_owner and s.session_id = p_session_id)
   order by l.id
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
  if v_recorded and v_session.status is distinct from v_old_status
     and v_session.status in ('rejected', 'interested', 'started_work') then
    perform leadflow_private.queue_set_actor('automation', null, 'session_' || v_session.status);
    update public.leads l
       set status = case when v_session.status = 'rejected' then 'not_interested' else 'engaged' end
     where l.user_id = p_owner and l.campaign_session_id = v_session.id
       and l.status in ('new', 'queued');
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
  'Records an objective''s value on a session (null is recorded as null, not reached), once per event key and objective; the same key and objective with another value is refused (event_key_reused). A status it changes to rejected moves the session''s lead still new or queued to not_interested, to interested or started_work to engaged.';
