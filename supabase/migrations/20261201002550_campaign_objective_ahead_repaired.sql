-- Campaign objectives: the upgrade repairs the events an older version stored dated ahead of the
-- moment they were recorded. New: leadflow_private.session_objectives_fold(uuid) (the rule "the
-- latest event of each objective is its value", moved out of record_session_objective so that the
-- repair below uses the same SQL, not a second copy). Re-created: public.record_session_objective
-- (otherwise as in 20261201002460_campaign_objective_ahead_recorded_as_now.sql; same signature, so
-- its grants stay; comment re-stated).
--
-- Why (review U): …2420 and …2460 keep a new report from being stored dated in the future (ahead
-- of now it is recorded at now), but nothing repaired the events the versions before them stored
-- so: an event dated ahead of its created_at (a model's wrong year, a naive UTC time read hours
-- east) stayed its objective's latest event after the upgrade, so every later report of that
-- objective, a candidate's "no" included, was answered `recorded: true` and changed nothing until
-- that date passed (hours to years), the session frozen (a `rejected` never reached, its lead never
-- moved, its waiting WhatsApp message never cancelled).
--
-- Repair (once, here): every event whose occurred_at is after its created_at (when it was recorded;
-- today's function records such a time at now, which is its created_at: it allows nothing ahead)
-- is dated at its created_at, as today's function would have recorded it; then each session
-- with such an event gets its objectives folded again by leadflow_private.session_objectives_fold,
-- only where that changes them, so its status, and its lead through session_info_lead_follows_status,
-- follow as after a report. The instant given is not kept (no column holds it; the answer of
-- …2460's occurred_at_adjusted was its only trace). Set-based, two statements; a database with no
-- such event (a fresh install, or one repaired already) has nothing changed.

create or replace function leadflow_private.session_objectives_fold(p_session_info_id uuid)
returns jsonb
language sql
stable
set search_path = ''
as $$
  select coalesce(jsonb_object_agg(e.objective, e.value), '{}'::jsonb)
    from (
      select distinct on (ev.objective) ev.objective, ev.value
        from public.session_objective_events ev
       where ev.session_info_id = p_session_info_id
       order by ev.objective, ev.occurred_at desc, ev.created_at desc
    ) e
$$;
comment on function leadflow_private.session_objectives_fold(uuid) is
  'A session''s objectives from its events: the latest event of each objective (by occurred_at, then created_at) is its value. record_session_objective writes it; the upgrade''s repair (20261201002550) too.';
revoke all on function leadflow_private.session_objectives_fold(uuid) from public, anon, authenticated, service_role;

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
  v_now timestamptz := leadflow_private.now();
  -- When the event is recorded as having happened: p_occurred_at, now when null or after now.
  v_occurred_at timestamptz := coalesce(p_occurred_at, v_now);
  v_adjusted boolean := false;
begin
  -- A report dated after the database's clock would stay the objective's latest event until that
  -- time, and every later report of it would change nothing: recorded at now, and the answer says
  -- so. Up to 26 hours ahead is a time zone mix-up (a time without an offset read in another zone)
  -- or clocks apart; further, no zone explains it (a wrong year or date): refused.
  if p_occurred_at > v_now + interval '26 hours' then
    raise exception 'p_occurred_at: % is more than 26 hours after now (%): no time zone explains it',
      pg_catalog.to_char(p_occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
      pg_catalog.to_char(v_now at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
      using errcode = '22023',
            detail = '{"field": "p_occurred_at", "reason": "too_far_ahead"}',
            hint = 'Send the time the objective was reached (check its year and date), or leave p_occurred_at null for now.';
  elsif p_occurred_at > v_now then
    v_occurred_at := v_now;
    v_adjusted := true;
  end if;

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
  values (p_owner, v_session.id, p_objective, v_value, p_source, p_event_key, v_occurred_at)
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
  -- reports arriving out of order still leave the right state (leadflow_private.session_objectives_fold,
  -- the rule the repair of 20261201002550 uses too).
  if v_recorded then
    update public.session_info s
       set objectives = leadflow_private.session_objectives_fold(v_session.id)
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
  ) || case when v_adjusted
            then jsonb_build_object('occurred_at_adjusted',
                   pg_catalog.to_char(p_occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
            else '{}'::jsonb end;
end;
$$;

comment on function public.record_session_objective(uuid, text, text, jsonb, text, timestamptz, text) is
  'Records an objective''s value on a session (null is recorded as null, not reached), once per event key and objective; the same key and objective with another value is refused (event_key_reused). A status it changes moves the session''s lead (the one holding it, else the one with its phone) still new or queued through the session''s trigger: rejected to not_interested, interested or started_work to engaged. An occurred_at after now is recorded at now (the answer''s occurred_at_adjusted gives the instant given); one more than 26 hours after now is refused (22023).';

-- =============================================================================================
-- Repair: events an older version stored dated ahead of when they were recorded
-- =============================================================================================
do $$
declare
  v_sessions uuid[];
begin
  with fixed as (
    update public.session_objective_events ev
       set occurred_at = ev.created_at
     where ev.occurred_at > ev.created_at
    returning ev.session_info_id
  )
  select array_agg(distinct f.session_info_id) into v_sessions from fixed f;

  if v_sessions is not null then
    update public.session_info s
       set objectives = leadflow_private.session_objectives_fold(s.id)
     where s.id = any (v_sessions)
       and s.objectives is distinct from leadflow_private.session_objectives_fold(s.id);
  end if;
end;
$$;
