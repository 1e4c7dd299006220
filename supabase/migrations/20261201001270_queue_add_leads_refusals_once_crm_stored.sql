-- Add Leads: the refusals of a call are read once; Add Leads from the CRM answers the stored lead.
-- Re-created: public.queue_add_leads (otherwise as in 20261201001170) and
-- public.queue_add_leads_from_crm (otherwise as in 20261201000420; its answer changes, so it is
-- dropped first).
--
-- 1. queue_add_leads with p_refused answer read the refusals twice, in two statements, each with
--    its own snapshot: once for the refused rows it answered, once for the items it left out of
--    the write. A conversation or campaign session deleted between them (or created) made an item
--    neither answered nor added (silently skipped), or both refused and added; and the refusals
--    were computed twice. They are now read once, into an array: the rows answered as refused are
--    exactly the items left out.
-- 2. queue_add_leads_from_crm shares queue_add_lead_rows, which since 20261201001170 fills an
--    existing lead's missing fields: a tag's conversation gives the lead found by it the sender's
--    name it lacks; a campaign's session gives the lead found by its phone the campaign_session_id
--    and name it lacks (never overwriting one, never taking one another lead holds). That is what
--    an import should do, as Add Leads from items does. Its answer still echoed the conversation /
--    session of the CRM row, not what the lead holds. It now answers the stored lead (status,
--    name, phone, conversation_id, campaign_session_id, read after the fill), and from_id: the
--    conversation (tag) or campaign session (campaign) the row comes from, the order of the rows
--    and the p_after of the next page (the stored campaign_session_id is not it when the lead held
--    another session, or two sessions of the campaign share a phone).

-- =============================================================================================
-- public.queue_add_leads(p_items, p_now, p_refused)
-- =============================================================================================
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
             r ->> 'field', r ->> 'message'
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
    select r.item_index, r.lead_id, r.outcome, r.status, r.name, r.phone, r.conversation_id, r.campaign_session_id, null::text, null::text
      from leadflow_private.queue_add_lead_rows(v_items, p_now) r;
  perform leadflow_private.queue_set_actor(null);
end;
$$;
comment on function public.queue_add_leads(jsonb, timestamptz, text) is
  'Batch: adds leads (name, E.164 phone, conversation, campaign session, source, score), deduplicated by phone, conversation and session: created or existing (its missing fields filled), each with the stored lead; refused items raise, or are answered (p_refused answer / check).';
revoke all on function public.queue_add_leads(jsonb, timestamptz, text) from public, anon, authenticated;
grant execute on function public.queue_add_leads(jsonb, timestamptz, text) to service_role;

-- =============================================================================================
-- public.queue_add_leads_from_crm: the stored lead, and the CRM row it comes from
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
               conversation_id uuid, campaign_session_id uuid)
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
    select coalesce(i.conversation_id, i.campaign_session_id), r.lead_id, r.outcome, r.status, r.source,
           r.name, r.phone, r.conversation_id, r.campaign_session_id
      from leadflow_private.queue_add_lead_rows(v_items, p_now) r
      join unnest(v_items) i on i.item_index = r.item_index
     order by r.item_index;
  perform leadflow_private.queue_set_actor(null);
end;
$$;
comment on function public.queue_add_leads_from_crm(uuid, uuid, uuid, timestamptz, uuid, integer) is
  'Adds leads from the conversations carrying a tag or the sessions of a campaign, page by page (from_id, p_after), deduplicated like queue_add_leads (an existing lead takes the name, conversation or session it lacks); each row the stored lead.';
revoke all on function public.queue_add_leads_from_crm(uuid, uuid, uuid, timestamptz, uuid, integer) from public, anon, authenticated;
grant execute on function public.queue_add_leads_from_crm(uuid, uuid, uuid, timestamptz, uuid, integer) to service_role;
