-- Messenger inbound: messenger_record's plans follow the tables as they grow, as pipeline_assign's
-- do since 20261201000840.
-- New: leadflow_private.plans_follow_sizes (the check, for any function). Re-created:
-- leadflow_private.pipeline_plan_for_sizes (now that check, same tables and setting),
-- leadflow_private.messenger_record (the check first; otherwise as in 20261201000520).
--
-- Why: a connection keeps each statement's plan (plpgsql caches them; after five calls it keeps a
-- generic one). Planned while messenger_conversations was nearly empty (a new project: a Page's
-- first deliveries), the plans scan the table, and kept them when it had grown: measured on one
-- connection that recorded its first events on an empty table, after 30,000 conversations had come
-- in through another, 10 events read 121,693 conversation rows and took 94-132 ms; on a new
-- connection, 80 index entries and 9-42 ms. Through the Data API each pooled connection keeps what
-- it planned, so the answers' tail (p99) depended on which connection a delivery got.
--
-- Now messenger_record starts with plans_follow_sizes: when one of the tables it probes (the
-- conversations, their messages, the follow-up stops, the tag links whose window copy its trigger
-- keeps, the follow-up states that stop on reply reads) has doubled in size since the connection
-- planned, the connection's cached plans are dropped (DISCARD PLANS) and its statements planned
-- again for the tables as they are. test/db/plans-that-scale.test.ts: 115 rows and index entries
-- read for those 10 events now, 10,216 before.

-- =============================================================================================
-- leadflow_private.plans_follow_sizes(p_setting, p_tables): plans made again when a table doubled
-- =============================================================================================
-- p_setting: where the connection remembers the sizes its plans were made for (a custom setting,
-- e.g. leadflow.messenger_plan_sizes); p_tables: the tables the caller's statements probe. Each
-- table's size is put in a class that doubles (up to 8 kB, up to 16 kB, ...); when a class differs
-- from the remembered one, DISCARD PLANS and remember the new classes. A plan is so never used on a
-- table more than twice the size it was planned for, and a connection plans again about 17 times
-- from empty to 1 GB. Cost of the check: one size lookup (an lseek) per table.
create or replace function leadflow_private.plans_follow_sizes(p_setting text, variadic p_tables regclass[])
returns void
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_sizes text := (
    select string_agg(floor(log(2, greatest(pg_relation_size(t.rel), 8192) / 8192.0))::text, ',' order by t.n)
      from unnest(p_tables) with ordinality t (rel, n)
  );
begin
  if v_sizes is distinct from current_setting(p_setting, true) then
    discard plans;
    perform set_config(p_setting, v_sizes, false);
  end if;
end;
$$;
comment on function leadflow_private.plans_follow_sizes(text, regclass[]) is
  'Drops the connection''s cached plans when one of p_tables has doubled in size since they were planned (sizes remembered in the setting p_setting).';
revoke all on function leadflow_private.plans_follow_sizes(text, regclass[]) from public, anon, authenticated;
grant execute on function leadflow_private.plans_follow_sizes(text, regclass[]) to service_role;

-- =============================================================================================
-- leadflow_private.pipeline_plan_for_sizes(): the same check, one implementation
-- =============================================================================================
create or replace function leadflow_private.pipeline_plan_for_sizes()
returns void
language sql
volatile
set search_path = ''
as $$
  select leadflow_private.plans_follow_sizes('leadflow.pipeline_plan_sizes',
    'public.pipeline_contacts', 'public.conversation_tags', 'public.ai_automation_stops', 'public.messenger_conversations')
$$;

-- =============================================================================================
-- leadflow_private.messenger_record: the check first, then as in 20261201000520
-- =============================================================================================
create or replace function leadflow_private.messenger_record(
  p_events jsonb, p_app_id text, p_owner uuid, p_source text, p_now timestamptz
)
returns table (
  item_index integer,
  type text,
  outcome text,
  reason text,
  page_id text,
  psid text,
  conversation_id uuid,
  new_conversation boolean,
  facebook_message_id text,
  direction text,
  text text,
  sent_at timestamptz,
  stopped_automations boolean,
  stop_reason text
)
language plpgsql
volatile
set search_path = ''
-- Every statement reaches conversations, messages and stops by their keys (see the trigger above).
set enable_hashjoin = off
set enable_mergejoin = off
as $$
#variable_conflict use_column
declare
  v_limit integer;
  v_problem text;
  v_items leadflow_private.messenger_event[];
  v_page text;
  v_owners jsonb := '{}'::jsonb;
  v_conversations uuid[];
  v_new_conversations uuid[];
  v_stops_before uuid[];
  v_recorded text[];
  v_replied uuid[];
  v_taken_over uuid[];
  v_receipts uuid[];
