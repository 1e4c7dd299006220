-- CRM pipelines: what became of a webhook / notify action shows on its automation's run, and on the
-- console's board. New: leadflow_private.pipeline_outbox_result_on_run() and the statement trigger
-- pipeline_outbox_result_on_run on public.pipeline_outbox. Re-created: public.console_pipeline_board
-- (otherwise as in 20261201000830; the same arguments, grants and answer, with `run_results` added to
-- a card's last activity). pipeline_claim_outbox, pipeline_complete_outbox and pipeline_cancel_outbox
-- are not re-created (as in 20261201001790).
--
-- Why: a fired automation's run (pipeline_automation_runs.results, one entry per action) and the
-- contact's AUTOMATION_FIRED history row said `"status": "queued"` for a webhook / notify action
-- forever: after it was delivered, after it failed for good (a receiver's 410, or 10 attempts), and
-- after it was cancelled (the automation switched off, the action edited away, the owner's
-- pipeline_cancel_outbox). Only the outbox item, which nobody looks at, had the outcome; the board's
-- card said "Automation fired" whatever came of it.
--
-- Now, whenever a statement changes outbox items' status from waiting (pending or claimed: the run
-- says queued) to delivered, failed or cancelled, or back (an item a person put back to pending),
-- the same statement's trigger rewrites those actions' entries in their runs, once per statement
-- (the changed items grouped by run, the runs locked in id order, each updated once by its key): every path that settles an
-- item is covered (the claim cancelling or failing it, pipeline_complete_outbox, pipeline_cancel_outbox,
-- a direct update by the service role). A claim (pending to claimed) or a retry (claimed to pending)
-- changes nothing a run shows and writes no run. The entry, matched by the action's index, keeps
-- index, type and outbox_id and gets:
--   delivered: {status: delivered, attempts, completed_at};
--   failed:    {status: failed, error (the item's last_error: the receiver's error, or
--              `gave up after 10 attempts: …`), attempts, completed_at};
--   cancelled: {status: cancelled, reason (automation_inactive, action_changed, automation_deleted,
--              cancelled_by_owner), error (the item's last_error, in words), attempts, completed_at};
--   queued again: {status: queued}.
-- The runs are written by the pipeline's functions only (service_role may read them, not write them):
-- the trigger's function is `security definer`, owned like the other pipeline functions, and callable
-- by no role (a trigger function is run by its trigger only).
--
-- The history stays append-only: the AUTOMATION_FIRED row keeps what was queued when it fired.
-- console_pipeline_board answers, with a card's last activity when it is an AUTOMATION_FIRED row, its
-- run's results as they are now (`run_results`, by the row's run_id: one probe of the runs' key per
-- such card; null when the run is gone), and the console shows each outside action's outcome from
-- it. Any other activity is answered as before, without the key.
--
-- Unchanged: deleting an automation (or the contact) deletes its runs and outbox items
-- (pipeline_drop_history), so a delivery waiting then leaves no trace and its holder's report is
-- not_found.

create or replace function leadflow_private.pipeline_outbox_result_on_run()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_runs uuid[];
  v_outcomes jsonb[];
begin
  -- The items whose status, as a run shows it, changed in this statement (a hash join of the
  -- statement's two transition tables; no table is read), grouped by run, in run id order.
  select array_agg(p.run_id order by p.run_id), array_agg(p.outcomes order by p.run_id)
    into v_runs, v_outcomes
    from (
      select n.run_id,
             jsonb_object_agg(n.action_index::text, case n.status
               when 'delivered' then jsonb_build_object('status', 'delivered', 'attempts', n.attempts, 'completed_at', n.completed_at)
               when 'failed' then jsonb_build_object('status', 'failed', 'error', coalesce(n.last_error, 'failed'),
                                                     'attempts', n.attempts, 'completed_at', n.completed_at)
               when 'cancelled' then jsonb_build_object(
                 'status', 'cancelled',
                 'reason', case when n.last_error like 'cancelled:%' then 'cancelled_by_owner'
                                when n.last_error ~ '^[a-z_]+:' then split_part(n.last_error, ':', 1)
                                else 'cancelled' end,
                 'error', coalesce(n.last_error, 'cancelled'), 'attempts', n.attempts, 'completed_at', n.completed_at)
               else '{"status": "queued"}'::jsonb
             end) as outcomes
        from new_items n
        join old_items o on o.id = n.id
       where case when n.status in ('pending', 'claimed') then 'queued' else n.status end
             <> case when o.status in ('pending', 'claimed') then 'queued' else o.status end
       group by n.run_id
    ) p;
  if v_runs is null then
    return null;
  end if;

  -- The runs locked in id order (two reports settling items of the same runs wait for each other
  -- instead of deadlocking), then each rewritten once by its key: its entries of those actions
  -- (matched by index) get their outcome, the others stay as they are.
  perform from public.pipeline_automation_runs r where r.id = any (v_runs) order by r.id for update;
  update public.pipeline_automation_runs r
     set results = (
       select coalesce(jsonb_agg(
                case when c.outcomes ? (e.entry ->> 'index') and e.entry ->> 'type' in ('webhook', 'notify')
                     then (e.entry - 'error' - 'reason' - 'attempts' - 'completed_at') || (c.outcomes -> (e.entry ->> 'index'))
                     else e.entry end
                order by e.n), '[]'::jsonb)
         from jsonb_array_elements(r.results) with ordinality e (entry, n))
    from unnest(v_runs, v_outcomes) c (run_id, outcomes)
   where r.id = c.run_id;
  return null;
end;
$$;
comment on function leadflow_private.pipeline_outbox_result_on_run() is
  'Trigger: the outbox items a statement delivered, failed, cancelled (or put back to waiting) have their action''s entry in their run''s results rewritten with the outcome; one update per statement, each run once.';
revoke all on function leadflow_private.pipeline_outbox_result_on_run() from public, anon, authenticated, service_role;

drop trigger if exists pipeline_outbox_result_on_run on public.pipeline_outbox;
create trigger pipeline_outbox_result_on_run
  after update on public.pipeline_outbox
  referencing old table as old_items new table as new_items
  for each statement execute function leadflow_private.pipeline_outbox_result_on_run();

create or replace function public.console_pipeline_board(
  p_pipeline_id uuid default null,
  p_limit integer default 20,
  p_stage_id uuid default null,
  p_offset integer default 0,
  p_search text default null,
  p_known text default null,
  p_now timestamptz default leadflow_private.now()
)
returns json
language plpgsql
stable
set search_path = ''
as $$
declare
  v_pipelines json;
  v_pipeline public.pipelines;
  v_search text;
  v_result json;
  v_version text;
begin
  if p_limit is null or p_limit not between 1 and 200 then
    raise exception 'p_limit must be between 1 and 200 cards per stage (got %)', coalesce(p_limit::text, 'null')
      using errcode = '22023', hint = 'Ask for a page of at most 200 cards per stage.';
  end if;
  if p_offset is null or p_offset < 0 or p_offset > 1000000 then
    raise exception 'p_offset must be between 0 and 1000000 (got %)', coalesce(p_offset::text, 'null')
      using errcode = '22023', hint = 'Start at 0 and add p_limit for each next page of the stage.';
  end if;
  if p_offset > 0 and p_stage_id is null then
    raise exception 'p_offset needs p_stage_id: the stage whose cards are paged (got offset %)', p_offset
      using errcode = '22023', hint = 'Name the stage to page with p_stage_id; the other stages answer their first page.';
  end if;
  if p_known is not null and p_known !~ '^[0-9a-f]{32}$' then
    raise exception 'p_known must be the version of an earlier answer, 32 hexadecimal digits (got %)', left(p_known, 40)
      using errcode = '22023', hint = 'Send back the version the last answer gave, or leave it out.';
  end if;
  if p_search is not null and length(p_search) > 200 then
    raise exception 'p_search must be at most 200 characters (got %)', length(p_search)
      using errcode = '22023', hint = 'Search by a part of the contact''s name or Messenger id.';
  end if;

  -- The pipelines to pick from, with how many contacts each holds (one index-only count each).
  select coalesce(json_agg(json_build_object('id', p.id, 'name', p.name, 'user_id', p.user_id,
                                             'contact_count', (select count(*) from public.pipeline_contacts pc where pc.pipeline_id = p.id))
                           order by lower(p.name), p.id), '[]'::json)
    into v_pipelines
    from public.pipelines p;

  if p_pipeline_id is null then
    return json_build_object('pipelines', v_pipelines, 'pipeline', null, 'generatedAt', p_now, 'stages', '[]'::json);
  end if;
  select * into v_pipeline from public.pipelines p where p.id = p_pipeline_id;
  if not found then
    return null;
  end if;
  if p_stage_id is not null and not exists (select from public.pipeline_stages st where st.id = p_stage_id and st.pipeline_id = p_pipeline_id) then
    raise exception 'p_stage_id: % is not a stage of pipeline %', p_stage_id, p_pipeline_id
      using errcode = '22023', hint = 'Use the id of one of the answer''s stages, or leave it out.';
  end if;

  -- The search matches a part of the name or the Messenger id, its wildcards taken literally.
  v_search := case when nullif(btrim(p_search), '') is null then null
                   else '%' || replace(replace(replace(btrim(p_search), '\', '\\'), '%', '\%'), '_', '\_') || '%' end;

  with counts as (
    select pc.stage_id, count(*)::integer as n,
           extract(epoch from avg(p_now - pc.stage_entered_at)) as avg_seconds
      from public.pipeline_contacts pc
     where pc.pipeline_id = p_pipeline_id
     group by pc.stage_id
  ),
  matching as (
    select pc.stage_id, count(*)::integer as n
      from public.pipeline_contacts pc
      join public.messenger_conversations c on c.id = pc.conversation_id
     where v_search is not null
       and pc.pipeline_id = p_pipeline_id
       and (c.sender_name ilike v_search or c.sender_id ilike v_search)
     group by pc.stage_id
  )
  select json_build_object(
    'pipeline', json_build_object('id', v_pipeline.id, 'name', v_pipeline.name, 'description', v_pipeline.description,
                                  'user_id', v_pipeline.user_id),
    'generatedAt', p_now,
    'search', v_search is not null,
    'stages', coalesce(json_agg(json_build_object(
      'id', st.id,
      'name', st.name,
      'stage_order', st.stage_order,
      'color', st.color,
      'is_default', st.is_default,
      'lead_score_min', st.lead_score_min,
      'lead_score_max', st.lead_score_max,
      'lead_statuses', st.lead_statuses,
      'contact_count', coalesce(c.n, 0),
      'matching_count', case when v_search is null then coalesce(c.n, 0) else coalesce(m.n, 0) end,
      'avg_seconds_in_stage', round(c.avg_seconds::numeric, 1),
      'offset', case when st.id = p_stage_id then p_offset else 0 end,
      'limit', p_limit,
      'cards', coalesce((
        select json_agg(json_build_object(
                 'conversation_id', card.conversation_id,
                 'sender_id', card.sender_id,
                 'sender_name', card.sender_name,
                 'lead_score', card.lead_score,
                 'lead_status', card.lead_status,
                 'stage_entered_at', card.stage_entered_at,
                 'seconds_in_stage', round(extract(epoch from p_now - card.stage_entered_at)::numeric, 1),
                 'analysis', case when card.analysed_at is null then null else json_build_object(
                   'summary', card.analysis_summary, 'reasoning', card.analysis_reasoning,
                   'confidence', card.analysis_confidence, 'recommended_stage', card.analysis_recommended_stage,
                   'model', card.analysis_model, 'is_fallback', card.analysis_is_fallback, 'analysed_at', card.analysed_at) end,
                 'last_activity', case when a.type is null then null
                   when a.type = 'AUTOMATION_FIRED' then json_build_object(
                   'type', a.type, 'title', a.title, 'description', a.description, 'actor', a.actor,
                   'occurred_at', a.occurred_at, 'metadata', a.metadata, 'run_results', a.run_results)
                   else json_build_object(
                   'type', a.type, 'title', a.title, 'description', a.description, 'actor', a.actor,
                   'occurred_at', a.occurred_at, 'metadata', a.metadata) end)
               order by card.stage_entered_at desc, card.conversation_id)
          from (
            select pc.conversation_id, c.sender_id, c.sender_name, pc.lead_score, pc.lead_status, pc.stage_entered_at,
                   pc.analysis_summary, pc.analysis_reasoning, pc.analysis_confidence, pc.analysis_recommended_stage,
                   pc.analysis_model, pc.analysis_is_fallback, pc.analysed_at
              from public.pipeline_contacts pc
              join public.messenger_conversations c on c.id = pc.conversation_id
             where pc.pipeline_id = p_pipeline_id and pc.stage_id = st.id
               and (v_search is null or c.sender_name ilike v_search or c.sender_id ilike v_search)
             order by pc.stage_entered_at desc, pc.conversation_id
             offset case when st.id = p_stage_id then p_offset else 0 end
             limit p_limit
          ) card
          left join lateral (
            -- An AUTOMATION_FIRED entry with its run's results as they are now (the entry itself, like
            -- all history, is never rewritten: its metadata keeps what was queued when it fired).
            select x.type, x.title, x.description, x.actor, x.occurred_at, x.metadata,
                   case when x.type = 'AUTOMATION_FIRED' then
                     (select r.results from public.pipeline_automation_runs r where r.id = x.run_id) end as run_results
              from public.contact_activities x
             where x.conversation_id = card.conversation_id and x.pipeline_id = p_pipeline_id
             order by x.occurred_at desc, x.id desc
             limit 1
          ) a on true), '[]'::json)
    ) order by st.stage_order), '[]'::json)
  )
  into v_result
  from public.pipeline_stages st
  left join counts c on c.stage_id = st.id
  left join matching m on m.stage_id = st.id
  where st.pipeline_id = p_pipeline_id;

  -- The version: the chosen pipeline's board without what only the clock moves (generatedAt, and the
  -- seconds in stage, which grow with it by the same amount); the picker is not part of it.
  v_version := md5(regexp_replace(v_result::text, '"(generatedAt|seconds_in_stage|avg_seconds_in_stage)" : ("[^"]*"|[-+0-9.eE]+|null)', '', 'g'));
  if p_known is not null and p_known = v_version then
    return json_build_object('unchanged', true, 'version', v_version, 'generatedAt', p_now, 'pipelines', v_pipelines);
  end if;
  return ('{"pipelines" : ' || v_pipelines::text || ', ' || substr(v_result::text, 2, length(v_result::text) - 2)
          || ', "version" : "' || v_version || '"}')::json;
end;
$$;
comment on function public.console_pipeline_board(uuid, integer, uuid, integer, text, text, timestamptz) is
  'The console''s pipeline board in one call: the pipelines, and for one pipeline its stages in order with their counts, average time in stage and one page of cards each (lead score and status, time in stage, the last analysis, the last activity: an automation''s firing with its run''s results as they are now); one stage may be paged further; a search narrows the cards. With p_known, the version of an earlier answer of the chosen pipeline (the picker not included), answers { unchanged: true } with the picker when nothing on the board but the clock moved.';

revoke all on function public.console_pipeline_board(uuid, integer, uuid, integer, text, text, timestamptz) from public, anon;
grant execute on function public.console_pipeline_board(uuid, integer, uuid, integer, text, text, timestamptz)
  to authenticated, service_role;
