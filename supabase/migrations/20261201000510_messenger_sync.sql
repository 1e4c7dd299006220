-- Messenger sync: a Page's conversations read back from the Graph API's Conversations endpoint, as
-- a resumable, incremental job with its progress in the database.
-- Table: messenger_sync_jobs.
-- Functions: messenger_sync_begin, messenger_sync_record_page, messenger_sync_fail.
--
-- A sync job reads the Page's conversations newest first (the endpoint's order), page by page. Each
-- page is recorded with messenger_record (20261201000500), source 'sync': conversations, messages
-- once each (a message seen by the webhook already is a duplicate), the window, stop on reply. In the
-- same transaction the job moves its cursor to the next page and adds to its counts, so the cursor
-- never runs ahead of what was recorded, nor behind it by more than the page being read.
--   - Resumable: a job that did not finish (its runner died: the lease ran out; or it failed: a
--     refused token, Graph errors that outlasted the retries) is taken up again by the next sync of
--     the Page at its cursor: a crash after page 2 resumes at page 3.
--   - Incremental: a new job reads only the conversations updated after the newest one the last
--     completed job saw (`since`); the reader stops at the first older one. p_full reads everything.
--   - One at a time: one unfinished job per Page (a unique index); a job held by a live runner is
--     not taken by another (55P03).
-- Progress is readable while the job runs (pages read, conversations, messages, duplicates, errors),
-- by the owner too (row level security).

create table if not exists public.messenger_sync_jobs (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null,
  page_id text not null,
  status text not null default 'running' check (status in ('running', 'failed', 'completed', 'cancelled')),
  -- Conversations updated after this instant are read (null: every conversation).
  since timestamptz,
  -- The Graph cursor (`after`) of the next page to read; null: the first page.
  cursor text check (cursor is null or length(cursor) between 1 and 4000),
  pages_read integer not null default 0 check (pages_read >= 0),
  conversations integer not null default 0 check (conversations >= 0),
  messages integer not null default 0 check (messages >= 0),
  duplicates integer not null default 0 check (duplicates >= 0),
  errors integer not null default 0 check (errors >= 0),
  -- The newest conversation update the job has seen: the next job's `since`.
  newest_updated_at timestamptz,
  last_error text check (last_error is null or length(last_error) <= 2000),
  -- Who runs it (an n8n execution) and until when, renewed with every page.
  holder text check (holder is null or length(holder) between 1 and 200),
  held_until timestamptz,
  started_at timestamptz not null,
  updated_at timestamptz not null,
  finished_at timestamptz,
  foreign key (page_id, user_id) references public.messenger_pages (page_id, user_id) on delete cascade,
  check ((status in ('completed', 'cancelled')) = (finished_at is not null))
);
comment on table public.messenger_sync_jobs is
  'A sync of a Page''s Messenger conversations from the Graph API: status, cursor, progress counts; resumable and incremental.';

create unique index if not exists messenger_sync_jobs_one_unfinished_key
  on public.messenger_sync_jobs (page_id) where status in ('running', 'failed');
create index if not exists messenger_sync_jobs_page_idx on public.messenger_sync_jobs (page_id, started_at desc);
create index if not exists messenger_sync_jobs_owner_idx on public.messenger_sync_jobs (user_id);

revoke all on public.messenger_sync_jobs from anon, authenticated, service_role;
grant select on public.messenger_sync_jobs to authenticated;
grant select, insert, update, delete on public.messenger_sync_jobs to service_role;
alter table public.messenger_sync_jobs enable row level security;
drop policy if exists "Owners can read their sync jobs" on public.messenger_sync_jobs;
create policy "Owners can read their sync jobs" on public.messenger_sync_jobs
  for select to authenticated using ((select auth.uid()) = user_id);

