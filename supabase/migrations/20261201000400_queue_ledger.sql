-- The lead queue, part 1 of 2: the tables and the rules they keep by themselves.
-- Tables: leads, user_queue_settings, lead_processing_queue, whatsapp_message_queue, queue_ledger.
-- View: queue_performance_metrics.
-- A lead is a person to contact first (a phone in E.164, and/or a Messenger conversation, and/or a
-- campaign session). Every lead whose status is `new` waits in the backlog (lead_processing_queue).
-- Each day, queue_prepare moves the best leads of the backlog into the next day's WhatsApp queue
-- (whatsapp_message_queue), inside the owner's sending hours, up to the owner's daily capacity
-- (user_queue_settings). Workers claim due messages with a lease, send them and report the outcome
-- (part 2: 20261201000410_queue_ledger_api.sql). A person may take a lead over at any time: the
-- lead becomes human-controlled and nothing automated reaches it any more.
-- The ledger (queue_ledger) holds one row for every insert and every status change of a lead, a
-- backlog item or a message: who, why, when. Statement triggers write it, in the same statement as
-- the change, so no change can happen without its row; the metrics (queue_performance_metrics) are
-- computed from it, so they always agree with it. Nobody may change or delete a ledger row.
-- Every row belongs to an owner (`user_id`). Row level security lets a signed-in user reach only
-- their own rows; `anon` reaches nothing; `service_role` (n8n) reaches everything. Owners manage
-- their leads and their queue settings; they read, never write, the queues and the ledger.
--
-- Names: the seed's (leads, user_queue_settings, whatsapp_message_queue, lead_processing_queue,
-- queue_ledger, queue_performance_metrics).