begin
  perform leadflow_private.plans_follow_sizes('leadflow.messenger_plan_sizes',
    'public.messenger_conversations', 'public.messenger_messages', 'public.ai_automation_stops', 'public.conversation_tags',
    'public.ai_automation_contact_states');
  if p_events is null or jsonb_typeof(p_events) <> 'array' then
    raise exception 'p_events must be a JSON array of events (got %)', coalesce(jsonb_typeof(p_events), 'null')
      using errcode = '22023';
  end if;
  -- A delivery answers one row per event, and the Data API answers at most 1,000 rows; a sync page
  -- answers counts only, and may hold 100 conversations of up to 100 messages.
  v_limit := case p_source when 'sync' then 10000 else 1000 end;
  if jsonb_array_length(p_events) > v_limit then
    raise exception 'p_events holds % events; at most % per call', jsonb_array_length(p_events), v_limit
      using errcode = '22023', hint = 'Split the events into several calls.';
  end if;
  if p_app_id is not null and p_app_id !~ '^[0-9]{1,32}$' then
    raise exception 'p_app_id: "%" is not a Facebook app id (1 to 32 digits)', p_app_id using errcode = '22023';
  end if;
  if p_source is null or p_source not in ('webhook', 'sync') then
    raise exception 'p_source must be webhook or sync (got %)', p_source using errcode = '22023';
  end if;

  -- One pass: every event checked (the first problem names the event and field) and typed.
  select (array_agg('p_events[' || x.idx || ']' || x.problem order by x.idx) filter (where x.problem is not null))[1],
         array_agg(row(x.idx, x.type, x.page_id, x.psid, x.mid, x.text,
                       case when x.problem is null and x.type in ('message', 'postback', 'echo')
                            then to_timestamp((x.ts::numeric / 1000)::double precision) end,
                       x.app_id, x.name,
                       case when x.problem is null and x.type in ('delivery', 'read')
                            then to_timestamp((x.wm::numeric / 1000)::double precision) end,
                       null, null)::leadflow_private.messenger_event order by x.idx)
    into v_problem, v_items
    from (
      select f.*,
             case
               when f.kind <> 'object' then ': each event is a JSON object'
               when coalesce(f.type, '') not in ('message', 'postback', 'echo', 'delivery', 'read') then
                 '.type: must be message, postback, echo, delivery or read (got ' || coalesce(f.type, 'nothing') || ')'
               when f.page_kind is distinct from 'string' or f.page_id !~ '^[0-9]{1,32}$' then
                 '.page_id: must be the Page''s numeric id as a string'
               when f.psid_kind is distinct from 'string' or f.psid !~ '^[0-9]{1,32}$' then
                 '.psid: must be the person''s page-scoped id (digits) as a string'
               when f.type in ('message', 'postback', 'echo')
                    and (f.mid_kind is distinct from 'string' or length(f.mid) not between 1 and 512
                         or not leadflow_private.is_valid_text(f.mid, 'token')) then
                 '.mid: must be Messenger''s message id (1 to 512 characters, no spaces)'
               when f.type in ('message', 'postback', 'echo')
                    and not (case when f.ts_kind = 'number'
                                  then f.ts::numeric between 0 and 32503680000000 and f.ts::numeric = trunc(f.ts::numeric)
                                  else false end) then
                 '.timestamp: must be the event''s time in whole epoch milliseconds'
               when f.type in ('delivery', 'read')
                    and not (case when f.wm_kind = 'number' then f.wm::numeric between 0 and 32503680000000 else false end) then
                 '.watermark: must be the receipt''s watermark in epoch milliseconds'
               when f.text_kind is not null and f.text_kind not in ('string', 'null') then '.text: must be a string or null'
               when f.text_kind = 'string' and length(f.text) > 20000 then '.text: longer than 20,000 characters'
               when f.app_kind is not null and f.app_kind <> 'null' and (f.app_kind <> 'string' or f.app_id !~ '^[0-9]{1,32}$') then
                 '.app_id: must be the sending app''s numeric id as a string'
               when f.name_kind is not null and f.name_kind <> 'null'
                    and (f.name_kind <> 'string' or length(f.name) > 200 or not leadflow_private.is_valid_text(f.name, 'line')) then
                 '.name: must be one line of at most 200 characters'
             end as problem
        from (
          select (e.n - 1)::integer as idx, jsonb_typeof(e.item) as kind,
                 e.item ->> 'type' as type,
                 e.item ->> 'page_id' as page_id, jsonb_typeof(e.item -> 'page_id') as page_kind,
                 e.item ->> 'psid' as psid, jsonb_typeof(e.item -> 'psid') as psid_kind,
                 e.item ->> 'mid' as mid, jsonb_typeof(e.item -> 'mid') as mid_kind,
                 e.item ->> 'text' as text, jsonb_typeof(e.item -> 'text') as text_kind,
                 e.item ->> 'timestamp' as ts, jsonb_typeof(e.item -> 'timestamp') as ts_kind,
                 e.item ->> 'watermark' as wm, jsonb_typeof(e.item -> 'watermark') as wm_kind,
                 e.item ->> 'app_id' as app_id, jsonb_typeof(e.item -> 'app_id') as app_kind,
                 e.item ->> 'name' as name, jsonb_typeof(e.item -> 'name') as name_kind
            from jsonb_array_elements(p_events) with ordinality e (item, n)
        ) f
    ) x;
  if v_problem is not null then
    raise exception '%', v_problem using errcode = '22023';
  end if;
  v_items := coalesce(v_items, '{}');

  -- The owner of each Page (a handful per call at most), then on every event.
  for v_page in select distinct i.page_id from unnest(v_items) i order by 1 loop
    v_owners := v_owners || (
      select jsonb_build_object(v_page, jsonb_build_object('owner', o.owner, 'reason', o.reason))
        from leadflow_private.messenger_page_owner(v_page, p_owner, p_now) o
    );
  end loop;
  select coalesce(array_agg(row(i.idx, i.type, i.page_id, i.psid, i.mid, i.text, i.at, i.app_id, i.name, i.watermark,
                                (v_owners -> i.page_id ->> 'owner')::uuid, v_owners -> i.page_id ->> 'reason')::leadflow_private.messenger_event
                            order by i.idx), '{}')
    into v_items
    from unnest(v_items) i;

  -- Conversations seen for the first time (messages only: a receipt never creates one).
  with created as (
    insert into public.messenger_conversations (user_id, page_id, sender_id, sender_name)
    select distinct on (i.owner, i.page_id, i.psid) i.owner, i.page_id, i.psid, i.name
      from unnest(v_items) i
     where i.owner is not null and i.type in ('message', 'postback', 'echo')
     order by i.owner, i.page_id, i.psid, (i.name is null), i.idx desc
    on conflict (user_id, page_id, sender_id) do nothing
    returning id
  )
  select coalesce(array_agg(created.id), '{}') into v_new_conversations from created;

  -- Every conversation of the call, locked in id order; names learnt from a sync are kept.
  select coalesce(array_agg(k.id order by k.id), '{}') into v_conversations
    from (
      select c.id
        from public.messenger_conversations c
       where c.id in (
         select c2.id
           from unnest(v_items) i
           join public.messenger_conversations c2
             on c2.user_id = i.owner and c2.page_id = i.page_id and c2.sender_id = i.psid
       )
       order by c.id
         for no key update of c
    ) k;

  update public.messenger_conversations c
     set sender_name = n.name
    from (
      select distinct on (i.owner, i.page_id, i.psid) i.owner, i.page_id, i.psid, i.name
        from unnest(v_items) i
       where i.owner is not null and i.name is not null and btrim(i.name) <> ''
       order by i.owner, i.page_id, i.psid, i.idx desc
    ) n
   where c.user_id = n.owner and c.page_id = n.page_id and c.sender_id = n.psid
     and c.sender_name is distinct from n.name;

  select coalesce(array_agg(st.id), '{}') into v_stops_before
    from public.ai_automation_stops st where st.conversation_id = any (v_conversations);

  -- The messages, each once (the first event of a message id in the call; an id recorded before is
  -- a redelivery). The statement's trigger then moves each conversation's times once (and, through
  -- them, the window and stop on reply).
  with recorded as (
    insert into public.messenger_messages (user_id, conversation_id, direction, text, facebook_message_id, sent_at)
    select c.user_id, c.id, case when i.type = 'echo' then 'outbound' else 'inbound' end, i.text, i.mid, i.at
      from (
        select distinct on (i.mid) i.*
          from unnest(v_items) i
         where i.owner is not null and i.type in ('message', 'postback', 'echo')
         order by i.mid, i.idx
      ) i
      join public.messenger_conversations c
        on c.user_id = i.owner and c.page_id = i.page_id and c.sender_id = i.psid
     order by c.id, i.at, i.idx
    on conflict (facebook_message_id) do nothing
    returning facebook_message_id
  )
  select coalesce(array_agg(recorded.facebook_message_id), '{}') into v_recorded from recorded;

  -- Stops the messages added: stop on reply (its trigger, through last_customer_message_at).
  select coalesce(array_agg(distinct st.conversation_id), '{}') into v_replied
    from public.ai_automation_stops st
   where st.conversation_id = any (v_conversations) and st.id <> all (v_stops_before) and st.reason = 'replied';

  -- Human takeover: a new echo sent by another app than this one. Without p_app_id the app's own
  -- echoes cannot be told apart, so none is taken for a person's; a sync never knows the app.
  if p_source = 'webhook' and p_app_id is not null then
    with human as (
      select c.user_id, c.id as conversation_id, max(i.at) as last_at
        from unnest(v_items) i
        join public.messenger_conversations c
          on c.user_id = i.owner and c.page_id = i.page_id and c.sender_id = i.psid
       where i.type = 'echo' and i.mid = any (v_recorded) and i.app_id is distinct from p_app_id
       group by c.user_id, c.id
    ),
    stopped as (
      insert into public.ai_automation_stops as st (user_id, conversation_id, rule_id, reason, note, last_human_message_at)
      select h.user_id, h.conversation_id, null, 'human_takeover', 'a person wrote from the Page at ' || h.last_at, h.last_at
        from human h
       order by h.conversation_id
      on conflict (conversation_id, rule_id) do update
         set last_human_message_at = excluded.last_human_message_at, note = excluded.note
       where st.reason = 'human_takeover' and st.last_human_message_at is not null
         and st.last_human_message_at < excluded.last_human_message_at
      returning st.conversation_id
    )
    select coalesce(array_agg(stopped.conversation_id), '{}') into v_taken_over from stopped;
  else
    v_taken_over := '{}';
  end if;

  -- Receipts: the conversation's watermarks move forward, never back.
  with marks as (
    select i.owner, i.page_id, i.psid,
           max(i.watermark) filter (where i.type = 'delivery') as delivered,
           max(i.watermark) filter (where i.type = 'read') as read
      from unnest(v_items) i
     where i.owner is not null and i.type in ('delivery', 'read')
     group by 1, 2, 3
  ),
  moved as (
    update public.messenger_conversations c
       set delivered_until = greatest(c.delivered_until, m.delivered, m.read),
           read_until = greatest(c.read_until, m.read)
      from marks m
     where c.user_id = m.owner and c.page_id = m.page_id and c.sender_id = m.psid
    returning c.id
  )
  select coalesce(array_agg(moved.id), '{}') into v_receipts from moved;

  return query
    with placed as (
      select it.*, c.id as conversation_id,
             it.type in ('message', 'postback', 'echo') and it.mid = any (v_recorded)
               and it.idx = min(it.idx) over (partition by it.mid) as is_recorded
        from unnest(v_items) it
        left join public.messenger_conversations c
          on c.user_id = it.owner and c.page_id = it.page_id and c.sender_id = it.psid
    ),
    ranked as (
      select p.*,
             min(p.idx) over (partition by p.conversation_id) as first_of_conversation,
             -- The event a stop is reported on: the conversation's newest recorded inbound message
             -- (stop on reply) or newest recorded human echo (takeover).
             row_number() over (partition by p.conversation_id, p.is_recorded, p.type = 'echo' order by p.at desc, p.idx desc) as newest
        from placed p
    )
    select r.idx,
           r.type,
           case
             when r.owner is null then 'ignored'
             when r.type in ('delivery', 'read') then case when r.conversation_id = any (v_receipts) then 'updated' else 'ignored' end
             when r.is_recorded then 'recorded'
             else 'duplicate'
           end,
           case
             when r.owner is null then r.page_reason
             when r.type in ('delivery', 'read') and not coalesce(r.conversation_id = any (v_receipts), false) then 'unknown_conversation'
           end,
           r.page_id,
           r.psid,
           r.conversation_id,
           coalesce(r.conversation_id = any (v_new_conversations) and r.idx = r.first_of_conversation, false),
           r.mid,
           case when r.type = 'echo' then 'outbound' when r.type in ('message', 'postback') then 'inbound' end,
           r.text,
           r.at,
           coalesce(r.is_recorded and r.newest = 1
                    and ((r.type <> 'echo' and r.conversation_id = any (v_replied))
                         or (r.type = 'echo' and r.conversation_id = any (v_taken_over))), false),
           case
             when r.is_recorded and r.newest = 1 and r.type <> 'echo' and r.conversation_id = any (v_replied) then 'replied'
             when r.is_recorded and r.newest = 1 and r.type = 'echo' and r.conversation_id = any (v_taken_over) then 'human_takeover'
           end
      from ranked r
     order by r.idx;
end;
$$;
comment on function leadflow_private.messenger_record(jsonb, text, uuid, text, timestamptz) is
  'Records Messenger events (messages, postbacks, echoes, receipts) of connected Pages in one transaction: conversations, messages once each, stop on reply, human takeover, receipts; one row per event.';
revoke all on function leadflow_private.messenger_record(jsonb, text, uuid, text, timestamptz) from public, anon, authenticated;
grant execute on function leadflow_private.messenger_record(jsonb, text, uuid, text, timestamptz) to service_role;
