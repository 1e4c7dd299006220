-- Add Leads from items skips, as the campaign import does, a person whose campaign outreach started:
-- nobody who answered the outreach (or was contacted by it) gets the queue's first message, however
-- they are added.
-- New: leadflow_private.queue_session_outreach_started (the rule, one definition).
-- Re-created: leadflow_private.queue_add_lead_rows (otherwise as in 20261201001520; its answer
-- gains reason, so it is dropped and created again with its grants), public.queue_add_leads
-- (otherwise as in 20261201001270; its answer gains reason: dropped and created again with its
-- grants and comment) and public.queue_add_leads_from_crm (otherwise as in 20261201001570; same
-- signature and answer, so its grants stay; comment re-stated).
--
-- Why: the rule "a campaign session whose outreach started (contacted, or an objective such as
-- rejected recorded) and that has no lead is not added" lived only in queue_add_leads_from_crm's
-- campaign page (20261201001520). queue_add_lead_rows, which Add Leads from items
-- (queue_add_leads) uses, always created the lead `new`: an item naming such a session (the
-- session-created workflow's output replayed, a sheet of campaign_session_ids), or only its phone,
-- made a lead that Prepare queued and Claim sent, to a person who had said no.
--
-- Now the rule is queue_add_lead_rows' own, for every caller: an item that would make a new lead
-- (no lead of the owner has its phone, its conversation or its session) is skipped when
--   * its campaign session's outreach started, or
--   * a session of the owner with its phone that no lead holds had its outreach started: the lead
--     it would make is that session's lead (the pairing of 20261201001570: a session's lead is the
--     lead holding it, else the lead with its phone), so the person answered that campaign.
-- A skipped item makes, finds and fills no lead, and takes no part in the call's deduplication; it
-- is answered outcome skipped, lead_id and status null, its name, phone (its session's, when it
-- had none), conversation and session, and reason: its session's (the item's own first, then a
-- rejected one, then by id) as leadflow_private.queue_session_outreach_started says it:
-- session_<status> (session_contacted, session_interested, session_started_work,
-- session_rejected), or session_objective_recorded (pending with a campaign's own objective),
-- the reasons the campaign import gave. An item finding a lead (by any of its keys) is that lead,
-- existing, as before: a re-import after the queue contacted the person answers the same.
-- queue_add_leads answers it too (its rows gain reason: null for the others); the campaign import
-- now passes each session of its page as an item and lets queue_add_lead_rows decide, so the two
-- cannot drift apart (one difference from before: a session of a campaign whose phone has a session
-- of another campaign that was contacted or answered, and no lead, is skipped with that one's
-- reason, where it used to become the lead that session's answer would then have moved).
-- Cost: for the items that would make a lead and have a phone or a session, one probe of
-- session_info by key and one by (user_id, phone_e164) (session_info_owner_phone_idx); the others
-- as before.

-- =============================================================================================
-- leadflow_private.queue_session_outreach_started: whether a session's outreach started, and how
-- =============================================================================================
create or replace function leadflow_private.queue_session_outreach_started(p_status text, p_contacted_at timestamptz, p_objectives jsonb)
returns text
language sql
immutable
parallel safe
set search_path = ''
as $$
  select case when p_status <> 'pending' then 'session_' || p_status
              when p_contacted_at is not null then 'session_contacted'
              when p_objectives <> '{}'::jsonb then 'session_objective_recorded'
         end
$$;
comment on function leadflow_private.queue_session_outreach_started(text, timestamptz, jsonb) is
  'Why a campaign session''s outreach started (session_<status> when not pending, session_contacted, session_objective_recorded), or null when it has not: a session with it and no lead is never made a Queue Ledger lead.';
revoke all on function leadflow_private.queue_session_outreach_started(text, timestamptz, jsonb) from public, anon, authenticated;
grant execute on function leadflow_private.queue_session_outreach_started(text, timestamptz, jsonb) to service_role;

-- =============================================================================================
-- leadflow_private.queue_add_lead_rows: an item whose session's outreach started makes no lead
-- =============================================================================================
drop function if exists leadflow_private.queue_add_lead_rows(leadflow_private.queue_new_lead[], timestamptz);
create function leadflow_private.queue_add_lead_rows(p_items leadflow_private.queue_new_lead[], p_now timestamptz)
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
revoke all on function leadflow_private.queue_add_lead_rows(leadflow_private.queue_new_lead[], timestamptz) from public, anon, authenticated;
grant execute on function leadflow_private.queue_add_lead_rows(leadflow_private.queue_new_lead[], timestamptz) to service_role;

-- =============================================================================================
-- public.queue_add_leads: its rows say why an item was skipped
-- =============================================================================================
drop function if exists public.queue_add_leads(jsonb, timestamptz, text);
create function public.queue_add_leads(
  p_items jsonb,
  p_now timestamptz default leadflow_private.now(),
  p_refused text default 'raise'
)
returns table (item_index integer, lead_id uuid, outcome text, status text, name text, phone text,
               conversation_id uuid, campaign_session_id uuid, field text, message text, reason text)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_bad record;
  v_items leadflow_private.queue_new_lead[];
  v_refusals jsonb;
begin
  if p_refused is null or p_refused not in ('raise', 'answer', 'check') then
    raise exception 'p_refused: must be raise, answer or check (got %)', coalesce(p_refused, 'null')
      using errcode = '22023', hint = 'raise: the first refused item fails the call; answer: refused items are rows, the others added; check: only the refused items, nothing written.';
  end if;
  if jsonb_typeof(p_items) is distinct from 'array' then
    raise exception 'p_items: must be a JSON array of leads (got %)', coalesce(jsonb_typeof(p_items), 'null')
      using errcode = '22023', hint = 'Send [{"user_id": …, "name": …, "phone": "+…"}, …].';
  end if;
  if jsonb_array_length(p_items) > 1000 then
    raise exception 'p_items: at most 1000 leads per call (got %)', jsonb_array_length(p_items)
      using errcode = '22023', hint = 'Split the batch: the Data API answers at most 1000 rows (max-rows), one per item.';
  end if;
  select e.n - 1 as idx, p.problem into v_bad
    from jsonb_array_elements(p_items) with ordinality e (item, n)
   cross join lateral (select leadflow_private.queue_lead_item_problem(e.item) as problem) p
   where p.problem is not null
   order by e.n
   limit 1;
  if found then
    raise exception 'p_items[%]%', v_bad.idx, v_bad.problem
      using errcode = '22023', hint = 'Correct or remove that item and send the batch again: nothing was written.';
  end if;

  v_items := array(
    select row((e.n - 1)::integer, (e.item ->> 'user_id')::uuid, btrim(e.item ->> 'name'), e.item ->> 'phone',
               (e.item ->> 'conversation_id')::uuid, (e.item ->> 'campaign_session_id')::uuid, btrim(e.item ->> 'source'),
               (e.item ->> 'lead_score')::numeric::integer)::leadflow_private.queue_new_lead
      from jsonb_array_elements(p_items) with ordinality e (item, n)
     order by e.n);
  if cardinality(v_items) = 0 then
    return;
  end if;

  if p_refused = 'raise' then
    select r.* into v_bad from leadflow_private.queue_add_lead_refusals(v_items) r order by r.item_index limit 1;
    if found then
      raise exception 'p_items[%].%: %', v_bad.item_index, v_bad.field, v_bad.message using errcode = 'P0002', hint = v_bad.hint;
    end if;
  else
    -- Read once: the rows answered as refused are the items left out of the write.
    select coalesce(jsonb_agg(jsonb_build_object('item_index', r.item_index, 'field', r.field, 'message', r.message) order by r.item_index), '[]')
      into v_refusals
      from leadflow_private.queue_add_lead_refusals(v_items) r;
    return query
      select (r ->> 'item_index')::integer, null::uuid, 'refused', null::text, null::text, null::text, null::uuid, null::uuid,
             r ->> 'field', r ->> 'message', null::text
        from jsonb_array_elements(v_refusals) r;
    if p_refused = 'check' then
      return;
    end if;
    v_items := array(
      select i from unnest(v_items) i
       where not exists (select from jsonb_array_elements(v_refusals) r where (r ->> 'item_index')::integer = i.item_index)
       order by i.item_index);
    if cardinality(v_items) = 0 then
      return;
    end if;
  end if;

  perform leadflow_private.queue_set_actor('automation', null, 'added');
  return query
    select r.item_index, r.lead_id, r.outcome, r.status, r.name, r.phone, r.conversation_id, r.campaign_session_id, null::text, null::text, r.reason
      from leadflow_private.queue_add_lead_rows(v_items, p_now) r;
  perform leadflow_private.queue_set_actor(null);
end;
$$;
comment on function public.queue_add_leads(jsonb, timestamptz, text) is
  'Batch: adds leads (name, E.164 phone, conversation, campaign session, source, score), deduplicated by phone, conversation and session: created or existing (its missing fields filled), each with the stored lead; an item whose campaign session, or a session of its phone no lead holds, was contacted or answered is skipped, with the reason; refused items raise, or are answered (p_refused answer / check).';
revoke all on function public.queue_add_leads(jsonb, timestamptz, text) from public, anon, authenticated;
grant execute on function public.queue_add_leads(jsonb, timestamptz, text) to service_role;

-- =============================================================================================
-- public.queue_add_leads_from_crm: the campaign's sessions judged by queue_add_lead_rows
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
                 case when length(btrim(c.sender_name)) between 1 and 200 and leadflow_private.is_valid_text(c.sender_name, 'line')
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
                 case when length(btrim(coalesce(s.display_name, n.contact_name))) between 1 and 200
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
revoke all on function public.queue_add_leads_from_crm(uuid, uuid, uuid, timestamptz, uuid, integer) from public, anon, authenticated;
grant execute on function public.queue_add_leads_from_crm(uuid, uuid, uuid, timestamptz, uuid, integer) to service_role;
