-- Follow-up automation, part 1 of 3: the tables and the rules they keep by themselves.
-- Tables: ai_automation_rules, ai_automation_contact_states, ai_automation_stage_events,
-- ai_automation_executions, ai_automation_rule_send_counts, ai_automation_stops.
-- A rule says which tagged contacts get an AI follow-up on Messenger and when. Each (rule,
-- conversation) pair has one state row walking the stages queued → checking → eligible →
-- generating → ready_to_send → sending → sent (→ completed), or failed / skipped. The database
-- accepts only the transitions of that machine, writes every transition to the append-only event
-- history, and holds the duplicate guard (one execution row per rule × conversation × follow-up
-- number, taken before the Graph API is called).
-- Every row belongs to an owner (`user_id`). Row level security lets a signed-in user read only
-- their own rows; `anon` reaches nothing; `service_role` (n8n) reaches everything. The pipeline's
-- writes go through the functions of 20261122000220_follow_up_automation_api.sql.
-- Parts 2 and 3: 20261122000210 (the due judgement and the monitor's views), 20261122000220 (the
-- RPC API the nodes call).

-- =============================================================================================
-- Stages and reasons
-- =============================================================================================
-- The stage machine. Everything else (the trigger below, the functions) asks this one function.
--   queued        → checking                       a claim starts looking at the contact
--   checking      → eligible | skipped | queued    judged due (claimed) / not due / lease expired
--   eligible      → generating | skipped | failed | queued
--   generating    → ready_to_send | failed | skipped | queued
--   ready_to_send → sending | skipped | failed | queued
--   sending       → sent | failed | skipped        the Graph API answered (or the lease expired:
--                                                  failed, send_uncertain, never resent)
--   sent          → checking | completed           the next follow-up / the maximum reached
--   failed        → checking | sent                a retry / a late confirmation of an uncertain send
--   skipped       → checking
--   completed     → checking                       the rule's maximum was raised
-- A new state row always starts as queued.
-- The claim judges and claims in one transaction, so no other session could ever see a contact in
-- checking: it writes X → eligible once (X any stage that may go to checking) and the trigger
-- records both steps, X → checking → eligible, at the same instant. One write per claimed contact
-- instead of two, the same history.
-- No SET clause, unlike every other function here: it reads no table and calls no function (only
-- literals and text equality, which resolve in pg_catalog whatever the search path), and without
-- one the planner inlines it into the trigger's check below. With one it was a function call per
-- row: 25 ms of a 1,000-contact batch.
create or replace function leadflow_private.automation_transition_allowed(p_from text, p_to text)
returns boolean
language sql
immutable
parallel safe
as $$
  select (p_from, p_to) in (
    ('queued', 'checking'),
    ('checking', 'eligible'), ('checking', 'skipped'), ('checking', 'queued'),
    ('eligible', 'generating'), ('eligible', 'skipped'), ('eligible', 'failed'), ('eligible', 'queued'),
    ('generating', 'ready_to_send'), ('generating', 'failed'), ('generating', 'skipped'), ('generating', 'queued'),
    ('ready_to_send', 'sending'), ('ready_to_send', 'skipped'), ('ready_to_send', 'failed'), ('ready_to_send', 'queued'),
    ('sending', 'sent'), ('sending', 'failed'), ('sending', 'skipped'),
    ('sent', 'checking'), ('sent', 'completed'),
    ('failed', 'checking'), ('failed', 'sent'),
    ('skipped', 'checking'),
    ('completed', 'checking')
  )
$$;
comment on function leadflow_private.automation_transition_allowed(text, text) is
  'The follow-up stage machine: true when a contact state may move from p_from to p_to.';

