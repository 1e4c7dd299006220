-- Messenger inbound: new_conversation is reported on the conversation's first message, postback or
-- echo of the call, never on a receipt.
-- Re-created: leadflow_private.messenger_record (otherwise as in
-- 20261201001610_messenger_message_id_per_owner.sql; same signature and result, so its grants stay,
-- given again below with its comment).
--
-- Why: each event's row says new_conversation for the first event of the call in a conversation
-- this call created, and that first event was the lowest item index over every event of the
-- conversation, receipts included. A receipt never creates a conversation, but one that comes in
-- the same delivery as a person's first message, before it (Meta batches events: the person read
-- a message the Page sent before their conversation was recorded, then wrote), is joined to the
-- conversation the message created: the receipt's row said new_conversation true, the message's
-- false. The Messenger Trigger emits messages and not receipts by default, so the workflow saw no
-- event of that new conversation marked new.
--
-- Now the first event is taken over messages, postbacks and echoes only (the events that create a
-- conversation): a receipt's row says new_conversation false, the message's true. Nothing else
-- changes: one filter more on a window aggregate over the call's own events (the timing side by
-- side with the old definition is in the commit).

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
  -- The messages recorded, each as '<owner>/<message id>' (a message id is unique per owner), the
  -- keys of a JSON object: a key is found by a binary search, where = any (array) compares it with
  -- every element.
  v_recorded jsonb;
  v_replied uuid[];
  v_taken_over uuid[];
  -- The echoes taken for a person's, by item index (the keys of a JSON object, as v_recorded).
  v_human jsonb;
  v_receipts uuid[];
  -- The contacts the app's own echoes settled that reached their rule's maximum.
  v_echo_completed uuid[];
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

  -- The app's own echo of a follow-up whose outcome is unknown (this migration's header): the echo
  -- of a message the app sent (app_id = p_app_id), its text exactly the message of a send under way
  -- or made send_uncertain, its time not before that send began. First the contacts it may be of,
  -- locked in id order before anything else of the call (record_send's order: the contact, its
  -- guard row, then the message and its conversation); then, on their latest versions (a new
  -- statement), each matched and settled or noted. Without p_app_id the app's own echoes cannot be
  -- told apart: nothing is settled; a sync never knows the app.
  if p_source = 'webhook' and p_app_id is not null
     and exists (select from unnest(v_items) i where i.type = 'echo' and i.app_id = p_app_id and i.owner is not null) then
    perform from public.ai_automation_contact_states s
     where s.id in (
       select s2.id
         from (
           select distinct on (i.owner, i.mid) i.*
             from unnest(v_items) i
            where i.owner is not null and i.type in ('message', 'postback', 'echo')
            order by i.owner, i.mid, i.idx
         ) h
         join public.messenger_conversations c
           on c.user_id = h.owner and c.page_id = h.page_id and c.sender_id = h.psid
         join public.ai_automation_contact_states s2 on s2.conversation_id = c.id
        where h.type = 'echo' and h.app_id = p_app_id and h.text is not null
          and (s2.current_stage = 'sending' or (s2.current_stage = 'failed' and s2.error_code = 'send_uncertain'))
     )
     order by s.id
       for update;

    with echoes as (
      -- Each message id once per owner: the first event of it is the message's (as the insert below).
      select distinct on (i.owner, i.mid) i.*
        from unnest(v_items) i
       where i.owner is not null and i.type in ('message', 'postback', 'echo')
       order by i.owner, i.mid, i.idx
    ),
    candidates as (
      select h.owner, h.mid, h.at, s.id as state_id, s.current_stage, s.attempt_id
        from echoes h
        join public.messenger_conversations c
          on c.user_id = h.owner and c.page_id = h.page_id and c.sender_id = h.psid
        join public.ai_automation_contact_states s on s.conversation_id = c.id
        join public.ai_automation_executions e on e.id = s.attempt_id and e.conversation_id = c.id
       where h.type = 'echo' and h.app_id = p_app_id
         and e.message = h.text and e.attempted_at <= h.at
         and ((s.current_stage = 'failed' and s.error_code = 'send_uncertain' and e.status = 'uncertain')
              or (s.current_stage = 'sending' and e.status = 'sending'
                  and s.stage_detail ->> 'attempt_id' = e.id::text and not (s.stage_detail ? 'echo_message_id')))
         -- Its message is this conversation's outbound one when recorded already (by a sync), and
         -- not another send's. Only the owner's messages count (and the lookup uses their key).
         and not exists (select from public.messenger_messages m
                          where m.user_id = c.user_id and m.facebook_message_id = h.mid
                            and (m.conversation_id <> c.id or m.direction <> 'outbound'))
         and not exists (select from public.ai_automation_executions x
                          where x.conversation_id = c.id and x.facebook_message_id = h.mid)
    ),
    -- One echo for one send: an echo that could be of two sends (two rules' follow-ups with the
    -- same text), or a send two echoes could be of, settles nothing.
    matched as materialized (
      select k.*
        from (select k.*, count(*) over (partition by k.owner, k.mid) as per_echo, count(*) over (partition by k.state_id) as per_state
                from candidates k) k
       where k.per_echo = 1 and k.per_state = 1
    ),
    guards as (
      update public.ai_automation_executions e
         set status = 'sent', facebook_message_id = m.mid, finished_at = p_now, error_code = null, error_message = null
        from matched m
       where e.id = m.attempt_id and m.current_stage = 'failed' and e.status = 'uncertain'
    ),
    settled as (
      update public.ai_automation_contact_states s
         set current_stage = case when m.current_stage = 'failed' then 'sent' else s.current_stage end,
             stage_entered_at = case when m.current_stage = 'failed' then p_now else s.stage_entered_at end,
             stage_detail = case when m.current_stage = 'failed'
               then jsonb_build_object('reason', 'echo_confirmed', 'facebook_message_id', m.mid, 'echoed_at', m.at)
               else s.stage_detail || jsonb_build_object('echo_message_id', m.mid, 'echoed_at', m.at) end,
             follow_up_count = s.follow_up_count + case when m.current_stage = 'failed' then 1 else 0 end,
             last_follow_up_at = case when m.current_stage = 'failed'
               then least((select e.attempted_at from public.ai_automation_executions e where e.id = m.attempt_id), p_now)
               else s.last_follow_up_at end,
             facebook_message_id = case when m.current_stage = 'failed' then m.mid else s.facebook_message_id end,
             error_code = case when m.current_stage = 'failed' then null else s.error_code end,
             error_message = case when m.current_stage = 'failed' then null else s.error_message end,
             retry_at = case when m.current_stage = 'failed' then null else s.retry_at end,
             updated_at = now()
        from matched m, public.ai_automation_rules r
       where s.id = m.state_id and r.id = s.rule_id
      returning s.id, s.current_stage = 'sent' and s.follow_up_count >= r.max_follow_ups as completes
    )
    select coalesce(array_agg(settled.id) filter (where settled.completes), '{}') into v_echo_completed from settled;

    -- The rule's maximum reached: sent → completed (a second transition, as in record_send).
    update public.ai_automation_contact_states s
       set current_stage = 'completed',
           stage_detail = jsonb_build_object('reason', 'max_follow_ups', 'follow_up_count', s.follow_up_count)
     where s.id = any (v_echo_completed);
  end if;

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

  -- The messages, each once per owner (the first event of a message id of the owner in the call; an
  -- id the owner has recorded before is a redelivery; another owner's row with the id is not). The
  -- statement's trigger then moves each conversation's times once (and, through them, the window
  -- and stop on reply).
  with recorded as (
    insert into public.messenger_messages (id, user_id, conversation_id, direction, text, facebook_message_id, sent_at)
    select leadflow_private.pipeline_new_id(v_id_prefix, row_number() over (order by c.id, i.at, i.idx)),
           c.user_id, c.id, case when i.type = 'echo' then 'outbound' else 'inbound' end, i.text, i.mid, i.at
      from (
        select distinct on (i.owner, i.mid) i.*
          from unnest(v_items) i
         where i.owner is not null and i.type in ('message', 'postback', 'echo')
         order by i.owner, i.mid, i.idx
      ) i
      join public.messenger_conversations c
        on c.user_id = i.owner and c.page_id = i.page_id and c.sender_id = i.psid
     order by c.id, i.at, i.idx
    on conflict (user_id, facebook_message_id) do nothing
    returning user_id, facebook_message_id
  )
  select coalesce(jsonb_object_agg(recorded.user_id::text || '/' || recorded.facebook_message_id, true), '{}') into v_recorded from recorded;

  -- Stops the messages added: stop on reply (its trigger, through last_customer_message_at).
  select coalesce(array_agg(distinct st.conversation_id), '{}') into v_replied
    from public.ai_automation_stops st
   where st.conversation_id = any (v_conversations) and st.id <> all (v_stops_before) and st.reason = 'replied';

  -- Human takeover: an echo sent by another app than this one (or without an app id), whether its
  -- message was recorded now or before (a sync reads the Page's messages without their app, so it
  -- recorded a person's as outbound and took nothing from it). The message an echo is of is the one
  -- with its id in the echo's conversation, outbound: an id found anywhere else is not it. The first
  -- event of a message id (per owner) is the message's (as in the insert above). Without p_app_id
  -- the app's own echoes cannot be told apart, so none is taken for a person's; a sync never knows
  -- the app.
  if p_source = 'webhook' and p_app_id is not null then
    select coalesce(jsonb_object_agg(h.idx::text, true), '{}') into v_human
      from (
        select distinct on (i.owner, i.mid) i.*
          from unnest(v_items) i
         where i.owner is not null and i.type in ('message', 'postback', 'echo')
         order by i.owner, i.mid, i.idx
      ) h
      join public.messenger_conversations c
        on c.user_id = h.owner and c.page_id = h.page_id and c.sender_id = h.psid
      join public.messenger_messages m
        on m.user_id = c.user_id and m.facebook_message_id = h.mid and m.conversation_id = c.id and m.direction = 'outbound'
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
             it.type in ('message', 'postback', 'echo') and it.owner is not null and v_recorded ? (it.owner::text || '/' || it.mid)
               and it.idx = min(it.idx) over (partition by it.owner, it.mid) as is_recorded,
             v_human ? it.idx::text as is_human
        from unnest(v_items) it
        left join public.messenger_conversations c
          on c.user_id = it.owner and c.page_id = it.page_id and c.sender_id = it.psid
    ),
    ranked as (
      select p.*,
             -- The first message, postback or echo of the conversation in the call (a receipt
             -- never creates one, so it is never its first event).
             min(p.idx) filter (where p.type in ('message', 'postback', 'echo')) over (partition by p.conversation_id) as first_of_conversation,
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
