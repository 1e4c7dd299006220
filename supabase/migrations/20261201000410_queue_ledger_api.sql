-- The lead queue, part 2 of 2: the API the Queue Ledger node calls, one `supabase.rpc` per batch.
-- Functions:
--   queue_add_leads           leads from items, deduplicated (phone, conversation, campaign session)
--   queue_add_leads_from_crm  leads from the conversations carrying a tag or the sessions of a campaign
--   queue_prepare             fill each owner's queue for their tomorrow (the seed's "Prepare
--                             Tomorrow's Queue")
--   queue_claim               hand out due messages with a lease (the seed's "Start Automation")
--   queue_complete            record what became of them: sent, failed (retried later) or dead
--   queue_take_lead           a person takes a lead over (the seed's "Take Lead")
--   queue_export              the queue with its leads, page by page (the seed's "Export Queue Data")
--   queue_metrics             the metrics of a range of days
--
-- One transaction per call: everything a call changes, and the ledger rows of every change (the
-- triggers of part 1), is written together or not at all. A malformed item fails the whole call
-- before anything is written, SQLSTATE 22023, with a message naming the item and the field
-- (`p_items[3].phone: …`) and a hint saying what to do; an unknown lead or owner is P0002.
--
-- Security: SECURITY INVOKER, granted to service_role only (n8n's credential), which may insert
-- and update queue items (part 1): every change goes through the ledger trigger, which also
-- refuses any move the status machine does not allow. They say who acts and why for their ledger
-- rows with transaction-local settings (leadflow_private.queue_set_actor), never session state,
-- so they work behind Supabase's transaction pooler. Two small SECURITY DEFINER helpers read
-- auth.users, which service_role may not read on a Supabase project, to say which user id is
-- unknown. Every p_now defaults to leadflow_private.now(), the one clock.
--
-- Concurrency. A claim takes items FOR UPDATE SKIP LOCKED: concurrent workers never get the same
-- item, and never wait for each other. Rows are locked in one order by every function that locks
-- more than one kind: messages, then backlog items, then leads (queue_prepare locks backlog items
-- then leads, and inserts its messages last), so two calls never wait on each other in a circle.
-- queue_prepare locks the owners' settings rows, so two runs for one owner run one after the
-- other (the second finds the day full: the same queue).

-- =============================================================================================
-- Helpers
-- =============================================================================================
-- Which of these user ids exist (auth.users). Security definer: on a Supabase project the API roles
-- may not read auth.users; this says only whether an id exists.
create or replace function leadflow_private.queue_known_users(p_ids uuid[])
returns uuid[]
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(array_agg(u.id), '{}') from auth.users u where u.id = any (p_ids)
$$;

-- A new lead, as the functions pass it around.
do $$
begin
  create type leadflow_private.queue_new_lead as (
    item_index integer,
    user_id uuid,
    name text,
    phone text,
    conversation_id uuid,
    campaign_session_id uuid,
    source text,
    lead_score integer
  );
exception when duplicate_object then null;
end
$$;

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
         and (jsonb_typeof(p_item -> 'name') <> 'string' or length(btrim(p_item ->> 'name')) not between 1 and 200
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


-- What queue_add_lead_rows works out for each item.
do $$
begin
  create type leadflow_private.queue_lead_outcome as (
    item_index integer,
    user_id uuid,
    phone text,
    conversation_id uuid,
    campaign_session_id uuid,
    lead_id uuid,
    created boolean
  );
exception when duplicate_object then null;
end
$$;

-- =============================================================================================
-- leadflow_private.queue_add_lead_rows: the leads of a batch, deduplicated
-- =============================================================================================
-- An item is the lead that already has its phone, else its conversation, else its campaign
-- session: that lead is returned unchanged (`existing`). Among the other items, one that shares a
-- phone, a conversation or a session with an earlier one is that item's lead (`existing` too);
-- each of the rest is a new lead (`created`, status new), which the insert trigger on leads puts
-- in the backlog. A new lead without a score takes its conversation's latest pipeline score. A
-- lead that a concurrent call inserted meanwhile is found, not duplicated (ON CONFLICT DO NOTHING,
-- then read by its keys). The callers have checked the items, their owners and their links.
create or replace function leadflow_private.queue_add_lead_rows(p_items leadflow_private.queue_new_lead[], p_now timestamptz)
returns table (item_index integer, lead_id uuid, outcome text, status text)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_out leadflow_private.queue_lead_outcome[];
  v_bad record;
begin
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

  return query
    select o.item_index, o.lead_id, case when o.created then 'created' else 'existing' end, l.status
      from unnest(v_out) o
      join public.leads l on l.id = o.lead_id
     order by o.item_index;
end;
$$;

-- =============================================================================================
-- queue_add_leads(p_items, p_now) → one row per item
-- =============================================================================================
-- p_items: [{user_id, name, phone (E.164 or null), conversation_id?, campaign_session_id?, source?,
--            lead_score?}], at most 1,000 (the Data API answers at most 1,000 rows, one per item).
-- A lead needs a phone, a conversation or a campaign session; the conversation and the session
-- must be the owner's. Deduplicated as queue_add_lead_rows says: outcome created or existing,
-- with the lead's status. Errors (nothing written): p_items not an array or too long, a malformed
-- item (22023); an unknown owner, conversation or session (P0002).
create or replace function public.queue_add_leads(
  p_items jsonb,
  p_now timestamptz default leadflow_private.now()
)
returns table (item_index integer, lead_id uuid, outcome text, status text)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_bad record;
  v_items leadflow_private.queue_new_lead[];
  v_known uuid[];
begin
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

  v_known := leadflow_private.queue_known_users(array(select distinct i.user_id from unnest(v_items) i));
  select i.item_index, i.user_id into v_bad from unnest(v_items) i where not i.user_id = any (v_known) order by i.item_index limit 1;
  if found then
    raise exception 'p_items[%].user_id: user % does not exist', v_bad.item_index, v_bad.user_id
      using errcode = 'P0002', hint = 'Use the id of a user of this project (auth.users): the lead''s owner.';
  end if;
  select i.item_index, i.conversation_id, i.user_id into v_bad
    from unnest(v_items) i
   where i.conversation_id is not null
     and not exists (select from public.messenger_conversations c where c.id = i.conversation_id and c.user_id = i.user_id)
   order by i.item_index
   limit 1;
  if found then
    raise exception 'p_items[%].conversation_id: conversation % does not exist for user %', v_bad.item_index, v_bad.conversation_id, v_bad.user_id
      using errcode = 'P0002', hint = 'Use ids from messenger_conversations of the lead''s owner, or leave conversation_id out.';
  end if;
  select i.item_index, i.campaign_session_id, i.user_id into v_bad
    from unnest(v_items) i
   where i.campaign_session_id is not null
     and not exists (select from public.session_info s where s.id = i.campaign_session_id and s.user_id = i.user_id)
   order by i.item_index
   limit 1;
  if found then
    raise exception 'p_items[%].campaign_session_id: campaign session % does not exist for user %', v_bad.item_index,
      v_bad.campaign_session_id, v_bad.user_id
      using errcode = 'P0002', hint = 'Use ids from session_info of the lead''s owner, or leave campaign_session_id out.';
  end if;

  perform leadflow_private.queue_set_actor('automation', null, 'added');
  return query select * from leadflow_private.queue_add_lead_rows(v_items, p_now);
  perform leadflow_private.queue_set_actor(null);
end;
$$;
comment on function public.queue_add_leads(jsonb, timestamptz) is
  'Batch: adds leads (name, E.164 phone, conversation, campaign session, source, score), deduplicated by phone, conversation and session: created or existing, each with its status.';

-- =============================================================================================
-- queue_add_leads_from_crm(p_user_id, p_tag_id, p_campaign_id, p_now, p_after, p_limit)
-- =============================================================================================
-- Leads from the owner's CRM, exactly one of:
--   p_tag_id       the conversations carrying the tag: name = the sender's name, no phone
--                  (Messenger gives none), source crm_tag
--   p_campaign_id  the sessions of the campaign: phone and name from the session, source campaign
-- One row per conversation or session, in id order, at most p_limit (1–1,000: the Data API answers
-- at most 1,000 rows): page with p_after = the last conversation_id / campaign_session_id returned.
-- Deduplicated like queue_add_leads; source is the lead's own (an existing lead keeps its source).
create or replace function public.queue_add_leads_from_crm(
  p_user_id uuid,
  p_tag_id uuid default null,
  p_campaign_id uuid default null,
  p_now timestamptz default leadflow_private.now(),
  p_after uuid default null,
  p_limit integer default 1000
)
returns table (lead_id uuid, outcome text, source text, conversation_id uuid, campaign_session_id uuid)
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

  perform leadflow_private.queue_set_actor('automation', null, 'added');
  return query
    select r.lead_id, r.outcome, l.source, i.conversation_id, i.campaign_session_id
      from leadflow_private.queue_add_lead_rows(v_items, p_now) r
      join unnest(v_items) i on i.item_index = r.item_index
      join public.leads l on l.id = r.lead_id
     order by r.item_index;
  perform leadflow_private.queue_set_actor(null);
end;
$$;
comment on function public.queue_add_leads_from_crm(uuid, uuid, uuid, timestamptz, uuid, integer) is
  'Adds leads from the conversations carrying a tag or the sessions of a campaign, page by page, deduplicated like queue_add_leads.';

-- =============================================================================================
-- queue_prepare(p_user_id, p_now) → one row per owner
-- =============================================================================================
-- For one owner (p_user_id) or every owner with queue settings: their tomorrow is the local day
-- (in their time_zone) after p_now's. From the backlog (lead_processing_queue, queued), up to
-- daily_capacity messages for that day (fewer when some are queued already: the day's messages
-- not cancelled count), highest lead score first (the conversation's current pipeline score when
-- it has one, else the lead's; no score last; then the oldest lead), each at its slot: the
-- sending hours divided evenly by the capacity, the first slot at send_from. Skipped, by reason:
--   taken_over               the lead is human-controlled
--   not_new                  the lead's status is not new
--   no_phone                 the lead has no phone
--   contacted_today          a message to the lead was sent today (local)
--   already_queued_that_day  the lead had a message for that day already (one per lead per day)
--   not_a_sending_day        tomorrow is not one of days_of_week
--   over_capacity            eligible, but the day is full
-- A queued lead's status becomes queued (its score refreshed), its backlog item claimed (holder
-- queue_prepare). Run twice: the second run finds the day full or the leads gone from the
-- backlog, and queues nothing more (the same queue).
do $$
begin
  create type leadflow_private.queue_prepare_owner as (
    user_id uuid,
    day date,
    time_zone text,
    capacity integer,
    already integer,
    sending_day boolean,
    window_start timestamptz,
    window_end timestamptz,
    today_start timestamptz,
    message jsonb
  );
exception when duplicate_object then null;
end
$$;

do $$
begin
  create type leadflow_private.queue_pick as (
    user_id uuid,
    backlog_id uuid,
    lead_id uuid,
    score integer,
    day date,
    phone text,
    message jsonb,
    scheduled_for timestamptz
  );
exception when duplicate_object then null;
end
$$;

create or replace function public.queue_prepare(
  p_user_id uuid default null,
  p_now timestamptz default leadflow_private.now()
)
returns table (user_id uuid, day date, time_zone text, capacity integer, queued integer, already_queued integer, skipped jsonb)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_owners leadflow_private.queue_prepare_owner[];
  v_picks leadflow_private.queue_pick[];
  v_skipped jsonb;
  v_taken uuid[];
  v_queued integer;
begin
  if p_user_id is not null and not exists (select from public.user_queue_settings s where s.user_id = p_user_id) then
    if not p_user_id = any (leadflow_private.queue_known_users(array[p_user_id])) then
      raise exception 'p_user_id: user % does not exist', p_user_id using errcode = 'P0002', hint = 'Use the id of a user of this project (auth.users).';
    end if;
    raise exception 'p_user_id: user % has no queue settings', p_user_id
      using errcode = 'P0002', hint = 'Insert their row in user_queue_settings (capacity, hours, time zone, message) first.';
  end if;

  -- The owners' settings, locked (one prepare per owner at a time), in user_id order.
  select array_agg(row(s.user_id, d.day, s.time_zone, s.daily_capacity,
                       (select count(*) from public.whatsapp_message_queue q where q.user_id = s.user_id and q.day = d.day and q.status <> 'cancelled'),
                       extract(isodow from d.day)::integer = any (s.days_of_week),
                       (d.day + s.send_from) at time zone s.time_zone,
                       (d.day + s.send_until) at time zone s.time_zone,
                       (d.day - 1)::timestamp at time zone s.time_zone,
                       s.message)::leadflow_private.queue_prepare_owner
                   order by s.user_id)
    into v_owners
    from (select s.* from public.user_queue_settings s where p_user_id is null or s.user_id = p_user_id order by s.user_id for no key update) s
   cross join lateral (select (p_now at time zone s.time_zone)::date + 1 as day) d;
  if v_owners is null then
    return;
  end if;

  -- The backlog of each owner, why each lead is skipped or its rank; the picks and their slots.
  with candidates as materialized (
    select o.user_id, o.capacity, o.already, o.day, o.window_start, o.window_end, o.message,
           p.id as backlog_id, l.id as lead_id, l.phone, l.created_at, coalesce(pc.score, l.lead_score) as score,
           case
             when l.status = 'human_controlled' then 'taken_over'
             when l.status <> 'new' then 'not_new'
             when l.phone is null then 'no_phone'
             when exists (select from public.whatsapp_message_queue q
                           where q.lead_id = l.id and q.status = 'sent' and q.completed_at >= o.today_start) then 'contacted_today'
             when exists (select from public.whatsapp_message_queue q
                           where q.user_id = o.user_id and q.dedupe_key = 'wa:' || l.id || ':' || o.day) then 'already_queued_that_day'
             when not o.sending_day then 'not_a_sending_day'
           end as skip
      from unnest(v_owners) o
      join public.lead_processing_queue p on p.user_id = o.user_id and p.status = 'queued'
      join public.leads l on l.id = p.lead_id
      left join lateral (
        select pc.lead_score as score from public.pipeline_contacts pc
         where l.conversation_id is not null and pc.conversation_id = l.conversation_id and pc.lead_score is not null
         order by pc.analysed_at desc nulls last, pc.updated_at desc
         limit 1
      ) pc on true
  ),
  ranked as materialized (
    select c.*, row_number() over (partition by c.user_id order by c.score desc nulls last, c.created_at, c.lead_id) as rn
      from candidates c
     where c.skip is null
  )
  select (select array_agg(row(r.user_id, r.backlog_id, r.lead_id, r.score, r.day, r.phone, r.message,
                               r.window_start + (r.window_end - r.window_start) * ((r.already + r.rn - 1)::double precision / r.capacity)
                           )::leadflow_private.queue_pick order by r.user_id, r.rn)
            from ranked r where r.rn <= r.capacity - r.already),
         (select jsonb_object_agg(k.user_id, k.counts)
            from (select s.user_id, jsonb_object_agg(s.reason, s.n) as counts
                    from (select c.skip as reason, c.user_id, count(*) as n from candidates c where c.skip is not null group by 1, 2
                          union all
                          select 'over_capacity', r.user_id, count(*) from ranked r where r.rn > r.capacity - r.already group by 2) s
                   group by s.user_id) k)
    into v_picks, v_skipped;

  if v_picks is not null then
    perform leadflow_private.queue_set_actor('automation', null, 'prepared');
    -- Backlog items, then leads (the lock order), then the messages.
    with taken as (
      update public.lead_processing_queue p
         set status = 'claimed', lease_holder = 'queue_prepare', day = k.day, updated_at = p_now
        from unnest(v_picks) k
       where p.id = k.backlog_id and p.status = 'queued'
         and exists (select from public.leads l where l.id = k.lead_id and l.status = 'new')
      returning p.id
    )
    select array_agg(t.id) into v_taken from taken t;
    update public.leads l
       set status = 'queued', lead_score = coalesce(k.score, l.lead_score), updated_at = p_now
      from unnest(v_picks) k
     where l.id = k.lead_id and k.backlog_id = any (v_taken) and l.status = 'new';
    get diagnostics v_queued = row_count;
    if v_queued <> coalesce(cardinality(v_taken), 0) then
      raise exception 'a lead changed while the queue was being prepared; nothing was written'
        using errcode = '40001', hint = 'Run queue_prepare again.';
    end if;
    insert into public.whatsapp_message_queue (user_id, lead_id, day, phone, message, status, scheduled_for, dedupe_key, created_at, updated_at)
    select k.user_id, k.lead_id, k.day, k.phone, k.message, 'queued', k.scheduled_for, 'wa:' || k.lead_id || ':' || k.day, p_now, p_now
      from unnest(v_picks) k
     where k.backlog_id = any (v_taken)
     order by k.user_id, k.scheduled_for;
    perform leadflow_private.queue_set_actor(null);
  end if;

  return query
    select o.user_id, o.day, o.time_zone, o.capacity,
           (select count(*) from unnest(v_picks) k where k.user_id = o.user_id and k.backlog_id = any (v_taken))::integer,
           o.already,
           '{"taken_over": 0, "not_new": 0, "no_phone": 0, "contacted_today": 0, "already_queued_that_day": 0, "not_a_sending_day": 0, "over_capacity": 0}'::jsonb
             || coalesce(v_skipped -> o.user_id::text, '{}'::jsonb)
      from unnest(v_owners) o
     order by o.user_id;
end;
$$;
comment on function public.queue_prepare(uuid, timestamptz) is
  'Fills each owner''s queue for their tomorrow (local day) from the backlog: up to the daily capacity, highest lead score first, spread over the sending hours; says why other leads were skipped. Idempotent.';

-- =============================================================================================
-- queue_claim(p_worker, p_limit, p_lease_seconds, p_now, p_user_id) → the messages handed out
-- =============================================================================================
-- Up to p_limit messages that are due now (queued or failed with scheduled_for <= p_now, or
-- claimed by a worker whose lease has run out), of owners whose sending hours are open now (their
-- local time inside send_from–send_until, on one of days_of_week); one owner's only with p_user_id.
-- Soonest due first, FOR UPDATE SKIP LOCKED: concurrent claims never get the same message. Each is
-- claimed by p_worker until p_now + p_lease_seconds, its attempts counted; the message's {{name}}
-- is filled with the lead's name (without a name: removed, with the space before it).
create or replace function public.queue_claim(
  p_worker text,
  p_limit integer default 100,
  p_lease_seconds integer default 300,
  p_now timestamptz default leadflow_private.now(),
  p_user_id uuid default null
)
returns table (item_id uuid, user_id uuid, lead_id uuid, lead_name text, phone text, message jsonb, attempt integer,
               scheduled_for timestamptz, lease_expires_at timestamptz)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_open uuid[];
begin
  if p_worker is null or length(btrim(p_worker)) = 0 or length(p_worker) > 200 or not leadflow_private.is_valid_text(p_worker, 'line') then
    raise exception 'p_worker: required, who claims (one line of at most 200 characters)'
      using errcode = '22023', hint = 'Pass the n8n execution id (or any id unique to this run): queue_complete checks it.';
  end if;
  if p_limit is null or p_limit not between 1 and 1000 then
    raise exception 'p_limit: must be between 1 and 1000 (got %)', p_limit using errcode = '22023';
  end if;
  if p_lease_seconds is null or p_lease_seconds not between 5 and 86400 then
    raise exception 'p_lease_seconds: must be between 5 and 86400 (got %)', p_lease_seconds using errcode = '22023';
  end if;
  if p_user_id is not null and not p_user_id = any (leadflow_private.queue_known_users(array[p_user_id])) then
    raise exception 'p_user_id: user % does not exist', p_user_id using errcode = 'P0002', hint = 'Use the id of a user of this project (auth.users).';
  end if;

  -- The owners whose sending hours are open now.
  v_open := array(
    select s.user_id from public.user_queue_settings s
     cross join lateral (select p_now at time zone s.time_zone as local_now) t
     where (p_user_id is null or s.user_id = p_user_id)
       and extract(isodow from t.local_now)::integer = any (s.days_of_week)
       and t.local_now::time >= s.send_from and t.local_now::time < s.send_until);
  if cardinality(v_open) = 0 then
    return;
  end if;

  perform leadflow_private.queue_set_actor('automation');
  return query
    with due as (
      select q.id from public.whatsapp_message_queue q
       where q.status in ('queued', 'failed', 'claimed') and q.available_at <= p_now and q.user_id = any (v_open)
       order by q.available_at, q.id
       limit p_limit
         for update skip locked
    ),
    claimed as (
      update public.whatsapp_message_queue q
         set status = 'claimed', lease_holder = p_worker, lease_expires_at = p_now + make_interval(secs => p_lease_seconds),
             attempts = q.attempts + 1, updated_at = p_now
        from due d
       where q.id = d.id
      returning q.id, q.user_id, q.lead_id, q.phone, q.message, q.attempts, q.scheduled_for, q.lease_expires_at
    )
    select c.id, c.user_id, c.lead_id, l.name, c.phone,
           case when c.message ->> 'type' = 'text'
                then jsonb_build_object('type', 'text', 'text',
                       case when l.name is null then regexp_replace(c.message ->> 'text', ' ?\{\{name\}\}', '', 'g')
                            else replace(c.message ->> 'text', '{{name}}', l.name) end)
                else c.message end,
           c.attempts, c.scheduled_for, c.lease_expires_at
      from claimed c
      join public.leads l on l.id = c.lead_id
     order by c.scheduled_for, c.id;
  perform leadflow_private.queue_set_actor(null);
end;
$$;
comment on function public.queue_claim(text, integer, integer, timestamptz, uuid) is
  'Hands out up to p_limit due WhatsApp messages of owners inside their sending hours, each to one worker with a lease (FOR UPDATE SKIP LOCKED), with the lead''s name and phone and the message to send.';

-- =============================================================================================
-- queue_complete(p_worker, p_results, p_now) → one row per result
-- =============================================================================================
-- p_results: [{item_id, outcome: sent | failed | released, message_id (required when sent),
-- error?: {code?, message, permanent?, retry_after_seconds?}}], at most 1,000. Accepted only from
-- the worker holding the item (its lease may have run out, as long as no other claim took it
-- since: the message was sent, refusing would send it twice):
--   sent      → sent, with message_id; the lead becomes contacted, its backlog item sent
--   failed    → failed, due again (next_attempt_at) after retry_backoff_seconds × 2^(attempt − 1)
--               (at most a day), or after error.retry_after_seconds when that is longer; once
--               attempts reach max_attempts, or at once when error.permanent (no attempt can
--               succeed: not a WhatsApp user, no such template), → dead: the lead becomes invalid,
--               its backlog item dead
--   released  → queued again, due at once, the attempt not counted: the worker did not try it
--               (it stopped the batch)
-- Refused (accepted false, nothing recorded): not_found, cancelled (its lead was taken over
-- meanwhile: nothing is recorded as sent by the automation), not_held (another worker holds it,
-- or nobody claimed it), already_completed (sent, failed or dead already: the row's status says
-- which; a report sent twice). A malformed result fails the whole call (nothing written).
create or replace function public.queue_complete(
  p_worker text,
  p_results jsonb,
  p_now timestamptz default leadflow_private.now()
)
returns table (item_index integer, item_id uuid, status text, accepted boolean, reason text, next_attempt_at timestamptz)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_bad record;
  v_done jsonb;
begin
  if p_worker is null or length(btrim(p_worker)) = 0 or length(p_worker) > 200 or not leadflow_private.is_valid_text(p_worker, 'line') then
    raise exception 'p_worker: required, the worker that claimed the items (one line of at most 200 characters)' using errcode = '22023';
  end if;
  if jsonb_typeof(p_results) is distinct from 'array' then
    raise exception 'p_results: must be a JSON array of send results (got %)', coalesce(jsonb_typeof(p_results), 'null')
      using errcode = '22023', hint = 'Send [{"item_id": …, "outcome": "sent", "message_id": …}, …].';
  end if;
  if jsonb_array_length(p_results) > 1000 then
    raise exception 'p_results: at most 1000 results per call (got %)', jsonb_array_length(p_results)
      using errcode = '22023', hint = 'Split the batch: the Data API answers at most 1000 rows (max-rows), one per item.';
  end if;
  select e.n - 1 as idx, p.problem into v_bad
    from jsonb_array_elements(p_results) with ordinality e (item, n)
   cross join lateral (
     select case
       when jsonb_typeof(e.item) is distinct from 'object' then ': must be an object (got ' || coalesce(jsonb_typeof(e.item), 'null') || ')'
       when e.item - '{item_id,outcome,message_id,error}'::text[] <> '{}'::jsonb then
         '.' || (jsonb_path_query_array(e.item - '{item_id,outcome,message_id,error}'::text[], '$.keyvalue().key') ->> 0)
           || ': not a field of a send result; the fields are item_id, outcome, message_id, error'
       when not leadflow_private.pipeline_is_uuid(e.item -> 'item_id') then
         '.item_id: required, the item_id the claim gave (a uuid) (got ' || coalesce(left((e.item -> 'item_id')::text, 100), 'nothing') || ')'
       when (e.item ->> 'outcome') is null or (e.item ->> 'outcome') not in ('sent', 'failed', 'released') then
         '.outcome: required, sent, failed or released (got ' || coalesce(left((e.item -> 'outcome')::text, 100), 'nothing') || ')'
       when not leadflow_private.pipeline_is_null(e.item -> 'message_id')
            and (jsonb_typeof(e.item -> 'message_id') <> 'string' or length(e.item ->> 'message_id') not between 1 and 200
                 or not leadflow_private.is_valid_text(e.item ->> 'message_id', 'token')) then
         '.message_id: must be WhatsApp''s message id: 1 to 200 characters without spaces (got ' || left((e.item -> 'message_id')::text, 100) || ')'
       when e.item ->> 'outcome' = 'sent' and leadflow_private.pipeline_is_null(e.item -> 'message_id') then
         '.message_id: required when the outcome is sent: the id WhatsApp answered (messages[0].id)'
       when not leadflow_private.pipeline_is_null(e.item -> 'error') and jsonb_typeof(e.item -> 'error') <> 'object' then
         '.error: must be an object {"code"?, "message"} or null (got ' || jsonb_typeof(e.item -> 'error') || ')'
       when jsonb_typeof(e.item -> 'error') = 'object' and (e.item -> 'error') - '{code,message,permanent,retry_after_seconds}'::text[] <> '{}'::jsonb then
         '.error.' || (jsonb_path_query_array((e.item -> 'error') - '{code,message,permanent,retry_after_seconds}'::text[], '$.keyvalue().key') ->> 0)
           || ': not a field of an error; the fields are code, message, permanent and retry_after_seconds'
       when jsonb_typeof(e.item -> 'error') = 'object'
            and (jsonb_typeof(e.item #> '{error,message}') is distinct from 'string' or length(btrim(e.item #>> '{error,message}')) not between 1 and 2000
                 or not leadflow_private.is_valid_text(e.item #>> '{error,message}', 'multiline')) then
         '.error.message: required, 1 to 2000 characters without control characters'
       when jsonb_typeof(e.item -> 'error') = 'object' and not leadflow_private.pipeline_is_null(e.item #> '{error,code}')
            and (jsonb_typeof(e.item #> '{error,code}') not in ('string', 'number') or length(e.item #>> '{error,code}') not between 1 and 100
                 or not leadflow_private.is_valid_text(e.item #>> '{error,code}', 'line')) then
         '.error.code: must be a string or a number of at most 100 characters, or null'
       when jsonb_typeof(e.item -> 'error') = 'object' and not leadflow_private.pipeline_is_null(e.item #> '{error,permanent}')
            and jsonb_typeof(e.item #> '{error,permanent}') <> 'boolean' then
         '.error.permanent: must be true, false or null (got ' || left((e.item #> '{error,permanent}')::text, 100) || ')'
       when jsonb_typeof(e.item -> 'error') = 'object' and not leadflow_private.pipeline_is_null(e.item #> '{error,retry_after_seconds}')
            and (jsonb_typeof(e.item #> '{error,retry_after_seconds}') <> 'number'
                 or (e.item #>> '{error,retry_after_seconds}')::numeric not between 0 and 86400) then
         '.error.retry_after_seconds: must be a number of seconds from 0 to 86400, or null (got '
           || left((e.item #> '{error,retry_after_seconds}')::text, 100) || ')'
     end as problem
   ) p
   where p.problem is not null
   order by e.n
   limit 1;
  if found then
    raise exception 'p_results[%]%', v_bad.idx, v_bad.problem
      using errcode = '22023', hint = 'Correct that result and send the batch again: nothing was written.';
  end if;
  select min(e.n) - 1 as first_index, max(e.n) - 1 as second_index, e.item ->> 'item_id' as id into v_bad
    from jsonb_array_elements(p_results) with ordinality e (item, n)
   group by e.item ->> 'item_id'
  having count(*) > 1
   limit 1;
  if found then
    raise exception 'p_results[%].item_id: item % is listed twice (also p_results[%])', v_bad.second_index, v_bad.id, v_bad.first_index
      using errcode = '22023', hint = 'Report each item once.';
  end if;

  perform leadflow_private.queue_set_actor('automation');
  -- The messages first (the lock order), each held by this worker.
  with results as (
    select (e.n - 1)::integer as idx, (e.item ->> 'item_id')::uuid as id, e.item ->> 'outcome' as outcome, e.item ->> 'message_id' as message_id,
           case when e.item ->> 'outcome' = 'failed' then
             jsonb_strip_nulls(jsonb_build_object('code', e.item #>> '{error,code}', 'message', btrim(e.item #>> '{error,message}'),
                                                  'permanent', case when (e.item #> '{error,permanent}') = 'true'::jsonb then true end))
           end as error,
           coalesce((e.item #>> '{error,permanent}')::boolean, false) as permanent,
           (e.item #>> '{error,retry_after_seconds}')::numeric as retry_after
      from jsonb_array_elements(p_results) with ordinality e (item, n)
  ),
  held as materialized (
    select r.*, q.user_id, q.lead_id, q.attempts, coalesce(s.max_attempts, 3) as max_attempts, coalesce(s.retry_backoff_seconds, 300) as backoff
      from results r
      join public.whatsapp_message_queue q on q.id = r.id
      left join public.user_queue_settings s on s.user_id = q.user_id
     where q.status = 'claimed' and q.lease_holder = p_worker
     order by q.id
       for update of q
  ),
  done as (
    update public.whatsapp_message_queue q
       set status = case when h.outcome = 'sent' then 'sent' when h.outcome = 'released' then 'queued'
                         when h.permanent or q.attempts >= h.max_attempts then 'dead' else 'failed' end,
           attempts = case when h.outcome = 'released' then q.attempts - 1 else q.attempts end,
           message_id = case when h.outcome = 'sent' then h.message_id else q.message_id end,
           last_error = case when h.outcome = 'failed' then jsonb_build_object('message', 'send failed (no error given)') || h.error
                             else q.last_error end,
           scheduled_for = case when h.outcome = 'failed' and not h.permanent and q.attempts < h.max_attempts
                                then p_now + make_interval(secs => greatest(least(86400, h.backoff * power(2, q.attempts - 1)),
                                                                           coalesce(h.retry_after, 0))::double precision)
                                else q.scheduled_for end,
           lease_holder = case when h.outcome = 'released' then null else q.lease_holder end,
           lease_expires_at = null,
           completed_at = case when h.outcome = 'sent' or (h.outcome = 'failed' and (h.permanent or q.attempts >= h.max_attempts)) then p_now end,
           updated_at = p_now
      from held h
     where q.id = h.id and q.status = 'claimed' and q.lease_holder = p_worker
    returning q.id, q.lead_id, q.status, q.message_id, q.scheduled_for
  )
  select jsonb_object_agg(d.id, jsonb_build_object('lead_id', d.lead_id, 'status', d.status, 'message_id', d.message_id,
                                                   'next', case when d.status = 'failed' then d.scheduled_for end))
    into v_done
    from done d;
  v_done := coalesce(v_done, '{}'::jsonb);

  -- Then the backlog items and the leads of the messages sent or dead.
  if exists (select from jsonb_each(v_done) d where d.value ->> 'status' in ('sent', 'dead')) then
    update public.lead_processing_queue p
       set status = d.value ->> 'status', message_id = d.value ->> 'message_id', updated_at = p_now
      from jsonb_each(v_done) d
     where d.value ->> 'status' in ('sent', 'dead') and p.lead_id = (d.value ->> 'lead_id')::uuid and p.status = 'claimed';
    perform leadflow_private.queue_set_actor('automation', null, 'message_sent');
    update public.leads l
       set status = 'contacted', updated_at = p_now
      from jsonb_each(v_done) d
     where d.value ->> 'status' = 'sent' and l.id = (d.value ->> 'lead_id')::uuid and l.status in ('new', 'queued');
    perform leadflow_private.queue_set_actor('automation', null, 'message_dead');
    update public.leads l
       set status = 'invalid', updated_at = p_now
      from jsonb_each(v_done) d
     where d.value ->> 'status' = 'dead' and l.id = (d.value ->> 'lead_id')::uuid and l.status in ('new', 'queued');
  end if;
  perform leadflow_private.queue_set_actor(null);

  return query
    select (e.n - 1)::integer, (e.item ->> 'item_id')::uuid,
           coalesce(v_done -> (e.item ->> 'item_id') ->> 'status', q.status),
           v_done ? (e.item ->> 'item_id'),
           case when v_done ? (e.item ->> 'item_id') then null
                when q.id is null then 'not_found'
                when q.status = 'cancelled' then 'cancelled'
                when q.status in ('sent', 'failed', 'dead') then 'already_completed'
                else 'not_held' end,
           (v_done -> (e.item ->> 'item_id') ->> 'next')::timestamptz
      from jsonb_array_elements(p_results) with ordinality e (item, n)
      left join public.whatsapp_message_queue q on q.id = (e.item ->> 'item_id')::uuid
     order by e.n;
end;
$$;
comment on function public.queue_complete(text, jsonb, timestamptz) is
  'Batch: records what became of claimed messages (sent with its id; failed, retried with backoff, then dead; released untried), only from the worker holding them; a cancelled one is refused.';

-- =============================================================================================
-- queue_take_lead(p_lead_id, p_actor_id, p_reason, p_now)
-- =============================================================================================
-- A person takes the lead over, in one transaction: its waiting messages (queued, claimed or
-- failed) and its backlog item are cancelled (a worker holding a message is then refused at
-- queue_complete), the lead becomes human_controlled (taken_over_at, taken_over_by = p_actor_id),
-- and its Messenger conversation, if any, is stopped for every follow-up rule (a row of
-- ai_automation_stops, reason human_takeover, rule_id null). Every change has its ledger row
-- (actor user, p_actor_id, reason human_takeover, the note p_reason and the take-over's id in
-- detail). cancelled lists what was cancelled; stopped_rules counts the owner's enabled follow-up
-- rules for the conversation's Page that were not stopped for it before. Taking a lead that is
-- human-controlled already changes nothing (already_taken). With p_user_id, a lead of another
-- owner is unknown (P0002), as a webhook that names its owner needs.
create or replace function public.queue_take_lead(
  p_lead_id uuid,
  p_actor_id uuid default null,
  p_reason text default null,
  p_now timestamptz default leadflow_private.now(),
  p_user_id uuid default null
)
returns table (lead_id uuid, user_id uuid, status text, already_taken boolean, cancelled jsonb, stopped_rules integer)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_lead record;
  v_take_over uuid := gen_random_uuid();
  v_detail jsonb;
  v_changed integer;
  v_rules integer := 0;
  v_cancelled jsonb;
begin
  if p_lead_id is null then
    raise exception 'p_lead_id: required, the lead to take over' using errcode = '22023';
  end if;
  if p_reason is not null and (length(btrim(p_reason)) not between 1 and 500 or not leadflow_private.is_valid_text(p_reason, 'line')) then
    raise exception 'p_reason: must be one line of 1 to 500 characters, or null' using errcode = '22023';
  end if;
  select l.user_id, l.conversation_id into v_lead from public.leads l where l.id = p_lead_id and (p_user_id is null or l.user_id = p_user_id);
  if not found then
    raise exception 'p_lead_id: lead % does not exist%', p_lead_id, case when p_user_id is not null then ' for user ' || p_user_id else '' end
      using errcode = 'P0002', hint = 'Use an id from leads (of that owner).';
  end if;
  if p_actor_id is not null and not p_actor_id = any (leadflow_private.queue_known_users(array[p_actor_id])) then
    raise exception 'p_actor_id: user % does not exist', p_actor_id
      using errcode = '22023', hint = 'Pass the id of the person taking the lead over (auth.users), or leave it out.';
  end if;

  v_detail := jsonb_strip_nulls(jsonb_build_object('take_over_id', v_take_over, 'note', btrim(p_reason)));
  perform leadflow_private.queue_set_actor('user', p_actor_id, 'human_takeover', v_detail);
  -- Messages, backlog item, lead: the lock order.
  update public.whatsapp_message_queue q
     set status = 'cancelled', lease_expires_at = null, completed_at = p_now, updated_at = p_now
   where q.lead_id = p_lead_id and q.status in ('queued', 'claimed', 'failed');
  update public.lead_processing_queue p
     set status = 'cancelled', updated_at = p_now
   where p.lead_id = p_lead_id and p.status in ('queued', 'claimed');
  -- (Its trigger cancels what a concurrent queue_prepare queued meanwhile, with the same detail.)
  update public.leads l
     set status = 'human_controlled', taken_over_at = p_now, taken_over_by = p_actor_id, updated_at = p_now
   where l.id = p_lead_id and l.status <> 'human_controlled';
  get diagnostics v_changed = row_count;

  if v_lead.conversation_id is not null then
    select count(*) into v_rules
      from public.ai_automation_rules r
      join public.messenger_conversations c on c.id = v_lead.conversation_id
     where r.user_id = v_lead.user_id and r.enabled and (r.page_id is null or r.page_id = c.page_id)
       and not exists (select from public.ai_automation_stops s
                        where s.conversation_id = v_lead.conversation_id and (s.rule_id is null or s.rule_id = r.id));
    insert into public.ai_automation_stops (user_id, conversation_id, rule_id, reason, note)
    values (v_lead.user_id, v_lead.conversation_id, null, 'human_takeover', coalesce(btrim(p_reason), 'lead taken over (' || p_lead_id || ')'))
    on conflict (conversation_id, rule_id) do nothing;
  end if;
  perform leadflow_private.queue_set_actor(null);

  select coalesce(jsonb_agg(jsonb_build_object('queue', g.queue, 'item_id', g.item_id, 'from_status', g.from_status) order by g.id), '[]'::jsonb)
    into v_cancelled
    from public.queue_ledger g
   where g.lead_id = p_lead_id and g.to_status = 'cancelled' and g.detail ->> 'take_over_id' = v_take_over::text;

  return query select p_lead_id, v_lead.user_id, 'human_controlled'::text, v_changed = 0, v_cancelled, v_rules;
end;
$$;
comment on function public.queue_take_lead(uuid, uuid, text, timestamptz, uuid) is
  'A person takes a lead over in one transaction: its waiting messages and backlog item cancelled, the lead human_controlled, its follow-ups stopped; harmless twice.';

-- =============================================================================================
-- queue_export(p_user_id, p_from, p_to, p_statuses, p_after, p_limit) → a page of messages
-- =============================================================================================
-- The owner's messages of the days p_from–p_to (at most 366 days), of p_statuses (all when null),
-- with their leads, in item_id order, p_limit (1–1,000) per page: the next page is p_after = the
-- last item_id of this one. last_error is "code: message".
create or replace function public.queue_export(
  p_user_id uuid,
  p_from date,
  p_to date,
  p_statuses text[] default null,
  p_after uuid default null,
  p_limit integer default 1000
)
returns table (item_id uuid, day date, status text, scheduled_for timestamptz, attempts integer, message_id text, last_error text,
               lead_id uuid, lead_name text, phone text, lead_status text, lead_score integer, source text,
               created_at timestamptz, updated_at timestamptz)
language plpgsql
stable
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_bad record;
begin
  if p_user_id is null then
    raise exception 'p_user_id: required, the owner whose queue to export' using errcode = '22023';
  end if;
  if p_from is null or p_to is null or p_from > p_to or p_to - p_from > 365 then
    raise exception 'p_from, p_to: required, p_from on or before p_to, at most 366 days (got % to %)', p_from, p_to
      using errcode = '22023', hint = 'Days as YYYY-MM-DD, e.g. p_from = p_to = tomorrow for one day.';
  end if;
  select s.n, s.status into v_bad from unnest(p_statuses) with ordinality s (status, n)
   where s.status is null or not s.status = any (leadflow_private.queue_item_statuses()) order by s.n limit 1;
  if found then
    raise exception 'p_statuses[%]: % is not a queue status; they are queued, claimed, sent, failed, cancelled, dead', v_bad.n - 1,
      coalesce(v_bad.status, 'null') using errcode = '22023';
  end if;
  if p_limit is null or p_limit not between 1 and 1000 then
    raise exception 'p_limit: must be between 1 and 1000 (got %)', p_limit
      using errcode = '22023', hint = 'The Data API answers at most 1000 rows: page with p_after.';
  end if;
  if not p_user_id = any (leadflow_private.queue_known_users(array[p_user_id])) then
    raise exception 'p_user_id: user % does not exist', p_user_id using errcode = 'P0002', hint = 'Use the id of a user of this project (auth.users).';
  end if;

  -- Each day's page by the (user_id, day, id) index, then the first p_limit of them all.
  return query
    select q.id, q.day, q.status, q.scheduled_for, q.attempts, q.message_id,
           case when q.last_error is not null then coalesce((q.last_error ->> 'code') || ': ', '') || (q.last_error ->> 'message') end,
           l.id, l.name, l.phone, l.status, l.lead_score, l.source, q.created_at, q.updated_at
      from generate_series(p_from, p_to, interval '1 day') d (day)
     cross join lateral (
       select q.* from public.whatsapp_message_queue q
        where q.user_id = p_user_id and q.day = d.day::date and (p_after is null or q.id > p_after)
          and (p_statuses is null or q.status = any (p_statuses))
        order by q.id
        limit p_limit
     ) q
      join public.leads l on l.id = q.lead_id
     order by q.id
     limit p_limit;
end;
$$;
comment on function public.queue_export(uuid, date, date, text[], uuid, integer) is
  'A page of an owner''s WhatsApp queue for a range of days, with each message''s lead, in item_id order (keyset: p_after).';

-- =============================================================================================
-- queue_metrics(p_user_id, p_from, p_to) → one row per day
-- =============================================================================================
-- queue_performance_metrics for each day p_from–p_to (at most 366), zeros for a day without
-- messages.
create or replace function public.queue_metrics(
  p_user_id uuid,
  p_from date,
  p_to date
)
returns table (day date, queued integer, sent integer, failed integer, cancelled integer, taken_over integer,
               mean_wait_seconds numeric, mean_processing_seconds numeric)
language plpgsql
stable
set search_path = ''
as $$
#variable_conflict use_column
begin
  if p_user_id is null then
    raise exception 'p_user_id: required, the owner whose metrics to read' using errcode = '22023';
  end if;
  if p_from is null or p_to is null or p_from > p_to or p_to - p_from > 365 then
    raise exception 'p_from, p_to: required, p_from on or before p_to, at most 366 days (got % to %)', p_from, p_to
      using errcode = '22023', hint = 'Days as YYYY-MM-DD.';
  end if;
  if not p_user_id = any (leadflow_private.queue_known_users(array[p_user_id])) then
    raise exception 'p_user_id: user % does not exist', p_user_id using errcode = 'P0002', hint = 'Use the id of a user of this project (auth.users).';
  end if;
  return query
    select d.day::date, coalesce(m.queued, 0), coalesce(m.sent, 0), coalesce(m.failed, 0), coalesce(m.cancelled, 0),
           coalesce(m.taken_over, 0), m.mean_wait_seconds, m.mean_processing_seconds
      from generate_series(p_from, p_to, interval '1 day') d (day)
      left join (select m.* from public.queue_performance_metrics m
                  where m.user_id = p_user_id and m.day between p_from and p_to) m on m.day = d.day::date
     order by 1;
end;
$$;
comment on function public.queue_metrics(uuid, date, date) is
  'The queue''s metrics per day of a range (queue_performance_metrics, zeros for days without messages).';

-- =============================================================================================
-- Privileges
-- =============================================================================================
revoke all on function
  leadflow_private.queue_known_users(uuid[]),
  leadflow_private.queue_lead_item_problem(jsonb),
  leadflow_private.queue_add_lead_rows(leadflow_private.queue_new_lead[], timestamptz)
from public, anon, authenticated;
grant execute on function
  leadflow_private.queue_known_users(uuid[]),
  leadflow_private.queue_lead_item_problem(jsonb),
  leadflow_private.queue_add_lead_rows(leadflow_private.queue_new_lead[], timestamptz)
to service_role;

revoke all on function
  public.queue_add_leads(jsonb, timestamptz),
  public.queue_add_leads_from_crm(uuid, uuid, uuid, timestamptz, uuid, integer),
  public.queue_prepare(uuid, timestamptz),
  public.queue_claim(text, integer, integer, timestamptz, uuid),
  public.queue_complete(text, jsonb, timestamptz),
  public.queue_take_lead(uuid, uuid, text, timestamptz, uuid),
  public.queue_export(uuid, date, date, text[], uuid, integer),
  public.queue_metrics(uuid, date, date)
from public, anon, authenticated;
grant execute on function
  public.queue_add_leads(jsonb, timestamptz),
  public.queue_add_leads_from_crm(uuid, uuid, uuid, timestamptz, uuid, integer),
  public.queue_prepare(uuid, timestamptz),
  public.queue_claim(text, integer, integer, timestamptz, uuid),
  public.queue_complete(text, jsonb, timestamptz),
  public.queue_take_lead(uuid, uuid, text, timestamptz, uuid),
  public.queue_export(uuid, date, date, text[], uuid, integer),
  public.queue_metrics(uuid, date, date)
to service_role;