-- =============================================================================================
-- ai_automation_rules: which tagged contacts get a follow-up, when, how often, and what it says
-- =============================================================================================
create table if not exists public.ai_automation_rules (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  name text not null check (length(btrim(name)) between 1 and 200),
  enabled boolean not null default true,
  -- The Facebook Page whose conversations the rule follows up; null: every page of the owner.
  page_id text check (page_id is null or page_id ~ '^[0-9]{1,32}$'),
  -- Tags: a contact qualifies with any (or all, per tag_match) of include_tag_ids and none of
  -- exclude_tag_ids. Arrays keep a rule one row (edited and read as one record); a trigger below
  -- checks that every id is a tag of the same owner.
  include_tag_ids uuid[] not null,
  tag_match text not null default 'any' check (tag_match in ('any', 'all')),
  exclude_tag_ids uuid[] not null default '{}',
  -- Active hours in the rule's time zone. start = end: the whole day. start > end: the window
  -- runs past midnight and belongs to the day it starts on. Days are ISO: 1 = Monday … 7 = Sunday.
  active_hours_start time not null default '00:00',
  active_hours_end time not null default '00:00',
  time_zone text not null default 'UTC',
  active_days smallint[] not null default '{1,2,3,4,5,6,7}'
    check (cardinality(active_days) between 1 and 7 and active_days <@ '{1,2,3,4,5,6,7}'::smallint[]),
  -- Sends per rule per local day (in time_zone), counted from the duplicate-guard ledger.
  daily_limit integer not null default 100 check (daily_limit between 1 and 1000000),
  max_follow_ups integer not null default 3 check (max_follow_ups between 1 and 100),
  -- Default 4 h, not 24: Messenger only lets a follow-up out inside the 24 h after the person's
  -- last message, and with stop_on_reply a reply stops the contact instead of reopening the
  -- window for more follow-ups. So every follow-up of a cycle has to fit in one 24 h window; at
  -- 24 h apart the second could never be sent (the window has always closed by then).
  min_hours_between_follow_ups numeric(8, 2) not null default 4 check (min_hours_between_follow_ups >= 0),
  stop_on_reply boolean not null default true,
  -- The AI's instructions, an optional model (else the node's default), the reply language and
  -- how many past messages the AI sees.
  instructions text not null check (length(btrim(instructions)) between 1 and 20000),
  model text check (model is null or length(btrim(model)) between 1 and 200),
  language text check (language is null or length(btrim(language)) between 1 and 50),
  context_message_count integer not null default 10 check (context_message_count between 0 and 100),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (id, user_id)
);
comment on table public.ai_automation_rules is 'An AI follow-up rule: which tagged Messenger contacts get a Gemini follow-up, in which hours, how many a day and per contact.';

create index if not exists ai_automation_rules_owner_idx on public.ai_automation_rules (user_id);
create index if not exists ai_automation_rules_enabled_idx on public.ai_automation_rules (id) where enabled;

-- A rule is checked when it is written, so the claim never meets a zone Postgres cannot use or a
-- tag of another owner.
create or replace function leadflow_private.ai_automation_rules_validate()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  v_unknown uuid;
begin
  if tg_op = 'INSERT' or new.time_zone is distinct from old.time_zone then
    if not exists (select from pg_catalog.pg_timezone_names where name = new.time_zone) then
      raise exception 'time zone "%" is not known to Postgres', new.time_zone
        using errcode = '22023', hint = 'Use an IANA zone name such as Europe/London or America/New_York (see pg_timezone_names).';
    end if;
  end if;
  if tg_op = 'INSERT' or new.include_tag_ids is distinct from old.include_tag_ids
     or new.exclude_tag_ids is distinct from old.exclude_tag_ids or new.user_id is distinct from old.user_id then
    if cardinality(new.include_tag_ids) = 0 then
      raise exception 'a rule needs at least one tag to include' using errcode = '23514';
    end if;
    if (select count(distinct t) from unnest(new.include_tag_ids) t) <> cardinality(new.include_tag_ids)
       or (select count(distinct t) from unnest(new.exclude_tag_ids) t) <> cardinality(new.exclude_tag_ids) then
      raise exception 'a tag is listed twice in the rule' using errcode = '23514';
    end if;
    if new.include_tag_ids && new.exclude_tag_ids then
      raise exception 'a tag cannot be both included and excluded' using errcode = '23514';
    end if;
    select t into v_unknown
      from unnest(new.include_tag_ids || new.exclude_tag_ids) t
     where not exists (select from public.tags g where g.id = t and g.user_id = new.user_id)
     limit 1;
    if v_unknown is not null then
      raise exception 'tag % does not exist or belongs to another owner', v_unknown
        using errcode = '23503', hint = 'Use ids from the owner''s tags table.';
    end if;
  end if;
  new.updated_at := now();
  return new;
end;
$$;

drop trigger if exists ai_automation_rules_validate on public.ai_automation_rules;
create trigger ai_automation_rules_validate
  before insert or update on public.ai_automation_rules
  for each row execute function leadflow_private.ai_automation_rules_validate();

