-- One rule for a blank name, the nodes' own: a campaign task's or a lead's name made only of white
-- space and Unicode format characters (U+200B zero width space, U+2060 word joiner, U+00AD soft
-- hyphen, …) is no name, in the database as in the nodes.
-- New: leadflow_private.is_blank(text), the characters of nodes/shared/blank.ts (JavaScript's
-- [\s\p{Cf}]), written out by code point; test/db/blank-text.test.ts checks every code point
-- against the node's isBlank.
-- Re-created (create or replace, same signatures, so their grants stay):
--   public.create_campaign_sessions (otherwise as in 20261201002280_campaign_launch_key_campaign_and_names.sql;
--     comment re-stated): a task's blank name stores no name (null), as "" and spaces did; on a
--     relaunch it leaves the session's name as it is, as "" and spaces did.
--   leadflow_private.queue_lead_item_problem (otherwise as in 20261201000410_queue_ledger_api.sql):
--     queue_add_leads refuses an item whose name is blank, as it refused "" and spaces ("name: must
--     be one line of 1 to 200 characters, or null"); nothing written.
--   leadflow_private.queue_add_lead_rows and public.queue_add_leads_from_crm (otherwise as in
--     20261201001730_queue_add_leads_skips_answered_sessions.sql; comment re-stated): a name taken
--     from a campaign session, the phone book (numbers) or a conversation's sender is taken only
--     when it is not blank, so a session stored before this migration with such a name, or a
--     Messenger sender named only U+200B, gives the lead no name.
--
-- Why: three rules decided whether a name was blank. Campaign Session Create counted white space
-- and format characters (a spreadsheet cell holding only a U+200B is empty), the SQL counted spaces
-- only (nullif(btrim(...), '')), and Add Leads counted JavaScript's trim() (no U+200B). So a direct
-- create_campaign_sessions call stored a candidate named "\u200B" (and Add Leads then gave the lead
-- that name, and the queue's "Hi {{name}}" greeted nobody), and Add Leads stored one itself. Now the
-- nodes share nodes/shared/blank.ts and the database uses the same characters. Names that are not
-- blank are trimmed as before (btrim: spaces).

-- Immutable and without a SET clause, so the planner can inline it (as leadflow_private.is_valid_text);
-- a fixed collation and pg_catalog's operator, so neither the locale nor a search_path changes what it
-- means. E'' strings: the regular expression engine reads the escapes. Null for null.
create or replace function leadflow_private.is_blank(p_value text)
returns boolean
language sql
immutable
parallel safe
as $$
  select (p_value collate pg_catalog."C") operator(pg_catalog.~)
    E'^[\\x09-\\x0d\\x20\\xa0\\xad\\u0600-\\u0605\\u061c\\u06dd\\u070f\\u0890\\u0891\\u08e2\\u1680\\u180e\\u2000-\\u200f\\u2028-\\u202f\\u205f-\\u2064\\u2066-\\u206f\\u3000\\ufeff\\ufff9-\\ufffb\\U000110bd\\U000110cd\\U00013430-\\U0001343f\\U0001bca0-\\U0001bca3\\U0001d173-\\U0001d17a\\U000e0001\\U000e0020-\\U000e007f]*$'
$$;
comment on function leadflow_private.is_blank(text) is
  'Whether p_value shows nothing: empty, or only white space and Unicode format characters (JavaScript''s [\s\p{Cf}], as nodes/shared/blank.ts reads it); null for null. A name that is blank is no name.';
revoke all on function leadflow_private.is_blank(text) from public, anon;
grant execute on function leadflow_private.is_blank(text) to authenticated, service_role;

-- =============================================================================================
-- public.create_campaign_sessions: a blank task name is no name
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
  'Creates a campaign and its sessions at most once (per name_uid and phone), in one transaction; returns every session, new or existing (campaign_session_id: its session_info.id, what queue_add_leads takes), whether its outreach started and whether this call hands it to the outreach (emitted: created now, or not started and last handed out longer ago than the lease), and emit_again_after; a relaunch of an existing campaign (not a replay of its Idempotency-Key) updates its name (when given), job description and objectives (campaign.updated) and gives its existing sessions the tasks'' non-blank names (name_updated, names_updated; never blanked); a key reused for another campaign or other phones writes nothing and names the campaign the key launched (idempotency_key_reused, campaign); a launch of which no task gets a session writes nothing (all_conflict), and a task that conflicts writes nothing either (not even its number); a blank name (empty, or only white space and format characters such as U+200B) is no name.';

-- =============================================================================================
-- leadflow_private.queue_lead_item_problem: a blank name is refused, as "" is
-- =============================================================================================
-- queue_add_leads' item: {user_id, name, phone, conversation_id?, campaign_session_id?, source?,
-- lead_score?}: what is wrong with it, or null. One expression: the planner inlines it.
create or replace function leadflow_private.queue_lead_item_problem(p_item jsonb)
returns text
language sql
immutable
parallel safe
as $$
  select case
    when jsonb_typeof(p_item) is distinct from 'object' then ': must be an object (got ' || coalesce(jsonb_typeof(p_item), 'null') || ')'
    when p_item - '{user_id,name,phone,conversation_id,campaign_session_id,source,lead_score}'::text[] <> '{}'::jsonb then
      '.' || (jsonb_path_query_array(p_item - '{user_id,name,phone,conversation_id,campaign_session_id,source,lead_score}'::text[], '$.keyvalue().key') ->> 0)
        || ': not a field of a lead; the fields are user_id, name, phone, conversation_id, campaign_session_id, source, lead_score'
    when not leadflow_private.pipeline_is_uuid(p_item -> 'user_id') then
      '.user_id: required, the owner''s user id (a uuid) (got ' || coalesce((p_item -> 'user_id')::text, 'nothing') || ')'
    when not leadflow_private.pipeline_is_null(p_item -> 'name')
         and (jsonb_typeof(p_item -> 'name') <> 'string' or leadflow_private.is_blank(p_item ->> 'name')
              or length(btrim(p_item ->> 'name')) not between 1 and 200
              or not leadflow_private.is_valid_text(p_item ->> 'name', 'line')) then
      '.name: must be one line of 1 to 200 characters, or null (got ' || left((p_item -> 'name')::text, 100) || ')'
    when not leadflow_private.pipeline_is_null(p_item -> 'phone')
         and (jsonb_typeof(p_item -> 'phone') <> 'string' or (p_item ->> 'phone') !~ '^\+[1-9][0-9]{6,14}$') then
      '.phone: must be a phone number in E.164 (a + and 7 to 15 digits, e.g. +14155550123), or null (got '
        || left((p_item -> 'phone')::text, 100) || ')'
    when not leadflow_private.pipeline_is_null(p_item -> 'conversation_id') and not leadflow_private.pipeline_is_uuid(p_item -> 'conversation_id') then
      '.conversation_id: must be a Messenger conversation id (a uuid), or null (got ' || left((p_item -> 'conversation_id')::text, 100) || ')'
    when not leadflow_private.pipeline_is_null(p_item -> 'campaign_session_id') and not leadflow_private.pipeline_is_uuid(p_item -> 'campaign_session_id') then
      '.campaign_session_id: must be a campaign session id (session_info.id, a uuid), or null (got '
        || left((p_item -> 'campaign_session_id')::text, 100) || ')'
    when not leadflow_private.pipeline_is_null(p_item -> 'source')
         and (jsonb_typeof(p_item -> 'source') <> 'string' or length(btrim(p_item ->> 'source')) not between 1 and 100
              or not leadflow_private.is_valid_text(p_item ->> 'source', 'line')) then
      '.source: must be one line of 1 to 100 characters, or null (got ' || left((p_item -> 'source')::text, 100) || ')'
    when not leadflow_private.pipeline_is_null(p_item -> 'lead_score')
         and (jsonb_typeof(p_item -> 'lead_score') <> 'number' or (p_item ->> 'lead_score')::numeric not between 0 and 100
              or (p_item ->> 'lead_score')::numeric <> trunc((p_item ->> 'lead_score')::numeric)) then
      '.lead_score: must be a whole number from 0 to 100, or null (got ' || left((p_item -> 'lead_score')::text, 100) || ')'
    when leadflow_private.pipeline_is_null(p_item -> 'phone') and leadflow_private.pipeline_is_null(p_item -> 'conversation_id')
         and leadflow_private.pipeline_is_null(p_item -> 'campaign_session_id') then
      ': a lead needs a phone, a conversation_id or a campaign_session_id (it has none)'
  end
$$;

-- =============================================================================================
-- leadflow_private.queue_add_lead_rows: a blank name of a session or conversation is not taken
-- =============================================================================================
create or replace function leadflow_private.queue_add_lead_rows(p_items leadflow_private.queue_new_lead[], p_now timestamptz)
returns table (item_index integer, lead_id uuid, outcome text, status text, source text,
               name text, phone text, conversation_id uuid, campaign_session_id uuid, reason text)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_out leadflow_private.queue_lead_outcome[];
  v_bad record;
  v_skips jsonb := '{}';
  v_skipped leadflow_private.queue_new_lead[] := '{}';
begin
  -- An item without a phone or a name takes them from what it names, as the CRM imports do: its
  -- campaign session's phone and name (session_info.display_name, else the contact's name in
  -- numbers), else its conversation's sender name; a name only when it is a valid line of 1 to 200
  -- characters that is not blank (leadflow_private.is_blank: only white space and format characters
  -- such as U+200B is no name). Before the lookups below, so a session's phone finds the lead that holds it. Only
  -- the owner's session or conversation (queue_add_leads refuses the others before this).
  if exists (select from unnest(p_items) i
              where (i.phone is null or i.name is null) and (i.campaign_session_id is not null or i.conversation_id is not null)) then
    p_items := array(
      select row(i.item_index, i.user_id,
                 coalesce(i.name,
                          case when not leadflow_private.is_blank(coalesce(s.display_name, n.contact_name)) and length(btrim(coalesce(s.display_name, n.contact_name))) between 1 and 200
                                and leadflow_private.is_valid_text(coalesce(s.display_name, n.contact_name), 'line')
                               then btrim(coalesce(s.display_name, n.contact_name)) end,
                          case when not leadflow_private.is_blank(c.sender_name) and length(btrim(c.sender_name)) between 1 and 200 and leadflow_private.is_valid_text(c.sender_name, 'line')
                               then btrim(c.sender_name) end),
                 coalesce(i.phone, s.phone_e164),
                 i.conversation_id, i.campaign_session_id, i.source, i.lead_score)::leadflow_private.queue_new_lead
        from unnest(p_items) i
        left join public.session_info s on s.id = i.campaign_session_id and s.user_id = i.user_id
        left join public.numbers n on n.user_id = s.user_id and n.phone_e164 = s.phone_e164
        left join public.messenger_conversations c on c.id = i.conversation_id and c.user_id = i.user_id
       order by i.item_index);
  end if;

  -- Nobody who answered the outreach gets the queue's first message: an item that would make a new
  -- lead (no lead of the owner has its phone, conversation or session) is skipped when its campaign
  -- session, or a session of the owner with its phone that no lead holds (the lead it would make is
  -- that session's lead: migration 20261201001570's pairing), had its outreach started
  -- (leadflow_private.queue_session_outreach_started: contacted, or an objective recorded). The
  -- reason is that session's (the item's own first, then a rejected one). Skipped items take no part
  -- below: they make, find and fill no lead.
  select coalesce(jsonb_object_agg(j.item_index::text, j.reason) filter (where j.reason is not null), '{}')
    into v_skips
    from (
      select i.item_index,
             (select s.reason
                from (select h.id, 0 as pref, h.status,
                             leadflow_private.queue_session_outreach_started(h.status, h.contacted_at, h.objectives) as reason
                        from public.session_info h
                       where h.id = i.campaign_session_id and h.user_id = i.user_id
                      union all
                      select p.id, 1, p.status,
                             leadflow_private.queue_session_outreach_started(p.status, p.contacted_at, p.objectives)
                        from public.session_info p
                       where i.phone is not null and p.user_id = i.user_id and p.phone_e164 = i.phone
                         and p.id is distinct from i.campaign_session_id
                         and not exists (select from public.leads h where h.user_id = p.user_id and h.campaign_session_id = p.id)) s
               where s.reason is not null
               order by s.pref, s.status = 'rejected' desc, s.id
               limit 1) as reason
        from unnest(p_items) i
       where (i.phone is not null or i.campaign_session_id is not null)
         and not exists (select from public.leads l where i.phone is not null and l.user_id = i.user_id and l.phone = i.phone)
         and not exists (select from public.leads l where i.conversation_id is not null and l.user_id = i.user_id and l.conversation_id = i.conversation_id)
         and not exists (select from public.leads l where i.campaign_session_id is not null and l.user_id = i.user_id
                                                      and l.campaign_session_id = i.campaign_session_id)
    ) j;
  if v_skips <> '{}'::jsonb then
    v_skipped := array(select row(i.*)::leadflow_private.queue_new_lead from unnest(p_items) i where v_skips ? i.item_index::text order by i.item_index);
    p_items := array(select row(i.*)::leadflow_private.queue_new_lead from unnest(p_items) i where not v_skips ? i.item_index::text order by i.item_index);
  end if;

  with recursive items as materialized (
    select i.*,
           coalesce(
             (select l.id from public.leads l where i.phone is not null and l.user_id = i.user_id and l.phone = i.phone),
             (select l.id from public.leads l where i.conversation_id is not null and l.user_id = i.user_id and l.conversation_id = i.conversation_id),
             (select l.id from public.leads l where i.campaign_session_id is not null and l.user_id = i.user_id
                                                  and l.campaign_session_id = i.campaign_session_id)
           ) as existing_id
      from unnest(p_items) i
  ),
  -- Among the items without a lead: the earliest item sharing a key with each (itself if none).
  fresh as materialized (
    select f.item_index,
           least(min(f.item_index) over (partition by f.user_id, f.phone_key),
                 min(f.item_index) over (partition by f.user_id, f.conversation_key),
                 min(f.item_index) over (partition by f.user_id, f.session_key)) as first_index
      from (select i.item_index, i.user_id,
                   coalesce(i.phone, '#' || i.item_index) as phone_key,
                   coalesce(i.conversation_id::text, '#' || i.item_index) as conversation_key,
                   coalesce(i.campaign_session_id::text, '#' || i.item_index) as session_key
              from items i where i.existing_id is null) f
  ),
  -- Followed to its end (first_index only decreases): the item whose new lead each item is. Two
  -- such items never share a key (the later would point at the earlier), so their inserts never
  -- collide with each other.
  chain (item_index, target) as (
    select f.item_index, f.first_index from fresh f
    union all
    select c.item_index, f.first_index from chain c join fresh f on f.item_index = c.target where f.first_index < f.item_index
  ),
  target_of as materialized (
    select c.item_index, min(c.target) as target from chain c group by c.item_index
  ),
  new_leads as materialized (
    select i.*, gen_random_uuid() as new_id
      from items i join target_of t on t.item_index = i.item_index and t.target = i.item_index
  ),
  inserted as (
    insert into public.leads (id, user_id, name, phone, conversation_id, campaign_session_id, source, lead_score, status, created_at, updated_at)
    select n.new_id, n.user_id, n.name, n.phone, n.conversation_id, n.campaign_session_id, n.source,
           coalesce(n.lead_score,
                    (select pc.lead_score from public.pipeline_contacts pc
                      where n.conversation_id is not null and pc.conversation_id = n.conversation_id and pc.lead_score is not null
                      order by pc.analysed_at desc nulls last, pc.updated_at desc
                      limit 1)),
           'new', p_now, p_now
      from new_leads n
     order by n.item_index
    on conflict do nothing
    returning id
  )
  select array_agg(row(i.item_index, i.user_id, i.phone, i.conversation_id, i.campaign_session_id,
                       coalesce(i.existing_id, x.id),
                       x.id is not null and t.target = i.item_index)::leadflow_private.queue_lead_outcome
                   order by i.item_index)
    into v_out
    from items i
    left join target_of t on t.item_index = i.item_index
    left join new_leads n on n.item_index = t.target
    left join inserted x on x.id = n.new_id;

  -- Lost races: a concurrent call inserted one of these leads first. Read it by the item's keys.
  if exists (select from unnest(v_out) o where o.lead_id is null) then
    v_out := array(
      select row(o.item_index, o.user_id, o.phone, o.conversation_id, o.campaign_session_id,
                 coalesce(o.lead_id,
                          (select l.id from public.leads l where o.phone is not null and l.user_id = o.user_id and l.phone = o.phone),
                          (select l.id from public.leads l where o.conversation_id is not null and l.user_id = o.user_id
                                                               and l.conversation_id = o.conversation_id),
                          (select l.id from public.leads l where o.campaign_session_id is not null and l.user_id = o.user_id
                                                               and l.campaign_session_id = o.campaign_session_id)),
                 o.created)::leadflow_private.queue_lead_outcome
        from unnest(v_out) o
       order by o.item_index);
    select o.item_index into v_bad from unnest(v_out) o where o.lead_id is null order by o.item_index limit 1;
    if found then
      raise exception 'p_items[%]: a concurrent call added a lead sharing a key with this one; nothing was written', v_bad.item_index
        using errcode = '40001', hint = 'Call again: the leads added meanwhile will be found as existing.';
    end if;
  end if;

  -- The fields a lead lacks, from the earliest item naming it that has them. This statement sees
  -- the leads just inserted: a phone, conversation or session another lead of the owner holds is
  -- not offered, and one offered to two leads goes to the lead of the earlier item.
  begin
    with offers as (
      select o.lead_id, i.user_id,
             min(i.item_index) as first_item,
             (array_agg(i.name order by i.item_index) filter (where i.name is not null))[1] as name,
             (array_agg(i.phone order by i.item_index) filter (where i.phone is not null))[1] as phone,
             (array_agg(i.conversation_id order by i.item_index) filter (where i.conversation_id is not null))[1] as conversation_id,
             (array_agg(i.campaign_session_id order by i.item_index) filter (where i.campaign_session_id is not null))[1] as campaign_session_id
        from unnest(v_out) o
        join unnest(p_items) i on i.item_index = o.item_index
       group by o.lead_id, i.user_id
    ),
    wanted as (
      select f.lead_id, f.user_id, f.first_item,
             case when l.name is null then f.name end as name,
             case when l.phone is null then f.phone end as phone,
             case when l.conversation_id is null then f.conversation_id end as conversation_id,
             case when l.campaign_session_id is null then f.campaign_session_id end as campaign_session_id
        from offers f
        join public.leads l on l.id = f.lead_id
    ),
    fills as (
      select w.lead_id, w.name,
             case when w.phone is not null
                   and w.first_item = min(w.first_item) over (partition by w.user_id, w.phone)
                   and not exists (select from public.leads x where x.user_id = w.user_id and x.phone = w.phone)
                  then w.phone end as phone,
             case when w.conversation_id is not null
                   and w.first_item = min(w.first_item) over (partition by w.user_id, w.conversation_id)
                   and not exists (select from public.leads x where x.user_id = w.user_id and x.conversation_id = w.conversation_id)
                  then w.conversation_id end as conversation_id,
             case when w.campaign_session_id is not null
                   and w.first_item = min(w.first_item) over (partition by w.user_id, w.campaign_session_id)
                   and not exists (select from public.leads x where x.user_id = w.user_id and x.campaign_session_id = w.campaign_session_id)
                  then w.campaign_session_id end as campaign_session_id
        from wanted w
       where coalesce(w.name, w.phone, w.conversation_id::text, w.campaign_session_id::text) is not null
    )
    update public.leads l
       set name = coalesce(l.name, f.name),
           phone = coalesce(l.phone, f.phone),
           conversation_id = coalesce(l.conversation_id, f.conversation_id),
           campaign_session_id = coalesce(l.campaign_session_id, f.campaign_session_id),
           updated_at = p_now
      from fills f
     where l.id = f.lead_id
       and coalesce(f.name, f.phone, f.conversation_id::text, f.campaign_session_id::text) is not null;
  exception when unique_violation then
    -- A concurrent call stored the same phone, conversation or session meanwhile.
    raise exception 'p_items: a concurrent call stored a phone, conversation or campaign session of this call on another lead; nothing was written'
      using errcode = '40001', hint = 'Call again: the leads stored meanwhile will be found.';
  end;

  return query
    select x.item_index, x.lead_id, x.outcome, x.status, x.source, x.name, x.phone, x.conversation_id, x.campaign_session_id, x.reason
      from (
        select o.item_index, o.lead_id, case when o.created then 'created' else 'existing' end as outcome, l.status, l.source,
               l.name, l.phone, l.conversation_id, l.campaign_session_id, null::text as reason
          from unnest(v_out) o
          join public.leads l on l.id = o.lead_id
        union all
        -- Skipped: no lead; the item as given (its session's phone and name taken), and why.
        select k.item_index, null::uuid, 'skipped', null::text, null::text, k.name, k.phone, k.conversation_id, k.campaign_session_id,
               v_skips ->> k.item_index::text
          from unnest(v_skipped) k
      ) x
     order by x.item_index;
end;
$$;

-- =============================================================================================
-- public.queue_add_leads_from_crm: a blank name of a session or sender is not taken
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
                 case when not leadflow_private.is_blank(c.sender_name) and length(btrim(c.sender_name)) between 1 and 200 and leadflow_private.is_valid_text(c.sender_name, 'line')
                      then btrim(c.sender_name) end,
                 null, c.id, null, 'crm_tag', null)::leadflow_private.queue_new_lead
        from public.conversation_tags ct
        join public.messenger_conversations c on c.id = ct.conversation_id
       where ct.tag_id = p_tag_id and c.user_id = p_user_id and (p_after is null or c.id > p_after)
       order by c.id
       limit p_limit);
  else
    -- A page of the campaign's sessions, each an item (its phone, its name, itself). One whose
    -- outreach started and that has no lead is skipped by queue_add_lead_rows, the rule Add Leads
    -- from items shares (migration 20261201001730).
    v_items := array(
      select row((row_number() over (order by s.id) - 1)::integer, p_user_id,
                 case when not leadflow_private.is_blank(coalesce(s.display_name, n.contact_name)) and length(btrim(coalesce(s.display_name, n.contact_name))) between 1 and 200
                       and leadflow_private.is_valid_text(coalesce(s.display_name, n.contact_name), 'line')
                      then btrim(coalesce(s.display_name, n.contact_name)) end,
                 s.phone_e164, null, s.id, 'campaign', null)::leadflow_private.queue_new_lead
        from public.session_info s
        left join public.numbers n on n.user_id = s.user_id and n.phone_e164 = s.phone_e164
       where s.campaign_id = p_campaign_id and s.user_id = p_user_id and (p_after is null or s.id > p_after)
       order by s.id
       limit p_limit);
  end if;
  if cardinality(v_items) = 0 then
    return;
  end if;

  -- One answer in from_id order: the leads added or found, and the sessions skipped (no lead:
  -- outcome skipped, the session's name and phone, and why). A session found as the lead of its
  -- phone that holds another session (a phone shared by two campaigns: a lead holds one session)
  -- says so: existing, reason phone_holds_other_session; that lead is this session's lead all the
  -- same (its answers, its outreach's first contact and the queue's send follow it).
  perform leadflow_private.queue_set_actor('automation', null, 'added');
  return query
    select coalesce(i.conversation_id, i.campaign_session_id), r.lead_id, r.outcome, r.status, r.source,
           r.name, r.phone, r.conversation_id, r.campaign_session_id,
           coalesce(r.reason,
                    case when i.campaign_session_id is not null and r.campaign_session_id <> i.campaign_session_id
                         then 'phone_holds_other_session' end)
      from leadflow_private.queue_add_lead_rows(v_items, p_now) r
      join unnest(v_items) i on i.item_index = r.item_index
     order by r.item_index;
  perform leadflow_private.queue_set_actor(null);
end;
$$;
comment on function public.queue_add_leads_from_crm(uuid, uuid, uuid, timestamptz, uuid, integer) is
  'Adds leads from the conversations carrying a tag or the sessions of a campaign, page by page (from_id, p_after), deduplicated like queue_add_leads (an existing lead takes the name, conversation or session it lacks); each row the stored lead. A session whose outreach started (contacted, rejected or another objective recorded), or whose phone has a session no lead holds whose outreach started, and that has no lead (none holds it, none has its phone) is skipped: outcome skipped, with its reason (the rule queue_add_leads shares). A session whose phone''s lead holds another session is found existing, reason phone_holds_other_session.';
