-- Campaign launch: the database hands each session to the outreach once.
-- Re-created: public.create_campaign_sessions (otherwise as in 20261201001130), with three new
-- arguments (p_now, p_emit_lease_seconds, p_holder). New columns: session_info.outreach_emitted_at
-- and outreach_emitted_by.
--
-- Why: a `session-created` webhook delivered twice (n8n triggers fire twice, queue mode runs many
-- workers, the caller retries after a timeout) put every session on the node's Sessions output
-- again, so every candidate was contacted twice: `outreach_started` stays false until the outreach
-- actually sends, and the node emitted every session whose outreach had not started. Now the
-- function claims, in the same transaction as the create, the sessions the caller may hand to the
-- outreach, and the node emits only those (`emitted` on each session):
--   * a session created by this call is claimed by it (outreach_emitted_at = p_now);
--   * an existing session is claimed again only when its outreach has not started (never
--     contacted, no objective) and its last claim is older than the lease (p_emit_lease_seconds,
--     default 3600): a run that claimed sessions and died before its outreach does not lose them
--     for ever, a later replay hands them out again once the lease has run out; a duplicate
--     delivery within the lease claims nothing (`already_emitted` counts those sessions);
--   * a session contacted or with an objective is never handed out again (`outreach_started`).
-- The launch's campaign lock serialises two deliveries of the same launch, and the claim is an
-- UPDATE … WHERE not claimed within the lease, so two concurrent calls never both claim a session.
-- Sessions created before this migration count as claimed when they were created.

alter table public.session_info
  add column if not exists outreach_emitted_at timestamptz,
  add column if not exists outreach_emitted_by text;
do $$
begin
  if not exists (select from pg_constraint where conname = 'session_info_outreach_emitted_by_check' and conrelid = 'public.session_info'::regclass) then
    alter table public.session_info add constraint session_info_outreach_emitted_by_check
      check (outreach_emitted_by is null or (outreach_emitted_at is not null and length(outreach_emitted_by) between 1 and 200 and outreach_emitted_by !~ '[[:cntrl:]]'));
  end if;
end;
$$;
comment on column public.session_info.outreach_emitted_at is
  'When a launch (create_campaign_sessions) last handed the session to the outreach; handed out again only after the lease, and only while never contacted and without objectives.';
comment on column public.session_info.outreach_emitted_by is 'Who handed the session to the outreach last (the n8n execution), for diagnosis.';

update public.session_info set outreach_emitted_at = created_at where outreach_emitted_at is null;

drop function if exists public.create_campaign_sessions(uuid, jsonb, jsonb, text);

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
  -- An existing session is handed out again only while its outreach has not started and its last
  -- hand-out is older than the lease (a run that died after it); within the lease, nothing. It
  -- updates only rows that existed before this statement (not those `inserted` adds), under their
  -- row locks, after the campaign lock: two calls never both claim a session.
  claimed as (
    update public.session_info s
       set outreach_emitted_at = v_now, outreach_emitted_by = p_holder
      from input i
     where s.user_id = p_owner and s.campaign_id = v_campaign.id and s.phone_e164 = i.phone
       and s.contacted_at is null and s.objectives = '{}'::jsonb
       and (s.outreach_emitted_at is null or s.outreach_emitted_at <= v_now - make_interval(secs => p_emit_lease_seconds))
    returning s.id
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
           ins.id is null and ex.id is not null and (ex.contacted_at is not null or ex.objectives <> '{}'::jsonb) as outreach_started,
           -- Handed to the outreach by this call: created now, or claimed again after the lease.
           ins.id is not null or cl.id is not null as emitted
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
           'linked', (select count(*) from linked),
           'sessions', coalesce((
             select jsonb_agg(jsonb_build_object(
                      'task_index', o.task_index,
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
  return v_result;
end;
$$;

comment on function public.create_campaign_sessions(uuid, jsonb, jsonb, text, timestamptz, integer, text) is
  'Creates a campaign and its sessions at most once (per name_uid and phone), in one transaction; returns every session, new or existing, whether its outreach started and whether this call hands it to the outreach (emitted: created now, or not started and last handed out longer ago than the lease).';

-- The function takes the owner as an argument, so only the service role (n8n) may call it.
revoke all on function public.create_campaign_sessions(uuid, jsonb, jsonb, text, timestamptz, integer, text) from public, anon, authenticated;
grant execute on function public.create_campaign_sessions(uuid, jsonb, jsonb, text, timestamptz, integer, text) to service_role;
