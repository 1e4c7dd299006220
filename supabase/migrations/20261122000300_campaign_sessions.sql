-- Campaign sessions: outbound recruiting campaigns launched from the recruiter's app through the
-- `session-created` webhook, one session per candidate phone number, the outreach on each session
-- (WhatsApp messages, calls) and the objectives it reaches.
-- Tables: campaign_info, numbers, session_info, campaigns, chat_history, call_info,
-- session_objective_events, campaign_session_requests.
-- Functions: create_campaign_sessions (the webhook's one round trip), record_session_objective,
-- campaign_session_stats, session_status_for (the objectives → status mapping).
-- Every row belongs to an owner (`user_id`, an auth.users id). Row level security lets a signed-in
-- user reach only their own rows; `anon` reaches nothing; `service_role` (n8n) reaches everything.
-- Composite foreign keys on (id, user_id) keep every child row with its parent's owner.
-- Duplicates are impossible by construction: one session per phone per campaign (unique key), one
-- campaign per name_uid per owner, and creation serialised per campaign with a transaction lock.

-- =============================================================================================
-- campaign_info: a campaign (the seed's "campaign template")
-- =============================================================================================
create table if not exists public.campaign_info (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  -- The seed's campaign id: a slug of the name, an underscore, a unique suffix ("plumber-london_abc123xyz").
  name_uid text not null check (name_uid ~ '^[a-z0-9]+(-[a-z0-9]+)*_[a-z0-9]{6,32}$' and length(name_uid) <= 113),
  name text not null check (length(btrim(name)) between 1 and 200 and name !~ '[[:cntrl:]]'),
  job_description text not null default '' check (length(job_description) <= 50000),
  -- Objective definitions as the app sends them (`convertMatricesToObjectives`): a JSON object.
  objectives jsonb not null default '{}'::jsonb check (jsonb_typeof(objectives) = 'object'),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (user_id, name_uid),
  unique (id, user_id)
);
comment on table public.campaign_info is 'An outreach campaign: what the job is and which objectives count as reached.';
comment on column public.campaign_info.name_uid is 'The campaign id the app and the webhook use, e.g. plumber-london_abc123xyz.';

-- =============================================================================================
-- numbers: phone ↔ contact
-- =============================================================================================
create table if not exists public.numbers (
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  phone_e164 text not null check (phone_e164 ~ '^\+[1-9][0-9]{6,14}$'),
  contact_name text check (contact_name is null or (length(contact_name) <= 200 and contact_name !~ '[[:cntrl:]]')),
  created_at timestamptz not null default now(),
  primary key (user_id, phone_e164)
);
comment on table public.numbers is 'Who a phone number belongs to, once per owner; sessions, messages and calls meet here.';

-- =============================================================================================
-- session_info: one candidate in one campaign
-- =============================================================================================
create table if not exists public.session_info (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  -- The session id the app sends (or one made for it): what the outreach side addresses.
  session_id text not null check (length(session_id) between 1 and 128 and session_id !~ '[[:cntrl:][:space:]]'),
  campaign_id uuid not null,
  phone_e164 text not null,
  display_name text check (display_name is null or (length(display_name) <= 200 and display_name !~ '[[:cntrl:]]')),
  status text not null default 'pending'
    check (status in ('pending', 'contacted', 'interested', 'started_work', 'rejected')),
  objectives jsonb not null default '{}'::jsonb check (jsonb_typeof(objectives) = 'object'),
  contacted_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (user_id, session_id),
  -- One session per phone per campaign: the key that makes a replayed launch create nothing.
  -- user_id leads so that another owner's insert can never collide with (and so learn of) a row.
  unique (user_id, campaign_id, phone_e164),
  unique (id, user_id),
  foreign key (campaign_id, user_id) references public.campaign_info (id, user_id) on delete cascade,
  foreign key (user_id, phone_e164) references public.numbers (user_id, phone_e164)
);
comment on table public.session_info is 'One candidate (phone number) in one campaign: status and objectives reached.';
comment on column public.session_info.status is 'Kept equal to session_status_for(objectives, contacted_at is not null) by a trigger.';
comment on column public.session_info.objectives is 'The latest value of each objective reached, e.g. {"interested": true}.';

create index if not exists session_info_owner_phone_idx on public.session_info (user_id, phone_e164);

-- =============================================================================================
-- campaigns: campaign ↔ session links (the seed's table; the app lists a campaign's sessions here)
-- =============================================================================================
create table if not exists public.campaigns (
  campaign_id uuid not null,
  session_info_id uuid not null,
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  created_at timestamptz not null default now(),
  primary key (campaign_id, session_info_id),
  foreign key (campaign_id, user_id) references public.campaign_info (id, user_id) on delete cascade,
  foreign key (session_info_id, user_id) references public.session_info (id, user_id) on delete cascade
);
comment on table public.campaigns is 'Which sessions a campaign runs (the app''s campaign ↔ session links).';

create index if not exists campaigns_session_idx on public.campaigns (session_info_id);
create index if not exists campaigns_owner_idx on public.campaigns (user_id);

-- =============================================================================================
-- chat_history: the messages of a session
-- =============================================================================================
create table if not exists public.chat_history (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  session_info_id uuid not null,
  direction text not null check (direction in ('inbound', 'outbound')),
  channel text not null default 'whatsapp' check (channel in ('whatsapp', 'sms')),
  body text check (body is null or length(body) <= 10000),
  external_message_id text,
  sent_at timestamptz not null default now(),
  created_at timestamptz not null default now(),
  unique (user_id, external_message_id),
  foreign key (session_info_id, user_id) references public.session_info (id, user_id) on delete cascade
);
comment on column public.chat_history.direction is 'inbound: from the candidate; outbound: from the campaign.';

create index if not exists chat_history_session_time_idx on public.chat_history (session_info_id, sent_at desc);
create index if not exists chat_history_owner_idx on public.chat_history (user_id);

-- =============================================================================================
-- call_info: the calls of a session
-- =============================================================================================
create table if not exists public.call_info (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  session_info_id uuid not null,
  direction text not null check (direction in ('inbound', 'outbound')),
  duration_seconds integer not null default 0 check (duration_seconds between 0 and 86400),
  transcript text check (transcript is null or length(transcript) <= 200000),
  outcome text not null check (outcome in ('completed', 'no_answer', 'busy', 'voicemail', 'failed')),
  external_call_id text,
  started_at timestamptz not null default now(),
  created_at timestamptz not null default now(),
  unique (user_id, external_call_id),
  foreign key (session_info_id, user_id) references public.session_info (id, user_id) on delete cascade
);

create index if not exists call_info_session_time_idx on public.call_info (session_info_id, started_at desc);
create index if not exists call_info_owner_idx on public.call_info (user_id);

-- =============================================================================================
-- session_objective_events: the ledger of objectives reached (session_info.objectives is its fold)
-- =============================================================================================
create table if not exists public.session_objective_events (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  session_info_id uuid not null,
  objective text not null check (objective ~ '^[a-z][a-z0-9_]{0,62}$'),
  value jsonb not null default 'true'::jsonb,
  source text not null check (source in ('whatsapp', 'call', 'manual', 'other')),
  -- Set by the outreach side so that a retried report is recorded once.
  event_key text check (event_key is null or length(event_key) between 1 and 200),
  occurred_at timestamptz not null default now(),
  created_at timestamptz not null default now(),
  unique (session_info_id, event_key),
  foreign key (session_info_id, user_id) references public.session_info (id, user_id) on delete cascade
);

create index if not exists session_objective_events_session_time_idx
  on public.session_objective_events (session_info_id, occurred_at);
create index if not exists session_objective_events_owner_idx on public.session_objective_events (user_id);

-- =============================================================================================
-- campaign_session_requests: idempotency keys of launches
-- =============================================================================================
create table if not exists public.campaign_session_requests (
  user_id uuid not null references auth.users (id) on delete cascade,
  idempotency_key text not null check (length(idempotency_key) between 1 and 200 and idempotency_key !~ '[[:cntrl:]]'),
  campaign_id uuid not null,
  -- sha256 of the campaign id and the sorted phone numbers: what "the same request" means.
  fingerprint text not null,
  created_at timestamptz not null default now(),
  primary key (user_id, idempotency_key),
  foreign key (campaign_id, user_id) references public.campaign_info (id, user_id) on delete cascade
);
comment on table public.campaign_session_requests is 'Launch requests by Idempotency-Key: a key seen again answers with the first request''s sessions.';

create index if not exists campaign_session_requests_campaign_idx on public.campaign_session_requests (campaign_id);

-- =============================================================================================
-- Status: a pure function of the objectives reached, kept by a trigger
-- =============================================================================================
-- Precedence: starting work is the campaign's goal and an observed fact, so it wins; a rejection
-- overrides earlier interest; interest beats merely having been contacted.
create or replace function leadflow_private.session_status_for(objectives jsonb, contacted boolean)
returns text
language sql
immutable
set search_path = ''
as $$
  select case
    when objectives -> 'started_work' = 'true'::jsonb then 'started_work'
    when objectives -> 'rejected' = 'true'::jsonb then 'rejected'
    when objectives -> 'interested' = 'true'::jsonb then 'interested'
    when contacted then 'contacted'
    else 'pending'
  end
$$;

create or replace function leadflow_private.session_info_keep_status()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.status := leadflow_private.session_status_for(new.objectives, new.contacted_at is not null);
  if tg_op = 'UPDATE' then
    new.updated_at := now();
  end if;
  return new;
end;
$$;

drop trigger if exists session_info_keep_status on public.session_info;
create trigger session_info_keep_status
  before insert or update of objectives, contacted_at, status on public.session_info
  for each row execute function leadflow_private.session_info_keep_status();

-- The first outbound message or call marks the session contacted, whoever writes it.
create or replace function leadflow_private.session_info_mark_contacted()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  v_at timestamptz;
begin
  -- Two tables, two column names; each branch is planned only when it runs.
  if tg_table_name = 'call_info' then
    v_at := new.started_at;
  else
    v_at := new.sent_at;
  end if;
  if new.direction = 'outbound' then
    update public.session_info s
       set contacted_at = least(coalesce(s.contacted_at, v_at), v_at)
     where s.id = new.session_info_id
       and (s.contacted_at is null or s.contacted_at > v_at);
  end if;
  return null;
end;
$$;

drop trigger if exists chat_history_mark_contacted on public.chat_history;
create trigger chat_history_mark_contacted
  after insert on public.chat_history
  for each row execute function leadflow_private.session_info_mark_contacted();

drop trigger if exists call_info_mark_contacted on public.call_info;
create trigger call_info_mark_contacted
  after insert on public.call_info
  for each row execute function leadflow_private.session_info_mark_contacted();

-- =============================================================================================
-- create_campaign_sessions: the launch, in one transaction and one round trip
-- =============================================================================================
-- p_campaign: {name_uid, name, job_description, objectives}; p_tasks: [{session?, phone, name?}]
-- with phones already in E.164 and no duplicate phones (the node validates; the checks above and
-- below refuse anything it might have missed). Sessions that already exist in the campaign are
-- returned as they are; a task whose session id is taken by another session is a conflict.
-- Two identical launches at the same moment: the transaction lock on the campaign makes the second
-- wait for the first and then find everything there.
create or replace function public.create_campaign_sessions(
  p_owner uuid,
  p_campaign jsonb,
  p_tasks jsonb,
  p_idempotency_key text default null
)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_name_uid text := p_campaign ->> 'name_uid';
  v_campaign public.campaign_info%rowtype;
  v_campaign_created boolean := false;
  v_fingerprint text;
  v_request public.campaign_session_requests%rowtype;
  v_result jsonb;
begin
  if p_owner is null or not exists (select from auth.users u where u.id = p_owner) then
    return jsonb_build_object('outcome', 'owner_not_found');
  end if;
  if jsonb_typeof(p_campaign) is distinct from 'object' or v_name_uid is null then
    raise exception 'p_campaign must be an object with a name_uid' using errcode = '22023';
  end if;
  if jsonb_typeof(p_tasks) is distinct from 'array' then
    raise exception 'p_tasks must be an array' using errcode = '22023';
  end if;

  -- Key first, then campaign: always the same order, so two launches never wait on each other in a circle.
  if p_idempotency_key is not null then
    perform pg_advisory_xact_lock(hashtextextended('campaign_session_requests:' || p_owner || ':' || p_idempotency_key, 0));
  end if;
  perform pg_advisory_xact_lock(hashtextextended('campaign_info:' || p_owner || ':' || v_name_uid, 0));

  select encode(sha256(convert_to(v_name_uid || E'\n' || coalesce(string_agg(t ->> 'phone', E'\n' order by t ->> 'phone'), ''), 'UTF8')), 'hex')
    into v_fingerprint
    from jsonb_array_elements(p_tasks) t;

  if p_idempotency_key is not null then
    select * into v_request from public.campaign_session_requests r
     where r.user_id = p_owner and r.idempotency_key = p_idempotency_key;
    if found and v_request.fingerprint <> v_fingerprint then
      return jsonb_build_object('outcome', 'idempotency_key_reused');
    end if;
  end if;

  insert into public.campaign_info (user_id, name_uid, name, job_description, objectives)
  values (
    p_owner,
    v_name_uid,
    coalesce(p_campaign ->> 'name', v_name_uid),
    coalesce(p_campaign ->> 'job_description', ''),
    coalesce(p_campaign -> 'objectives', '{}'::jsonb)
  )
  on conflict (user_id, name_uid) do nothing
  returning * into v_campaign;
  v_campaign_created := found;
  if not v_campaign_created then
    select * into v_campaign from public.campaign_info c where c.user_id = p_owner and c.name_uid = v_name_uid;
  end if;

  if p_idempotency_key is not null then
    insert into public.campaign_session_requests (user_id, idempotency_key, campaign_id, fingerprint)
    values (p_owner, p_idempotency_key, v_campaign.id, v_fingerprint)
    on conflict (user_id, idempotency_key) do nothing;
  end if;

  -- A name given now fills a blank one, never overwrites.
  insert into public.numbers (user_id, phone_e164, contact_name)
  select distinct on (t ->> 'phone') p_owner, t ->> 'phone', t ->> 'name'
    from jsonb_array_elements(p_tasks) t
   order by t ->> 'phone', t ->> 'name' nulls last
  on conflict (user_id, phone_e164) do update
    set contact_name = excluded.contact_name
    where public.numbers.contact_name is null and excluded.contact_name is not null;

  with input as (
    select (t.ordinality - 1)::int as task_index,
           t.value ->> 'phone' as phone,
           t.value ->> 'name' as name,
           coalesce(t.value ->> 'session', gen_random_uuid()::text) as session_id
      from jsonb_array_elements(p_tasks) with ordinality t
  ),
  inserted as (
    insert into public.session_info (user_id, session_id, campaign_id, phone_e164, display_name)
    select p_owner, i.session_id, v_campaign.id, i.phone, i.name from input i
    on conflict do nothing
    returning id, session_id, phone_e164, display_name, status
  ),
  linked as (
    insert into public.campaigns (campaign_id, session_info_id, user_id)
    select v_campaign.id, ins.id, p_owner from inserted ins
    returning session_info_id
  ),
  -- `existing` reads the table as it was before this statement: sessions made by earlier launches.
  outcome as (
    select i.task_index,
           i.phone,
           coalesce(ins.session_id, ex.session_id) as session_id,
           coalesce(ins.display_name, ex.display_name) as display_name,
           coalesce(ins.status, ex.status) as status,
           ins.id is not null as created
      from input i
      left join inserted ins on ins.phone_e164 = i.phone
      left join public.session_info ex on ins.id is null and ex.user_id = p_owner and ex.campaign_id = v_campaign.id and ex.phone_e164 = i.phone
  )
  select jsonb_build_object(
           'outcome', 'ok',
           'campaign', jsonb_build_object(
             'id', v_campaign.name_uid,
             'name', v_campaign.name,
             'created', v_campaign_created,
             'created_at', v_campaign.created_at
           ),
           'created', (select count(*) from outcome o where o.created),
           'existing', (select count(*) from outcome o where not o.created and o.session_id is not null),
           'linked', (select count(*) from linked),
           'sessions', coalesce((
             select jsonb_agg(jsonb_build_object(
                      'task_index', o.task_index,
                      'session', o.session_id,
                      'phone_number', o.phone,
                      'name', o.display_name,
                      'status', o.status,
                      'created', o.created
                    ) order by o.task_index)
               from outcome o where o.session_id is not null), '[]'::jsonb),
           'conflicts', coalesce((
             select jsonb_agg(jsonb_build_object('task_index', o.task_index, 'phone_number', o.phone) order by o.task_index)
               from outcome o where o.session_id is null), '[]'::jsonb)
         )
    into v_result;
  return v_result;
end;
$$;

comment on function public.create_campaign_sessions(uuid, jsonb, jsonb, text) is
  'Creates a campaign and its sessions at most once (per name_uid and phone), in one transaction; returns every session, new or existing.';

-- =============================================================================================
-- record_session_objective: an objective reached, from the outreach side
-- =============================================================================================
-- Appends the event and folds it into session_info.objectives; the trigger sets the status.
-- With an event key, a retried report records nothing new and answers the same.
create or replace function public.record_session_objective(
  p_owner uuid,
  p_session_id text,
  p_objective text,
  p_value jsonb default 'true'::jsonb,
  p_source text default 'other',
  p_occurred_at timestamptz default null,
  p_event_key text default null
)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_session public.session_info%rowtype;
  v_recorded boolean;
begin
  select * into v_session from public.session_info s
   where s.user_id = p_owner and s.session_id = p_session_id
   for update;
  if not found then
    return jsonb_build_object('outcome', 'session_not_found');
  end if;

  insert into public.session_objective_events (user_id, session_info_id, objective, value, source, event_key, occurred_at)
  values (p_owner, v_session.id, p_objective, coalesce(p_value, 'true'::jsonb), p_source, p_event_key, coalesce(p_occurred_at, now()))
  on conflict (session_info_id, event_key) do nothing;
  v_recorded := found;

  -- The latest event of each objective (by when it happened) is the session's value for it, so
  -- reports arriving out of order still leave the right state.
  if v_recorded then
    update public.session_info s
       set objectives = (
             select coalesce(jsonb_object_agg(e.objective, e.value), '{}'::jsonb)
               from (
                 select distinct on (ev.objective) ev.objective, ev.value
                   from public.session_objective_events ev
                  where ev.session_info_id = v_session.id
                  order by ev.objective, ev.occurred_at desc, ev.created_at desc
               ) e
           )
     where s.id = v_session.id
     returning * into v_session;
  end if;

  return jsonb_build_object(
    'outcome', 'ok',
    'recorded', v_recorded,
    'session', v_session.session_id,
    'status', v_session.status,
    'objectives', v_session.objectives
  );
end;
$$;

-- =============================================================================================
-- campaign_session_stats: a campaign's live numbers, one query
-- =============================================================================================
create or replace function public.campaign_session_stats(p_owner uuid, p_campaign text)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  with campaign as (
    select c.id, c.name_uid, c.name, c.created_at
      from public.campaign_info c
     where c.user_id = p_owner and c.name_uid = p_campaign
  ),
  sessions as (
    select s.* from public.session_info s join campaign c on s.campaign_id = c.id where s.user_id = p_owner
  )
  select case when not exists (select from campaign) then null else jsonb_build_object(
    'campaign', (select jsonb_build_object('id', c.name_uid, 'name', c.name, 'created_at', c.created_at) from campaign c),
    'sessions', (select count(*) from sessions),
    'contacted', (select count(*) from sessions where contacted_at is not null),
    'statuses', (
      select jsonb_object_agg(st.status, (select count(*) from sessions s where s.status = st.status))
        from unnest(array['pending', 'contacted', 'interested', 'started_work', 'rejected']) as st(status)
    ),
    'messages', (
      select jsonb_build_object(
               'total', count(m.id),
               'outbound', count(m.id) filter (where m.direction = 'outbound'),
               'inbound', count(m.id) filter (where m.direction = 'inbound'))
        from sessions s join public.chat_history m on m.session_info_id = s.id
    ),
    'calls', (
      select jsonb_build_object(
               'total', count(k.id),
               'completed', count(k.id) filter (where k.outcome = 'completed'),
               'total_duration_seconds', coalesce(sum(k.duration_seconds), 0))
        from sessions s join public.call_info k on k.session_info_id = s.id
    ),
    'objectives', coalesce((
      select jsonb_object_agg(o.key, o.reached)
        from (
          select kv.key, count(*) as reached
            from sessions s, jsonb_each(s.objectives) kv
           where kv.value not in ('false'::jsonb, 'null'::jsonb)
           group by kv.key
        ) o
    ), '{}'::jsonb)
  ) end
$$;

-- =============================================================================================
-- Privileges and row level security
-- =============================================================================================
-- anon gets no table privileges at all (defence in depth behind RLS); signed-in users get CRUD,
-- narrowed to their own rows by the policies below; service_role bypasses RLS. Nobody may
-- TRUNCATE (it skips the row triggers). (Supabase's default privileges give every API role
-- everything on a new table: take it back first.)
revoke all on public.campaign_info, public.numbers, public.session_info, public.campaigns, public.chat_history,
  public.call_info, public.session_objective_events, public.campaign_session_requests from anon, authenticated, service_role;
grant select, insert, update, delete on public.campaign_info, public.numbers, public.session_info, public.campaigns,
  public.chat_history, public.call_info to authenticated, service_role;
-- The ledger and the idempotency keys are written by the functions only; owners may read them.
grant select on public.session_objective_events, public.campaign_session_requests to authenticated, service_role;

-- The functions take the owner as an argument, so only the service role (n8n) may call them.
revoke all on function public.create_campaign_sessions(uuid, jsonb, jsonb, text) from public, anon, authenticated;
revoke all on function public.record_session_objective(uuid, text, text, jsonb, text, timestamptz, text) from public, anon, authenticated;
revoke all on function public.campaign_session_stats(uuid, text) from public, anon, authenticated;
grant execute on function public.create_campaign_sessions(uuid, jsonb, jsonb, text) to service_role;
grant execute on function public.record_session_objective(uuid, text, text, jsonb, text, timestamptz, text) to service_role;
grant execute on function public.campaign_session_stats(uuid, text) to service_role;
revoke all on function leadflow_private.session_info_keep_status(), leadflow_private.session_info_mark_contacted()
  from public, anon, authenticated, service_role;
-- The status trigger runs as whoever writes the session: they need the mapping it calls.
revoke all on function leadflow_private.session_status_for(jsonb, boolean) from public, anon;
grant execute on function leadflow_private.session_status_for(jsonb, boolean) to authenticated, service_role;

alter table public.campaign_info enable row level security;
alter table public.numbers enable row level security;
alter table public.session_info enable row level security;
alter table public.campaigns enable row level security;
alter table public.chat_history enable row level security;
alter table public.call_info enable row level security;
alter table public.session_objective_events enable row level security;
alter table public.campaign_session_requests enable row level security;

-- campaign_info -------------------------------------------------------------------------------
drop policy if exists "Owners can read their campaigns" on public.campaign_info;
create policy "Owners can read their campaigns" on public.campaign_info
  for select to authenticated using ((select auth.uid()) = user_id);
drop policy if exists "Owners can create their campaigns" on public.campaign_info;
create policy "Owners can create their campaigns" on public.campaign_info
  for insert to authenticated with check ((select auth.uid()) = user_id);
drop policy if exists "Owners can update their campaigns" on public.campaign_info;
create policy "Owners can update their campaigns" on public.campaign_info
  for update to authenticated using ((select auth.uid()) = user_id) with check ((select auth.uid()) = user_id);
drop policy if exists "Owners can delete their campaigns" on public.campaign_info;
create policy "Owners can delete their campaigns" on public.campaign_info
  for delete to authenticated using ((select auth.uid()) = user_id);

-- numbers -------------------------------------------------------------------------------------
drop policy if exists "Owners can read their numbers" on public.numbers;
create policy "Owners can read their numbers" on public.numbers
  for select to authenticated using ((select auth.uid()) = user_id);
drop policy if exists "Owners can create their numbers" on public.numbers;
create policy "Owners can create their numbers" on public.numbers
  for insert to authenticated with check ((select auth.uid()) = user_id);
drop policy if exists "Owners can update their numbers" on public.numbers;
create policy "Owners can update their numbers" on public.numbers
  for update to authenticated using ((select auth.uid()) = user_id) with check ((select auth.uid()) = user_id);
drop policy if exists "Owners can delete their numbers" on public.numbers;
create policy "Owners can delete their numbers" on public.numbers
  for delete to authenticated using ((select auth.uid()) = user_id);

-- session_info --------------------------------------------------------------------------------
drop policy if exists "Owners can read their sessions" on public.session_info;
create policy "Owners can read their sessions" on public.session_info
  for select to authenticated using ((select auth.uid()) = user_id);
drop policy if exists "Owners can create their sessions" on public.session_info;
create policy "Owners can create their sessions" on public.session_info
  for insert to authenticated with check ((select auth.uid()) = user_id);
drop policy if exists "Owners can update their sessions" on public.session_info;
create policy "Owners can update their sessions" on public.session_info
  for update to authenticated using ((select auth.uid()) = user_id) with check ((select auth.uid()) = user_id);
drop policy if exists "Owners can delete their sessions" on public.session_info;
create policy "Owners can delete their sessions" on public.session_info
  for delete to authenticated using ((select auth.uid()) = user_id);

-- campaigns (links) ---------------------------------------------------------------------------
drop policy if exists "Owners can read their campaign links" on public.campaigns;
create policy "Owners can read their campaign links" on public.campaigns
  for select to authenticated using ((select auth.uid()) = user_id);
drop policy if exists "Owners can link their sessions" on public.campaigns;
create policy "Owners can link their sessions" on public.campaigns
  for insert to authenticated with check ((select auth.uid()) = user_id);
drop policy if exists "Owners can update their campaign links" on public.campaigns;
create policy "Owners can update their campaign links" on public.campaigns
  for update to authenticated using ((select auth.uid()) = user_id) with check ((select auth.uid()) = user_id);
drop policy if exists "Owners can unlink their sessions" on public.campaigns;
create policy "Owners can unlink their sessions" on public.campaigns
  for delete to authenticated using ((select auth.uid()) = user_id);

-- chat_history --------------------------------------------------------------------------------
drop policy if exists "Owners can read their chat history" on public.chat_history;
create policy "Owners can read their chat history" on public.chat_history
  for select to authenticated using ((select auth.uid()) = user_id);
drop policy if exists "Owners can add to their chat history" on public.chat_history;
create policy "Owners can add to their chat history" on public.chat_history
  for insert to authenticated with check ((select auth.uid()) = user_id);
drop policy if exists "Owners can update their chat history" on public.chat_history;
create policy "Owners can update their chat history" on public.chat_history
  for update to authenticated using ((select auth.uid()) = user_id) with check ((select auth.uid()) = user_id);
drop policy if exists "Owners can delete their chat history" on public.chat_history;
create policy "Owners can delete their chat history" on public.chat_history
  for delete to authenticated using ((select auth.uid()) = user_id);

-- call_info -----------------------------------------------------------------------------------
drop policy if exists "Owners can read their calls" on public.call_info;
create policy "Owners can read their calls" on public.call_info
  for select to authenticated using ((select auth.uid()) = user_id);
drop policy if exists "Owners can add their calls" on public.call_info;
create policy "Owners can add their calls" on public.call_info
  for insert to authenticated with check ((select auth.uid()) = user_id);
drop policy if exists "Owners can update their calls" on public.call_info;
create policy "Owners can update their calls" on public.call_info
  for update to authenticated using ((select auth.uid()) = user_id) with check ((select auth.uid()) = user_id);
drop policy if exists "Owners can delete their calls" on public.call_info;
create policy "Owners can delete their calls" on public.call_info
  for delete to authenticated using ((select auth.uid()) = user_id);

-- session_objective_events (read-only to owners: record_session_objective writes the ledger) ---
drop policy if exists "Owners can read their objective events" on public.session_objective_events;
create policy "Owners can read their objective events" on public.session_objective_events
  for select to authenticated using ((select auth.uid()) = user_id);

-- campaign_session_requests (read-only to owners: create_campaign_sessions writes the keys) ----
drop policy if exists "Owners can read their launch requests" on public.campaign_session_requests;
create policy "Owners can read their launch requests" on public.campaign_session_requests
  for select to authenticated using ((select auth.uid()) = user_id);

-- =============================================================================================
-- Realtime: the app's live campaign stats follow sessions and objectives as they change.
-- =============================================================================================
do $$
declare
  t text;
begin
  if exists (select from pg_publication where pubname = 'supabase_realtime') then
    foreach t in array array['session_info', 'session_objective_events', 'chat_history', 'call_info'] loop
      if not exists (
        select from pg_publication_tables
         where pubname = 'supabase_realtime' and schemaname = 'public' and tablename = t
      ) then
        execute format('alter publication supabase_realtime add table public.%I', t);
      end if;
    end loop;
  end if;
end
$$;
