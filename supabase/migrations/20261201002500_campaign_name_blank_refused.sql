-- A campaign's name that shows nothing is refused, in the database as in the node.
-- Changed:
--   public.campaign_info: its check campaign_info_name_check also refuses a blank name
--     (leadflow_private.is_blank: empty, or only white space and Unicode format characters such as
--     U+200B zero width space, U+2060 word joiner; the characters of nodes/shared/blank.ts). Rows
--     stored before with such a name are named by their name_uid first, the name a launch without one
--     gives, so the check is validated.
--   public.create_campaign_sessions (otherwise as in 20261201002380_campaign_queue_names_blank_rule.sql;
--     comment re-stated with the refusal): p_campaign.name blank is refused, 22023 naming
--     p_campaign.name, before anything is written.
-- Why: since 20261201002380 a task's or a lead's name of only U+200B is no name, but the campaign's own
-- name still counted white space only (the check's btrim, the node's JavaScript trim(), which keeps
-- U+200B): a launch named "\u200B", or a campaign_name of it, stored a campaign whose name shows
-- nothing in the owner's app. Campaign Session Create refuses it too, naming campaign or
-- campaign_name.

update public.campaign_info c
   set name = c.name_uid
 where leadflow_private.is_blank(c.name);

alter table public.campaign_info
  drop constraint if exists campaign_info_name_check,
  add constraint campaign_info_name_check
    check (length(btrim(name)) between 1 and 200 and not leadflow_private.is_blank(name)
           and leadflow_private.is_valid_text(name, 'line')) not valid;

do $$
begin
  alter table public.campaign_info validate constraint campaign_info_name_check;
exception when check_violation then
  raise warning 'leadflow: campaign_info_name_check stays NOT VALID: rows written before 20261201002500_campaign_name_blank_refused break it (new and updated rows are checked)';
end
$$;

-- =============================================================================================
-- public.create_campaign_sessions: a blank campaign name is refused
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
  -- The key was used before for this campaign and these phones: a replay, answered as the first.
  v_replay boolean := false;
  v_updated public.campaign_info%rowtype;
  v_campaign_updated boolean := false;
  -- The existing sessions whose name this relaunch changed.
  v_renamed uuid[] := '{}';
  v_result jsonb;
  v_now timestamptz := coalesce(p_now, leadflow_private.now());