-- =============================================================================================
-- The statuses
-- =============================================================================================
-- A lead's status (leads.status). One definition, read by the check below and by the functions.
--   new               waiting for its first automated contact (it has a queued backlog item)
--   queued            its first message is in the WhatsApp queue for a day
--   contacted         its first message was sent
--   engaged           it answered (set by the owner's app or a workflow)
--   booked            it booked an appointment (set by the owner's app or a workflow)
--   not_interested    it declined
--   human_controlled  a person took it over: no automation reaches it any more
--   do_not_contact    it must never be contacted (opted out)
--   invalid           it cannot be reached: its message was given up after the maximum attempts,
--                     or the owner marked its details wrong
-- Setting a lead back to `new` puts it back in the backlog; any status but new and queued cancels
-- whatever of it is still waiting in the queues (see leads_follow_status).
create or replace function leadflow_private.queue_lead_statuses()
returns text[]
language sql
immutable
parallel safe
as $$
  select '{new,queued,contacted,engaged,booked,not_interested,human_controlled,do_not_contact,invalid}'::text[]
$$;
comment on function leadflow_private.queue_lead_statuses() is
  'A lead''s statuses: new, queued, contacted, engaged, booked, not_interested, human_controlled, do_not_contact, invalid.';

-- A queue item's status (lead_processing_queue and whatsapp_message_queue). The moves each queue
-- allows are in queue_transition_allowed below.
create or replace function leadflow_private.queue_item_statuses()
returns text[]
language sql
immutable
parallel safe
as $$
  select '{queued,claimed,sent,failed,cancelled,dead}'::text[]
$$;
comment on function leadflow_private.queue_item_statuses() is
  'A queue item''s statuses: queued, claimed, sent, failed, cancelled, dead.';

-- The status machine of each queue (null from: the item is being inserted).
--   whatsapp_message_queue (a message for one lead on one day)
--     (insert)  → queued     prepared for a day, due at scheduled_for
--     queued    → claimed    a worker holds it (lease_holder) until lease_expires_at
--     failed    → claimed    its retry is due
--     claimed   → claimed    its lease ran out and another claim took it (attempt + 1)
--     claimed   → sent       the worker reported it sent (final)
--     claimed   → failed     the worker reported a failure; retried at scheduled_for
--     claimed   → dead       the last allowed attempt failed, or the error says no attempt can
--                            succeed (permanent) (final)
--     claimed   → queued     the worker released it without attempting it (the attempt is not
--                            counted)
--     queued, claimed, failed → cancelled   its lead was taken over or may not be contacted (final)
--   lead_processing_queue (a lead's first contact: the backlog)
--     (insert)  → queued     the lead is new: waiting for a day
--     queued    → claimed    queue_prepare put its message in a day's queue (lease_holder says so)
--     claimed   → sent | dead          its message was sent / given up
--     queued, claimed → cancelled      the lead was taken over or may not be contacted
--     sent, dead, cancelled → queued   the lead was set back to new
create or replace function leadflow_private.queue_transition_allowed(p_queue text, p_from text, p_to text)
returns boolean
language sql
immutable
parallel safe
as $$
  select case p_queue
    when 'whatsapp_message_queue' then
      (p_from is null and p_to = 'queued')
      or (p_from in ('queued', 'failed', 'claimed') and p_to = 'claimed')
      or (p_from = 'claimed' and p_to in ('sent', 'failed', 'dead', 'queued'))
      or (p_from in ('queued', 'claimed', 'failed') and p_to = 'cancelled')
    when 'lead_processing_queue' then
      (p_from is null and p_to = 'queued')
      or (p_from = 'queued' and p_to = 'claimed')
      or (p_from = 'claimed' and p_to in ('sent', 'dead'))
      or (p_from in ('queued', 'claimed') and p_to = 'cancelled')
      or (p_from in ('sent', 'dead', 'cancelled') and p_to = 'queued')
    else false
  end
$$;
comment on function leadflow_private.queue_transition_allowed(text, text, text) is
  'The status machine of whatsapp_message_queue and lead_processing_queue: whether an item may go from p_from (null: inserted) to p_to.';

-- =============================================================================================
-- Checks that name the field: true, or an error saying what is wrong (23514)
-- =============================================================================================
-- A time zone is a name of the IANA database as the server knows it (Europe/Paris, Asia/Kolkata,
-- UTC); abbreviations (CET) and POSIX offsets (UTC+5) are refused: their meaning depends on
-- settings, and the sending hours would drift with them. Stable, not immutable: it reads the
-- server's list.
create or replace function leadflow_private.queue_time_zone_valid(p_time_zone text)
returns boolean
language plpgsql
stable
set search_path = ''
as $$
begin
  if p_time_zone is null or not exists (select from pg_catalog.pg_timezone_names z where z.name = p_time_zone) then
    raise exception 'time_zone: "%" is not a time zone name', p_time_zone
      using errcode = '23514', hint = 'Use an IANA name such as Europe/Paris, America/New_York or Asia/Kolkata.';
  end if;
  return true;
end;
$$;

-- The message a queue sends (user_queue_settings.message, whatsapp_message_queue.message):
--   {"type": "text", "text": "Hi {{name}}"}                    1 to 4096 characters ({{name}}:
--                                                               the lead's name, filled by the claim)
--   {"type": "template", "name": "welcome", "language": "en_US"}   an approved WhatsApp template
-- Unknown keys are refused (a misspelt key would be silently ignored).
create or replace function leadflow_private.queue_message_valid(p_message jsonb, p_field text default 'message')
returns boolean
language plpgsql
immutable
set search_path = ''
as $$
begin
  if jsonb_typeof(p_message) is distinct from 'object' then
    raise exception '%: must be a JSON object {"type": "text", "text": …} or {"type": "template", "name": …, "language": …} (got %)',
      p_field, coalesce(jsonb_typeof(p_message), 'null') using errcode = '23514';
  end if;
  if p_message ->> 'type' = 'text' then
    if p_message - '{type,text}'::text[] <> '{}'::jsonb then
      raise exception '%.%: not a field of a text message; it has type and text', p_field,
        (select k from jsonb_object_keys(p_message - '{type,text}'::text[]) k limit 1) using errcode = '23514';
    end if;
    if jsonb_typeof(p_message -> 'text') is distinct from 'string' or length(btrim(p_message ->> 'text')) = 0
       or length(p_message ->> 'text') > 4096 or not leadflow_private.is_valid_text(p_message ->> 'text', 'multiline') then
      raise exception '%.text: required, 1 to 4096 characters without control characters (got %)', p_field,
        coalesce(left((p_message -> 'text')::text, 100), 'nothing') using errcode = '23514';
    end if;
  elsif p_message ->> 'type' = 'template' then
    if p_message - '{type,name,language}'::text[] <> '{}'::jsonb then
      raise exception '%.%: not a field of a template message; it has type, name and language', p_field,
        (select k from jsonb_object_keys(p_message - '{type,name,language}'::text[]) k limit 1) using errcode = '23514';
    end if;
    if jsonb_typeof(p_message -> 'name') is distinct from 'string' or (p_message ->> 'name') !~ '^[a-z0-9_]+$'
       or length(p_message ->> 'name') > 512 then
      raise exception '%.name: required, a WhatsApp template name: lowercase letters, digits and underscores (got %)', p_field,
        coalesce(left((p_message -> 'name')::text, 100), 'nothing') using errcode = '23514';
    end if;
    if jsonb_typeof(p_message -> 'language') is distinct from 'string' or (p_message ->> 'language') !~ '^[a-z]{2,3}(_[A-Za-z0-9]{2,4})?$' then
      raise exception '%.language: required, a template language code such as en, en_US or pt_BR (got %)', p_field,
        coalesce(left((p_message -> 'language')::text, 100), 'nothing') using errcode = '23514';
    end if;
  else
    raise exception '%.type: required, text or template (got %)', p_field, coalesce((p_message -> 'type')::text, 'nothing')
      using errcode = '23514';
  end if;
  return true;
end;
$$;

-- Days of the week, ISO: 1 = Monday … 7 = Sunday, each once, at least one.
create or replace function leadflow_private.queue_days_valid(p_days integer[])
returns boolean
language plpgsql
immutable
set search_path = ''
as $$
begin
  if p_days is null or cardinality(p_days) = 0 or not p_days <@ '{1,2,3,4,5,6,7}'::integer[]
     or cardinality(p_days) <> (select count(distinct d) from unnest(p_days) d) then
    raise exception 'days_of_week: must list days 1 (Monday) to 7 (Sunday), each once, at least one (got %)', coalesce(p_days::text, 'null')
      using errcode = '23514';
  end if;
  return true;
end;
$$;

-- updated_at of the tables owners edit: the clock's time, unless a queue function writes (it sets
-- updated_at to its p_now itself, so a ledger row's time is the change's time).
create or replace function leadflow_private.queue_touch_updated_at()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if new.updated_at is not distinct from old.updated_at and coalesce(pg_catalog.current_setting('leadflow.queue_actor', true), '') = '' then
    new.updated_at := leadflow_private.now();
  end if;
  return new;
end;
$$;

-- =============================================================================================
-- leads
-- =============================================================================================
create table if not exists public.leads (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  name text check (name is null or (length(btrim(name)) between 1 and 200 and leadflow_private.is_valid_text(name, 'line'))),
  -- E.164; null for a lead reached otherwise (a Messenger conversation): such a lead is never queued.
  phone text check (phone is null or phone ~ '^\+[1-9][0-9]{6,14}$'),
  conversation_id uuid,
  campaign_session_id uuid,
  -- Where the lead came from: a list, crm_tag, campaign … (free text, one line).
  source text check (source is null or (length(btrim(source)) between 1 and 100 and leadflow_private.is_valid_text(source, 'line'))),
  -- The score the queue orders by (highest first). Given when the lead is added, or its
  -- conversation's pipeline score; queue_prepare refreshes it from the pipeline.
  lead_score integer check (lead_score between 0 and 100),
  status text not null default 'new' check (status = any (leadflow_private.queue_lead_statuses())),
  taken_over_at timestamptz,
  taken_over_by uuid references auth.users (id) on delete set null,
  created_at timestamptz not null default leadflow_private.now(),
  updated_at timestamptz not null default leadflow_private.now(),
  constraint leads_taken_over_has_time check (status <> 'human_controlled' or taken_over_at is not null),
  -- One lead per phone, per conversation and per campaign session of an owner (nulls never collide).
  constraint leads_owner_phone_key unique (user_id, phone),
  constraint leads_owner_conversation_key unique (user_id, conversation_id),
  constraint leads_owner_campaign_session_key unique (user_id, campaign_session_id),
  unique (id, user_id),
  -- The conversation and the session are the owner's; deleting one keeps the lead, without the link.
  foreign key (conversation_id, user_id) references public.messenger_conversations (id, user_id) on delete set null (conversation_id),
  foreign key (campaign_session_id, user_id) references public.session_info (id, user_id) on delete set null (campaign_session_id)
);
comment on table public.leads is 'A person to contact first: name, phone (E.164), optional Messenger conversation and campaign session, score and status. One per phone, conversation and session per owner.';
comment on column public.leads.status is 'new, queued, contacted, engaged, booked, not_interested, human_controlled, do_not_contact, invalid (docs/database.md says what each means).';

drop trigger if exists leads_touch_updated_at on public.leads;
create trigger leads_touch_updated_at
  before update on public.leads
  for each row execute function leadflow_private.queue_touch_updated_at();

-- =============================================================================================
-- user_queue_settings: per owner, how the queue sends
-- =============================================================================================
create table if not exists public.user_queue_settings (
  user_id uuid primary key default auth.uid() references auth.users (id) on delete cascade,
  -- At most this many messages are queued per local day.
  daily_capacity integer not null default 100 check (daily_capacity between 1 and 100000),
  -- Messages go out from send_from (included) to send_until (excluded), owner's local time, on
  -- days_of_week (ISO: 1 = Monday … 7 = Sunday), in time_zone.
  send_from time not null default '09:00',
  send_until time not null default '18:00',
  time_zone text not null default 'UTC' check (leadflow_private.queue_time_zone_valid(time_zone)),
  days_of_week integer[] not null default '{1,2,3,4,5}' check (leadflow_private.queue_days_valid(days_of_week)),
  -- A failed message is tried again after retry_backoff_seconds, doubled at each further failure
  -- (at most a day), until max_attempts attempts; then it is dead.
  max_attempts integer not null default 3 check (max_attempts between 1 and 20),
  retry_backoff_seconds integer not null default 300 check (retry_backoff_seconds between 1 and 86400),
  message jsonb not null check (leadflow_private.queue_message_valid(message)),
  created_at timestamptz not null default leadflow_private.now(),
  updated_at timestamptz not null default leadflow_private.now(),
  constraint user_queue_settings_hours check (send_from < send_until)
);
comment on table public.user_queue_settings is 'Per owner: daily capacity, sending hours and days in a time zone, retries, and the message the queue sends.';

drop trigger if exists user_queue_settings_touch_updated_at on public.user_queue_settings;
create trigger user_queue_settings_touch_updated_at
  before update on public.user_queue_settings
  for each row execute function leadflow_private.queue_touch_updated_at();

-- =============================================================================================
-- lead_processing_queue: the backlog, one item per lead (its first contact)
-- =============================================================================================
-- Written by the triggers on leads (a new lead gets its item) and by the queue functions. The
-- owner (user_id) is the lead's: the key to leads holds both, so an item can never name another
-- owner's lead or an owner that does not exist.
create table if not exists public.lead_processing_queue (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null,
  lead_id uuid not null,
  -- The day its message is queued for (set by queue_prepare).
  day date,
  status text not null default 'queued' check (status = any (leadflow_private.queue_item_statuses())),
  -- Since when it waits (the backlog's order among equal scores).
  scheduled_for timestamptz not null,
  attempts integer not null default 0 check (attempts >= 0),
  lease_holder text check (lease_holder is null or (length(lease_holder) between 1 and 200 and leadflow_private.is_valid_text(lease_holder, 'line'))),
  lease_expires_at timestamptz,
  last_error jsonb check (last_error is null or jsonb_typeof(last_error) = 'object'),
  message_id text check (message_id is null or (length(message_id) between 1 and 200 and leadflow_private.is_valid_text(message_id, 'token'))),
  -- 'lead:<lead id>': one item per lead.
  dedupe_key text not null check (length(dedupe_key) between 1 and 200 and leadflow_private.is_valid_text(dedupe_key, 'token')),
  created_at timestamptz not null,
  updated_at timestamptz not null,
  constraint lead_processing_queue_claimed_has_holder check (status <> 'claimed' or lease_holder is not null),
  constraint lead_processing_queue_owner_dedupe_key unique (user_id, dedupe_key),
  foreign key (lead_id, user_id) references public.leads (id, user_id) on delete cascade
);
comment on table public.lead_processing_queue is 'The backlog: one item per lead for its first contact; queued while the lead waits for a day, claimed while its message is in the WhatsApp queue, then sent, dead or cancelled.';

-- queue_prepare reads each owner's waiting leads; the lead's item by lead.
create index if not exists lead_processing_queue_waiting_idx on public.lead_processing_queue (user_id, scheduled_for) where status = 'queued';
create index if not exists lead_processing_queue_lead_idx on public.lead_processing_queue (lead_id);

-- =============================================================================================
-- whatsapp_message_queue: the messages to send, one per lead per day at most
-- =============================================================================================
create table if not exists public.whatsapp_message_queue (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null,
  lead_id uuid not null,
  -- The owner's local day the message was prepared for.
  day date not null,
  -- The number it goes to, as queued (E.164).
  phone text not null check (phone ~ '^\+[1-9][0-9]{6,14}$'),
  -- What it says: the owner's message when it was prepared (placeholders filled by the claim).
  message jsonb not null check (leadflow_private.queue_message_valid(message)),
  status text not null default 'queued' check (status = any (leadflow_private.queue_item_statuses())),
  -- queued: when it is due (inside the sending hours); failed: when its retry is due.
  scheduled_for timestamptz not null,
  -- Attempts so far (each claim is one).
  attempts integer not null default 0 check (attempts >= 0),
  lease_holder text check (lease_holder is null or (length(lease_holder) between 1 and 200 and leadflow_private.is_valid_text(lease_holder, 'line'))),
  lease_expires_at timestamptz,
  -- The last failure: {"code": …, "message": …}.
  last_error jsonb check (last_error is null or jsonb_typeof(last_error) = 'object'),
  -- WhatsApp's id of the message sent (wamid…).
  message_id text check (message_id is null or (length(message_id) between 1 and 200 and leadflow_private.is_valid_text(message_id, 'token'))),
  -- 'wa:<lead id>:<day>': one message per lead per day.
  dedupe_key text not null check (length(dedupe_key) between 1 and 200 and leadflow_private.is_valid_text(dedupe_key, 'token')),
  -- When it reached sent, dead or cancelled.
  completed_at timestamptz,
  created_at timestamptz not null,
  updated_at timestamptz not null,
  -- The claim's way in: when a queued or failed item is due, or a claimed one's lease runs out.
  available_at timestamptz generated always as (case when status = 'claimed' then lease_expires_at else scheduled_for end) stored,
  constraint whatsapp_message_queue_claimed_has_lease check (status <> 'claimed' or (lease_holder is not null and lease_expires_at is not null)),
  constraint whatsapp_message_queue_final_has_time check ((status in ('sent', 'dead', 'cancelled')) = (completed_at is not null)),
  constraint whatsapp_message_queue_sent_has_id check (status <> 'sent' or message_id is not null),
  constraint whatsapp_message_queue_owner_dedupe_key unique (user_id, dedupe_key),
  foreign key (lead_id, user_id) references public.leads (id, user_id) on delete cascade
);
comment on table public.whatsapp_message_queue is 'WhatsApp messages to send, one per lead per local day: queued for a time inside the sending hours, claimed by a worker with a lease, then sent, retried (failed), dead or cancelled.';

-- The claim: what is due, soonest first.
create index if not exists whatsapp_message_queue_due_idx on public.whatsapp_message_queue (available_at) where status in ('queued', 'failed', 'claimed');
-- A lead's messages (take-over, contacted today, the key to leads).
create index if not exists whatsapp_message_queue_lead_idx on public.whatsapp_message_queue (lead_id);
-- An owner's day (prepare's count, the export's pages).
create index if not exists whatsapp_message_queue_day_idx on public.whatsapp_message_queue (user_id, day, id);

-- =============================================================================================
-- queue_ledger: every change, append-only
-- =============================================================================================
create table if not exists public.queue_ledger (
  id bigint generated always as identity primary key,
  -- No foreign keys, on purpose (like contact_activities): only the triggers below write here, for
  -- rows that have just been written with their own keys, in the same statement; a key checked on
  -- every ledger row would also lock the owner's auth.users row once per row. Deleting a lead
  -- deletes its ledger rows (queue_ledger_drop_with_lead), and so does deleting its owner.
  user_id uuid not null,
  queue text not null check (queue in ('whatsapp_message_queue', 'lead_processing_queue', 'leads')),
  -- The message's, backlog item's or lead's id.
  item_id uuid not null,
  lead_id uuid not null,
  -- whatsapp_message_queue: the item's day (the metrics' day); null otherwise.
  day date,
  -- null: the row was inserted.
  from_status text,
  to_status text not null,
  -- The item's attempts after the change (queues only).
  attempt integer,
  -- The worker that claimed or reported the item.
  worker text,
  -- automation: n8n (the queue functions); user: a person (the owner's app, a take-over);
  -- system: anything else (the service role writing directly, the database itself).
  actor text not null check (actor in ('automation', 'user', 'system')),
  actor_id uuid,
  -- Why: added, prepared, claimed, lease_expired, sent, send_failed, max_attempts, permanent_error,
  -- released, human_takeover, lead_<status>, reopened, message_sent, message_dead, updated …
  reason text not null,
  -- message_id (sent), the error (failed, dead), a take-over's note …
  detail jsonb,
  -- queued / failed: when the item is due.
  scheduled_for timestamptz,
  -- When the change happened (the row's updated_at: the clock of the call that made it).
  at timestamptz not null
);
comment on table public.queue_ledger is 'Every insert and status change of a lead, a backlog item and a WhatsApp message: from, to, who, why, when. Written by triggers only; append-only.';

-- An item's history and a lead's (the drop with a lead); the metrics by owner and day.
create index if not exists queue_ledger_lead_idx on public.queue_ledger (lead_id, id);
create index if not exists queue_ledger_day_idx on public.queue_ledger (user_id, day, item_id, id) where day is not null;

-- Append-only: no update; a delete only once the lead is gone (its history goes with it).
create or replace function leadflow_private.queue_ledger_append_only()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if tg_op = 'TRUNCATE' then
    raise exception 'the queue ledger is append-only: it cannot be truncated' using errcode = '42501';
  end if;
  if tg_op = 'UPDATE' then
    raise exception 'the queue ledger is append-only: its rows cannot be changed' using errcode = '42501';
  end if;
  if exists (select from public.leads l where l.id = old.lead_id) then
    raise exception 'the queue ledger is append-only (a lead''s rows go when the lead is deleted)' using errcode = '42501';
  end if;
  return old;
end;
$$;

drop trigger if exists queue_ledger_append_only on public.queue_ledger;
create trigger queue_ledger_append_only
  before update or delete on public.queue_ledger
  for each row execute function leadflow_private.queue_ledger_append_only();
drop trigger if exists queue_ledger_no_truncate on public.queue_ledger;
create trigger queue_ledger_no_truncate
  before truncate on public.queue_ledger
  for each statement execute function leadflow_private.queue_ledger_append_only();

-- =============================================================================================
-- Who is changing the queue
-- =============================================================================================
-- The queue functions say who acts and why for the statements that follow, for their own
-- transaction only (set_config(…, true): nothing outlives the call, so it works behind Supabase's
-- transaction pooler):
--   leadflow.queue_actor     automation | user | system
--   leadflow.queue_actor_id  a user id
--   leadflow.queue_reason    the reason of the ledger rows (else one follows from the change)
--   leadflow.queue_detail    a JSON object for the ledger rows' detail
-- Without them (a direct write): user when a signed-in user writes, with their id; system otherwise.
create or replace function leadflow_private.queue_set_actor(p_actor text, p_actor_id uuid default null, p_reason text default null,
                                                            p_detail jsonb default null)
returns void
language sql
volatile
as $$
  select pg_catalog.set_config('leadflow.queue_actor', coalesce(p_actor, ''), true),
         pg_catalog.set_config('leadflow.queue_actor_id', coalesce(p_actor_id::text, ''), true),
         pg_catalog.set_config('leadflow.queue_reason', coalesce(p_reason, ''), true),
         pg_catalog.set_config('leadflow.queue_detail', coalesce(p_detail::text, ''), true)
$$;

-- (actor, actor_id, reason, detail) for the ledger rows of a statement.
create or replace function leadflow_private.queue_actor()
returns table (actor text, actor_id uuid, reason text, detail jsonb)
language sql
stable
as $$
  select coalesce(nullif(pg_catalog.current_setting('leadflow.queue_actor', true), ''),
                  case when auth.uid() is not null then 'user' else 'system' end),
         case when nullif(pg_catalog.current_setting('leadflow.queue_actor', true), '') is not null
              then nullif(pg_catalog.current_setting('leadflow.queue_actor_id', true), '')::uuid
              else auth.uid() end,
         nullif(pg_catalog.current_setting('leadflow.queue_reason', true), ''),
         nullif(pg_catalog.current_setting('leadflow.queue_detail', true), '')::jsonb
$$;

-- =============================================================================================
-- The ledger's writer for the two queues
-- =============================================================================================
-- After every INSERT and UPDATE statement on whatsapp_message_queue and lead_processing_queue:
-- checks every status change against the status machine (a wrong one fails the statement), then
-- writes one ledger row per inserted item and per item whose status, attempts or holder changed,
-- in one INSERT. Security definer: no API role may write the ledger.
create or replace function leadflow_private.queue_items_ledger()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_who record;
  v_bad record;
begin
  select * into v_who from leadflow_private.queue_actor();
  if tg_op = 'INSERT' then
    select n.id, n.status into v_bad from new_rows n
     where not leadflow_private.queue_transition_allowed(tg_table_name, null, n.status) limit 1;
    if found then
      raise exception '%: an item is inserted queued (item % was inserted %)', tg_table_name, v_bad.id, v_bad.status
        using errcode = '23514';
    end if;
    insert into public.queue_ledger (user_id, queue, item_id, lead_id, day, from_status, to_status, attempt, worker,
                                     actor, actor_id, reason, detail, scheduled_for, at)
    select n.user_id, tg_table_name, n.id, n.lead_id, case when tg_table_name = 'whatsapp_message_queue' then n.day end,
           null, n.status, n.attempts, null, v_who.actor, v_who.actor_id,
           coalesce(v_who.reason, case when tg_table_name = 'whatsapp_message_queue' then 'prepared' else 'added' end),
           v_who.detail, n.scheduled_for, n.created_at
      from new_rows n;
  else
    select o.id, o.status as from_status, n.status as to_status into v_bad
      from new_rows n join old_rows o on o.id = n.id
     where n.status is distinct from o.status and not leadflow_private.queue_transition_allowed(tg_table_name, o.status, n.status)
     limit 1;
    if found then
      raise exception '%: item % cannot go from % to %', tg_table_name, v_bad.id, v_bad.from_status, v_bad.to_status
        using errcode = '23514', hint = 'docs/database.md shows the queue''s status machine.';
    end if;
    insert into public.queue_ledger (user_id, queue, item_id, lead_id, day, from_status, to_status, attempt, worker,
                                     actor, actor_id, reason, detail, scheduled_for, at)
    select n.user_id, tg_table_name, n.id, n.lead_id, case when tg_table_name = 'whatsapp_message_queue' then n.day end,
           o.status, n.status, n.attempts,
           case when n.status = 'claimed' then n.lease_holder when o.status = 'claimed' then o.lease_holder end,
           v_who.actor, v_who.actor_id,
           coalesce(v_who.reason, case
             when n.status = 'claimed' and o.status = 'claimed' then 'lease_expired'
             when n.status = 'claimed' then 'claimed'
             when n.status = 'sent' then 'sent'
             when n.status = 'failed' then 'send_failed'
             when n.status = 'dead' and (n.last_error ->> 'permanent') = 'true' then 'permanent_error'
             when n.status = 'dead' then 'max_attempts'
             when n.status = 'queued' and o.status = 'claimed' then 'released'
             when n.status = 'queued' then 'reopened'
             -- Cancelled by a change of its lead (the lead's new status is visible here).
             when n.status = 'cancelled' then (select case when l.status = 'human_controlled' then 'human_takeover' else 'lead_' || l.status end
                                                  from public.leads l where l.id = n.lead_id)
             else 'updated'
           end),
           coalesce(case when n.status = 'sent' and n.message_id is not null then jsonb_build_object('message_id', n.message_id)
                         when n.status in ('failed', 'dead') then n.last_error end,
                    v_who.detail),
           case when n.status in ('queued', 'failed') then n.scheduled_for end,
           n.updated_at
      from new_rows n join old_rows o on o.id = n.id
     where n.status is distinct from o.status or n.attempts is distinct from o.attempts
        or n.lease_holder is distinct from o.lease_holder;
  end if;
  return null;
end;
$$;

drop trigger if exists whatsapp_message_queue_ledger_insert on public.whatsapp_message_queue;
create trigger whatsapp_message_queue_ledger_insert
  after insert on public.whatsapp_message_queue
  referencing new table as new_rows
  for each statement execute function leadflow_private.queue_items_ledger();
drop trigger if exists whatsapp_message_queue_ledger_update on public.whatsapp_message_queue;
create trigger whatsapp_message_queue_ledger_update
  after update on public.whatsapp_message_queue
  referencing old table as old_rows new table as new_rows
  for each statement execute function leadflow_private.queue_items_ledger();
drop trigger if exists lead_processing_queue_ledger_insert on public.lead_processing_queue;
create trigger lead_processing_queue_ledger_insert
  after insert on public.lead_processing_queue
  referencing new table as new_rows
  for each statement execute function leadflow_private.queue_items_ledger();
drop trigger if exists lead_processing_queue_ledger_update on public.lead_processing_queue;
create trigger lead_processing_queue_ledger_update
  after update on public.lead_processing_queue
  referencing old table as old_rows new table as new_rows
  for each statement execute function leadflow_private.queue_items_ledger();

-- =============================================================================================
-- leads_follow_status: the ledger of leads, the backlog, and stopping what may not be sent
-- =============================================================================================
-- After every INSERT and UPDATE statement on leads, whoever wrote (the owner's app, n8n, a queue
-- function):
--   1. a ledger row per lead inserted and per lead whose status changed;
--   2. a lead that is (or becomes) new gets its backlog item, queued (a reopened one if it had one);
--   3. a lead that becomes anything but new or queued has its waiting items cancelled: its messages
--      (queued, claimed or failed) and its backlog item (queued or claimed). Reason human_takeover
--      for human_controlled, else lead_<status>. A worker holding such a message is refused at
--      queue_complete: nothing is recorded as sent by the automation.
-- So the rule holds whoever changes a lead: a new lead waits in the backlog, and nothing automated
-- reaches a lead that is taken over, opted out, or done with. Security definer: owners write leads
-- but not the queues.
create or replace function leadflow_private.leads_follow_status()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_who record;
  v_reason text;
begin
  select * into v_who from leadflow_private.queue_actor();
  if tg_op = 'INSERT' then
    insert into public.queue_ledger (user_id, queue, item_id, lead_id, from_status, to_status, actor, actor_id, reason, detail, at)
    select n.user_id, 'leads', n.id, n.id, null, n.status, v_who.actor, v_who.actor_id, coalesce(v_who.reason, 'added'), v_who.detail, n.created_at
      from new_rows n;
    insert into public.lead_processing_queue (user_id, lead_id, status, scheduled_for, dedupe_key, created_at, updated_at)
    select n.user_id, n.id, 'queued', n.created_at, 'lead:' || n.id, n.created_at, n.created_at
      from new_rows n
     where n.status = 'new'
    on conflict (user_id, dedupe_key) do nothing;
    return null;
  end if;

  insert into public.queue_ledger (user_id, queue, item_id, lead_id, from_status, to_status, actor, actor_id, reason, detail, at)
  select n.user_id, 'leads', n.id, n.id, o.status, n.status, v_who.actor, v_who.actor_id,
         coalesce(v_who.reason, case when n.status = 'human_controlled' then 'human_takeover' else 'updated' end), v_who.detail, n.updated_at
    from new_rows n join old_rows o on o.id = n.id
   where n.status is distinct from o.status;

  -- Back to new: back in the backlog.
  update public.lead_processing_queue p
     set status = 'queued', day = null, lease_holder = null, lease_expires_at = null, scheduled_for = n.updated_at, updated_at = n.updated_at
    from new_rows n join old_rows o on o.id = n.id
   where n.status = 'new' and o.status is distinct from 'new'
     and p.lead_id = n.id and p.status in ('sent', 'dead', 'cancelled');
  insert into public.lead_processing_queue (user_id, lead_id, status, scheduled_for, dedupe_key, created_at, updated_at)
  select n.user_id, n.id, 'queued', n.updated_at, 'lead:' || n.id, n.updated_at, n.updated_at
    from new_rows n join old_rows o on o.id = n.id
   where n.status = 'new' and o.status is distinct from 'new'
  on conflict (user_id, dedupe_key) do nothing;

  -- Done with, taken over or not to be contacted: nothing waits for it any more.
  -- Their ledger rows say why from the lead's status (not the reason of the statement that fired
  -- this one).
  v_reason := pg_catalog.current_setting('leadflow.queue_reason', true);
  perform pg_catalog.set_config('leadflow.queue_reason', '', true);
  update public.whatsapp_message_queue q
     set status = 'cancelled', lease_expires_at = null, completed_at = n.updated_at, updated_at = n.updated_at
    from new_rows n join old_rows o on o.id = n.id
   where n.status not in ('new', 'queued') and n.status is distinct from o.status
     and q.lead_id = n.id and q.status in ('queued', 'claimed', 'failed');
  update public.lead_processing_queue p
     set status = 'cancelled', updated_at = n.updated_at
    from new_rows n join old_rows o on o.id = n.id
   where n.status not in ('new', 'queued') and n.status is distinct from o.status
     and p.lead_id = n.id and p.status in ('queued', 'claimed');
  perform pg_catalog.set_config('leadflow.queue_reason', coalesce(v_reason, ''), true);
  return null;
end;
$$;

drop trigger if exists leads_follow_status_insert on public.leads;
create trigger leads_follow_status_insert
  after insert on public.leads
  referencing new table as new_rows
  for each statement execute function leadflow_private.leads_follow_status();
drop trigger if exists leads_follow_status_update on public.leads;
create trigger leads_follow_status_update
  after update on public.leads
  referencing old table as old_rows new table as new_rows
  for each statement execute function leadflow_private.leads_follow_status();

-- A lead deleted: its ledger rows with it (once per statement, for deletes cascaded from an owner
-- too). Its queue items go by their keys.
create or replace function leadflow_private.queue_ledger_drop_with_lead()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  delete from public.queue_ledger g where g.lead_id in (select o.id from old_rows o);
  return null;
end;
$$;

drop trigger if exists leads_drop_ledger on public.leads;
create trigger leads_drop_ledger
  after delete on public.leads
  referencing old table as old_rows
  for each statement execute function leadflow_private.queue_ledger_drop_with_lead();

-- =============================================================================================
-- queue_performance_metrics: per owner per queue day, computed from the ledger
-- =============================================================================================
-- The WhatsApp queue's rows of the ledger, per owner and per day the messages were prepared for:
--   queued                   messages prepared for the day
--   sent                     sent
--   failed                   failed attempts (to failed or dead)
--   cancelled                cancelled (take-overs included)
--   taken_over               cancelled because their lead was taken over
--   mean_wait_seconds        from due (the later of entering queued / failed and scheduled_for) to
--                            claimed, over the claims of queued and failed messages
--   mean_processing_seconds  from claimed to the worker's report (sent, failed or dead)
-- A view: it is the ledger's count by construction, and it follows the reader's row level security.
create or replace view public.queue_performance_metrics
with (security_invoker = true)
as
select g.user_id, g.day,
       count(*) filter (where g.from_status is null)::integer as queued,
       count(*) filter (where g.to_status = 'sent')::integer as sent,
       count(*) filter (where g.from_status = 'claimed' and g.to_status in ('failed', 'dead'))::integer as failed,
       count(*) filter (where g.to_status = 'cancelled')::integer as cancelled,
       count(*) filter (where g.to_status = 'cancelled' and g.reason = 'human_takeover')::integer as taken_over,
       round(avg(extract(epoch from g.at - greatest(g.prev_at, g.prev_scheduled_for)))
               filter (where g.to_status = 'claimed' and g.from_status in ('queued', 'failed')), 3) as mean_wait_seconds,
       round(avg(extract(epoch from g.at - g.prev_at))
               filter (where g.from_status = 'claimed' and g.to_status in ('sent', 'failed', 'dead')), 3) as mean_processing_seconds
  from (
    select l.user_id, l.day, l.from_status, l.to_status, l.reason, l.at,
           lag(l.at) over w as prev_at, lag(l.scheduled_for) over w as prev_scheduled_for
      from public.queue_ledger l
     where l.day is not null
    window w as (partition by l.user_id, l.day, l.item_id order by l.id)
  ) g
 group by g.user_id, g.day;
comment on view public.queue_performance_metrics is 'Per owner per queue day, from the ledger: messages queued, sent, failed attempts, cancelled, taken over, mean wait and processing time.';

-- =============================================================================================
-- Privileges and row level security
-- =============================================================================================
-- Owners manage their leads and settings, and read (never write) the queues and the ledger, which
-- only the queue functions and the triggers write. service_role (n8n) manages leads and settings
-- like an owner, and may insert and update queue items: the queue functions run with its rights.
-- Every such change still writes its ledger row and must follow the status machine (the ledger
-- trigger refuses any other). Nobody writes the ledger but its triggers; nobody may TRUNCATE.
-- anon gets nothing. (Supabase's default privileges give every API role everything on a new
-- table: take it back first.)
revoke all on public.leads, public.user_queue_settings, public.lead_processing_queue, public.whatsapp_message_queue,
  public.queue_ledger, public.queue_performance_metrics
  from anon, authenticated, service_role;
grant select, insert, update, delete on public.leads, public.user_queue_settings to authenticated, service_role;
grant select on public.lead_processing_queue, public.whatsapp_message_queue, public.queue_ledger, public.queue_performance_metrics
  to authenticated, service_role;
grant insert, update on public.lead_processing_queue, public.whatsapp_message_queue to service_role;

revoke all on function leadflow_private.queue_touch_updated_at(), leadflow_private.queue_ledger_append_only(),
  leadflow_private.queue_items_ledger(), leadflow_private.leads_follow_status(), leadflow_private.queue_ledger_drop_with_lead()
  from public, anon, authenticated, service_role;
-- The checks run as the writing role; the functions of part 2 call the others.
revoke all on function leadflow_private.queue_lead_statuses(), leadflow_private.queue_item_statuses(),
  leadflow_private.queue_transition_allowed(text, text, text), leadflow_private.queue_time_zone_valid(text),
  leadflow_private.queue_message_valid(jsonb, text), leadflow_private.queue_days_valid(integer[]),
  leadflow_private.queue_set_actor(text, uuid, text, jsonb), leadflow_private.queue_actor()
  from public, anon;
grant execute on function leadflow_private.queue_lead_statuses(), leadflow_private.queue_item_statuses(),
  leadflow_private.queue_time_zone_valid(text), leadflow_private.queue_message_valid(jsonb, text),
  leadflow_private.queue_days_valid(integer[])
  to authenticated, service_role;
grant execute on function leadflow_private.queue_transition_allowed(text, text, text),
  leadflow_private.queue_set_actor(text, uuid, text, jsonb), leadflow_private.queue_actor()
  to service_role;

alter table public.leads enable row level security;
alter table public.user_queue_settings enable row level security;
alter table public.lead_processing_queue enable row level security;
alter table public.whatsapp_message_queue enable row level security;
alter table public.queue_ledger enable row level security;

-- leads ----------------------------------------------------------------------------------------
drop policy if exists "Owners can read their leads" on public.leads;
create policy "Owners can read their leads" on public.leads
  for select to authenticated using ((select auth.uid()) = user_id);
drop policy if exists "Owners can create their leads" on public.leads;
create policy "Owners can create their leads" on public.leads
  for insert to authenticated with check ((select auth.uid()) = user_id);
drop policy if exists "Owners can update their leads" on public.leads;
create policy "Owners can update their leads" on public.leads
  for update to authenticated using ((select auth.uid()) = user_id) with check ((select auth.uid()) = user_id);
drop policy if exists "Owners can delete their leads" on public.leads;
create policy "Owners can delete their leads" on public.leads
  for delete to authenticated using ((select auth.uid()) = user_id);

-- user_queue_settings --------------------------------------------------------------------------
drop policy if exists "Owners can read their queue settings" on public.user_queue_settings;
create policy "Owners can read their queue settings" on public.user_queue_settings
  for select to authenticated using ((select auth.uid()) = user_id);
drop policy if exists "Owners can create their queue settings" on public.user_queue_settings;
create policy "Owners can create their queue settings" on public.user_queue_settings
  for insert to authenticated with check ((select auth.uid()) = user_id);
drop policy if exists "Owners can update their queue settings" on public.user_queue_settings;
create policy "Owners can update their queue settings" on public.user_queue_settings
  for update to authenticated using ((select auth.uid()) = user_id) with check ((select auth.uid()) = user_id);
drop policy if exists "Owners can delete their queue settings" on public.user_queue_settings;
create policy "Owners can delete their queue settings" on public.user_queue_settings
  for delete to authenticated using ((select auth.uid()) = user_id);

-- lead_processing_queue, whatsapp_message_queue, queue_ledger: read-only for owners ------------
drop policy if exists "Owners can read their lead backlog" on public.lead_processing_queue;
create policy "Owners can read their lead backlog" on public.lead_processing_queue
  for select to authenticated using ((select auth.uid()) = user_id);
drop policy if exists "Owners can read their message queue" on public.whatsapp_message_queue;
create policy "Owners can read their message queue" on public.whatsapp_message_queue
  for select to authenticated using ((select auth.uid()) = user_id);
drop policy if exists "Owners can read their queue ledger" on public.queue_ledger;
create policy "Owners can read their queue ledger" on public.queue_ledger
  for select to authenticated using ((select auth.uid()) = user_id);
