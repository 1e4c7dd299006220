-- Messenger sync: a conversation a sync did not see is read whole by the next one. Graph lists a
-- Page's conversations newest update first, paged by cursor; a conversation on a page not read yet
-- that gets a message moves to the top, which was read already, so that sync never sees it. The job
-- still completed, and the next (incremental) job read the conversation's messages only down to its
-- `since` (the newest update the last job saw): its messages older than that and beyond the newest
-- *Messages per Conversation* were never read, by that sync or any later one. A Full backfill of a
-- busy Page completed without the conversations active meanwhile, the long ones losing their
-- history for good, silently.
--
-- Now the database keeps, per conversation, how far the sync has read it:
-- leadflow_private.messenger_sync_read.read_until, the conversation's updated_time when a sync last
-- read every message of it not recorded before. A sync reads a conversation's older messages down to
-- the earlier of its `since` and that time, and a conversation without one (never read whole: one a
-- sync skipped, one only the webhook recorded, every conversation before this migration) to its
-- first message. A conversation a sync skips keeps its old read_until (or none), so whichever later
-- sync reads it reads all it is missing; a conversation read whole needs no more than before.
--
-- Re-created: public.messenger_sync_record_page with p_read, the conversations of the page read whole
-- (their PSIDs and updated times): their read_until moves forward in the same transaction as their
-- messages (otherwise as in 20261201000510; the old signature is dropped, so the Data API has one).
-- New: table leadflow_private.messenger_sync_read, function public.messenger_sync_read_until (the
-- read_until of a page's conversations, for the node before it reads their older messages).

create table if not exists leadflow_private.messenger_sync_read (
  conversation_id uuid primary key references public.messenger_conversations (id) on delete cascade,
  -- Every message of the conversation up to this instant (its Graph updated_time when read) is recorded.
  read_until timestamptz not null
);
comment on table leadflow_private.messenger_sync_read is
  'How far the Messenger sync has read each conversation: every message up to read_until (its Graph updated_time when a sync read it whole) is recorded.';
alter table leadflow_private.messenger_sync_read enable row level security;
revoke all on leadflow_private.messenger_sync_read from public, anon, authenticated, service_role;
grant select, insert, update on leadflow_private.messenger_sync_read to service_role;

-- =============================================================================================
-- messenger_sync_read_until: how far the sync has read some of the job's Page's conversations
-- =============================================================================================
create or replace function public.messenger_sync_read_until(p_job_id uuid, p_psids text[])
returns table (psid text, read_until timestamptz)
language plpgsql
stable
set search_path = ''
as $$
#variable_conflict use_column
begin
  if cardinality(p_psids) > 1000 then
    raise exception 'p_psids: at most 1,000 PSIDs a call (got %)', cardinality(p_psids) using errcode = '22023';
  end if;
  -- Each conversation by its key (a lateral lookup: the unnested PSIDs carry no statistics).
  return query
    select p.psid, r.read_until
      from public.messenger_sync_jobs j
     cross join lateral (select distinct u.psid from unnest(coalesce(p_psids, '{}')) u(psid)) p
      join lateral (select c.id from public.messenger_conversations c
                     where c.user_id = j.user_id and c.page_id = j.page_id and c.sender_id = p.psid) c on true
      join leadflow_private.messenger_sync_read r on r.conversation_id = c.id
     where j.id = p_job_id;
end;
$$;
comment on function public.messenger_sync_read_until(uuid, text[]) is
  'How far the sync has read each of these conversations of the job''s Page (read_until); a PSID without a row has never been read whole.';

-- =============================================================================================
-- messenger_sync_record_page: one page of conversations recorded, the job moved past it
-- =============================================================================================
-- p_events: the page's messages in messenger_record's shape (at most 10,000); p_next_cursor: the
-- cursor of the page after it (null: none); p_conversations: conversations on the page that were
-- read; p_read: those of them read whole, [{psid, updated_at}] (their messages not recorded before,
-- all of them: down to the earlier of the job's since and their read_until, or to the first without
-- one); p_newest_updated_at: the newest of their updated_time; p_errors: Graph errors met while
-- reading it (throttling retried); p_done: the job is complete after this page (the last page, or
-- an incremental job that reached conversations older than its `since`).
drop function if exists public.messenger_sync_record_page(uuid, text, jsonb, text, integer, timestamptz, integer, boolean, integer, timestamptz);

create or replace function public.messenger_sync_record_page(
  p_job_id uuid,
  p_holder text,
  p_events jsonb,
  p_next_cursor text default null,
  p_conversations integer default 0,
  p_read jsonb default null,
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
  if p_read is not null and (jsonb_typeof(p_read) <> 'array' or jsonb_array_length(p_read) > 1000) then
    raise exception 'p_read: an array of at most 1,000 {psid, updated_at}' using errcode = '22023';
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

  -- The conversations read whole: recorded up to their updated_time (a conversation with nothing
  -- recorded has no row, and is read whole again next time).
  insert into leadflow_private.messenger_sync_read as r (conversation_id, read_until)
  select c.id, max(p.updated_at)
    from jsonb_to_recordset(coalesce(p_read, '[]'::jsonb)) p(psid text, updated_at timestamptz)
    join lateral (select c.id from public.messenger_conversations c
                   where c.user_id = v_job.user_id and c.page_id = v_job.page_id and c.sender_id = p.psid) c on true
   where p.updated_at is not null
   group by c.id
  on conflict (conversation_id) do update set read_until = greatest(r.read_until, excluded.read_until);

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
comment on function public.messenger_sync_record_page(uuid, text, jsonb, text, integer, jsonb, timestamptz, integer, boolean, integer, timestamptz) is
  'Records one page of a sync (conversations and messages, each message once, how far each conversation read whole is read) and moves the job''s cursor and counts past it, in one transaction.';

revoke all on function
  public.messenger_sync_read_until(uuid, text[]),
  public.messenger_sync_record_page(uuid, text, jsonb, text, integer, jsonb, timestamptz, integer, boolean, integer, timestamptz)
from public, anon, authenticated;
grant execute on function
  public.messenger_sync_read_until(uuid, text[]),
  public.messenger_sync_record_page(uuid, text, jsonb, text, integer, jsonb, timestamptz, integer, boolean, integer, timestamptz)
to service_role;
