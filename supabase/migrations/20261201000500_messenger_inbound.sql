-- Messenger inbound: what people write to a Page (and what the Page writes back) recorded from
-- Meta's webhook in one call per delivery, with the protections the follow-ups rely on.
-- Table: messenger_pages (which owner a Facebook Page belongs to).
-- Columns: messenger_conversations.delivered_until / read_until (receipts),
--          ai_automation_rules.resume_after_takeover_hours, ai_automation_stops.last_human_message_at.
-- Function: messenger_record_events(p_events, p_app_id, p_owner, p_now).
-- Internals (leadflow_private): messenger_page_owner, messenger_event_items, messenger_record,
-- automation_stop_of; automation_judge_contact and automation_begin_send are redefined to read stops
-- through automation_stop_of (a human takeover may end by itself, see below).
--
-- What one call does, in one transaction:
--   - finds the owner of each event's Page (messenger_pages: one owner per Page, by its primary key);
--   - creates the conversation of a person seen for the first time (page, PSID, name when known);
--   - inserts each message once: facebook_message_id is unique, so a redelivered event (Meta
--     delivers at least once) or one seen again by a sync is reported `duplicate` and changes
--     nothing;
--   - a person's message (inbound) moves last_customer_message_at through crm_core's trigger, which
--     opens the 24 h window and, through 20261122000200's stop-on-reply trigger, stops the contact
--     for every rule with stop_on_reply whose follow-up it answers (or whose follow-up is claimed);
--   - an echo (a message the Page sent) is recorded as outbound. When it was sent by another app
--     than this one (its app_id differs from p_app_id: a person typing in the Page inbox, or another
--     tool) it is a human takeover: the contact's follow-ups stop for every rule, reason
--     human_takeover. The app's own echoes are recorded, nothing else;
--   - delivery and read receipts move the conversation's delivered_until / read_until watermarks,
--     or are ignored (`unknown_conversation`) when the conversation is not known: never an error.
--
-- Owners and Pages. messenger_conversations and pipeline_page_settings are per owner and Page, so
-- nothing there says which owner an incoming event belongs to, and two owners could hold rows for
-- the same Page. messenger_pages says it, once per Page (primary key page_id): a Page is connected to
-- one owner, so there is never a choice to make. A Page is connected by n8n (service_role): an
-- insert, or the first call that names the owner (p_owner) for a Page not yet connected. Events of a
-- Page that is not connected are ignored (`page_not_connected`), and when p_owner names another
-- owner than the Page's, ignored too (`page_of_another_owner`): never guessed from existing rows,
-- which a signed-in user may write for any Page id.
--
-- Human takeover and "resume after". GoHighLevel's bot sleeps when a person answers and can be
-- reactivated after some hours; ManyChat pauses automations for a while. Here a human echo writes
-- one stop for every rule (rule_id null, reason human_takeover) with last_human_message_at, the time
-- the person wrote; a later one moves it forward. A rule with resume_after_takeover_hours set (off by
-- default) no longer counts that stop from last_human_message_at + those hours: the contact is due
-- again under that rule, and the monitor's due_at says when (automation_explain, the snapshot and
-- automation_eligible_contacts show the stop with due_at = the resume time). Stops written any
-- other way (a reply, a person's Take Lead, a manual stop) have no last_human_message_at and last
-- until deleted.

-- =============================================================================================
-- Receipts on the conversation
-- =============================================================================================
alter table public.messenger_conversations
  add column if not exists delivered_until timestamptz,
  add column if not exists read_until timestamptz;
comment on column public.messenger_conversations.delivered_until is
  'Messenger''s delivery watermark: every message the Page sent up to this instant reached the person.';
comment on column public.messenger_conversations.read_until is
  'Messenger''s read watermark: the person has read every message the Page sent up to this instant.';

-- =============================================================================================
-- messenger_pages: which owner a Facebook Page belongs to
-- =============================================================================================
create table if not exists public.messenger_pages (
  page_id text primary key check (page_id ~ '^[0-9]{1,32}$'),
  user_id uuid not null references auth.users (id) on delete cascade,
  name text check (name is null or (length(name) <= 200 and leadflow_private.is_valid_text(name, 'line'))),
  connected_at timestamptz not null default now(),
  unique (page_id, user_id)
);
comment on table public.messenger_pages is
  'A Facebook Page connected to Leadflow and the one owner its Messenger events belong to (one row per Page). Written by n8n (service_role) only.';

create index if not exists messenger_pages_owner_idx on public.messenger_pages (user_id);

revoke all on public.messenger_pages from anon, authenticated, service_role;
grant select on public.messenger_pages to authenticated;
grant select, insert, update, delete on public.messenger_pages to service_role;
alter table public.messenger_pages enable row level security;
drop policy if exists "Owners can read their connected Pages" on public.messenger_pages;
create policy "Owners can read their connected Pages" on public.messenger_pages
  for select to authenticated using ((select auth.uid()) = user_id);

-- =============================================================================================
-- Human takeover that ends by itself
-- =============================================================================================
alter table public.ai_automation_rules
  add column if not exists resume_after_takeover_hours numeric(8, 2)
    check (resume_after_takeover_hours is null or resume_after_takeover_hours between 0.25 and 8760);
comment on column public.ai_automation_rules.resume_after_takeover_hours is
  'Hours after a person last wrote from the Page inbox (a human takeover seen in the echoes) after which this rule follows the contact up again; null (the default): never by itself.';

alter table public.ai_automation_stops
  add column if not exists last_human_message_at timestamptz;
alter table public.ai_automation_stops
  drop constraint if exists ai_automation_stops_human_message_check,
  add constraint ai_automation_stops_human_message_check
    check (last_human_message_at is null or reason = 'human_takeover');
comment on column public.ai_automation_stops.last_human_message_at is
  'A human takeover seen in the Page''s echoes: when the person last wrote from the Page. Rules with resume_after_takeover_hours count the stop until that long after it; null: the stop lasts until deleted.';

-- The stop that holds a contact under a rule at p_now: the first reason (a stop for every rule
-- before a stop for the rule), and until when (null: until the stop rows are deleted; a time: when
-- the last of them ends by itself). No row-level effect: one aggregate row, a null reason when
-- nothing stops the contact. No SET clause, so the planner inlines it where it is used.
create or replace function leadflow_private.automation_stop_of(
  p_conversation_id uuid, p_rule_id uuid, p_resume_after_takeover_hours numeric, p_now timestamptz
)
returns table (stop_reason text, stop_until timestamptz)
language sql
stable
as $$
  select (array_agg(st.reason order by st.rule_id nulls first, st.reason))[1],
         case when count(*) > 0 and bool_and(l.ends_at is not null) then max(l.ends_at) end
    from public.ai_automation_stops st
   cross join lateral (
     select case
       when st.reason = 'human_takeover' and st.last_human_message_at is not null and p_resume_after_takeover_hours is not null
         then st.last_human_message_at + p_resume_after_takeover_hours * interval '1 hour'
     end as ends_at
   ) l
   where st.conversation_id = p_conversation_id
     and (st.rule_id = p_rule_id or st.rule_id is null)
     and (l.ends_at is null or l.ends_at > p_now)
$$;
comment on function leadflow_private.automation_stop_of(uuid, uuid, numeric, timestamptz) is
  'What stops a contact under a rule at p_now (null: nothing), and until when (null: until deleted): a human takeover ends resume_after_takeover_hours after the person last wrote from the Page.';
revoke all on function leadflow_private.automation_stop_of(uuid, uuid, numeric, timestamptz) from public, anon;
grant execute on function leadflow_private.automation_stop_of(uuid, uuid, numeric, timestamptz) to authenticated, service_role;

-- =============================================================================================
-- automation_judge_contact, as in 20261122000210, with stops read through automation_stop_of:
-- a takeover a rule resumes after no longer stops the contact, and a stopped contact's due_at is
-- when its stop ends by itself (null: never by itself).
-- =============================================================================================
create or replace function leadflow_private.automation_judge_contact(
  p_rule_id uuid, p_conversation_id uuid, p_now timestamptz, p_used_today integer
)
returns table (
  rule_id uuid,
  user_id uuid,
  conversation_id uuid,
  page_id text,
  sender_id text,
  sender_name text,
  last_customer_message_at timestamptz,
  window_closes_at timestamptz,
  state_id uuid,
  current_stage text,
  stage_entered_at timestamptz,
  follow_up_count integer,
  last_follow_up_at timestamptz,
  locked_by text,
  locked_until timestamptz,
  error_code text,
  skip_reason text,
  stop_reason text,
  reason text,
  due boolean,
  due_at timestamptz,
  contact_status text,
  is_being_processed boolean,
  matching_tags text[],
  executions_last_7_days integer,
  last_execution_at timestamptz
)
language sql
stable
as $$
  select
    r.id,
    r.user_id,
    c.id,
    c.page_id,
    c.sender_id,
    c.sender_name,
    c.last_customer_message_at,
    c.last_customer_message_at + interval '24 hours',
    s.id,
    s.current_stage,
    s.stage_entered_at,
    coalesce(s.follow_up_count, 0),
    s.last_follow_up_at,
    s.locked_by,
    s.locked_until,
    s.error_code,
    s.skip_reason,
    f.stop_reason,
    x.reason,
    x.reason is null,
    case
      when x.reason is null then p_now
      when x.reason = 'stopped' then f.stop_until
      when x.reason = 'failed' then s.retry_at
      when x.reason = 'interval_not_elapsed' then s.last_follow_up_at + r.min_hours_between_follow_ups * interval '1 hour'
      when x.reason = 'outside_active_hours' then
        leadflow_private.automation_next_active_start(r.active_hours_start, r.active_hours_end, r.active_days, r.time_zone, p_now)
      when x.reason = 'daily_limit_reached' then leadflow_private.automation_local_day_start(r.time_zone, p_now + interval '1 day')
    end,
    case
      when x.reason is null then 'eligible'
      when x.reason = 'in_progress' then 'processing'
      when x.reason = 'stopped' then 'stopped'
      when x.reason = 'interval_not_elapsed' then 'recently_sent'
      else 'skipped'
    end,
    x.reason is not distinct from 'in_progress',
    array(
      select t.name from public.conversation_tags ct join public.tags t on t.id = ct.tag_id
       where ct.conversation_id = c.id and ct.tag_id = any (r.include_tag_ids)
       order by t.name
    ),
    (select count(*)::integer from public.ai_automation_executions e
      where e.conversation_id = c.id and e.rule_id = r.id and e.status = 'sent'
        and e.attempted_at > p_now - interval '7 days'),
    (select max(e.attempted_at) from public.ai_automation_executions e
      where e.conversation_id = c.id and e.rule_id = r.id)
  from public.ai_automation_rules r
  join public.messenger_conversations c
    on c.id = p_conversation_id and c.user_id = r.user_id and (r.page_id is null or c.page_id = r.page_id)
  left join public.ai_automation_contact_states s
    on s.rule_id = r.id and s.conversation_id = c.id
  cross join lateral (
    select
      exists (
        select from public.conversation_tags ct
         where ct.conversation_id = c.id and ct.tag_id = any (r.exclude_tag_ids)
      ) as excluded,
      so.stop_reason,
      so.stop_until
    from leadflow_private.automation_stop_of(c.id, r.id, r.resume_after_takeover_hours, p_now) so
  ) f
  cross join lateral (
    select case
      when s.current_stage = 'sending'
        or (s.current_stage in ('checking', 'eligible', 'generating', 'ready_to_send') and s.locked_until > p_now) then 'in_progress'
      when not r.enabled then 'rule_disabled'
      when f.excluded then 'excluded_tag'
      when not c.is_active then 'inactive'
      when f.stop_reason is not null then 'stopped'
      when s.current_stage = 'failed' and (s.retry_at is null or s.retry_at > p_now) then 'failed'
      when coalesce(s.follow_up_count, 0) >= r.max_follow_ups then 'max_follow_ups'
      when s.last_follow_up_at + r.min_hours_between_follow_ups * interval '1 hour' > p_now then 'interval_not_elapsed'
      when c.last_customer_message_at is null or c.last_customer_message_at <= p_now - interval '24 hours' then 'outside_window'
      when not leadflow_private.automation_in_active_hours(r.active_hours_start, r.active_hours_end, r.active_days, r.time_zone, p_now)
        then 'outside_active_hours'
      when p_used_today >= r.daily_limit then 'daily_limit_reached'
    end as reason
  ) x
  where r.id = p_rule_id
    and exists (
      select from public.conversation_tags ct
       where ct.conversation_id = c.id and ct.tag_id = any (r.include_tag_ids)
    )
    and (
      r.tag_match = 'any'
      or not exists (
        select from unnest(r.include_tag_ids) wanted (tag_id)
         where not exists (
           select from public.conversation_tags ct
            where ct.conversation_id = c.id and ct.tag_id = wanted.tag_id
         )
      )
    )
  limit 1
$$;
comment on function leadflow_private.automation_judge_contact(uuid, uuid, timestamptz, integer) is
  'The one judgement of "due" for one contact under one rule (no row when the contact does not carry the rule''s tags): the first reason it is not due (null: due) and when it will be (a stopped contact: when its stop ends by itself, null if never).';

-- =============================================================================================
-- automation_begin_send, as in 20261122000220, with stops read through automation_stop_of (a
-- takeover the rule resumes after does not stop the send).
-- =============================================================================================
create or replace function public.automation_begin_send(
  p_execution_id text,
  p_state_ids uuid[],
  p_lease_seconds integer default 120,
  p_now timestamptz default leadflow_private.now()
)
returns table (
  state_id uuid,
  outcome text,
  reason text,
  attempt_id uuid,
  follow_up_number integer,
  page_id text,
  recipient_id text,
  message text,
  window_closes_at timestamptz
)
language sql
volatile
set search_path = ''
as $$
  with locked as materialized (
    select s.id, s.user_id, s.rule_id, s.conversation_id, s.current_stage, s.locked_by, s.claimed_at,
           s.claimed_follow_up_number, s.last_follow_up_at, s.generated_message
      from public.ai_automation_contact_states s
     where s.id = any (p_state_ids)
     order by s.id
       for update
  ),
  judged as materialized (
    select l.*, c.page_id, c.sender_id, c.is_active, c.last_customer_message_at,
           g.id as guard_id, g.status as guard_status,
           st.stop_reason as stop_row_reason,
           -- A customer message since the last follow-up (or since the claim) stops the contact.
           st.stop_reason is null and r.stop_on_reply
             and c.last_customer_message_at > greatest(l.last_follow_up_at, l.claimed_at) as replied
      from locked l
      join public.messenger_conversations c on c.id = l.conversation_id
      join public.ai_automation_rules r on r.id = l.rule_id
      left join lateral (
        select e.id, e.status from public.ai_automation_executions e
         where e.rule_id = l.rule_id and e.conversation_id = l.conversation_id
           and e.follow_up_number = l.claimed_follow_up_number and e.status <> 'released'
         limit 1
      ) g on true
      cross join lateral leadflow_private.automation_stop_of(l.conversation_id, l.rule_id, r.resume_after_takeover_hours, p_now) st
  ),
  decided as materialized (
    select j.*,
           coalesce(j.stop_row_reason, case when j.replied then 'replied' end) as stop_reason,
           case
             when j.guard_id is not null then 'duplicate'
             when j.current_stage <> 'ready_to_send' or j.locked_by is distinct from p_execution_id then 'lease_lost'
             when k.skip_reason is not null then 'skipped'
             else 'send'
           end as outcome,
           k.skip_reason,
           -- The guard row's id, chosen here so the transition below can name it without a join.
           gen_random_uuid() as new_attempt_id
      from judged j
     cross join lateral (
       select case
         when j.stop_row_reason is not null or j.replied then 'stopped'
         when not j.is_active then 'inactive'
         when j.last_customer_message_at is null or j.last_customer_message_at <= p_now - interval '24 hours' then 'outside_window'
       end as skip_reason
     ) k
  ),
  replied_stops as (
    insert into public.ai_automation_stops (user_id, conversation_id, rule_id, reason, note, execution_id)
    select d.user_id, d.conversation_id, d.rule_id, 'replied', 'customer message at ' || d.last_customer_message_at, p_execution_id
      from decided d
     where d.outcome = 'skipped' and d.replied
    on conflict (conversation_id, rule_id) do nothing
  ),
  guards as (
    insert into public.ai_automation_executions
      (id, user_id, rule_id, conversation_id, state_id, follow_up_number, execution_id, status, message, attempted_at)
    select d.new_attempt_id, d.user_id, d.rule_id, d.conversation_id, d.id, d.claimed_follow_up_number, p_execution_id,
           'sending', d.generated_message, p_now
      from decided d
     where d.outcome = 'send'
    on conflict (rule_id, conversation_id, follow_up_number) where status <> 'released' do nothing
    returning state_id
  ),
  moved as (
    update public.ai_automation_contact_states s
       set current_stage = case when d.outcome = 'send' then 'sending' else 'skipped' end,
           stage_entered_at = p_now,
           stage_detail = case when d.outcome = 'send'
             then jsonb_build_object('attempt_id', d.new_attempt_id, 'follow_up_number', d.claimed_follow_up_number)
             else jsonb_build_object('reason', d.skip_reason, 'stop_reason', d.stop_reason) end,
           execution_id = p_execution_id,
           attempt_id = case when d.outcome = 'send' then d.new_attempt_id else s.attempt_id end,
           skip_reason = case when d.outcome = 'send' then s.skip_reason else d.skip_reason end,
           error_message = case when d.outcome = 'send' then s.error_message
                                when d.stop_reason is not null then 'stopped: ' || d.stop_reason end,
           locked_by = case when d.outcome = 'send' then s.locked_by end,
           locked_until = case when d.outcome = 'send' then p_now + make_interval(secs => p_lease_seconds) end,
           updated_at = now()
      from decided d
     where s.id = d.id
       and (d.outcome = 'skipped' or (d.outcome = 'send' and d.id in (select g.state_id from guards g)))
  ),
  -- A guard another execution took between our check and our insert: a duplicate after all.
  settled as (
    select d.*,
           case when d.outcome = 'send' and d.id not in (select g.state_id from guards g) then 'duplicate'
                else d.outcome end as final_outcome
      from decided d
  )
  select t.id,
         t.final_outcome,
         case t.final_outcome
           when 'duplicate' then coalesce(t.guard_status, 'sending')
           when 'lease_lost' then t.current_stage
           when 'skipped' then t.skip_reason
         end,
         case t.final_outcome when 'send' then t.new_attempt_id when 'duplicate' then t.guard_id end,
         t.claimed_follow_up_number,
         t.page_id,
         t.sender_id,
         case when t.final_outcome = 'send' then t.generated_message end,
         t.last_customer_message_at + interval '24 hours'
    from settled t
  union all
  select u.id, 'lease_lost', 'not_found', null, null, null, null, null, null
    from (select distinct u.id from unnest(p_state_ids) u (id)) u
   where u.id is not null and u.id not in (select l.id from locked l)
  order by 1
$$;
comment on function public.automation_begin_send(text, uuid[], integer, timestamptz) is
  'Batch: take the duplicate guard, re-check stop / active / window, and move ready_to_send → sending; per item send | duplicate | skipped | lease_lost.';

-- =============================================================================================
-- Which owner a Page's events belong to
-- =============================================================================================
-- (owner, null) when the Page is connected to p_owner, or to anyone when p_owner is null; a Page not
-- connected yet is connected to p_owner when one is given. (null, reason) otherwise:
-- page_not_connected, page_of_another_owner. A p_owner that is not a user is an error (22023).
create or replace function leadflow_private.messenger_page_owner(p_page_id text, p_owner uuid, p_now timestamptz)
returns table (owner uuid, reason text)
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_owner uuid;
begin
  select p.user_id into v_owner from public.messenger_pages p where p.page_id = p_page_id;
  if v_owner is null and p_owner is not null then
    if not exists (select from auth.users u where u.id = p_owner) then
      raise exception 'p_owner: % is not a user of this project', p_owner
        using errcode = '22023', hint = 'Give the owner''s id from auth.users (Authentication → Users in Supabase).';
    end if;
    insert into public.messenger_pages (page_id, user_id, connected_at) values (p_page_id, p_owner, p_now)
    on conflict (page_id) do nothing;
    select p.user_id into v_owner from public.messenger_pages p where p.page_id = p_page_id;
  end if;
  if v_owner is null then
    return query select null::uuid, 'page_not_connected'::text;
  elsif p_owner is not null and v_owner <> p_owner then
    return query select null::uuid, 'page_of_another_owner'::text;
  else
    return query select v_owner, null::text;
  end if;
end;
$$;
comment on function leadflow_private.messenger_page_owner(text, uuid, timestamptz) is
  'The owner of a Page''s Messenger events (messenger_pages), connecting the Page to p_owner when it is not connected yet; else why not.';

-- =============================================================================================
-- The events of a call, one row each (the shape the nodes send; see messenger_record)
-- =============================================================================================
create or replace function leadflow_private.messenger_event_items(p_events jsonb)
returns table (
  idx integer, type text, page_id text, psid text, mid text, text text, at timestamptz,
  app_id text, name text, watermark timestamptz
)
language sql
immutable
as $$
  select (e.n - 1)::integer,
         e.item ->> 'type',
         e.item ->> 'page_id',
         e.item ->> 'psid',
         e.item ->> 'mid',
         e.item ->> 'text',
         case when jsonb_typeof(e.item -> 'timestamp') = 'number'
              then to_timestamp(((e.item ->> 'timestamp')::numeric / 1000)::double precision) end,
         e.item ->> 'app_id',
         e.item ->> 'name',
         case when jsonb_typeof(e.item -> 'watermark') = 'number'
              then to_timestamp(((e.item ->> 'watermark')::numeric / 1000)::double precision) end
    from jsonb_array_elements(p_events) with ordinality e (item, n)
$$;
revoke all on function leadflow_private.messenger_event_items(jsonb) from public, anon, authenticated;
grant execute on function leadflow_private.messenger_event_items(jsonb) to service_role;

-- =============================================================================================
-- messenger_record: the events of one delivery (or one page of a sync), recorded in one transaction
-- =============================================================================================
-- p_events: a JSON array of at most 1,000 events (10,000 from a sync), each
--   {type: 'message' | 'postback'   the person wrote / pressed a button (inbound),
--          'echo'                   a message the Page sent (outbound),
--          'delivery' | 'read',     receipts,
--    page_id, psid (digits), mid (message, postback, echo: Messenger's message id),
--    text (optional), timestamp (epoch milliseconds, as Meta sends it; message, postback, echo),
--    app_id (echo: the app that sent it), name (optional: the person's name, e.g. from a sync),
--    watermark (delivery, read: epoch milliseconds)}.
-- p_source: 'webhook' (echoes from other apps are a human takeover) or 'sync' (history read back
-- from the Conversations API: the sending app is not known, so echoes are recorded only).
-- One row per event, in input order. A malformed event fails the whole call (22023, naming it:
-- `p_events[3].psid: …`) before anything is written.
--
-- Locks: the conversations of the call are locked in id order before any message is inserted (the
-- messages' trigger updates them), so two deliveries touching the same conversations never wait on
-- each other in a circle.
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
as $$
#variable_conflict use_column
declare
  v_bad record;
  v_limit integer;
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

  -- Every event checked before anything is written; the first problem names the event and field.
  select e.n - 1 as idx, x.problem into v_bad
    from jsonb_array_elements(p_events) with ordinality e (item, n)
   cross join lateral (
     select case
       when jsonb_typeof(e.item) <> 'object' then ': each event is a JSON object'
       when coalesce(e.item ->> 'type', '') not in ('message', 'postback', 'echo', 'delivery', 'read') then
         '.type: must be message, postback, echo, delivery or read (got ' || coalesce(e.item ->> 'type', 'nothing') || ')'
       when jsonb_typeof(e.item -> 'page_id') is distinct from 'string' or (e.item ->> 'page_id') !~ '^[0-9]{1,32}$' then
         '.page_id: must be the Page''s numeric id as a string'
       when jsonb_typeof(e.item -> 'psid') is distinct from 'string' or (e.item ->> 'psid') !~ '^[0-9]{1,32}$' then
         '.psid: must be the person''s page-scoped id (digits) as a string'
       when (e.item ->> 'type') in ('message', 'postback', 'echo')
            and (jsonb_typeof(e.item -> 'mid') is distinct from 'string' or length(e.item ->> 'mid') not between 1 and 512
                 or not leadflow_private.is_valid_text(e.item ->> 'mid', 'token')) then
         '.mid: must be Messenger''s message id (1 to 512 characters, no spaces)'
       when (e.item ->> 'type') in ('message', 'postback', 'echo')
            and not (case when jsonb_typeof(e.item -> 'timestamp') = 'number'
                          then (e.item ->> 'timestamp')::numeric between 0 and 32503680000000
                               and (e.item ->> 'timestamp')::numeric = trunc((e.item ->> 'timestamp')::numeric)
                          else false end) then
         '.timestamp: must be the event''s time in whole epoch milliseconds'
       when (e.item ->> 'type') in ('delivery', 'read')
            and not (case when jsonb_typeof(e.item -> 'watermark') = 'number'
                          then (e.item ->> 'watermark')::numeric between 0 and 32503680000000
                          else false end) then
         '.watermark: must be the receipt''s watermark in epoch milliseconds'
       when e.item ? 'text' and jsonb_typeof(e.item -> 'text') not in ('string', 'null') then '.text: must be a string or null'
       when jsonb_typeof(e.item -> 'text') = 'string' and length(e.item ->> 'text') > 20000 then '.text: longer than 20,000 characters'
       when e.item ? 'app_id' and jsonb_typeof(e.item -> 'app_id') <> 'null'
            and (jsonb_typeof(e.item -> 'app_id') <> 'string' or (e.item ->> 'app_id') !~ '^[0-9]{1,32}$') then
         '.app_id: must be the sending app''s numeric id as a string'
       when e.item ? 'name' and jsonb_typeof(e.item -> 'name') <> 'null'
            and (jsonb_typeof(e.item -> 'name') <> 'string' or length(e.item ->> 'name') > 200
                 or not leadflow_private.is_valid_text(e.item ->> 'name', 'line')) then
         '.name: must be one line of at most 200 characters'
     end as problem
   ) x
   where x.problem is not null
   order by e.n
   limit 1;
  if found then
    raise exception 'p_events[%]%', v_bad.idx, v_bad.problem using errcode = '22023';
  end if;

  -- The owner of each Page (a handful per call at most).
  for v_page in select distinct i.page_id from leadflow_private.messenger_event_items(p_events) i order by 1 loop
    v_owners := v_owners || (
      select jsonb_build_object(v_page, jsonb_build_object('owner', o.owner, 'reason', o.reason))
        from leadflow_private.messenger_page_owner(v_page, p_owner, p_now) o
    );
  end loop;

  -- Conversations seen for the first time (messages only: a receipt never creates one).
  with created as (
    insert into public.messenger_conversations (user_id, page_id, sender_id, sender_name)
    select distinct on (o.owner, i.page_id, i.psid) o.owner, i.page_id, i.psid, i.name
      from leadflow_private.messenger_event_items(p_events) i
     cross join lateral (select (v_owners -> i.page_id ->> 'owner')::uuid as owner) o
     where o.owner is not null and i.type in ('message', 'postback', 'echo')
     order by o.owner, i.page_id, i.psid, (i.name is null), i.idx desc
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
           from leadflow_private.messenger_event_items(p_events) i
           join public.messenger_conversations c2
             on c2.user_id = (v_owners -> i.page_id ->> 'owner')::uuid and c2.page_id = i.page_id and c2.sender_id = i.psid
       )
       order by c.id
         for no key update of c
    ) k;

  update public.messenger_conversations c
     set sender_name = n.name
    from (
      select distinct on (i.page_id, i.psid) i.page_id, i.psid, i.name, (v_owners -> i.page_id ->> 'owner')::uuid as owner
        from leadflow_private.messenger_event_items(p_events) i
       where i.name is not null and btrim(i.name) <> ''
       order by i.page_id, i.psid, i.idx desc
    ) n
   where c.user_id = n.owner and c.page_id = n.page_id and c.sender_id = n.psid
     and c.sender_name is distinct from n.name;

  select coalesce(array_agg(st.id), '{}') into v_stops_before
    from public.ai_automation_stops st where st.conversation_id = any (v_conversations);

  -- The messages, each once (the first event of a message id in the call; an id recorded before is
  -- a redelivery). Inserted in conversation order: the trigger that keeps each conversation's times
  -- (and, through them, the window and stop on reply) runs per row in this order.
  with recorded as (
    insert into public.messenger_messages (user_id, conversation_id, direction, text, facebook_message_id, sent_at)
    select c.user_id, c.id, case when i.type = 'echo' then 'outbound' else 'inbound' end, i.text, i.mid, i.at
      from (
        select distinct on (i.mid) i.*
          from leadflow_private.messenger_event_items(p_events) i
         where i.type in ('message', 'postback', 'echo')
         order by i.mid, i.idx
      ) i
      join public.messenger_conversations c
        on c.user_id = (v_owners -> i.page_id ->> 'owner')::uuid and c.page_id = i.page_id and c.sender_id = i.psid
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
        from leadflow_private.messenger_event_items(p_events) i
        join public.messenger_conversations c
          on c.user_id = (v_owners -> i.page_id ->> 'owner')::uuid and c.page_id = i.page_id and c.sender_id = i.psid
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
    select (v_owners -> i.page_id ->> 'owner')::uuid as owner, i.page_id, i.psid,
           max(i.watermark) filter (where i.type = 'delivery') as delivered,
           max(i.watermark) filter (where i.type = 'read') as read
      from leadflow_private.messenger_event_items(p_events) i
     where i.type in ('delivery', 'read')
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
    with items as (
      select i.*, (v_owners -> i.page_id ->> 'owner')::uuid as owner, v_owners -> i.page_id ->> 'reason' as page_reason,
             min(i.idx) over (partition by i.mid) as first_of_mid
        from leadflow_private.messenger_event_items(p_events) i
    ),
    placed as (
      select it.*, c.id as conversation_id,
             it.type in ('message', 'postback', 'echo') and it.mid = any (v_recorded) and it.idx = it.first_of_mid as is_recorded,
             min(it.idx) over (partition by c.id) as first_of_conversation
        from items it
        left join public.messenger_conversations c
          on c.user_id = it.owner and c.page_id = it.page_id and c.sender_id = it.psid
    ),
    ranked as (
      select p.*,
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
revoke all on function leadflow_private.messenger_page_owner(text, uuid, timestamptz) from public, anon, authenticated;
grant execute on function leadflow_private.messenger_page_owner(text, uuid, timestamptz) to service_role;

-- =============================================================================================
-- messenger_record_events(p_events, p_app_id, p_owner, p_now) → one row per event
-- =============================================================================================
-- What the Messenger Trigger calls once per webhook delivery: messenger_record with the source
-- 'webhook'. p_app_id is the app the Page's webhook belongs to (its own echoes are not a takeover);
-- p_owner, when given, connects a Page not connected yet to that owner and ignores the events of a
-- Page connected to another.
create or replace function public.messenger_record_events(
  p_events jsonb,
  p_app_id text default null,
  p_owner uuid default null,
  p_now timestamptz default leadflow_private.now()
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
language sql
volatile
set search_path = ''
as $$
  select * from leadflow_private.messenger_record(p_events, p_app_id, p_owner, 'webhook', p_now)
$$;
comment on function public.messenger_record_events(jsonb, text, uuid, timestamptz) is
  'Records one webhook delivery of Messenger events in one transaction (conversations, messages once each, window, stop on reply, human takeover, receipts); one row per event.';
revoke all on function public.messenger_record_events(jsonb, text, uuid, timestamptz) from public, anon, authenticated;
grant execute on function public.messenger_record_events(jsonb, text, uuid, timestamptz) to service_role;
