-- Messenger inbound: a person's echo takes the contact over even when a sync recorded its message
-- first. Re-created: leadflow_private.messenger_record (otherwise as in
-- 20261201000900_messenger_inbound_new_conversations_timed.sql).
--
-- Why: messenger_record inserts each message once (on conflict (facebook_message_id) do nothing)
-- and took a human takeover only from the echoes it inserted now. Messenger Sync
-- (messenger_sync_record_page, p_source 'sync') reads the Page's messages back without knowing which
-- app sent them, so it records them as outbound and never takes one for a takeover. When a person
-- typed in the Page inbox, a sync ran, and only then the webhook delivered the echo (with an app_id
-- that is not the credential's App ID), the echo was a `duplicate` and nothing was stopped: the bot
-- kept following up a contact a person was talking to. The echo's app_id is what tells a person from
-- the app, whether or not its message is recorded already.
--
-- Now a webhook echo from another app than p_app_id (or without one) takes its contact over when its
-- message is in the contact's conversation as an outbound message, recorded by this call or before
-- (by a sync, the owner's app). Set-based as before: one statement finds the echoes from a person,
-- each matched to its message by facebook_message_id (unique) and conversation, one writes the
-- stops. Unchanged:
--   - only p_source 'webhook', only with p_app_id (without it the app's own echoes could not be told
--     apart); the app's own echo (app_id = p_app_id), also of a follow-up automation_record_send
--     recorded first, is a `duplicate` and never a takeover;
--   - a message id found in another conversation, or recorded there as inbound, is not the echo's
--     message: no takeover (the event is a `duplicate` as before);
--   - the stop's last_human_message_at only moves forward (on conflict ... where <), and a stop
--     without it (a person's Take Lead) is left as it is.
-- The answer: an echo whose message was recorded before stays `duplicate` (the message was), with
-- stopped_automations true and stop_reason human_takeover when it took the contact over now (a new
-- stop, or one it moved forward). A plain redelivery of an echo already taken over moves nothing, so
-- it answers a `duplicate` that stopped nothing, as before (but when someone lifted the takeover by
-- deleting its stop, a redelivery of its echo stops the contact again: nothing recorded tells the
-- webhook's first delivery of an echo from a later one). The Messenger Trigger emits a `duplicate`
-- that stopped the follow-ups without Include Duplicates. The takeover is now reported on the
-- conversation's newest echo from a person of the call (it used to be its newest echo recorded now,
-- which could be the app's own one).

-- =============================================================================================
-- leadflow_private.messenger_record: a takeover from an echo recorded now or before
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
  v_mids_ok boolean;
  v_names_ok boolean;
  v_id_prefix text;
  v_items leadflow_private.messenger_event[];
  v_page text;
  v_owners jsonb := '{}'::jsonb;
  v_conversations uuid[];
  v_new_conversations uuid[];
  v_stops_before uuid[];
  -- The ids of the messages recorded, as the keys of a JSON object: a key is found by a binary
  -- search, where = any (array) compares it with every element.
  v_recorded jsonb;
  v_replied uuid[];
  v_taken_over uuid[];
  -- The echoes taken for a person's, by item index (the keys of a JSON object, as v_recorded).
  v_human jsonb;
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

  -- The characters of every message id and every name, each kind checked at once in one string:
  -- a character a text may not hold is in the string exactly when it is in one of the texts. When
  -- all are fine (nearly always) no event's own text is checked again below; otherwise each is, to
  -- name the first. A page of 1,000 events so runs two regular expressions instead of 2,000.
  select leadflow_private.is_valid_text(coalesce(string_agg(e.item ->> 'mid', ''), ''), 'token'),
         leadflow_private.is_valid_text(coalesce(string_agg(e.item ->> 'name', ''), ''), 'line')
    into v_mids_ok, v_names_ok
    from jsonb_array_elements(p_events) e (item)
   where jsonb_typeof(e.item) = 'object';

  -- One pass: every event checked (the first problem names the event and field) and typed. Ids of
  -- digits are checked without a regular expression (ltrim leaves nothing of a string of digits).
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
               when f.page_kind is distinct from 'string' or (length(f.page_id) not between 1 and 32 or ltrim(f.page_id, '0123456789') <> '') then
                 '.page_id: must be the Page''s numeric id as a string'
               when f.psid_kind is distinct from 'string' or (length(f.psid) not between 1 and 32 or ltrim(f.psid, '0123456789') <> '') then
                 '.psid: must be the person''s page-scoped id (digits) as a string'
               when f.type in ('message', 'postback', 'echo')
                    and (f.mid_kind is distinct from 'string' or length(f.mid) not between 1 and 512
                         or (not v_mids_ok and not leadflow_private.is_valid_text(f.mid, 'token'))) then
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
               when f.app_kind is not null and f.app_kind <> 'null' and (f.app_kind <> 'string' or (length(f.app_id) not between 1 and 32 or ltrim(f.app_id, '0123456789') <> '')) then
                 '.app_id: must be the sending app''s numeric id as a string'
               when f.name_kind is not null and f.name_kind <> 'null'
                    and (f.name_kind <> 'string' or length(f.name) > 200 or (not v_names_ok and not leadflow_private.is_valid_text(f.name, 'line'))) then
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
  -- A new conversation starts with the times of its messages in the call (the newest, the newest
  -- inbound one), so the messages' trigger finds nothing to move on it.
  with created as (
    insert into public.messenger_conversations (user_id, page_id, sender_id, sender_name, last_message_at, last_customer_message_at)
    select i.owner, i.page_id, i.psid, (array_agg(i.name order by (i.name is null), i.idx desc))[1],
           max(i.at), max(i.at) filter (where i.type <> 'echo')
      from unnest(v_items) i
     where i.owner is not null and i.type in ('message', 'postback', 'echo')
     group by i.owner, i.page_id, i.psid
     order by i.owner, i.page_id, i.psid
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

  -- The messages' ids: one random draw for the call, then a number each (pipeline_new_id), so a
  -- call's messages sit side by side in the primary key's index instead of at 1,000 random places.
  v_id_prefix := left(gen_random_uuid()::text, 24);

  -- The messages, each once (the first event of a message id in the call; an id recorded before is
  -- a redelivery). The statement's trigger then moves each conversation's times once (and, through
  -- them, the window and stop on reply).
  with recorded as (
    insert into public.messenger_messages (id, user_id, conversation_id, direction, text, facebook_message_id, sent_at)
    select leadflow_private.pipeline_new_id(v_id_prefix, row_number() over (order by c.id, i.at, i.idx)),
           c.user_id, c.id, case when i.type = 'echo' then 'outbound' else 'inbound' end, i.text, i.mid, i.at
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
  select coalesce(jsonb_object_agg(recorded.facebook_message_id, true), '{}') into v_recorded from recorded;

  -- Stops the messages added: stop on reply (its trigger, through last_customer_message_at).
  select coalesce(array_agg(distinct st.conversation_id), '{}') into v_replied
    from public.ai_automation_stops st
   where st.conversation_id = any (v_conversations) and st.id <> all (v_stops_before) and st.reason = 'replied';

  -- Human takeover: an echo sent by another app than this one (or without an app id), whether its
  -- message was recorded now or before (a sync reads the Page's messages without their app, so it
  -- recorded a person's as outbound and took nothing from it). The message an echo is of is the one
  -- with its id in the echo's conversation, outbound: an id found anywhere else is not it. The first
  -- event of a message id is the message's (as in the insert above). Without p_app_id the app's own
  -- echoes cannot be told apart, so none is taken for a person's; a sync never knows the app.
  if p_source = 'webhook' and p_app_id is not null then
    select coalesce(jsonb_object_agg(h.idx::text, true), '{}') into v_human
      from (
        select distinct on (i.mid) i.*
          from unnest(v_items) i
         where i.owner is not null and i.type in ('message', 'postback', 'echo')
         order by i.mid, i.idx
      ) h
      join public.messenger_conversations c
        on c.user_id = h.owner and c.page_id = h.page_id and c.sender_id = h.psid
      join public.messenger_messages m
        on m.facebook_message_id = h.mid and m.conversation_id = c.id and m.direction = 'outbound'
     where h.type = 'echo' and h.app_id is distinct from p_app_id;

    with human as (
      select c.user_id, c.id as conversation_id, max(i.at) as last_at
        from unnest(v_items) i
        join public.messenger_conversations c
          on c.user_id = i.owner and c.page_id = i.page_id and c.sender_id = i.psid
       where v_human ? i.idx::text
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
    v_human := '{}';
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
             it.type in ('message', 'postback', 'echo') and v_recorded ? it.mid
               and it.idx = min(it.idx) over (partition by it.mid) as is_recorded,
             v_human ? it.idx::text as is_human
        from unnest(v_items) it
        left join public.messenger_conversations c
          on c.user_id = it.owner and c.page_id = it.page_id and c.sender_id = it.psid
    ),
    ranked as (
      select p.*,
             min(p.idx) over (partition by p.conversation_id) as first_of_conversation,
             -- The event a stop is reported on: the conversation's newest recorded inbound message
             -- (stop on reply) or newest echo from a person, recorded now or before (takeover).
             row_number() over (partition by p.conversation_id, p.is_recorded, p.type = 'echo' order by p.at desc, p.idx desc) as newest,
             row_number() over (partition by p.conversation_id, p.is_human order by p.at desc, p.idx desc) as newest_human
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
           coalesce((r.is_recorded and r.newest = 1 and r.type <> 'echo' and r.conversation_id = any (v_replied))
                    or (r.is_human and r.newest_human = 1 and r.conversation_id = any (v_taken_over)), false),
           case
             when r.is_recorded and r.newest = 1 and r.type <> 'echo' and r.conversation_id = any (v_replied) then 'replied'
             when r.is_human and r.newest_human = 1 and r.conversation_id = any (v_taken_over) then 'human_takeover'
           end
      from ranked r
     order by r.idx;
end;
$$;
comment on function leadflow_private.messenger_record(jsonb, text, uuid, text, timestamptz) is
  'Records Messenger events (messages, postbacks, echoes, receipts) of connected Pages in one transaction: conversations, messages once each, stop on reply, human takeover, receipts; one row per event.';
revoke all on function leadflow_private.messenger_record(jsonb, text, uuid, text, timestamptz) from public, anon, authenticated;
grant execute on function leadflow_private.messenger_record(jsonb, text, uuid, text, timestamptz) to service_role;
