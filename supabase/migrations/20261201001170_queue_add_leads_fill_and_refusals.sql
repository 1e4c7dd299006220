-- Add Leads: an existing lead takes the fields it lacks; the answer is the stored lead; the
-- database's refusals can be answered (or only checked) instead of raised.
-- Re-created: leadflow_private.queue_add_lead_rows (otherwise as in 20261201000420) and
-- public.queue_add_leads (otherwise as in 20261201000420; its answer and arguments change, so it is
-- dropped first). New: leadflow_private.queue_add_lead_refusals.
--
-- 1. An item matching a lead already there (by phone, else conversation, else campaign session)
--    came back `existing` and the lead was left as it was: a Messenger lead given its phone later
--    stayed without one (queue_prepare skipped it as no_phone every day) while the caller showed
--    the phone it had sent. Now the lead takes, from the earliest item naming it, each of name,
--    phone, conversation_id and campaign_session_id it lacks (null); a value already stored is never
--    overwritten, and a phone, conversation or session that another lead of the owner holds (or
--    that two leads of the call are offered: the earlier item's lead takes it) is not stored, so the
--    unique keys (user_id, phone / conversation_id / campaign_session_id) never collide. The fill
--    changes no status, so the ledger (which records inserts and status changes) gets no row.
--    queue_add_lead_rows and queue_add_leads answer the stored lead's name, phone, conversation_id
--    and campaign_session_id, read after the fill.
-- 2. An unknown owner, or a conversation or campaign session that is not the owner's, raised for
--    the first such item: a caller sending several batches could not learn every refusal before
--    writing, and one bad item stopped the batch. queue_add_leads takes p_refused:
--      raise  (the default) as before: the first refused item raises, nothing written;
--      answer every refused item is a row (outcome refused, field, message), the others are added;
--      check  nothing is written; the answer is only the refused items (outcome refused).
--    A malformed item (queue_lead_item_problem) still fails the whole call: the caller's bug.

-- The items the database refuses, at most one refusal each (owner, then conversation, then session).
create or replace function leadflow_private.queue_add_lead_refusals(p_items leadflow_private.queue_new_lead[])
returns table (item_index integer, field text, message text, hint text)
language sql
stable
set search_path = ''
as $$
  with known as (
    select unnest(leadflow_private.queue_known_users(array(select distinct i.user_id from unnest(p_items) i))) as user_id
  )
  select i.item_index, r.field, r.message, r.hint
    from unnest(p_items) i
   cross join lateral (
     select x.field, x.message, x.hint
       from (
         select 1, 'user_id', format('user %s does not exist', i.user_id),
                'Use the id of a user of this project (auth.users): the lead''s owner.'
          where not exists (select from known k where k.user_id = i.user_id)
         union all
         select 2, 'conversation_id', format('conversation %s does not exist for user %s', i.conversation_id, i.user_id),
                'Use ids from messenger_conversations of the lead''s owner, or leave conversation_id out.'
          where i.conversation_id is not null
            and not exists (select from public.messenger_conversations c where c.id = i.conversation_id and c.user_id = i.user_id)
         union all
         select 3, 'campaign_session_id', format('campaign session %s does not exist for user %s', i.campaign_session_id, i.user_id),
                'Use ids from session_info of the lead''s owner, or leave campaign_session_id out.'
          where i.campaign_session_id is not null
            and not exists (select from public.session_info s where s.id = i.campaign_session_id and s.user_id = i.user_id)
       ) x (rank, field, message, hint)
      order by x.rank
      limit 1
   ) r
   order by i.item_index
$$;
revoke all on function leadflow_private.queue_add_lead_refusals(leadflow_private.queue_new_lead[]) from public, anon, authenticated;
grant execute on function leadflow_private.queue_add_lead_refusals(leadflow_private.queue_new_lead[]) to service_role;

-- =============================================================================================
-- leadflow_private.queue_add_lead_rows: the leads of a batch, deduplicated, missing fields filled
-- =============================================================================================
drop function if exists leadflow_private.queue_add_lead_rows(leadflow_private.queue_new_lead[], timestamptz);
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
-- public.queue_add_leads(p_items, p_now, p_refused)
-- =============================================================================================
drop function if exists public.queue_add_leads(jsonb, timestamptz);
create or replace function public.queue_add_leads(
  p_items jsonb,
  p_now timestamptz default leadflow_private.now(),
  p_refused text default 'raise'
)
returns table (item_index integer, lead_id uuid, outcome text, status text, name text, phone text,
               conversation_id uuid, campaign_session_id uuid, field text, message text)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_bad record;
  v_items leadflow_private.queue_new_lead[];
  v_refused integer[];
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
    return query
      select r.item_index, null::uuid, 'refused', null::text, null::text, null::text, null::uuid, null::uuid, r.field, r.message
        from leadflow_private.queue_add_lead_refusals(v_items) r
       order by r.item_index;
    if p_refused = 'check' then
      return;
    end if;
    v_refused := array(select r.item_index from leadflow_private.queue_add_lead_refusals(v_items) r);
    v_items := array(select i from unnest(v_items) i where not i.item_index = any (v_refused) order by i.item_index);
    if cardinality(v_items) = 0 then
      return;
    end if;
  end if;

  perform leadflow_private.queue_set_actor('automation', null, 'added');
  return query
    select r.item_index, r.lead_id, r.outcome, r.status, r.name, r.phone, r.conversation_id, r.campaign_session_id, null::text, null::text
      from leadflow_private.queue_add_lead_rows(v_items, p_now) r;
  perform leadflow_private.queue_set_actor(null);
end;
$$;
comment on function public.queue_add_leads(jsonb, timestamptz, text) is
  'Batch: adds leads (name, E.164 phone, conversation, campaign session, source, score), deduplicated by phone, conversation and session: created or existing (its missing fields filled), each with the stored lead; refused items raise, or are answered (p_refused answer / check).';
revoke all on function public.queue_add_leads(jsonb, timestamptz, text) from public, anon, authenticated;
grant execute on function public.queue_add_leads(jsonb, timestamptz, text) to service_role;
