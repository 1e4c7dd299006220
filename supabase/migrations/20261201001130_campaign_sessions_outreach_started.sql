-- Campaign launch: each session says whether its outreach started.
-- Re-created: public.create_campaign_sessions (otherwise as in 20261122000300).
--
-- Why: a replayed launch (a webhook retry with the same Idempotency-Key or the same body) answered
-- every existing session like a new one, and the node put them all on its Sessions output, where
-- the outreach is wired: every candidate was contacted a second time. Emitting only the sessions
-- created by the request would lose the outreach of a first run that wrote the sessions and then
-- died before contacting anyone. Each session of the answer now carries `outreach_started`: true
-- when an existing session was contacted (contacted_at, set by the first outbound message or call)
-- or reached any objective (record_session_objective; a campaign's own objective leaves the status
-- pending, so the status alone cannot tell); false for sessions created now and existing ones still
-- untouched. The answer also counts them (`outreach_started`). The node emits on Sessions only the
-- sessions whose outreach has not started. Nothing else changes: same arguments, same locks, same
-- writes.

create or replace function public.create_campaign_sessions(
  p_owner uuid,
  p_campaign jsonb,
  p_tasks jsonb,
  p_idempotency_key text default null
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
    insert into public.session_info (user_id, session_id, campaign_id, phone_e164, display_name)
    select p_owner, i.session_id, v_campaign.id, i.phone, i.name from input i
    on conflict do nothing
    returning id, session_id, phone_e164, display_name, status
  ),
  linked as (
    insert into public.campaigns (campaign_id, session_info_id, user_id)
    select v_campaign.id, ins.id, p_owner from inserted ins
    returning session_info_id
  ),
  -- `existing` reads the table as it was before this statement: sessions made by earlier launches.
  outcome as (
    select i.task_index,
           i.phone,
           coalesce(ins.session_id, ex.session_id) as session_id,
           coalesce(ins.display_name, ex.display_name) as display_name,
           coalesce(ins.status, ex.status) as status,
           ins.id is not null as created,
           -- Outreach started: the session was contacted (an outbound message or call) or reached
           -- any objective, even one that leaves the status pending.
           ins.id is null and ex.id is not null and (ex.contacted_at is not null or ex.objectives <> '{}'::jsonb) as outreach_started
      from input i
      left join inserted ins on ins.phone_e164 = i.phone
      left join public.session_info ex on ins.id is null and ex.user_id = p_owner and ex.campaign_id = v_campaign.id and ex.phone_e164 = i.phone
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
           'linked', (select count(*) from linked),
           'sessions', coalesce((
             select jsonb_agg(jsonb_build_object(
                      'task_index', o.task_index,
                      'session', o.session_id,
                      'phone_number', o.phone,
                      'name', o.display_name,
                      'status', o.status,
                      'created', o.created,
                      'outreach_started', o.outreach_started
                    ) order by o.task_index)
               from outcome o where o.session_id is not null), '[]'::jsonb),
           'conflicts', coalesce((
             select jsonb_agg(jsonb_build_object('task_index', o.task_index, 'phone_number', o.phone) order by o.task_index)
               from outcome o where o.session_id is null), '[]'::jsonb)
         )
    into v_result;
  return v_result;
end;
$$;

comment on function public.create_campaign_sessions(uuid, jsonb, jsonb, text) is
  'Creates a campaign and its sessions at most once (per name_uid and phone), in one transaction; returns every session, new or existing, and whether its outreach started.';
