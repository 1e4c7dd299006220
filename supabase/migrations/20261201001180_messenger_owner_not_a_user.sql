-- Messenger: an Owner ID that is not a user no longer fails every delivery. messenger_page_owner
-- raised 22023 when a Page was not connected and p_owner was a well-formed id that is not in
-- auth.users (a typo, another project's user, or the owner deleted since: their messenger_pages row
-- goes with them). messenger_record_events failed whole, the Messenger Trigger answered Meta 500,
-- and Meta delivered the same events again for hours and then disabled the app's webhook, every
-- Page of the app with it; under Every Connected Page the other Pages' events of the same delivery
-- failed too. docs/messenger.md promises 200 for events ignored for their Page's owner.
--
-- Now messenger_page_owner answers (null, 'owner_not_a_user') like the other ignored Pages: the
-- events are ignored (outcome ignored, reason owner_not_a_user), the Trigger answers 200 and warns
-- in n8n's log. messenger_sync_begin says it as before (22023 naming p_owner), and the new
-- messenger_owner_is_user lets the Trigger refuse activation with such an Owner ID.
-- Re-created: leadflow_private.messenger_page_owner (otherwise as in 20261201000500) and
-- public.messenger_sync_begin (otherwise as in 20261201001030). New: public.messenger_owner_is_user.

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
      return query select null::uuid, 'owner_not_a_user'::text;
      return;
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
  'The owner of a Page''s Messenger events (messenger_pages), connecting the Page to p_owner when it is not connected yet; else why not (page_not_connected, page_of_another_owner, owner_not_a_user).';

create or replace function public.messenger_owner_is_user(p_owner uuid)
returns table (owner_is_user boolean)
language sql
stable
set search_path = ''
as $$
  select exists (select from auth.users u where u.id = p_owner);
$$;
comment on function public.messenger_owner_is_user(uuid) is
  'Whether p_owner is a user of this project (auth.users): the Messenger Trigger refuses activation with an Owner ID that is not.';
revoke all on function public.messenger_owner_is_user(uuid) from public, anon, authenticated;
grant execute on function public.messenger_owner_is_user(uuid) to service_role;

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
  if v_owner.reason = 'owner_not_a_user' then
    raise exception 'p_owner: % is not a user of this project', p_owner
      using errcode = '22023', hint = 'Give the owner''s id from auth.users (Authentication → Users in Supabase).';
  end if;
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
  -- A job a live runner holds is its runner's, full sync or not.
  if found and v_job.status = 'running' and v_job.holder is distinct from p_holder and v_job.held_until > p_now then
    if p_full then
      raise exception 'a full sync of Page % cannot start: a sync of it is running (held by % until %)', p_page_id, v_job.holder, v_job.held_until
        using errcode = '55P03',
              hint = 'Wait for that sync to finish, or start the full sync once it has finished or its lease has run out (its runner stopped).';
    end if;
    raise exception 'a sync of Page % is already running (held by % until %)', p_page_id, v_job.holder, v_job.held_until
      using errcode = '55P03', hint = 'Wait for it to finish; a sync whose runner stopped is taken up again when its lease runs out.';
  end if;
  if found and p_full then
    -- Stopped (failed, its lease run out) or this holder's: abandoned, started over.
    update public.messenger_sync_jobs j
       set status = 'cancelled', finished_at = p_now, updated_at = p_now, holder = null, held_until = null,
           last_error = coalesce(j.last_error, 'replaced by a full sync')
     where j.id = v_job.id;
    v_job := null;
  elsif found then
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
