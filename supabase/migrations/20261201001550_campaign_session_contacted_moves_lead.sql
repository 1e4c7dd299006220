-- Campaign sessions: the campaign's first outbound message or call moves the session's Queue Ledger
-- lead still waiting for its first message to contacted, so the queue does not contact the person
-- a second time for the first time.
-- Re-created: leadflow_private.session_info_mark_contacted (otherwise as in
-- 20261122000300_campaign_sessions.sql; now security definer, see below; its triggers
-- chat_history_mark_contacted and call_info_mark_contacted are unchanged), and
-- public.record_session_objective (otherwise as in 20261201001540; same signature, so its grants
-- stay): the lead it moves gets updated_at = now.
--
-- Why: a lead imported from a campaign (leads.campaign_session_id) before the outreach reached the
-- person stayed `new` or `queued` when the outreach then wrote to or called them: the outbound
-- chat_history / call_info row marked the session contacted and nothing else, so the queue still
-- prepared, claimed and sent that person a first-contact WhatsApp message on top of the campaign's.
-- 20261201001540 moved such a lead on an answer (rejected, interested, started work), not on the
-- outreach's own first contact.
-- Now, when an outbound chat_history or call_info row is inserted, the session's lead still `new`
-- or `queued` becomes `contacted` in the same statement's transaction: the leads' trigger
-- leads_follow_status cancels its waiting message (queued, failed, or claimed with its send not
-- begun) and backlog item (ledger reason lead_contacted); a message whose send began is left to its
-- worker, whose Complete records it (the lead is contacted already, so Complete leaves it). The
-- lead's own ledger row: actor automation, reason session_contacted. A lead in any other status
-- (contacted, engaged, human_controlled, …) is never touched; neither is a lead when only an
-- inbound row is written (the person wrote first: the campaign did not contact them).
-- Lock order: the lead (FOR NO KEY UPDATE) before the session, as queue_complete and
-- record_session_objective take them, so a send recorded at the moment the outreach writes to the
-- same person never waits in a circle with it.
-- Security definer: the owner's app writes chat_history / call_info as `authenticated`, and the
-- lead's move sets the ledger's actor (leadflow_private.queue_set_actor), which that role may not
-- call. It reaches only rows of the inserted row's own session and owner (the foreign key
-- (session_info_id, user_id) and row-level security on the insert make that session the writer's).
-- The actor settings of the statement that inserted the row are put back afterwards.
-- Not changed: an update of session_info.contacted_at by the owner's app does not move the lead
-- (the session's row is locked before any trigger of it could lock the lead first).

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

  -- The session's lead still waiting for its first message (at most one: leads.campaign_session_id
  -- is unique per owner), locked before the session.
  select l.id into v_lead
    from public.leads l
   where l.user_id = new.user_id and l.campaign_session_id = new.session_info_id
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
  'After an outbound chat_history or call_info row: its session contacted (contacted_at, the earliest kept) and the session''s lead still new or queued made contacted (ledger reason session_contacted; its waiting message and backlog item cancelled by leads_follow_status).';

revoke all on function leadflow_private.session_info_mark_contacted() from public, anon, authenticated;

-- =============================================================================================
-- record_session_objective: the lead it moves is updated now
-- =============================================================================================
-- 20261201001540 moved the lead with the ledger's actor set, and the leads' touch trigger
-- (queue_touch_updated_at) leaves updated_at to writers that set an actor: the lead kept the
-- updated_at of its last change (queue_prepare's p_now), so its ledger row, its message's
-- cancellation (completed_at) and the day the metrics count it on were the day it was prepared, not
-- the day the person answered. Now updated_at is leadflow_private.now(), as above.

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
       set status = case when v_session.status = 'rejected' then 'not_interested' else 'engaged' end,
           updated_at = leadflow_private.now()
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