-- =============================================================================================
-- ai_automation_contact_states: one row per rule × conversation, the contact's place in the pipeline
-- =============================================================================================
create table if not exists public.ai_automation_contact_states (
  id uuid primary key default gen_random_uuid(),
  -- The owner. No foreign key of its own: the composite keys below (to the rule and the
  -- conversation, both owned by this user) already tie it to auth.users, cascade included, and each
  -- extra key is one more check per row on every batch the pipeline writes.
  user_id uuid not null,
  rule_id uuid not null,
  conversation_id uuid not null,
  current_stage text not null default 'queued' check (current_stage in (
    'queued', 'checking', 'eligible', 'generating', 'ready_to_send', 'sending', 'sent', 'failed', 'skipped', 'completed'
  )),
  stage_entered_at timestamptz not null default now(),
  -- Why the last transition happened (copied into its event), e.g. {"reason": "lease_expired"}.
  stage_detail jsonb,
  follow_up_count integer not null default 0 check (follow_up_count >= 0),
  last_follow_up_at timestamptz,
  -- The current cycle: when it was claimed and which follow-up it is.
  claimed_at timestamptz,
  claimed_follow_up_number integer check (claimed_follow_up_number is null or claimed_follow_up_number >= 1),
  generated_message text check (generated_message is null or char_length(generated_message) between 1 and 2000),
  generated_at timestamptz,
  generation_ms integer check (generation_ms is null or generation_ms >= 0),
  generation_model text,
  generation_usage jsonb,
  facebook_message_id text,
  -- The duplicate-guard row (ai_automation_executions) of the send under way or last attempted.
  attempt_id uuid,
  error_code text,
  error_message text,
  -- A failed contact becomes claimable again at retry_at; null: never by itself (needs a person).
  retry_at timestamptz,
  skip_reason text,
  -- The execution that last moved the contact, and the lease: who holds it and until when.
  execution_id text,
  locked_by text,
  locked_until timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  -- A contact in the pipeline is always held by an execution until a given time: the reaper frees
  -- it when that time passes, so a held row without a lease could never be freed.
  constraint ai_automation_contact_states_held_has_lease check (
    current_stage not in ('checking', 'eligible', 'generating', 'ready_to_send', 'sending')
    or (locked_by is not null and locked_until is not null)
  ),
  -- Conversation first: the one index then serves a contact's pair (the claim, the judgement), a
  -- conversation's states (stop on reply, the cascade from a deleted conversation), and the
  -- stage index below serves a rule's.
  unique (conversation_id, rule_id),
  foreign key (rule_id, user_id) references public.ai_automation_rules (id, user_id) on delete cascade,
  foreign key (conversation_id, user_id) references public.messenger_conversations (id, user_id) on delete cascade
);
comment on table public.ai_automation_contact_states is 'Where each contact is in a rule''s follow-up pipeline; only valid stage transitions are accepted.';

-- Every stage change writes a new entry in each index of this table (the stage is indexed, so no
-- update is HOT): it has only those its readers need. No index on user_id: RLS adds the owner to
-- queries that always reach states by rule, conversation or id.
create index if not exists ai_automation_contact_states_stage_idx on public.ai_automation_contact_states (rule_id, current_stage);
-- The reaper looks only at held rows whose lease ran out.
create index if not exists ai_automation_contact_states_lease_idx on public.ai_automation_contact_states (locked_until)
  where current_stage in ('checking', 'eligible', 'generating', 'ready_to_send', 'sending');

-- =============================================================================================
-- ai_automation_stage_events: the append-only history of every transition
-- =============================================================================================
create table if not exists public.ai_automation_stage_events (
  id bigint generated always as identity primary key,
  -- The owner, copied from the state by the trigger that writes every event (RLS reads it).
  user_id uuid not null,
  -- No foreign key, on purpose: a key is checked once per row, and a claim of 100 writes 200
  -- events (about a tenth of its time went to those checks). The same guarantee holds without it:
  -- only the stage triggers write events (no API role may insert, service_role included), always
  -- for the states they have just written, and deleting states deletes their events
  -- (ai_automation_states_drop_history).
  state_id uuid not null,
  rule_id uuid not null,
  conversation_id uuid not null,
  from_stage text,
  to_stage text not null,
  occurred_at timestamptz not null,
  execution_id text,
  detail jsonb
);
comment on table public.ai_automation_stage_events is 'Every stage transition of every contact state (from, to, when, by which execution, why); written by a trigger, never changed.';

-- Read by state (the timeline, the cascade) or by rule and time (the per-stage averages); RLS adds
-- the owner to those, so no index on user_id (each is one more write per event).
create index if not exists ai_automation_stage_events_state_idx on public.ai_automation_stage_events (state_id, occurred_at, id);
create index if not exists ai_automation_stage_events_rule_time_idx on public.ai_automation_stage_events (rule_id, occurred_at);