-- =============================================================================================
-- messenger_sync_begin: the job a sync runs (the Page's unfinished one, or a new one)
-- =============================================================================================
create or replace function public.messenger_sync_begin(
  p_page_id text,
  p_holder text,
  p_owner uuid default null,
  p_full boolean default false,
  p_lease_seconds integer default 300,
  p_now timestamptz default leadflow_private.now()
)
returns table (
  job_id uuid,
  user_id uuid,
  page_id text,
  status text,
  resumed boolean,
  since timestamptz,
  cursor text,
  pages_read integer,
  conversations integer,
  messages integer,
  duplicates integer,
  errors integer
)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_owner record;
  v_job public.messenger_sync_jobs;
  v_resumed boolean := false;
begin
  if p_page_id is null or p_page_id !~ '^[0-9]{1,32}$' then
    raise exception 'p_page_id: "%" is not a Facebook Page id (1 to 32 digits)', p_page_id using errcode = '22023';
  end if;
  if p_holder is null or length(btrim(p_holder)) not between 1 and 200 then
    raise exception 'p_holder is required: the sync records who runs it' using errcode = '22023',
      hint = 'Pass the n8n execution id (or any unique id of this run).';
  end if;
  if p_lease_seconds is null or p_lease_seconds not between 10 and 86400 then
    raise exception 'p_lease_seconds must be between 10 and 86400 (got %)', p_lease_seconds using errcode = '22023';
  end if;

  select o.owner, o.reason into v_owner from leadflow_private.messenger_page_owner(p_page_id, p_owner, p_now) o;
  if v_owner.owner is null then
    raise exception 'Page % cannot be synced: %', p_page_id,
      case v_owner.reason when 'page_not_connected' then 'it is not connected to an owner'
                          else 'it is connected to another owner' end
      using errcode = 'P0002',
            hint = 'Give the owner''s user id (Owner ID in the node) to connect the Page, or insert it into messenger_pages.';
  end if;
  -- One begin at a time per Page.
  perform from public.messenger_pages p where p.page_id = p_page_id for update;

  select j.* into v_job from public.messenger_sync_jobs j
   where j.page_id = p_page_id and j.status in ('running', 'failed');
  if found and p_full then
    update public.messenger_sync_jobs j
       set status = 'cancelled', finished_at = p_now, updated_at = p_now, holder = null, held_until = null,
           last_error = coalesce(j.last_error, 'replaced by a full sync')
     where j.id = v_job.id;
    v_job := null;
  elsif found then
    if v_job.status = 'running' and v_job.holder is distinct from p_holder and v_job.held_until > p_now then
      raise exception 'a sync of Page % is already running (held by % until %)', p_page_id, v_job.holder, v_job.held_until
        using errcode = '55P03', hint = 'Wait for it to finish; a sync whose runner stopped is taken up again when its lease runs out.';
    end if;
    update public.messenger_sync_jobs j
       set status = 'running', holder = p_holder, held_until = p_now + make_interval(secs => p_lease_seconds), updated_at = p_now
     where j.id = v_job.id
    returning j.* into v_job;
    v_resumed := true;
  end if;

  if v_job.id is null then
    insert into public.messenger_sync_jobs (user_id, page_id, status, since, holder, held_until, started_at, updated_at)
    values (
      v_owner.owner, p_page_id, 'running',
      case when p_full then null else (
        select j.newest_updated_at from public.messenger_sync_jobs j
         where j.page_id = p_page_id and j.status = 'completed' and j.newest_updated_at is not null
         order by j.finished_at desc limit 1
      ) end,
      p_holder, p_now + make_interval(secs => p_lease_seconds), p_now, p_now
    )
    returning * into v_job;
  end if;

  return query select v_job.id, v_job.user_id, v_job.page_id, v_job.status, v_resumed, v_job.since, v_job.cursor,
                      v_job.pages_read, v_job.conversations, v_job.messages, v_job.duplicates, v_job.errors;
end;
$$;
comment on function public.messenger_sync_begin(text, text, uuid, boolean, integer, timestamptz) is
  'Starts a sync of a Page''s Messenger conversations, or takes up its unfinished one at its cursor; incremental from the last completed sync unless p_full.';

-- =============================================================================================
-- messenger_sync_record_page: one page of conversations recorded, the job moved past it
-- =============================================================================================
-- p_events: the page's messages in messenger_record's shape (at most 10,000); p_next_cursor: the
-- cursor of the page after it (null: none); p_conversations: conversations on the page that were
-- read; p_newest_updated_at: the newest of their updated_time; p_errors: Graph errors met while
-- reading it (throttling retried); p_done: the job is complete after this page (the last page, or
-- an incremental job that reached conversations older than its `since`).
create or replace function public.messenger_sync_record_page(
  p_job_id uuid,
  p_holder text,
  p_events jsonb,
  p_next_cursor text default null,
  p_conversations integer default 0,
  p_newest_updated_at timestamptz default null,
  p_errors integer default 0,
  p_done boolean default false,
  p_lease_seconds integer default 300,
  p_now timestamptz default leadflow_private.now()
)
returns table (
  job_id uuid,
  status text,
  pages_read integer,
  conversations integer,
  messages integer,
  duplicates integer,
  errors integer,
  page_messages integer,
  page_duplicates integer,
  page_new_conversations integer,
  cursor text
)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_job public.messenger_sync_jobs;
  v_recorded integer;
  v_duplicates integer;
  v_new integer;
begin
  if p_conversations is null or p_conversations < 0 or p_errors is null or p_errors < 0 then
    raise exception 'p_conversations and p_errors are counts (0 or more)' using errcode = '22023';
  end if;
  if p_lease_seconds is null or p_lease_seconds not between 10 and 86400 then
    raise exception 'p_lease_seconds must be between 10 and 86400 (got %)', p_lease_seconds using errcode = '22023';
  end if;
  if p_next_cursor is not null and length(p_next_cursor) not between 1 and 4000 then
    raise exception 'p_next_cursor: a Graph cursor of 1 to 4,000 characters' using errcode = '22023';
  end if;
  select j.* into v_job from public.messenger_sync_jobs j where j.id = p_job_id for update;
  if not found then
    raise exception 'sync job % does not exist', p_job_id using errcode = 'P0002';
  end if;
  if v_job.status <> 'running' or v_job.holder is distinct from p_holder then
    raise exception 'sync job % is not held by % (status %, held by %)', p_job_id, p_holder, v_job.status, coalesce(v_job.holder, 'nobody')
      using errcode = '55P03', hint = 'Another run took the job over after this one''s lease ran out: stop this run.';
  end if;

  select count(*) filter (where r.outcome = 'recorded'), count(*) filter (where r.outcome = 'duplicate'),
         count(*) filter (where r.new_conversation)
    into v_recorded, v_duplicates, v_new
    from leadflow_private.messenger_record(coalesce(p_events, '[]'::jsonb), null, v_job.user_id, 'sync', p_now) r;

  update public.messenger_sync_jobs j
     set pages_read = j.pages_read + 1,
         cursor = p_next_cursor,
         conversations = j.conversations + p_conversations,
         messages = j.messages + v_recorded,
         duplicates = j.duplicates + v_duplicates,
         errors = j.errors + p_errors,
         newest_updated_at = greatest(j.newest_updated_at, p_newest_updated_at),
         status = case when p_done then 'completed' else 'running' end,
         finished_at = case when p_done then p_now end,
         holder = case when p_done then null else j.holder end,
         held_until = case when p_done then null else p_now + make_interval(secs => p_lease_seconds) end,
         updated_at = p_now
   where j.id = p_job_id
  returning j.* into v_job;

  return query select v_job.id, v_job.status, v_job.pages_read, v_job.conversations, v_job.messages, v_job.duplicates,
                      v_job.errors, v_recorded, v_duplicates, v_new, v_job.cursor;
end;
$$;
comment on function public.messenger_sync_record_page(uuid, text, jsonb, text, integer, timestamptz, integer, boolean, integer, timestamptz) is
  'Records one page of a sync (conversations and messages, each message once) and moves the job''s cursor and counts past it, in one transaction.';

-- =============================================================================================
-- messenger_sync_fail: the job stops with an error, resumable at its cursor by the next sync
-- =============================================================================================
create or replace function public.messenger_sync_fail(
  p_job_id uuid,
  p_holder text,
  p_error text,
  p_errors integer default 1,
  p_now timestamptz default leadflow_private.now()
)
returns table (job_id uuid, status text, cursor text, errors integer, last_error text)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
begin
  return query
    update public.messenger_sync_jobs j
       set status = 'failed',
           errors = j.errors + greatest(coalesce(p_errors, 0), 0),
           last_error = left(coalesce(p_error, 'failed'), 2000),
           holder = null,
           held_until = null,
           updated_at = p_now
     where j.id = p_job_id and j.status = 'running' and j.holder is not distinct from p_holder
    returning j.id, j.status, j.cursor, j.errors, j.last_error;
end;
$$;
comment on function public.messenger_sync_fail(uuid, text, text, integer, timestamptz) is
  'Marks a sync job failed with its error (only by its holder); the next sync of the Page resumes it at its cursor.';

revoke all on function
  public.messenger_sync_begin(text, text, uuid, boolean, integer, timestamptz),
  public.messenger_sync_record_page(uuid, text, jsonb, text, integer, timestamptz, integer, boolean, integer, timestamptz),
  public.messenger_sync_fail(uuid, text, text, integer, timestamptz)
from public, anon, authenticated;
grant execute on function
  public.messenger_sync_begin(text, text, uuid, boolean, integer, timestamptz),
  public.messenger_sync_record_page(uuid, text, jsonb, text, integer, timestamptz, integer, boolean, integer, timestamptz),
  public.messenger_sync_fail(uuid, text, text, integer, timestamptz)
to service_role;
