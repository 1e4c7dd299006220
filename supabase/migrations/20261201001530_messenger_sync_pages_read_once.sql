-- Messenger sync: a page recorded in parts counts as one page read. Messenger Sync records a page
-- with more than 10,000 messages (a Full backfill of a Page with long conversations: every message
-- of a conversation is read with its page) in several calls of messenger_sync_record_page, at most
-- 10,000 events each, every part but the last keeping the cursor on the page. Each call added 1 to
-- the job's pages_read: one list page of two conversations of 5,100 messages each ended with
-- "pages_read": 2, in the node's output and the job row, and a sync stopped after it said "The sync
-- stopped at page 3" when the next sync resumes at page 2.
--
-- Now the caller says which call holds the page's last part: p_page_done (default true: a page in
-- one call, as before), false for every part but the last. Only the last part adds 1 to pages_read;
-- every part records its messages and renews the lease as before, and the node passes the page's
-- conversations, read conversations and errors with the last part only, so the other counts were
-- right already. A part that is not the page's last cannot complete the job (p_done with
-- p_page_done false is refused, 22023). Telling the last part by the cursor instead (a call that
-- moves it, or ends the job) would count a page twice after the node started a job over from the
-- first page because Graph refused its cursor: the first part of that page moves the job's cursor
-- from the refused one to null.
--
-- Re-created: public.messenger_sync_record_page with p_page_done (otherwise as in
-- 20261201001370_messenger_sync_moved_conversations.sql; the old signature is dropped, so the Data
-- API has one, and the grants are given again).

-- =============================================================================================
-- messenger_sync_record_page: one page of conversations recorded, the job moved past it
-- =============================================================================================
-- p_events: the page's messages in messenger_record's shape (at most 10,000); p_next_cursor: the
-- cursor of the page after it (null: none); p_conversations: conversations on the page that were
-- read; p_read: those of them read whole, [{psid, updated_at}] (their messages not recorded before,
-- all of them: down to the earlier of the job's since and their read_until, or to the first without
-- one); p_newest_updated_at: the newest of their updated_time; p_errors: Graph errors met while
-- reading it (throttling retried); p_done: the job is complete after this page (the last page, or
-- an incremental job that reached conversations older than its `since`); p_page_done: this call
-- holds the page's last part (or all of it), false for the other parts of a page recorded in
-- several calls: only the last counts in pages_read.
drop function if exists public.messenger_sync_record_page(uuid, text, jsonb, text, integer, jsonb, timestamptz, integer, boolean, integer, timestamptz);

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
  p_page_done boolean default true,
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
  if p_page_done is null then
    raise exception 'p_page_done: true for a page''s last part (or all of it), false for its other parts' using errcode = '22023';
  end if;
  if p_done and not p_page_done then
    raise exception 'p_done: only the last part of a page (p_page_done true) completes the job' using errcode = '22023';
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
     set pages_read = j.pages_read + case when p_page_done then 1 else 0 end,
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
comment on function public.messenger_sync_record_page(uuid, text, jsonb, text, integer, jsonb, timestamptz, integer, boolean, boolean, integer, timestamptz) is
  'Records one page of a sync, or one part of it (conversations and messages, each message once, how far each conversation read whole is read) and moves the job''s cursor and counts past it, in one transaction; a page recorded in parts counts once in pages_read, with its last part (p_page_done).';

revoke all on function public.messenger_sync_record_page(uuid, text, jsonb, text, integer, jsonb, timestamptz, integer, boolean, boolean, integer, timestamptz)
from public, anon, authenticated;
grant execute on function public.messenger_sync_record_page(uuid, text, jsonb, text, integer, jsonb, timestamptz, integer, boolean, boolean, integer, timestamptz)
to service_role;
