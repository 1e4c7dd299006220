-- Auto Assign's backlog is worked through again (review S3 of 20261201002520), and Messenger Sync's
-- owner hints speak to the webhook's caller too.
--
-- 1. pipeline_due_for_analysis: the closed-window backlog gets a share of every run.
--    20261201002520 listed every conversation whose last customer message is inside the 24 h window
--    before the whole closed-window backlog. A Page (or, on the every-owner schedule, any owner) with
--    at least Max Conversations such writers at every run never had its backlog (a history Messenger
--    Sync imported) analysed, and a writer not reached within 24 h fell behind that whole backlog for
--    good (3 writers an hour, 2 analysed a run, 100 runs: 31 writers never placed). Now each class is
--    numbered by itself (waits, window_closed; oldest customer message first) and the two take turns:
--    three of the window, then one of the backlog, and so on; once either has none left, the rest of
--    the other in its order. "Waits" (the fallback places and the contacts the model failed on since
--    their last customer message, 20261201002140) stays the first key, so those still come after all
--    the others, taking turns the same way among themselves. Same order in the limit and the answer.
--    Why three: the window is where an analysis is worth most (the follow-ups judge it, and a
--    message can reach the person only inside it), so it keeps three places of four, and a person
--    writing now is still placed at the next run unless those who wrote before them within the day
--    fill three quarters of it; one of four works a backlog through at a known pace however busy
--    the window (at the shipped 200 a run every 15 minutes, at least 50 a run: 5,000 in at most
--    about 25 hours), and Max Conversations 4 already gives it a place. A run of 1 to 3 takes the
--    window's first (Max Conversations 2 still gets two new writers before the backlog,
--    test/db/pipelines/due-for-analysis-window-first.test.ts); the backlog then gets a place only in
--    runs with fewer writers waiting.
--    Cost: the list is built from the first p_limit of the window and the first p_limit of the
--    backlog, each a top-N sort as before (the conversations read twice, once per half), never a
--    sort of every due conversation: at 100,000 conversations of one owner (1 % in the window),
--    limit 200, 1.0 to 1.3 times …2520's time (1.1 to 1.6 for every owner, 160,000), alternating
--    on a loaded machine; numbering every due conversation instead (one sort of all, on disk) took
--    2.1 to 2.3 times.
--    Test: test/db/pipelines/due-for-analysis-backlog-share.test.ts.
--
-- 2. messenger_sync_begin's hints for a Page not connected, or connected to another owner, named
--    only the node's Owner ID ("Leave the Owner ID empty ..."); over workflows/messenger-sync.json the
--    caller gives the owner in the X-Leadflow-Owner header. Now each says both. Messages and codes
--    unchanged.
--
-- Re-created: public.pipeline_due_for_analysis and public.messenger_sync_begin, otherwise as in
-- 20261201002520; same signatures, results and grants; pipeline_due_for_analysis's comment says the
-- new order.

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
    -- Every due conversation, in no order; read by both halves of firsts (not materialized: each
    -- half's condition on window_closed reaches the scan of the conversations).
    with due as not materialized (
      select c.id, c.user_id, c.page_id, c.sender_name, s.pipeline_id, s.update_mode,
             case when pc.id is null then 'not_in_pipeline' when pc.provisional then 'fallback_analysis'
                  else 'new_messages' end as reason,
             c.last_customer_message_at,
             coalesce(pc.analysis_last_message_at, pc.analysed_at) as last_analysed_message_at,
             -- Listed after the others: a fallback place, or a contact the model failed on since the
             -- customer last wrote (pipeline_assign's kept, fallback_analysis).
             coalesce(pc.provisional or pc.failed_analysis_last_message_at >= c.last_customer_message_at, false) as waits,
             -- The person's 24 h window closed at p_now (the follow-up judgement's outside_window): a
             -- backlog conversation (a Page's imported history) takes turns with those who wrote
             -- within it (picked).
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
    ),
    -- All a run can take: the first p_limit of the window and the first p_limit of the backlog, the
    -- fallback places and failed contacts (waits) after the others in each; each half a top-N sort,
    -- never a sort of every due conversation. Each half holds the first of each of its classes, so
    -- they are numbered as among all; a half reaches its waits only when its others are fewer than
    -- p_limit, and a run then has room for no more of them than the half holds.
    firsts as (
      (select d.* from due d where not d.window_closed
        order by d.waits, d.last_customer_message_at, d.id limit p_limit)
      union all
      (select d.* from due d where d.window_closed
        order by d.waits, d.last_customer_message_at, d.id limit p_limit)
    ),
    -- Each class (waits, window_closed) numbered by itself, oldest customer message first.
    numbered as (
      select f.*, row_number() over (partition by f.waits, f.window_closed
                                     order by f.last_customer_message_at, f.id) as rn
        from firsts f
    ),
    -- The list's order. The fallback places, and the contacts the model failed on since their last
    -- customer message, after the others (waits): a contact the model keeps failing on never holds
    -- back new contacts and new messages. They stay due: each run that has room tries them again.
    -- Within each, the window and the backlog take turns: the window's 1st to 3rd, the backlog's
    -- 1st, the window's 4th to 6th, the backlog's 2nd, ... (turn k: the window's (k*3+1)..(k*3+3),
    -- then the backlog's k+1), the rest of either in its order once the other has none. So a
    -- person writing now is among the next run's first, not after every old conversation a history
    -- import made due, and the backlog gets a share of every run of 4 or more: never all of it
    -- taken by new writers, so it is worked through, and a writer not reached within 24 h (now in
    -- the backlog) is still reached, after the backlog older than them.
    picked as (
      select n.*, case when n.window_closed then n.rn - 1 else (n.rn - 1) / 3 end as turn
        from numbered n
       order by n.waits, turn, n.window_closed, n.rn
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
      from picked d
     order by d.waits, d.turn, d.window_closed, d.rn;
end;
$$;
comment on function public.pipeline_due_for_analysis(integer, uuid, integer, timestamptz) is
  'The conversations due an AI analysis (not in their Page''s pipeline yet and never moved out of it, new customer messages since the last analysis on an UPDATE_EXISTING Page, or placed by the fallback score and not moved since), on a Page whose pipeline has stages: those whose last customer message is inside the 24 h window at p_now and the closed-window backlog, oldest waiting first in each, taking turns (three of the window, then one of the backlog, and so on; the rest of either once the other has none); the fallback places and the contacts the model failed on since their last customer message last; with their last messages.';
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
                       'Give the owner''s user id (Messenger Sync: Owner ID; the messenger-sync webhook: the X-Leadflow-Owner header) '
                       || 'to connect the Page, or insert it into messenger_pages.'
                     -- The Page is connected (page_of_another_owner): the Messenger Trigger's move
                     -- steps; its owner is not named to a caller who gave another.
                     else 'Give no owner to sync the Page for the owner it is connected to (Messenger Sync: leave Owner ID empty; '
                          || 'the messenger-sync webhook: send no X-Leadflow-Owner header). '
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
