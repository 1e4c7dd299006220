-- Messenger sync: the runner renews its lease in the middle of a page. The lease was renewed only
-- when a page was recorded (messenger_sync_record_page), so a long page (many long conversations,
-- each read from its own messages edge, or throttling backoff) outlived the lease (300 s by
-- default): another start took the job over mid-page (messenger_sync_begin takes a job whose lease
-- ran out) and the first run's record then failed with 55P03, its page read for nothing while two
-- runs read Graph for the same Page.
--
-- New: public.messenger_sync_renew_lease, a heartbeat only the job's holder may send while the job
-- runs: the lease ends p_lease_seconds from p_now. The Sync node sends it before a Graph call (and
-- during a long wait) once half its lease has passed since the last renewal. Anyone else, or a job
-- no longer running, is refused with 55P03 as messenger_sync_record_page refuses them.

create or replace function public.messenger_sync_renew_lease(
  p_job_id uuid,
  p_holder text,
  p_lease_seconds integer default 300,
  p_now timestamptz default leadflow_private.now()
)
returns table (job_id uuid, held_until timestamptz)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_job public.messenger_sync_jobs;
begin
  if p_lease_seconds is null or p_lease_seconds not between 10 and 86400 then
    raise exception 'p_lease_seconds must be between 10 and 86400 (got %)', p_lease_seconds using errcode = '22023';
  end if;
  select j.* into v_job from public.messenger_sync_jobs j where j.id = p_job_id for update;
  if not found then
    raise exception 'sync job % does not exist', p_job_id using errcode = 'P0002';
  end if;
  if v_job.status <> 'running' or v_job.holder is distinct from p_holder then
    raise exception 'sync job % is not held by % (status %, held by %)', p_job_id, p_holder, v_job.status, coalesce(v_job.holder, 'nobody')
      using errcode = '55P03', hint = 'Another run took the job over after this one''s lease ran out: stop this run.';
  end if;
  return query
    update public.messenger_sync_jobs j
       set held_until = p_now + make_interval(secs => p_lease_seconds), updated_at = p_now
     where j.id = p_job_id
    returning j.id, j.held_until;
end;
$$;
comment on function public.messenger_sync_renew_lease(uuid, text, integer, timestamptz) is
  'Heartbeat of a running sync job: its holder''s lease ends p_lease_seconds from now; anyone else is refused (55P03).';

revoke all on function public.messenger_sync_renew_lease(uuid, text, integer, timestamptz) from public, anon, authenticated;
grant execute on function public.messenger_sync_renew_lease(uuid, text, integer, timestamptz) to service_role;
