-- Campaign sessions on the Queue Ledger: a lead given only its campaign session has its phone; the
-- campaign import skips the sessions whose outreach started; a launch's sessions carry their row id.
-- Re-created: leadflow_private.queue_add_lead_rows (otherwise as in 20261201001170; same signature,
-- so its grants stay), public.queue_add_leads_from_crm (otherwise as in 20261201001270; its answer
-- gains a column, so it is dropped first) and public.create_campaign_sessions (otherwise as in
-- 20261201001350; same signature, so its grants stay; its comment is re-stated).
--
-- Why:
--   * Add Leads from items with only a Campaign Session ID (the Phone parameter says a phone is
--     needed unless the lead has a conversation or campaign session) made a lead without a phone
--     or name: queue_add_lead_rows inserted the item's phone and name as given, so queue_prepare
--     skipped the lead as no_phone every day although its session has the phone. Only
--     queue_add_leads_from_crm took them from the session. Now queue_add_lead_rows, before it looks
--     the leads up, gives an item without a phone its session's phone_e164, and an item without a
--     name its session's name (display_name, else the contact's name in numbers), else its
--     conversation's sender name, as the tag and campaign imports take them (a name only when a
--     valid line of 1 to 200 characters). A conversation gives no phone (Messenger has none). The
--     phone taken is a key like a phone given: a lead already holding it is that lead (existing),
--     and it fills an existing lead's missing phone unless another lead holds it.
--   * The campaign import (queue_add_leads_from_crm with p_campaign_id) took every session of the
--     campaign: one the outreach had contacted, or whose candidate said no (status rejected), was
--     imported as a new lead and queued by Prepare, so someone who said no got a WhatsApp message.
--     create_campaign_sessions never hands such a session out again (outreach_started). The import
--     now skips, by the same rule, a session contacted (contacted_at) or with any objective
--     recorded (status interested, started_work, rejected, or a campaign's own objective that
--     leaves it pending), unless a lead of the owner already holds that session (it is found,
--     existing, as before: a re-import after the Queue Ledger contacted it answers the same). A
--     skipped session is a row with no lead: outcome skipped, from_id and campaign_session_id the
--     session, its name and phone, status null, and reason: session_<its status> (session_contacted,
--     session_interested, session_started_work, session_rejected), or session_objective_recorded
--     for a pending one with an objective. It counts in the page (p_limit) and orders by from_id
--     like the others, so paging with p_after is unchanged. The tag import and its rows do not
--     change (reason null).
--   * Campaign Session Create's Sessions items carried `session`, the session's text id (a random
--     UUID when the app sends none), not session_info.id: mapped into Add Leads' Campaign Session
--     ID it was refused ("campaign session … does not exist"). Each session of the answer now
--     carries campaign_session_id, its session_info.id (the row created, or the existing one).

-- =============================================================================================
-- leadflow_private.queue_add_lead_rows: the leads of a batch, a session's phone and name taken,
-- deduplicated, missing fields filled
-- =============================================================================================
create or replace function leadflow_private.queue_add_lead_rows(p_items leadflow_private.queue_new_lead[], p_now timestamptz)
returns table (item_index integer, lead_id uuid, outcome text, status text, source text,
               name text, phone text, conversation_id uuid, campaign_session_id uuid)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_out leadflow_private.queue_lead_outcome[];
  v_bad record;
