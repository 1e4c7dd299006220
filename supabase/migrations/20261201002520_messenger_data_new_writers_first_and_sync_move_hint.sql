-- Messenger data coming in (review M): two fixes in one migration.
--
-- 1. A person who writes now no longer waits behind a Page's imported history for Auto Assign.
--    pipeline_due_for_analysis listed the due conversations oldest last customer message first. A
--    Messenger Sync of a Page's history (hundreds or thousands of conversations months old, never
--    placed, so all due: not_in_pipeline) put every one of them before someone who wrote a minute
--    ago: at Max Conversations 200 a 15-minute run, the new lead waited hours, and the model was
--    asked about every stale conversation first. Now the conversations whose last customer message
--    is inside the 24 h window at p_now (last_customer_message_at > p_now - 24 h, the follow-up
--    judgement's window) come before the closed-window backlog, oldest first within each, in the
--    limit's order and the answer's alike. The fallback places and the contacts the model failed on
--    since their last customer message (waits, migration 20261201002140) stay after both.
--    Test: test/db/pipelines/due-for-analysis-window-first.test.ts.
--
-- 2. Messenger Sync for a Page connected to another owner says how to move the Page.
--    messenger_sync_begin gave the refusal for a Page of another owner than p_owner the hint for a
--    Page connected to nobody ("Give the owner's user id ... to connect the Page, or insert it into
--    messenger_pages"): the Page is connected, and inserting it fails. Now that refusal says what the
--    Messenger Trigger's says (delete the Page's row of messenger_pages, its sync jobs go with it,
--    then sync with the new owner, which connects it), without naming the owner it is connected to.
--    Message and code (P0002) unchanged.
--    Test: test/workflows/messenger-sync-moved-page.test.ts.
--
-- Re-created: public.pipeline_due_for_analysis (otherwise as in 20261201002140; its comment says the
-- new order) and public.messenger_sync_begin (otherwise as in 20261201001180); same signatures,
-- results and grants.

create or replace function public.pipeline_due_for_analysis(
  p_limit integer default 100,
  p_user_id uuid default null,
  p_max_messages integer default 20,
  p_now timestamptz default leadflow_private.now()
)
returns table (
  conversation_id uuid,
  user_id uuid,
  page_id text,
  sender_name text,
  pipeline_id uuid,
  update_mode text,
  reason text,
  last_customer_message_at timestamptz,
  last_analysed_message_at timestamptz,
  messages jsonb
)
language plpgsql
stable
set search_path = ''
as $$
#variable_conflict use_column
begin
  if p_limit is null or p_limit not between 1 and 1000 then
    raise exception 'p_limit must be between 1 and 1000 (got %)', p_limit
      using errcode = '22023', hint = 'Analyse at most 1,000 conversations per run; the rest are due in the next.';
  end if;
  if p_max_messages is null or p_max_messages not between 1 and 200 then
    raise exception 'p_max_messages must be between 1 and 200 (got %)', p_max_messages
      using errcode = '22023', hint = 'The model sees the last 1 to 200 messages of a conversation.';
  end if;
  return query
    with due as (
      select c.id, c.user_id, c.page_id, c.sender_name, s.pipeline_id, s.update_mode,
             case when pc.id is null then 'not_in_pipeline' when pc.provisional then 'fallback_analysis'
                  else 'new_messages' end as reason,
             c.last_customer_message_at,
             coalesce(pc.analysis_last_message_at, pc.analysed_at) as last_analysed_message_at,
             -- Listed after the others: a fallback place, or a contact the model failed on since the
             -- customer last wrote (pipeline_assign's kept, fallback_analysis).
             coalesce(pc.provisional or pc.failed_analysis_last_message_at >= c.last_customer_message_at, false) as waits,
             -- The person's 24 h window closed at p_now (the follow-up judgement's outside_window): a
             -- backlog conversation (a Page's imported history) comes after those who wrote within it.
             c.last_customer_message_at <= p_now - interval '24 hours' as window_closed
        from public.pipeline_page_settings s
        join public.messenger_conversations c on c.user_id = s.user_id and c.page_id = s.page_id
        left join lateral (
          -- provisional: placed by the fallback score and not moved since (pipeline_assign's rule).
          select pc.id, pc.analysis_last_message_at, pc.analysed_at, pc.failed_analysis_last_message_at,
                 coalesce(pc.analysis_is_fallback and pc.stage_entered_at <= pc.analysed_at, false) as provisional
            from public.pipeline_contacts pc
           where pc.conversation_id = c.id and pc.pipeline_id = s.pipeline_id
        ) pc on true
       where s.enabled
         and (p_user_id is null or s.user_id = p_user_id)
         -- A pipeline with no stages yet places nobody (pipeline_assign: skipped, pipeline_has_no_stages).
         and exists (select from public.pipeline_stages st where st.pipeline_id = s.pipeline_id)
         and c.last_customer_message_at is not null
         and c.last_customer_message_at <= p_now
         and (-- not in the Page's pipeline, and never moved out of it (one moved out stays out)
              (pc.id is null
               and not exists (select from public.contact_activities a
                                where a.conversation_id = c.id and a.pipeline_id = s.pipeline_id
                                  and a.type = 'STAGE_CHANGED' and a.to_stage_id is null))
              -- placed by the fallback score and not moved since: the model's analysis is still to
              -- come, whatever the mode
              or pc.provisional
              or (pc.id is not null and s.update_mode = 'UPDATE_EXISTING'
                  and (coalesce(pc.analysis_last_message_at, pc.analysed_at) is null
                       or coalesce(pc.analysis_last_message_at, pc.analysed_at) < c.last_customer_message_at)))
       -- The fallback places, and the contacts the model failed on since their last customer
       -- message, after the others: a contact the model keeps failing on never holds back new
       -- contacts and new messages. They stay due: each run that has room tries them again.
       -- Within each, those whose window is open first, then the backlog, oldest first in both: a
       -- person writing now is placed at the next run, not after every old conversation a history
       -- import made due.
       order by waits, window_closed, c.last_customer_message_at, c.id
       limit p_limit
    )
    select d.id, d.user_id, d.page_id, d.sender_name, d.pipeline_id, d.update_mode, d.reason,
           d.last_customer_message_at, d.last_analysed_message_at,
           coalesce((
             select jsonb_agg(jsonb_build_object('direction', m.direction, 'text', coalesce(m.text, ''), 'sent_at', m.sent_at)
                              order by m.sent_at, m.id)
               from (select mm.id, mm.direction, mm.text, mm.sent_at
                       from public.messenger_messages mm
                      where mm.conversation_id = d.id and mm.sent_at <= p_now
                      order by mm.sent_at desc, mm.id desc
                      limit p_max_messages) m
           ), '[]'::jsonb)
      from due d
     order by d.waits, d.window_closed, d.last_customer_message_at, d.id;
end;
$$;
comment on function public.pipeline_due_for_analysis(integer, uuid, integer, timestamptz) is
  'The conversations due an AI analysis (not in their Page''s pipeline yet and never moved out of it, new customer messages since the last analysis on an UPDATE_EXISTING Page, or placed by the fallback score and not moved since), on a Page whose pipeline has stages: those whose last customer message is inside the 24 h window at p_now first, then the closed-window backlog, oldest waiting first in each; the fallback places and the contacts the model failed on since their last customer message last; with their last messages.';
revoke all on function public.pipeline_due_for_analysis(integer, uuid, integer, timestamptz) from public, anon, authenticated;
grant execute on function public.pipeline_due_for_analysis(integer, uuid, integer, timestamptz) to service_role;


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
            hint = case v_owner.reason
                     when 'page_not_connected' then
                       'Give the owner''s user id (Owner ID in the node) to connect the Page, or insert it into messenger_pages.'
                     -- The Page is connected (page_of_another_owner): the Messenger Trigger's move
                     -- steps; its owner is not named to a caller who gave another.
                     else 'Leave the Owner ID empty to sync the Page for the owner it is connected to. '
                          || 'To move the Page to this owner, delete its row of messenger_pages (its Messenger Sync jobs go with it; '
                          || 'the conversations recorded stay the old owner''s), then sync again with the new owner: the sync connects the Page to it.'
                   end;
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
revoke all on function public.messenger_sync_begin(text, text, uuid, boolean, integer, timestamptz) from public, anon, authenticated;
grant execute on function public.messenger_sync_begin(text, text, uuid, boolean, integer, timestamptz) to service_role;
