-- Campaign objectives: a null value is recorded as null, and an event key is one objective's report.
-- Re-created: public.record_session_objective (otherwise as in 20261122000300).
-- Changed: the unique key of public.session_objective_events, (session_info_id, event_key) →
-- (session_info_id, objective, event_key).
--
-- Why (1): an explicit null value (p_value null: an expression that gave null, e.g. an AI
-- extraction that found no answer) was stored as true by coalesce(p_value, 'true'), so the session
-- became "interested" while the node answered value: null. A null is now stored as the JSON null:
-- recorded, and not reached (only true reaches an objective). Omitting p_value still means true
-- (the argument's default, as before); the node refuses a Value that evaluated to nothing.
--
-- Why (2): the outreach side uses the message or call id as the event key, and one message can
-- reach two objectives (interested, then a campaign's own key). The key was unique per session, so
-- the second objective of the same message hit `on conflict do nothing` and was dropped, answering
-- recorded: false like a harmless retry. The key is now unique per session AND objective (existing
-- rows, unique per session, are unique per session and objective too). The same key and objective
-- again with the same value is still a retry (recorded: false, nothing written); with a different
-- value it is refused with outcome `event_key_reused` (and the value first recorded), nothing
-- written: a changed value is a new report and needs a new key, never a silent drop. The session
-- row is locked first, as before, so two reports of one session never race on the key.

alter table public.session_objective_events
  drop constraint if exists session_objective_events_session_info_id_event_key_key;
alter table public.session_objective_events
  drop constraint if exists session_objective_events_objective_event_key_key;
alter table public.session_objective_events
  add constraint session_objective_events_objective_event_key_key unique (session_info_id, objective, event_key);

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
begin
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
  'Records an objective''s value on a session (null is recorded as null, not reached), once per event key and objective; the same key and objective with another value is refused (event_key_reused).';