begin
  -- An item without a phone or a name takes them from what it names, as the CRM imports do: its
  -- campaign session's phone and name (session_info.display_name, else the contact's name in
  -- numbers), else its conversation's sender name; a name only when it is a valid line of 1 to 200
  -- characters. Before the lookups below, so a session's phone finds the lead that holds it. Only
  -- the owner's session or conversation (queue_add_leads refuses the others before this).
  if exists (select from unnest(p_items) i
              where (i.phone is null or i.name is null) and (i.campaign_session_id is not null or i.conversation_id is not null)) then
    p_items := array(
      select row(i.item_index, i.user_id,
                 coalesce(i.name,
                          case when length(btrim(coalesce(s.display_name, n.contact_name))) between 1 and 200
                                and leadflow_private.is_valid_text(coalesce(s.display_name, n.contact_name), 'line')
                               then btrim(coalesce(s.display_name, n.contact_name)) end,
                          case when length(btrim(c.sender_name)) between 1 and 200 and leadflow_private.is_valid_text(c.sender_name, 'line')
                               then btrim(c.sender_name) end),
                 coalesce(i.phone, s.phone_e164),
                 i.conversation_id, i.campaign_session_id, i.source, i.lead_score)::leadflow_private.queue_new_lead
        from unnest(p_items) i
        left join public.session_info s on s.id = i.campaign_session_id and s.user_id = i.user_id
        left join public.numbers n on n.user_id = s.user_id and n.phone_e164 = s.phone_e164
        left join public.messenger_conversations c on c.id = i.conversation_id and c.user_id = i.user_id
       order by i.item_index);
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
    select o.item_index, o.lead_id, case when o.created then 'created' else 'existing' end, l.status, l.source,
           l.name, l.phone, l.conversation_id, l.campaign_session_id
      from unnest(v_out) o
      join public.leads l on l.id = o.lead_id
     order by o.item_index;
end;
$$;
revoke all on function leadflow_private.queue_add_lead_rows(leadflow_private.queue_new_lead[], timestamptz) from public, anon, authenticated;
grant execute on function leadflow_private.queue_add_lead_rows(leadflow_private.queue_new_lead[], timestamptz) to service_role;