-- =============================================================================================
-- ai_automation_executions: the duplicate guard and send ledger, one row per follow-up attempted
-- =============================================================================================
create table if not exists public.ai_automation_executions (
  id uuid primary key default gen_random_uuid(),
  -- The owner. No foreign key of its own: the composite keys below (to the rule and the
  -- conversation, both owned by this user) already tie it to auth.users, cascade included, and each
  -- extra key is one more check per row on every batch the pipeline writes.
  user_id uuid not null,
  rule_id uuid not null,
  conversation_id uuid not null,
  state_id uuid,
  follow_up_number integer not null check (follow_up_number >= 1),
  execution_id text,
  -- sending: the guard is taken and the Graph API is being called; sent; failed: permanently, the
  -- follow-up number stays used; uncertain: the sender died mid-send (never resent automatically);
  -- released: Facebook refused it without delivering (throttled, outside the window, person
  -- unavailable), so the follow-up number may be tried again.
  status text not null default 'sending' check (status in ('sending', 'sent', 'failed', 'uncertain', 'released')),
  message text,
  facebook_message_id text,
  error_code text,
  error_message text,
  attempted_at timestamptz not null default now(),
  finished_at timestamptz,
  foreign key (rule_id, user_id) references public.ai_automation_rules (id, user_id) on delete cascade,
  foreign key (conversation_id, user_id) references public.messenger_conversations (id, user_id) on delete cascade
);
comment on table public.ai_automation_executions is 'One row per follow-up sent or attempted; the unique (rule, conversation, follow-up number) key is taken before the Graph API is called.';

-- The duplicate guard. Released attempts (Facebook delivered nothing) do not hold it.
create unique index if not exists ai_automation_executions_guard_key
  on public.ai_automation_executions (rule_id, conversation_id, follow_up_number) where status <> 'released';
-- Sends today per rule (the daily limit).
create index if not exists ai_automation_executions_rule_day_idx
  on public.ai_automation_executions (rule_id, attempted_at) where status in ('sending', 'sent', 'uncertain');
-- A contact's last execution and its sends in the last 7 days (the monitor).
create index if not exists ai_automation_executions_contact_idx
  on public.ai_automation_executions (conversation_id, rule_id, attempted_at desc);
create index if not exists ai_automation_executions_owner_idx on public.ai_automation_executions (user_id);

-- =============================================================================================
-- ai_automation_rule_send_counts: each rule's sends per quarter hour, for its daily limit
-- =============================================================================================
-- What the daily limit counts (guard rows in sending, sent or uncertain, by attempted_at), kept per
-- rule and 15-minute UTC slot by the trigger below, so that "sends today" is a sum of at most 96
-- rows rather than a count of the day's ledger (20,000 rows on a busy rule: a tenth of a claim).
-- Quarter hours because every time zone's midnight falls on one (offsets are whole quarter hours:
-- +05:45, +08:45, +12:45 …): the sum from local midnight is exact in any zone, and stays exact
-- when a rule changes its time zone.
create table if not exists public.ai_automation_rule_send_counts (
  rule_id uuid not null,
  user_id uuid not null,
  slot timestamptz not null check (slot = date_bin('15 minutes', slot, timestamptz '2000-01-01 00:00+00')),
  sends integer not null check (sends >= 0),
  primary key (rule_id, slot),
  foreign key (rule_id, user_id) references public.ai_automation_rules (id, user_id) on delete cascade
);
comment on table public.ai_automation_rule_send_counts is 'Sends counted against each rule''s daily limit, per 15-minute slot; kept by a trigger on ai_automation_executions, never written directly.';

-- One counted send entering (+1) or leaving (-1) a rule's count.
do $$
begin
  create type public.automation_send_count_change as (rule_id uuid, user_id uuid, attempted_at timestamptz, delta integer);
exception when duplicate_object then null;
end
$$;

-- Adds the net change per (rule, slot), slot by slot in key order (a statement changes one or two
-- slots per rule). Not one INSERT … ON CONFLICT for all: a new row's check (sends >= 0) is tested
-- before the conflict is found, so a negative change to an existing slot would be refused.
create or replace function leadflow_private.automation_add_to_send_counts(p_changes public.automation_send_count_change[])
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_change record;
begin
  for v_change in
    select c.rule_id, c.user_id, date_bin('15 minutes', c.attempted_at, timestamptz '2000-01-01 00:00+00') as slot,
           sum(c.delta)::integer as delta
      from unnest(p_changes) c
     group by 1, 2, 3
    having sum(c.delta) <> 0
     order by 1, 3
  loop
    update public.ai_automation_rule_send_counts k
       set sends = k.sends + v_change.delta
     where k.rule_id = v_change.rule_id and k.slot = v_change.slot;
    if not found then
      insert into public.ai_automation_rule_send_counts as k (rule_id, user_id, slot, sends)
      values (v_change.rule_id, v_change.user_id, v_change.slot, v_change.delta)
      on conflict (rule_id, slot) do update set sends = k.sends + excluded.sends;
    end if;
  end loop;
end;
$$;