begin
  if p_owner is null or not exists (select from auth.users u where u.id = p_owner) then
    return jsonb_build_object('outcome', 'owner_not_found');
  end if;
  if jsonb_typeof(p_campaign) is distinct from 'object' or v_name_uid is null then
    raise exception 'p_campaign must be an object with a name_uid' using errcode = '22023';
  end if;
  -- A campaign's name that shows nothing (only white space and format characters such as U+200B:
  -- leadflow_private.is_blank, the node's rule) is refused naming it, as the node refuses it; a task's
  -- blank name stays no name. campaign_info's check refuses it from any writer too.
  if leadflow_private.is_blank(p_campaign ->> 'name') then
    raise exception 'p_campaign.name: is blank (it shows nothing: only white space or format characters such as U+200B)'
      using errcode = '22023',
            hint = 'Give the campaign a name, or leave name out: a new campaign is then named by its name_uid, and a relaunch keeps its name.';
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
      -- The campaign the key launched, so the caller can be told how to add candidates to it.
      return jsonb_build_object(
        'outcome', 'idempotency_key_reused',
        'campaign', (select jsonb_build_object('id', c.name_uid, 'name', c.name, 'same_campaign', c.name_uid = v_name_uid)
                       from public.campaign_info c where c.id = v_request.campaign_id)
      );
    end if;
    v_replay := found;
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
      -- A relaunch (the campaign exists; not a replay of a key already used) states the campaign as
      -- it is now: its name (when given), job description and objectives replace the stored ones.
      -- Rolled back with the rest when no task gets a session (all_conflict).
      if not v_replay then
        update public.campaign_info c
           set name = coalesce(p_campaign ->> 'name', c.name),
               job_description = coalesce(p_campaign ->> 'job_description', c.job_description),
               objectives = coalesce(p_campaign -> 'objectives', c.objectives),
               updated_at = v_now
         where c.id = v_campaign.id
           and (c.name, c.job_description, c.objectives) is distinct from
               (coalesce(p_campaign ->> 'name', c.name), coalesce(p_campaign ->> 'job_description', c.job_description),
                coalesce(p_campaign -> 'objectives', c.objectives))
        returning * into v_updated;
        if found then
          v_campaign := v_updated;
          v_campaign_updated := true;
        end if;
      end if;
    end if;

    if p_idempotency_key is not null then
      insert into public.campaign_session_requests (user_id, idempotency_key, campaign_id, fingerprint)
      values (p_owner, p_idempotency_key, v_campaign.id, v_fingerprint)
      on conflict (user_id, idempotency_key) do nothing;
    end if;

    -- A relaunch states its candidates' names as they are now: a task's non-blank name replaces
    -- the name of its phone's session in the campaign (the first task of a phone, as the sessions
    -- are matched); no name, or a blank one, leaves it. Not on a replay of a key already used. Its
    -- own statement, before the one below that may hand the same rows out (a row is updated once
    -- per statement), in phone order under the campaign's lock.
    if not v_campaign_created and not v_replay then
      with named as (
        select distinct on (t.value ->> 'phone') t.value ->> 'phone' as phone, btrim(t.value ->> 'name') as name
          from jsonb_array_elements(p_tasks) with ordinality t
         where not leadflow_private.is_blank(t.value ->> 'name')
         order by t.value ->> 'phone', t.ordinality
      ),
      renamed as (
        update public.session_info s
           set display_name = n.name, updated_at = v_now
          from named n
         where s.user_id = p_owner and s.campaign_id = v_campaign.id and s.phone_e164 = n.phone
           and s.display_name is distinct from n.name
        returning s.id
      )
      select coalesce(array_agg(r.id), '{}') into v_renamed from renamed r;
    end if;

    with input as (
      select (t.ordinality - 1)::int as task_index,
             t.value ->> 'phone' as phone,
             -- A blank name (only white space and format characters such as U+200B:
             -- leadflow_private.is_blank) is no name (a spreadsheet's empty cell).
             case when not leadflow_private.is_blank(t.value ->> 'name') then btrim(t.value ->> 'name') end as name,
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
    -- The phones of the tasks that have a session in the campaign (created now, or there before),
    -- and only those: a task refused as a conflict writes nothing, not even its number. A name
    -- given now fills a blank one, never overwrites. In phone order, as before, so two launches
    -- sharing phones lock them in the same order. The sessions inserted above reference these rows:
    -- their foreign key is checked at the end of the statement, when both are written.
    numbered as (
      insert into public.numbers (user_id, phone_e164, contact_name)
      select distinct on (i.phone) p_owner, i.phone, i.name
        from input i
       where exists (select from inserted ins where ins.phone_e164 = i.phone)
          or exists (select from public.session_info ex
                      where ex.user_id = p_owner and ex.campaign_id = v_campaign.id and ex.phone_e164 = i.phone)
       order by i.phone, i.name nulls last
      on conflict (user_id, phone_e164) do update
        set contact_name = excluded.contact_name
        where public.numbers.contact_name is null and excluded.contact_name is not null
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
             -- An existing session whose name this relaunch changed (the statement above).
             coalesce(ex.id = any (v_renamed), false) as name_updated,
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
               'updated', v_campaign_updated,
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
             'names_updated', (select count(*) from outcome o where o.name_updated),
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
                        'emitted', o.emitted,
                        'name_updated', o.name_updated
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

comment on function public.create_campaign_sessions(uuid, jsonb, jsonb, text, timestamptz, integer, text) is
  'Creates a campaign and its sessions at most once (per name_uid and phone), in one transaction; returns every session, new or existing (campaign_session_id: its session_info.id, what queue_add_leads takes), whether its outreach started and whether this call hands it to the outreach (emitted: created now, or not started and last handed out longer ago than the lease), and emit_again_after; a relaunch of an existing campaign (not a replay of its Idempotency-Key) updates its name (when given), job description and objectives (campaign.updated) and gives its existing sessions the tasks'' non-blank names (name_updated, names_updated; never blanked); a key reused for another campaign or other phones writes nothing and names the campaign the key launched (idempotency_key_reused, campaign); a launch of which no task gets a session writes nothing (all_conflict), and a task that conflicts writes nothing either (not even its number); a task''s blank name (empty, or only white space and format characters such as U+200B) is no name, and a blank campaign name is refused (22023, p_campaign.name).';