-- =============================================================================================
-- public.queue_add_leads_from_crm: the stored lead, and the CRM row it comes from; a session whose
-- outreach started is skipped, with the reason
-- =============================================================================================
drop function if exists public.queue_add_leads_from_crm(uuid, uuid, uuid, timestamptz, uuid, integer);
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
  v_skipped jsonb := '[]';
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
                 case when length(btrim(c.sender_name)) between 1 and 200 and leadflow_private.is_valid_text(c.sender_name, 'line')
                      then btrim(c.sender_name) end,
                 null, c.id, null, 'crm_tag', null)::leadflow_private.queue_new_lead
        from public.conversation_tags ct
        join public.messenger_conversations c on c.id = ct.conversation_id
       where ct.tag_id = p_tag_id and c.user_id = p_user_id and (p_after is null or c.id > p_after)
       order by c.id
       limit p_limit);
  else
    -- A page of the campaign's sessions. One whose outreach started (contacted, or an objective
    -- recorded: create_campaign_sessions' rule) is skipped, with the reason, unless a lead of the
    -- owner already holds it (then that lead is found, existing, as before).
    with page as materialized (
      select (row_number() over (order by s.id) - 1)::integer as idx, s.id, s.phone_e164,
             case when length(btrim(coalesce(s.display_name, n.contact_name))) between 1 and 200
                   and leadflow_private.is_valid_text(coalesce(s.display_name, n.contact_name), 'line')
                  then btrim(coalesce(s.display_name, n.contact_name)) end as name,
             case when exists (select from public.leads l where l.user_id = s.user_id and l.campaign_session_id = s.id) then null
                  when s.status <> 'pending' then 'session_' || s.status
                  when s.contacted_at is not null then 'session_contacted'
                  when s.objectives <> '{}'::jsonb then 'session_objective_recorded'
             end as skip
        from public.session_info s
        left join public.numbers n on n.user_id = s.user_id and n.phone_e164 = s.phone_e164
       where s.campaign_id = p_campaign_id and s.user_id = p_user_id and (p_after is null or s.id > p_after)
       order by s.id
       limit p_limit
    )
    select coalesce(array_agg(row(p.idx, p_user_id, p.name, p.phone_e164, null, p.id, 'campaign', null)::leadflow_private.queue_new_lead
                              order by p.idx) filter (where p.skip is null), '{}'),
           coalesce(jsonb_agg(jsonb_build_object('from_id', p.id, 'name', p.name, 'phone', p.phone_e164, 'reason', p.skip)
                              order by p.idx) filter (where p.skip is not null), '[]')
      into v_items, v_skipped
      from page p;
  end if;
  if cardinality(v_items) = 0 and jsonb_array_length(v_skipped) = 0 then
    return;
  end if;

  -- One answer in from_id order: the leads added or found, and the sessions skipped (no lead:
  -- outcome skipped, the session's name and phone, and why).
  if cardinality(v_items) > 0 then
    perform leadflow_private.queue_set_actor('automation', null, 'added');
  end if;
  return query
    select x.from_id, x.lead_id, x.outcome, x.status, x.source, x.name, x.phone, x.conversation_id, x.campaign_session_id, x.reason
      from (
        select coalesce(i.conversation_id, i.campaign_session_id) as from_id, r.lead_id, r.outcome, r.status, r.source,
               r.name, r.phone, r.conversation_id, r.campaign_session_id, null::text as reason
          from leadflow_private.queue_add_lead_rows(v_items, p_now) r
          join unnest(v_items) i on i.item_index = r.item_index
         where cardinality(v_items) > 0
        union all
        select (k ->> 'from_id')::uuid, null::uuid, 'skipped', null::text, null::text,
               k ->> 'name', k ->> 'phone', null::uuid, (k ->> 'from_id')::uuid, k ->> 'reason'
          from jsonb_array_elements(v_skipped) k
      ) x
     order by x.from_id;
  if cardinality(v_items) > 0 then
    perform leadflow_private.queue_set_actor(null);
  end if;
end;
$$;
comment on function public.queue_add_leads_from_crm(uuid, uuid, uuid, timestamptz, uuid, integer) is
  'Adds leads from the conversations carrying a tag or the sessions of a campaign, page by page (from_id, p_after), deduplicated like queue_add_leads (an existing lead takes the name, conversation or session it lacks); each row the stored lead. A session whose outreach started (contacted, rejected or another objective recorded) and that no lead holds is skipped: outcome skipped, with its reason.';
revoke all on function public.queue_add_leads_from_crm(uuid, uuid, uuid, timestamptz, uuid, integer) from public, anon, authenticated;
grant execute on function public.queue_add_leads_from_crm(uuid, uuid, uuid, timestamptz, uuid, integer) to service_role;

-- =============================================================================================
-- public.create_campaign_sessions: each session with its session_info.id
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
    -- An existing session is handed out again only while its outreach has not started (never
    -- contacted, no objective, not on the Queue Ledger) and its last hand-out is older than the
    -- lease; within the lease, nothing. It updates only rows that existed before this statement
    -- (not those `inserted` adds), under their row locks, after the campaign lock: two calls never
    -- both claim a session.
    claimed as (
      update public.session_info s
         set outreach_emitted_at = v_now, outreach_emitted_by = p_holder
        from input i
       where s.user_id = p_owner and s.campaign_id = v_campaign.id and s.phone_e164 = i.phone
         and s.contacted_at is null and s.objectives = '{}'::jsonb
         and not exists (select from public.leads l where l.user_id = s.user_id and l.campaign_session_id = s.id)
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
             -- any objective (even one that leaves the status pending), or is on the Queue Ledger.
             ins.id is null and ex.id is not null
               and (ex.contacted_at is not null or ex.objectives <> '{}'::jsonb
                    or exists (select from public.leads l where l.user_id = p_owner and l.campaign_session_id = ex.id)) as outreach_started,
             -- Handed to the outreach by this call: created now, or claimed again after the lease.
             ins.id is not null or cl.id is not null as emitted,
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
                        'emitted', o.emitted
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
  'Creates a campaign and its sessions at most once (per name_uid and phone), in one transaction; returns every session, new or existing (campaign_session_id: its session_info.id, what queue_add_leads takes), whether its outreach started and whether this call hands it to the outreach (emitted: created now, or not started and last handed out longer ago than the lease), and emit_again_after; a launch of which no task gets a session writes nothing (all_conflict).';