-- One statement-level trigger per event (a trigger with transition tables takes one event). The
-- net change per (rule, slot) is applied in key order, so two sessions never lock slots in
-- opposite orders (begin_send and record_send each write the ledger in one statement; the
-- reaper's sending → uncertain changes no count). Deletes (a conversation deleted with its ledger) only lower
-- existing slots: the rule's own deletion removes its slots by cascade.
create or replace function leadflow_private.ai_automation_executions_count_sends()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  -- Each branch names only the transition tables its event has.
  if tg_op = 'INSERT' then
    perform leadflow_private.automation_add_to_send_counts(
      array(select row(n.rule_id, n.user_id, n.attempted_at, 1)::public.automation_send_count_change
              from new_rows n where n.status in ('sending', 'sent', 'uncertain')));
  elsif tg_op = 'UPDATE' then
    perform leadflow_private.automation_add_to_send_counts(
      array(select row(n.rule_id, n.user_id, n.attempted_at, 1)::public.automation_send_count_change
              from new_rows n where n.status in ('sending', 'sent', 'uncertain')
            union all
            select row(o.rule_id, o.user_id, o.attempted_at, -1)::public.automation_send_count_change
              from old_rows o where o.status in ('sending', 'sent', 'uncertain')));
  else
    update public.ai_automation_rule_send_counts k
       set sends = k.sends - d.gone
      from (select o.rule_id, date_bin('15 minutes', o.attempted_at, timestamptz '2000-01-01 00:00+00') as slot, count(*)::integer as gone
              from old_rows o
             where o.status in ('sending', 'sent', 'uncertain')
             group by 1, 2) d
     where k.rule_id = d.rule_id and k.slot = d.slot;
  end if;
  return null;
end;
$$;

drop trigger if exists ai_automation_executions_count_inserted on public.ai_automation_executions;
create trigger ai_automation_executions_count_inserted
  after insert on public.ai_automation_executions
  referencing new table as new_rows
  for each statement execute function leadflow_private.ai_automation_executions_count_sends();
drop trigger if exists ai_automation_executions_count_updated on public.ai_automation_executions;
create trigger ai_automation_executions_count_updated
  after update on public.ai_automation_executions
  referencing old table as old_rows new table as new_rows
  for each statement execute function leadflow_private.ai_automation_executions_count_sends();
drop trigger if exists ai_automation_executions_count_deleted on public.ai_automation_executions;
create trigger ai_automation_executions_count_deleted
  after delete on public.ai_automation_executions
  referencing old table as old_rows
  for each statement execute function leadflow_private.ai_automation_executions_count_sends();

-- =============================================================================================
-- ai_automation_stops: contacts that must not get follow-ups, for one rule or (rule_id null) all
-- =============================================================================================
create table if not exists public.ai_automation_stops (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  conversation_id uuid not null,
  rule_id uuid,
  reason text not null check (reason in ('replied', 'human_takeover', 'unavailable', 'manual')),
  note text check (note is null or length(note) <= 2000),
  execution_id text,
  created_at timestamptz not null default now(),
  unique nulls not distinct (conversation_id, rule_id),
  foreign key (conversation_id, user_id) references public.messenger_conversations (id, user_id) on delete cascade,
  foreign key (rule_id, user_id) references public.ai_automation_rules (id, user_id) on delete cascade
);
comment on table public.ai_automation_stops is 'Contacts stopped for one rule (rule_id) or for every rule (rule_id null): replied, human takeover, unavailable, manual. Delete the row to resume.';

create index if not exists ai_automation_stops_rule_idx on public.ai_automation_stops (rule_id);
create index if not exists ai_automation_stops_owner_idx on public.ai_automation_stops (user_id);

-- =============================================================================================
-- The claim's way in: each tag link carries its conversation's last customer message time
-- =============================================================================================
-- A rule selects contacts by tag and the claim takes them soonest-closing Messenger window first.
-- With the time on the tag link, (tag, time) is one index: the claim walks only the open-window
-- links of the rule's tags, in window order, and stops when it has enough due contacts. Walking
-- the owner's open conversations instead and looking up each one's tags cost ~20 ms per claim on
-- 100,000 conversations with 10 tags each (bench/claim.ts).
-- The copy is kept by the database: set from the conversation when a link is made, and rewritten
-- on every link of a conversation when its time changes (an inbound message; see crm_core's
-- messages trigger). The claim uses it only to find and order candidates; the judgement reads the
-- conversation itself, so a stale copy could delay a contact, never claim a wrong one.
alter table public.conversation_tags add column if not exists last_customer_message_at timestamptz;
comment on column public.conversation_tags.last_customer_message_at is
  'Copy of messenger_conversations.last_customer_message_at, kept by triggers: the claim''s (tag, window) index.';

create index if not exists conversation_tags_window_idx
  on public.conversation_tags (tag_id, last_customer_message_at, conversation_id);

create or replace function leadflow_private.conversation_tags_copy_window()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.last_customer_message_at := (
    select c.last_customer_message_at from public.messenger_conversations c where c.id = new.conversation_id
  );
  return new;
end;
$$;

drop trigger if exists conversation_tags_copy_window on public.conversation_tags;
create trigger conversation_tags_copy_window
  before insert or update of conversation_id, last_customer_message_at on public.conversation_tags
  for each row execute function leadflow_private.conversation_tags_copy_window();

-- Security definer: signed-in users may tag and untag but not update tag links (no update policy);
-- this only copies a conversation's own time onto its own links.
create or replace function leadflow_private.messenger_conversations_sync_tag_window()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.conversation_tags ct
     set last_customer_message_at = new.last_customer_message_at
   where ct.conversation_id = new.id;
  return null;
end;
$$;

drop trigger if exists messenger_conversations_sync_tag_window on public.messenger_conversations;
create trigger messenger_conversations_sync_tag_window
  after update of last_customer_message_at on public.messenger_conversations
  for each row when (old.last_customer_message_at is distinct from new.last_customer_message_at)
  execute function leadflow_private.messenger_conversations_sync_tag_window();

-- Links made before this migration.
update public.conversation_tags ct
   set last_customer_message_at = c.last_customer_message_at
  from public.messenger_conversations c
 where c.id = ct.conversation_id and ct.last_customer_message_at is distinct from c.last_customer_message_at;

-- =============================================================================================
-- Stage machine enforcement and the event history (statement-level: one insert per statement)
-- =============================================================================================
create or replace function leadflow_private.ai_automation_states_check_insert()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if exists (select from new_states n where n.current_stage <> 'queued') then
    raise exception 'a contact state must start as queued' using errcode = '23514';
  end if;
  insert into public.ai_automation_stage_events (user_id, state_id, rule_id, conversation_id, from_stage, to_stage, occurred_at, execution_id, detail)
  select n.user_id, n.id, n.rule_id, n.conversation_id, null, n.current_stage, n.stage_entered_at, n.execution_id, n.stage_detail
    from new_states n;
  return null;
end;
$$;

-- Transition tables carry no statistics: the planner guesses a handful of rows and joins old and
-- new rows by nested loop, n² for a batch of n (a million comparisons, ~200 ms, for 1,000
-- contacts). enable_nestloop = off makes it hash-join them, linear in the batch.
create or replace function leadflow_private.ai_automation_states_check_update()
returns trigger
language plpgsql
security definer
set search_path = ''
set enable_nestloop = off
as $$
declare
  v_bad record;
begin
  select o.current_stage as from_stage, n.current_stage as to_stage,
         (n.rule_id <> o.rule_id or n.conversation_id <> o.conversation_id or n.user_id <> o.user_id) as rekeyed
    into v_bad
    from old_states o join new_states n on n.id = o.id
   where n.rule_id <> o.rule_id or n.conversation_id <> o.conversation_id or n.user_id <> o.user_id
      or (n.current_stage <> o.current_stage
          and not leadflow_private.automation_transition_allowed(o.current_stage, n.current_stage)
          and not (n.current_stage = 'eligible' and leadflow_private.automation_transition_allowed(o.current_stage, 'checking')))
   limit 1;
  if found and v_bad.rekeyed then
    raise exception 'a contact state cannot move to another rule, conversation or owner' using errcode = '23514';
  elsif found then
    raise exception 'invalid stage transition % → %', v_bad.from_stage, v_bad.to_stage
      using errcode = '23514', hint = 'See leadflow_private.automation_transition_allowed for the stage machine.';
  end if;
  insert into public.ai_automation_stage_events (user_id, state_id, rule_id, conversation_id, from_stage, to_stage, occurred_at, execution_id, detail)
  select n.user_id, n.id, n.rule_id, n.conversation_id, step.from_stage, step.to_stage, n.stage_entered_at, n.execution_id, step.detail
    from old_states o join new_states n on n.id = o.id
   cross join lateral (
     -- A claim's X → eligible is recorded as X → checking, then checking → eligible.
     select o.current_stage as from_stage, 'checking' as to_stage, null::jsonb as detail, 1 as ord
      where n.current_stage = 'eligible' and o.current_stage <> 'checking'
     union all
     select case when n.current_stage = 'eligible' and o.current_stage <> 'checking' then 'checking' else o.current_stage end,
            n.current_stage, n.stage_detail, 2
   ) step
   where n.current_stage <> o.current_stage
   order by n.id, step.ord;
  return null;
end;
$$;

drop trigger if exists ai_automation_states_check_insert on public.ai_automation_contact_states;
create trigger ai_automation_states_check_insert
  after insert on public.ai_automation_contact_states
  referencing new table as new_states
  for each statement execute function leadflow_private.ai_automation_states_check_insert();

drop trigger if exists ai_automation_states_check_update on public.ai_automation_contact_states;
create trigger ai_automation_states_check_update
  after update on public.ai_automation_contact_states
  referencing old table as old_states new table as new_states
  for each statement execute function leadflow_private.ai_automation_states_check_update();

-- A deleted state takes its history with it (what ON DELETE CASCADE would do, once per statement
-- rather than once per row; the events table has no foreign key, see there). Runs for deletes
-- cascaded from a rule or a conversation too.
create or replace function leadflow_private.ai_automation_states_drop_history()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  delete from public.ai_automation_stage_events ev
   where ev.state_id in (select o.id from old_states o);
  return null;
end;
$$;

drop trigger if exists ai_automation_states_drop_history on public.ai_automation_contact_states;
create trigger ai_automation_states_drop_history
  after delete on public.ai_automation_contact_states
  referencing old table as old_states
  for each statement execute function leadflow_private.ai_automation_states_drop_history();

-- The history is append-only: no updates; deletes only together with their state (see
-- ai_automation_states_drop_history above).
create or replace function leadflow_private.ai_automation_stage_events_append_only()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if tg_op = 'UPDATE' then
    raise exception 'stage events are append-only' using errcode = '42501';
  end if;
  if exists (select from public.ai_automation_contact_states s where s.id = old.state_id) then
    raise exception 'stage events are append-only (delete the contact state to drop its history)' using errcode = '42501';
  end if;
  return old;
end;
$$;

drop trigger if exists ai_automation_stage_events_append_only on public.ai_automation_stage_events;
create trigger ai_automation_stage_events_append_only
  before update or delete on public.ai_automation_stage_events
  for each row execute function leadflow_private.ai_automation_stage_events_append_only();

-- =============================================================================================
-- Stop on reply: when a conversation's last customer message moves past a contact's last
-- follow-up (or past the claim of one under way), the contact is stopped, with a `replied` stop
-- row, for every rule of its owner that has stop_on_reply on. On the conversation rather than on
-- messenger_messages, so every way the time moves (an inbound message through crm_core's
-- trigger, or an import updating the conversation) stops it the same way. The judgement reads
-- stop rows only: deleting the stop resumes the contact, as the stops table promises.
create or replace function leadflow_private.ai_automation_stop_on_reply()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into public.ai_automation_stops (user_id, conversation_id, rule_id, reason, note)
  select s.user_id, s.conversation_id, s.rule_id, 'replied', 'customer message at ' || new.last_customer_message_at
    from public.ai_automation_contact_states s
    join public.ai_automation_rules r on r.id = s.rule_id
   where s.conversation_id = new.id
     and r.stop_on_reply
     and new.last_customer_message_at > greatest(
       s.last_follow_up_at,
       case when s.current_stage in ('checking', 'eligible', 'generating', 'ready_to_send', 'sending') then s.claimed_at end
     )
  on conflict (conversation_id, rule_id) do nothing;
  return null;
end;
$$;

drop trigger if exists ai_automation_stop_on_reply on public.messenger_messages;
drop trigger if exists ai_automation_stop_on_reply on public.messenger_conversations;
create trigger ai_automation_stop_on_reply
  after update of last_customer_message_at on public.messenger_conversations
  for each row when (new.last_customer_message_at > old.last_customer_message_at
                     or (old.last_customer_message_at is null and new.last_customer_message_at is not null))
  execute function leadflow_private.ai_automation_stop_on_reply();

-- =============================================================================================
-- Privileges and row level security
-- =============================================================================================
-- Signed-in users manage their rules and stops; they read (never write) states, events and
-- executions, which only the pipeline's functions change. anon gets nothing. service_role (n8n)
-- reads and writes rows. (Supabase's default privileges give every API role everything on a new
-- table: take it back first.)
revoke all on public.ai_automation_rules, public.ai_automation_contact_states, public.ai_automation_stage_events,
  public.ai_automation_executions, public.ai_automation_stops, public.ai_automation_rule_send_counts
  from anon, authenticated, service_role;
grant select, insert, update, delete on public.ai_automation_rules, public.ai_automation_stops to authenticated;
grant select on public.ai_automation_contact_states, public.ai_automation_stage_events, public.ai_automation_executions to authenticated;
-- No role may TRUNCATE: it fires no delete trigger, so on the states it would leave their history
-- behind, on the ledger its send counts. The API roles may delete rows (the triggers follow).
grant select, insert, update, delete on public.ai_automation_rules, public.ai_automation_contact_states,
  public.ai_automation_executions, public.ai_automation_stops to service_role;
-- Events are written by the stage triggers only: with no foreign key, that is what keeps each one
-- tied to a real state. The send counts likewise: only their trigger writes them.
grant select on public.ai_automation_stage_events, public.ai_automation_rule_send_counts to service_role;
-- Owners may read their send counts.
grant select on public.ai_automation_rule_send_counts to authenticated;

revoke all on function leadflow_private.ai_automation_rules_validate(), leadflow_private.ai_automation_states_check_insert(),
  leadflow_private.ai_automation_states_check_update(), leadflow_private.ai_automation_states_drop_history(),
  leadflow_private.ai_automation_stage_events_append_only(), leadflow_private.ai_automation_executions_count_sends(),
  leadflow_private.automation_add_to_send_counts(public.automation_send_count_change[]),
  leadflow_private.ai_automation_stop_on_reply(), leadflow_private.conversation_tags_copy_window(),
  leadflow_private.messenger_conversations_sync_tag_window() from public, anon, authenticated, service_role;
revoke all on function leadflow_private.automation_transition_allowed(text, text) from public, anon;
grant execute on function leadflow_private.automation_transition_allowed(text, text) to authenticated, service_role;

alter table public.ai_automation_rules enable row level security;
alter table public.ai_automation_contact_states enable row level security;
alter table public.ai_automation_stage_events enable row level security;
alter table public.ai_automation_executions enable row level security;
alter table public.ai_automation_stops enable row level security;
alter table public.ai_automation_rule_send_counts enable row level security;

-- ai_automation_rules -------------------------------------------------------------------------
drop policy if exists "Owners can read their automation rules" on public.ai_automation_rules;
create policy "Owners can read their automation rules" on public.ai_automation_rules
  for select to authenticated using ((select auth.uid()) = user_id);
drop policy if exists "Owners can create their automation rules" on public.ai_automation_rules;
create policy "Owners can create their automation rules" on public.ai_automation_rules
  for insert to authenticated with check ((select auth.uid()) = user_id);
drop policy if exists "Owners can update their automation rules" on public.ai_automation_rules;
create policy "Owners can update their automation rules" on public.ai_automation_rules
  for update to authenticated using ((select auth.uid()) = user_id) with check ((select auth.uid()) = user_id);
drop policy if exists "Owners can delete their automation rules" on public.ai_automation_rules;
create policy "Owners can delete their automation rules" on public.ai_automation_rules
  for delete to authenticated using ((select auth.uid()) = user_id);

-- ai_automation_contact_states: read-only for owners (the monitor) ----------------------------
drop policy if exists "Owners can read their contacts' automation states" on public.ai_automation_contact_states;
create policy "Owners can read their contacts' automation states" on public.ai_automation_contact_states
  for select to authenticated using ((select auth.uid()) = user_id);

-- ai_automation_stage_events: read-only for owners (the timeline) -----------------------------
drop policy if exists "Owners can read their automation stage events" on public.ai_automation_stage_events;
create policy "Owners can read their automation stage events" on public.ai_automation_stage_events
  for select to authenticated using ((select auth.uid()) = user_id);

-- ai_automation_executions: read-only for owners (the send ledger) ----------------------------
drop policy if exists "Owners can read their automation executions" on public.ai_automation_executions;
create policy "Owners can read their automation executions" on public.ai_automation_executions
  for select to authenticated using ((select auth.uid()) = user_id);

-- ai_automation_rule_send_counts: read-only for owners (sends per quarter hour) ---------------
drop policy if exists "Owners can read their rules' send counts" on public.ai_automation_rule_send_counts;
create policy "Owners can read their rules' send counts" on public.ai_automation_rule_send_counts
  for select to authenticated using ((select auth.uid()) = user_id);

-- ai_automation_stops: owners stop and resume their contacts ----------------------------------
drop policy if exists "Owners can read their automation stops" on public.ai_automation_stops;
create policy "Owners can read their automation stops" on public.ai_automation_stops
  for select to authenticated using ((select auth.uid()) = user_id);
drop policy if exists "Owners can stop their contacts" on public.ai_automation_stops;
create policy "Owners can stop their contacts" on public.ai_automation_stops
  for insert to authenticated with check ((select auth.uid()) = user_id);
drop policy if exists "Owners can change their stops" on public.ai_automation_stops;
create policy "Owners can change their stops" on public.ai_automation_stops
  for update to authenticated using ((select auth.uid()) = user_id) with check ((select auth.uid()) = user_id);
drop policy if exists "Owners can resume their contacts" on public.ai_automation_stops;
create policy "Owners can resume their contacts" on public.ai_automation_stops
  for delete to authenticated using ((select auth.uid()) = user_id);

-- =============================================================================================
-- Realtime: the live monitor follows contact states as they move.
-- =============================================================================================
do $$
begin
  if exists (select from pg_publication where pubname = 'supabase_realtime')
     and not exists (
       select from pg_publication_tables
        where pubname = 'supabase_realtime' and schemaname = 'public' and tablename = 'ai_automation_contact_states'
     ) then
    alter publication supabase_realtime add table public.ai_automation_contact_states;
  end if;
end
$$;
