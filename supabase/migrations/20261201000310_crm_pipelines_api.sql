-- CRM pipelines, part 2 of 2: the API the n8n nodes call, one `supabase.rpc` per batch, and the
-- automation engine behind it.
-- Functions:
--   pipeline_assign           place a batch of analysed contacts in their pipelines (the seed's
--                             priorities, downgrade protection, the update modes)
--   pipeline_move             manual moves (the user's app, an AI agent) to a stage by id or name
--   pipeline_claim_outbox     hand out webhook / notify actions with a lease, each to one holder
--   pipeline_complete_outbox  record what became of them (delivered, failed, retry later)
-- Internals (leadflow_private): pipeline_write_places (every write of a place and its history),
-- pipeline_fire (the automations of the changes, level by level), pipeline_assign_item_problem /
-- pipeline_move_item_problem (what is wrong with an input item).
--
-- One transaction per call: the places, their history, every automation fired (and what it fired,
-- to the depth limit), its database actions, its run rows and its outbox items are written
-- together or not at all. A bad item fails the whole call before anything is written, with a
-- message naming the item and the field (`p_items[3].lead_score: …`).
--
-- Concurrency: every call first locks the rows of the conversations it touches
-- (messenger_conversations, FOR NO KEY UPDATE, in id order, so two calls never wait on each other
-- in a circle), and reads the places only after that. Two executions handling the same contacts at
-- once therefore run one after the other for those contacts: the second sees what the first
-- committed (its contact is already in the stage: kept same_stage, nothing fires again). The lock
-- does not block key checks (other rows referencing the conversation), only other pipeline calls
-- and updates of the same conversations, for the length of the call.
--
-- Security: the four API functions are SECURITY INVOKER, granted to service_role only (n8n's
-- credential); they take no owner (each row's owner is its conversation's). They write places,
-- history, runs and the outbox through pipeline_write_places and pipeline_fire, SECURITY DEFINER:
-- those tables have no foreign keys (see 20261201000300), so no API role may write them directly,
-- service_role included. Signed-in users read the results through their row level security; they
-- do not call these (a user's move goes through n8n, which records who asked in actor /
-- actor_id). Every p_now defaults to leadflow_private.now(), the one clock.
--
-- Plans: these functions move whole arrays of rows between statements (unnest of a variable), whose
-- length the planner cannot know. So no statement joins two of a batch's sets to each other (an
-- IN over another CTE's rows was run as a scan per row: n², a third of a 1,000-contact call):
-- each reads the tables it acts on by key, once per row, and computes every result from that
-- (the contacts' automation counts come back as one JSON object, looked up by key). Every plan is
-- then linear in the batch whatever its estimates, so the API functions run with
-- plan_cache_mode = force_generic_plan: each statement is planned once per session, not per call
-- (planning them every call was 40 % of a 1,000-contact call).

-- =============================================================================================
-- Types: rows passed between the statements and functions below (never exposed)
-- =============================================================================================
do $$
begin
  -- A change of one place, as the automations see it.
  create type leadflow_private.pipeline_change as (
    user_id uuid,
    conversation_id uuid,
    pipeline_id uuid,
    place_id uuid,
    entered boolean,
    from_stage_id uuid,
    to_stage_id uuid,
    from_score integer,
    to_score integer,
    from_status text,
    to_status text,
    depth integer
  );
exception when duplicate_object then null;
end
$$;

do $$
begin
  -- One write of one place: its values before (as read under the conversation's lock) and after,
  -- and what the history says about it.
  create type leadflow_private.pipeline_place_write as (
    seq bigint,
    user_id uuid,
    conversation_id uuid,
    pipeline_id uuid,
    place_id uuid,
    is_new boolean,
    old_stage_id uuid,
    old_score integer,
    old_status text,
    stage_id uuid,
    lead_score integer,
    lead_status text,
    -- The analysis to store (null: keep the place's): summary, confidence, reasoning,
    -- recommended_stage, model, is_fallback, last_message_at, analysed_at.
    analysis jsonb,
    -- A move from another pipeline: the place left there (deleted; its history stays).
    leave_place_id uuid,
    leave_pipeline_id uuid,
    leave_stage_id uuid,
    -- STAGE_CHANGED or MANUAL_MOVE: the activity a stage change writes.
    stage_activity text,
    -- An analysis: when the stage did not change, the write is recorded as ANALYSED.
    analysed boolean,
    actor text,
    actor_id text,
    automation_id uuid,
    run_id uuid,
    title text,
    description text,
    metadata jsonb,
    depth integer
  );
exception when duplicate_object then null;
end
$$;

do $$
begin
  -- One action of one firing.
  create type leadflow_private.pipeline_action as (
    seq bigint,
    run_id uuid,
    item_id uuid,
    automation_id uuid,
    automation_name text,
    user_id uuid,
    conversation_id uuid,
    pipeline_id uuid,
    trigger_type text,
    from_stage_id uuid,
    to_stage_id uuid,
    from_score integer,
    to_score integer,
    from_status text,
    to_status text,
    depth integer,
    action_index integer,
    action_type text,
    action jsonb
  );
exception when duplicate_object then null;
end
$$;

do $$
begin
  -- An action that ran, and its result.
  create type leadflow_private.pipeline_action_done as (action leadflow_private.pipeline_action, result jsonb);
exception when duplicate_object then null;
end
$$;

do $$
begin
  -- One input item of pipeline_assign, parsed.
  create type leadflow_private.pipeline_assign_item as (
    item_index integer,
    conversation_id uuid,
    pipeline_id uuid,
    update_mode text,
    lead_score integer,
    lead_status text,
    recommended_stage text,
    summary text,
    confidence numeric,
    reasoning text,
    model text,
    is_fallback boolean,
    last_message_at timestamptz
  );
exception when duplicate_object then null;
end
$$;

do $$
begin
  -- One output row of pipeline_assign / pipeline_move.
  create type leadflow_private.pipeline_outcome as (
    item_index integer,
    conversation_id uuid,
    outcome text,
    reason text,
    priority text,
    pipeline_id uuid,
    stage_id uuid,
    stage_name text,
    from_stage_id uuid,
    from_stage_name text,
    proposed_stage_id uuid,
    proposed_stage_name text,
    left_pipeline_id uuid,
    lead_score integer,
    lead_status text
  );
exception when duplicate_object then null;
end
$$;

-- =============================================================================================
-- Input checks: the first problem of an item, or null
-- =============================================================================================
-- Inlinable SQL (immutable, no SET clause): the batch's check is one scan of p_items.
create or replace function leadflow_private.pipeline_is_uuid(p_value jsonb)
returns boolean
language sql
immutable
parallel safe
as $$
  select jsonb_typeof(p_value) is not distinct from 'string'
     and (p_value #>> '{}') ~ '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'
$$;

-- An instant with its offset (ISO 8601, as JSON serialises dates): anything else is refused
-- rather than read in the database's time zone.
create or replace function leadflow_private.pipeline_is_instant(p_value jsonb)
returns boolean
language sql
immutable
parallel safe
as $$
  select jsonb_typeof(p_value) is not distinct from 'string'
     and (p_value #>> '{}') ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(Z|z|[+-][0-9]{2}(:?[0-9]{2})?)$'
$$;

-- "absent or null" for optional fields.
create or replace function leadflow_private.pipeline_is_null(p_value jsonb)
returns boolean
language sql
immutable
parallel safe
as $$
  select p_value is null or jsonb_typeof(p_value) = 'null'
$$;

-- pipeline_assign's item: {conversation_id, lead_score, lead_status?, recommended_stage?, summary?,
-- confidence?, reasoning?, model?, is_fallback?, last_message_at?, pipeline_id?, update_mode?}.
-- One expression, no FROM and nothing volatile: the planner inlines it into the batch's check.
create or replace function leadflow_private.pipeline_assign_item_problem(p_item jsonb)
returns text
language sql
stable
parallel safe
as $$
  select case
    when jsonb_typeof(p_item) is distinct from 'object' then ': must be an object (got ' || coalesce(jsonb_typeof(p_item), 'null') || ')'
    when p_item - '{conversation_id,lead_score,lead_status,recommended_stage,summary,confidence,reasoning,model,is_fallback,last_message_at,pipeline_id,update_mode}'::text[] <> '{}'::jsonb then
      '.' || (jsonb_path_query_array(p_item - '{conversation_id,lead_score,lead_status,recommended_stage,summary,confidence,reasoning,model,is_fallback,last_message_at,pipeline_id,update_mode}'::text[],
                                     '$.keyvalue().key') ->> 0)
        || ': not a field of an analysed contact; the fields are conversation_id, lead_score, lead_status, recommended_stage, '
        || 'summary, confidence, reasoning, model, is_fallback, last_message_at, pipeline_id, update_mode'
    when not leadflow_private.pipeline_is_uuid(p_item -> 'conversation_id') then
      '.conversation_id: required, a conversation id (uuid) (got ' || coalesce((p_item -> 'conversation_id')::text, 'nothing') || ')'
    when jsonb_typeof(p_item -> 'lead_score') is distinct from 'number'
         or (p_item ->> 'lead_score')::numeric not between 0 and 100
         or (p_item ->> 'lead_score')::numeric <> trunc((p_item ->> 'lead_score')::numeric) then
      '.lead_score: required, a whole number from 0 to 100 (got ' || coalesce((p_item -> 'lead_score')::text, 'nothing') || ')'
    when not leadflow_private.pipeline_is_null(p_item -> 'lead_status')
         and (jsonb_typeof(p_item -> 'lead_status') <> 'string'
              or not upper(btrim(p_item ->> 'lead_status')) = any (leadflow_private.pipeline_lead_statuses())) then
      '.lead_status: must be one of NEW, CONTACTED, QUALIFIED, PROPOSAL_SENT, NEGOTIATING, WON, LOST, UNRESPONSIVE (got '
        || (p_item -> 'lead_status')::text || ')'
    when not leadflow_private.pipeline_is_null(p_item -> 'recommended_stage')
         and (jsonb_typeof(p_item -> 'recommended_stage') <> 'string' or length(p_item ->> 'recommended_stage') > 200
              or not leadflow_private.is_valid_text(p_item ->> 'recommended_stage', 'line')) then
      '.recommended_stage: must be a stage name: one line of at most 200 characters'
    when not leadflow_private.pipeline_is_null(p_item -> 'summary')
         and (jsonb_typeof(p_item -> 'summary') <> 'string' or length(p_item ->> 'summary') > 10000
              or not leadflow_private.is_valid_text(p_item ->> 'summary', 'multiline')) then
      '.summary: must be a text of at most 10000 characters without control characters'
    when not leadflow_private.pipeline_is_null(p_item -> 'reasoning')
         and (jsonb_typeof(p_item -> 'reasoning') <> 'string' or length(p_item ->> 'reasoning') > 10000
              or not leadflow_private.is_valid_text(p_item ->> 'reasoning', 'multiline')) then
      '.reasoning: must be a text of at most 10000 characters without control characters'
    when not leadflow_private.pipeline_is_null(p_item -> 'confidence')
         and (jsonb_typeof(p_item -> 'confidence') <> 'number' or (p_item ->> 'confidence')::numeric not between 0 and 100) then
      '.confidence: must be a number from 0 to 100 (got ' || (p_item -> 'confidence')::text || ')'
    when not leadflow_private.pipeline_is_null(p_item -> 'model')
         and (jsonb_typeof(p_item -> 'model') <> 'string' or length(p_item ->> 'model') not between 1 and 200
              or not leadflow_private.is_valid_text(p_item ->> 'model', 'line')) then
      '.model: must be a model name: one line of 1 to 200 characters'
    when not leadflow_private.pipeline_is_null(p_item -> 'is_fallback') and jsonb_typeof(p_item -> 'is_fallback') <> 'boolean' then
      '.is_fallback: must be true or false (got ' || (p_item -> 'is_fallback')::text || ')'
    when not leadflow_private.pipeline_is_null(p_item -> 'last_message_at') and not leadflow_private.pipeline_is_instant(p_item -> 'last_message_at') then
      '.last_message_at: must be an ISO 8601 instant with its offset, e.g. 2026-11-25T12:00:00Z (got ' || (p_item -> 'last_message_at')::text || ')'
    when not leadflow_private.pipeline_is_null(p_item -> 'pipeline_id') and not leadflow_private.pipeline_is_uuid(p_item -> 'pipeline_id') then
      '.pipeline_id: must be a pipeline id (uuid) (got ' || (p_item -> 'pipeline_id')::text || ')'
    when not leadflow_private.pipeline_is_null(p_item -> 'update_mode')
         and (p_item ->> 'update_mode') is distinct from 'SKIP_EXISTING' and (p_item ->> 'update_mode') is distinct from 'UPDATE_EXISTING' then
      '.update_mode: must be SKIP_EXISTING or UPDATE_EXISTING (got ' || (p_item -> 'update_mode')::text || ')'
  end
$$;

-- pipeline_move's item: {conversation_id, stage_id? | stage_name? (one of them), pipeline_id?,
-- from_pipeline_id?, reason?, actor? (user | ai), actor_id?}. Inlined like the one above.
create or replace function leadflow_private.pipeline_move_item_problem(p_item jsonb)
returns text
language sql
stable
parallel safe
as $$
  select case
    when jsonb_typeof(p_item) is distinct from 'object' then ': must be an object (got ' || coalesce(jsonb_typeof(p_item), 'null') || ')'
    when p_item - '{conversation_id,stage_id,stage_name,pipeline_id,from_pipeline_id,reason,actor,actor_id}'::text[] <> '{}'::jsonb then
      '.' || (jsonb_path_query_array(p_item - '{conversation_id,stage_id,stage_name,pipeline_id,from_pipeline_id,reason,actor,actor_id}'::text[],
                                     '$.keyvalue().key') ->> 0)
        || ': not a field of a move; the fields are conversation_id, stage_id, stage_name, pipeline_id, from_pipeline_id, '
        || 'reason, actor, actor_id'
    when not leadflow_private.pipeline_is_uuid(p_item -> 'conversation_id') then
      '.conversation_id: required, a conversation id (uuid) (got ' || coalesce((p_item -> 'conversation_id')::text, 'nothing') || ')'
    when leadflow_private.pipeline_is_null(p_item -> 'stage_id') and leadflow_private.pipeline_is_null(p_item -> 'stage_name') then
      '.stage_id: a move needs the stage: stage_id, or stage_name (with pipeline_id when the contact is in several pipelines)'
    when not leadflow_private.pipeline_is_null(p_item -> 'stage_id') and not leadflow_private.pipeline_is_uuid(p_item -> 'stage_id') then
      '.stage_id: must be a stage id (uuid) (got ' || (p_item -> 'stage_id')::text || ')'
    when not leadflow_private.pipeline_is_null(p_item -> 'stage_name')
         and (jsonb_typeof(p_item -> 'stage_name') <> 'string' or length(btrim(p_item ->> 'stage_name')) not between 1 and 100
              or not leadflow_private.is_valid_text(p_item ->> 'stage_name', 'line')) then
      '.stage_name: must be a stage name: one line of 1 to 100 characters'
    when not leadflow_private.pipeline_is_null(p_item -> 'pipeline_id') and not leadflow_private.pipeline_is_uuid(p_item -> 'pipeline_id') then
      '.pipeline_id: must be a pipeline id (uuid) (got ' || (p_item -> 'pipeline_id')::text || ')'
    when not leadflow_private.pipeline_is_null(p_item -> 'from_pipeline_id') and not leadflow_private.pipeline_is_uuid(p_item -> 'from_pipeline_id') then
      '.from_pipeline_id: must be a pipeline id (uuid) (got ' || (p_item -> 'from_pipeline_id')::text || ')'
    when not leadflow_private.pipeline_is_null(p_item -> 'reason')
         and (jsonb_typeof(p_item -> 'reason') <> 'string' or length(p_item ->> 'reason') > 2000
              or not leadflow_private.is_valid_text(p_item ->> 'reason', 'multiline')) then
      '.reason: must be a text of at most 2000 characters without control characters'
    when not leadflow_private.pipeline_is_null(p_item -> 'actor')
         and (p_item ->> 'actor') is distinct from 'user' and (p_item ->> 'actor') is distinct from 'ai' then
      '.actor: must be user or ai (got ' || (p_item -> 'actor')::text || ')'
    when not leadflow_private.pipeline_is_null(p_item -> 'actor_id')
         and (jsonb_typeof(p_item -> 'actor_id') <> 'string' or length(p_item ->> 'actor_id') not between 1 and 200
              or not leadflow_private.is_valid_text(p_item ->> 'actor_id', 'line')) then
      '.actor_id: must be one line of 1 to 200 characters (the user''s id, the agent''s name)'
  end
$$;

-- =============================================================================================
-- leadflow_private.pipeline_write_places(p_writes, p_now) → the changes, for the automations
-- =============================================================================================
-- Every write of a place goes through here, so every change is in the history the same way:
--   a move from another pipeline: the place there is deleted, and the history there says
--                  STAGE_CHANGED (from its stage to none, metadata.to_pipeline_id);
--   a new place or another stage: the write's stage_activity (STAGE_CHANGED or MANUAL_MOVE),
--                  with its title, description (the reasoning, the reason) and metadata;
--   an analysis that kept the stage: ANALYSED, with the same;
--   an existing place's score or status changed: SCORE_CHANGED / STATUS_CHANGED {from, to}.
-- The writes are one per place, their old values read under the conversation's lock by the caller.
-- Returns one change per place whose stage, score or status changed (or that is new).
-- Security definer: the history has no foreign keys, so no API role may write it; this function and
-- the engine are the only writers (granted to service_role, reached through the API functions).
create or replace function leadflow_private.pipeline_write_places(
  p_writes leadflow_private.pipeline_place_write[],
  p_now timestamptz
)
returns leadflow_private.pipeline_change[]
language plpgsql
volatile
security definer
set search_path = ''
as $$
begin
  if coalesce(cardinality(p_writes), 0) = 0 then
    return '{}';
  end if;

  delete from public.pipeline_contacts p
   where p.id in (select w.leave_place_id from unnest(p_writes) w where w.leave_place_id is not null);

  update public.pipeline_contacts p
     set stage_id = w.stage_id,
         stage_entered_at = case when w.stage_id <> p.stage_id then p_now else p.stage_entered_at end,
         lead_score = w.lead_score,
         lead_status = w.lead_status,
         analysis_summary = case when w.analysis is null then p.analysis_summary else w.analysis ->> 'summary' end,
         analysis_confidence = case when w.analysis is null then p.analysis_confidence else (w.analysis ->> 'confidence')::numeric end,
         analysis_reasoning = case when w.analysis is null then p.analysis_reasoning else w.analysis ->> 'reasoning' end,
         analysis_recommended_stage = case when w.analysis is null then p.analysis_recommended_stage else w.analysis ->> 'recommended_stage' end,
         analysis_model = case when w.analysis is null then p.analysis_model else w.analysis ->> 'model' end,
         analysis_is_fallback = case when w.analysis is null then p.analysis_is_fallback else (w.analysis ->> 'is_fallback')::boolean end,
         analysis_last_message_at = case when w.analysis is null then p.analysis_last_message_at else (w.analysis ->> 'last_message_at')::timestamptz end,
         analysed_at = case when w.analysis is null then p.analysed_at else (w.analysis ->> 'analysed_at')::timestamptz end,
         updated_at = now()
    from unnest(p_writes) w
   where p.id = w.place_id and not w.is_new;

  insert into public.pipeline_contacts (
    id, user_id, conversation_id, pipeline_id, stage_id, lead_score, lead_status, stage_entered_at,
    analysis_summary, analysis_confidence, analysis_reasoning, analysis_recommended_stage, analysis_model,
    analysis_is_fallback, analysis_last_message_at, analysed_at
  )
  select w.place_id, w.user_id, w.conversation_id, w.pipeline_id, w.stage_id, w.lead_score, w.lead_status, p_now,
         w.analysis ->> 'summary', (w.analysis ->> 'confidence')::numeric, w.analysis ->> 'reasoning',
         w.analysis ->> 'recommended_stage', w.analysis ->> 'model', (w.analysis ->> 'is_fallback')::boolean,
         (w.analysis ->> 'last_message_at')::timestamptz, (w.analysis ->> 'analysed_at')::timestamptz
    from unnest(p_writes) w
   where w.is_new;

  insert into public.contact_activities (
    user_id, conversation_id, pipeline_id, type, title, description, from_stage_id, to_stage_id,
    actor, actor_id, automation_id, run_id, depth, metadata, occurred_at
  )
  select w.user_id, w.conversation_id, k.pipeline_id, k.type, k.title, k.description, k.from_stage_id, k.to_stage_id,
         w.actor, w.actor_id, w.automation_id, w.run_id, w.depth, k.metadata, p_now
    from unnest(p_writes) w
   cross join lateral (
     select w.leave_pipeline_id as pipeline_id, 'STAGE_CHANGED' as type, 'Moved to another pipeline' as title,
            w.description, w.leave_stage_id as from_stage_id, null::uuid as to_stage_id,
            coalesce(w.metadata, '{}'::jsonb) || jsonb_build_object('to_pipeline_id', w.pipeline_id, 'to_stage_id', w.stage_id) as metadata
      where w.leave_place_id is not null
     union all
     select w.pipeline_id, w.stage_activity, w.title, w.description, w.old_stage_id, w.stage_id,
            coalesce(w.metadata, '{}'::jsonb)
              || case when w.leave_place_id is not null then jsonb_build_object('from_pipeline_id', w.leave_pipeline_id) else '{}'::jsonb end
      where w.is_new or w.stage_id <> w.old_stage_id
     union all
     select w.pipeline_id, 'ANALYSED', w.title, w.description, w.stage_id, w.stage_id, coalesce(w.metadata, '{}'::jsonb)
      where w.analysed and not w.is_new and w.stage_id = w.old_stage_id
     union all
     select w.pipeline_id, 'SCORE_CHANGED', 'Lead score ' || coalesce(w.old_score::text, 'none') || ' → ' || coalesce(w.lead_score::text, 'none'),
            null, null, null, jsonb_build_object('from', w.old_score, 'to', w.lead_score)
      where not w.is_new and w.lead_score is distinct from w.old_score
     union all
     select w.pipeline_id, 'STATUS_CHANGED', 'Lead status ' || w.old_status || ' → ' || w.lead_status,
            null, null, null, jsonb_build_object('from', w.old_status, 'to', w.lead_status)
      where not w.is_new and w.lead_status is distinct from w.old_status
   ) k;

  return array(
    select row(w.user_id, w.conversation_id, w.pipeline_id, w.place_id, w.is_new, w.old_stage_id, w.stage_id,
               w.old_score, w.lead_score, w.old_status, w.lead_status, w.depth)::leadflow_private.pipeline_change
      from unnest(p_writes) w
     where w.is_new or w.stage_id <> w.old_stage_id
        or w.lead_score is distinct from w.old_score or w.lead_status is distinct from w.old_status
     order by w.seq
  );
end;
$$;
comment on function leadflow_private.pipeline_write_places(leadflow_private.pipeline_place_write[], timestamptz) is
  'Writes places (new, moved, left, re-scored) and their history in one go; returns the changes for the automations.';

-- =============================================================================================
-- leadflow_private.pipeline_fire(p_changes, p_now) → jsonb {conversation_id: runs} per contact
-- =============================================================================================
-- The automation engine, in the caller's transaction. Level by level: the changes of a level find
-- the active automations of their pipeline whose trigger matches:
--   STAGE_CHANGED     the stage changed (entering the pipeline included); from / to as conditioned
--   ENTERED_PIPELINE  the place is new (at the conditioned stage, if any)
--   STATUS_CHANGED    an existing place's status changed; from / to as conditioned
--   SCORE_CROSSED     an existing place's score went from below the threshold to it or above (up),
--                     or from it or above to below (down)
-- Each (change, automation) fires once. Its actions run in order, set-based across the level:
-- tags, follow-up stops, statuses, moves in the database; webhook / notify become outbox items.
-- When several actions of one level aim at the same thing (one tag of a contact, one rule's stop,
-- one place's status, one contact's stage), the last in order decides (order: contact, automation
-- created_at and id, action index) and the earlier ones report `overridden`. A move or a status
-- an action makes is a change of the next level, whose automations fire in turn. Levels 0 to 4
-- run; an automation matching a change at level 5 is recorded with status depth_limit and does
-- not run, so automations that move contacts back and forth stop there.
-- Every firing is a pipeline_automation_runs row with each action's result and an
-- AUTOMATION_FIRED activity; each automation's times_triggered / last_triggered_at are updated
-- once at the end, in id order (two batches never wait on each other in a circle).
create or replace function leadflow_private.pipeline_fire(
  p_changes leadflow_private.pipeline_change[],
  p_now timestamptz
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  c_max_depth constant integer := 5;
  v_level leadflow_private.pipeline_change[] := p_changes;
  v_depth integer := 0;
  v_actions leadflow_private.pipeline_action[];
  v_done leadflow_private.pipeline_action_done[];
  v_more leadflow_private.pipeline_action_done[];
  v_writes leadflow_private.pipeline_place_write[];
  v_next leadflow_private.pipeline_change[];
  v_fired_contacts uuid[] := '{}';
  v_fired_automations uuid[] := '{}';
begin
  while coalesce(cardinality(v_level), 0) > 0 loop
    -- The firings of this level, each action a row, in the order the actions run.
    v_actions := array(
      with automations as materialized (
        select a.id, a.name, a.pipeline_id, a.trigger_type, a.actions, a.created_at,
               (a.trigger_conditions ->> 'from_stage_id')::uuid as from_stage_id,
               (a.trigger_conditions ->> 'to_stage_id')::uuid as to_stage_id,
               (a.trigger_conditions ->> 'stage_id')::uuid as stage_id,
               a.trigger_conditions ->> 'from_status' as from_status,
               a.trigger_conditions ->> 'to_status' as to_status,
               (a.trigger_conditions ->> 'threshold')::integer as threshold,
               a.trigger_conditions ->> 'direction' as direction
          from public.pipeline_automations a
         where a.is_active
           and a.pipeline_id in (select distinct c.pipeline_id from unnest(v_level) c)
      ),
      firings as materialized (
        select gen_random_uuid() as run_id, a.id as automation_id, a.name as automation_name, a.trigger_type,
               a.actions, a.created_at, c.*
          from unnest(v_level) c
          join automations a on a.pipeline_id = c.pipeline_id
         where case a.trigger_type
           when 'STAGE_CHANGED' then (c.entered or c.from_stage_id <> c.to_stage_id)
                                     and (a.from_stage_id is null or a.from_stage_id = c.from_stage_id)
                                     and (a.to_stage_id is null or a.to_stage_id = c.to_stage_id)
           when 'ENTERED_PIPELINE' then c.entered and (a.stage_id is null or a.stage_id = c.to_stage_id)
           when 'STATUS_CHANGED' then not c.entered and c.from_status is distinct from c.to_status
                                      and (a.from_status is null or a.from_status = c.from_status)
                                      and (a.to_status is null or a.to_status = c.to_status)
           when 'SCORE_CROSSED' then not c.entered and c.from_score is not null and c.to_score is not null
                                     and case a.direction
                                           when 'up' then c.from_score < a.threshold and c.to_score >= a.threshold
                                           else c.from_score >= a.threshold and c.to_score < a.threshold
                                         end
           else false
         end
      )
      select row(row_number() over (order by f.conversation_id, f.created_at, f.automation_id, e.n),
                 f.run_id, gen_random_uuid(), f.automation_id, f.automation_name, f.user_id, f.conversation_id,
                 f.pipeline_id, f.trigger_type, f.from_stage_id, f.to_stage_id, f.from_score, f.to_score,
                 f.from_status, f.to_status, f.depth, (e.n - 1)::integer, e.action ->> 'type', e.action
             )::leadflow_private.pipeline_action
        from firings f
       cross join lateral jsonb_array_elements(f.actions) with ordinality e (action, n)
       order by 1
    );
    exit when cardinality(v_actions) = 0;

    if v_depth >= c_max_depth then
      insert into public.pipeline_automation_runs (
        id, user_id, automation_id, conversation_id, pipeline_id, trigger_type, from_stage_id, to_stage_id,
        from_score, to_score, from_status, to_status, depth, status, results, fired_at
      )
      select a.run_id, a.user_id, a.automation_id, a.conversation_id, a.pipeline_id, a.trigger_type,
             a.from_stage_id, a.to_stage_id, a.from_score, a.to_score, a.from_status, a.to_status, a.depth,
             'depth_limit', '[]'::jsonb, p_now
        from unnest(v_actions) a
       where a.action_index = 0;
      exit;
    end if;

    -- Each kind of action below reads what it acts on once, before writing, and computes every
    -- result from that (no statement joins the batch's sets to each other: linear in the batch).
    -- "Decides": the last action of this level on the same target (row_number over the order).

    -- Tags: per contact and tag, the last add / remove decides.
    with acts as materialized (
      select x as act, x.user_id, x.conversation_id, x.action_type, (x.action ->> 'tag_id')::uuid as tag_id,
             row_number() over (partition by x.conversation_id, x.action ->> 'tag_id' order by x.seq desc) = 1 as decides,
             t.id is not null as tag_exists,
             ct.tag_id is not null as tagged
        from unnest(v_actions) x
        left join public.tags t on t.id = (x.action ->> 'tag_id')::uuid and t.user_id = x.user_id
        left join public.conversation_tags ct on ct.conversation_id = x.conversation_id and ct.tag_id = (x.action ->> 'tag_id')::uuid
       where x.action_type in ('add_tag', 'remove_tag')
    ),
    added as (
      insert into public.conversation_tags (conversation_id, tag_id, user_id)
      select a.conversation_id, a.tag_id, a.user_id from acts a
       where a.decides and a.action_type = 'add_tag' and a.tag_exists and not a.tagged
      on conflict do nothing
    ),
    removed as (
      delete from public.conversation_tags ct
       using acts a
       where a.decides and a.action_type = 'remove_tag' and a.tagged
         and ct.conversation_id = a.conversation_id and ct.tag_id = a.tag_id
    )
    select array_agg(row(a.act, jsonb_build_object('index', (a.act).action_index, 'type', a.action_type, 'tag_id', a.tag_id) || case
             when not a.decides then '{"status": "overridden"}'::jsonb
             when not a.tag_exists then '{"status": "failed", "reason": "tag_not_found"}'::jsonb
             when a.action_type = 'add_tag' and a.tagged then '{"status": "unchanged", "reason": "already_tagged"}'::jsonb
             when a.action_type = 'add_tag' then '{"status": "applied"}'::jsonb
             when a.tagged then '{"status": "applied"}'::jsonb
             else '{"status": "unchanged", "reason": "not_tagged"}'::jsonb
           end)::leadflow_private.pipeline_action_done)
      into v_done
      from acts a;
    v_done := coalesce(v_done, '{}');

    -- Follow-up stops: per contact and rule (none: every rule), the last stop / resume decides. A
    -- stop is a `manual` stop row naming the automation; a resume deletes the rule's stop row (no
    -- rule: every stop row of the contact, whatever its reason).
    with acts as materialized (
      select x as act, x.user_id, x.conversation_id, x.action_type, x.automation_id, x.automation_name,
             (x.action ->> 'rule_id')::uuid as rule_id,
             row_number() over (partition by x.conversation_id, coalesce(x.action ->> 'rule_id', '') order by x.seq desc) = 1 as decides,
             (x.action ->> 'rule_id') is null or r.id is not null as rule_exists,
             coalesce(st.stopped, false) as stopped
        from unnest(v_actions) x
        left join public.ai_automation_rules r on r.id = (x.action ->> 'rule_id')::uuid and r.user_id = x.user_id
        left join lateral (
          select true as stopped from public.ai_automation_stops s
           where s.conversation_id = x.conversation_id
             and (case when (x.action ->> 'rule_id') is null then x.action_type = 'resume_follow_up' or s.rule_id is null
                       else s.rule_id = (x.action ->> 'rule_id')::uuid end)
           limit 1
        ) st on true
       where x.action_type in ('stop_follow_up', 'resume_follow_up')
    ),
    stopped as (
      insert into public.ai_automation_stops (user_id, conversation_id, rule_id, reason, note)
      select a.user_id, a.conversation_id, a.rule_id, 'manual',
             'pipeline automation "' || a.automation_name || '" (' || a.automation_id || ')'
        from acts a
       where a.decides and a.action_type = 'stop_follow_up' and a.rule_exists and not a.stopped
      on conflict (conversation_id, rule_id) do nothing
    ),
    resumed as (
      delete from public.ai_automation_stops s
       using acts a
       where a.decides and a.action_type = 'resume_follow_up' and a.rule_exists and a.stopped
         and s.conversation_id = a.conversation_id and (a.rule_id is null or s.rule_id = a.rule_id)
    )
    select array_agg(row(a.act, jsonb_build_object('index', (a.act).action_index, 'type', a.action_type, 'rule_id', a.rule_id) || case
             when not a.decides then '{"status": "overridden"}'::jsonb
             when not a.rule_exists then '{"status": "failed", "reason": "rule_not_found"}'::jsonb
             when a.action_type = 'stop_follow_up' and a.stopped then '{"status": "unchanged", "reason": "already_stopped"}'::jsonb
             when a.action_type = 'stop_follow_up' then '{"status": "applied"}'::jsonb
             when a.stopped then '{"status": "applied"}'::jsonb
             else '{"status": "unchanged", "reason": "not_stopped"}'::jsonb
           end)::leadflow_private.pipeline_action_done)
      into v_more
      from acts a;
    v_done := v_done || coalesce(v_more, '{}');

    -- Webhooks and notifications: an outbox item each (written with the runs, below).
    v_done := v_done || array(
      select row(x, jsonb_build_object('index', x.action_index, 'type', x.action_type, 'status', 'queued', 'outbox_id', x.item_id)
             )::leadflow_private.pipeline_action_done
        from unnest(v_actions) x
       where x.action_type in ('webhook', 'notify')
    );

    -- Statuses: per place, the last set_lead_status decides.
    with acts as materialized (
      select x as act, x.*,
             row_number() over (partition by x.conversation_id, x.pipeline_id order by x.seq desc) = 1 as decides,
             p.id as place_id, p.stage_id as cur_stage_id, p.lead_score as cur_score, p.lead_status as cur_status
        from unnest(v_actions) x
        left join public.pipeline_contacts p on p.conversation_id = x.conversation_id and p.pipeline_id = x.pipeline_id
       where x.action_type = 'set_lead_status'
    )
    select
      array_agg(row(a.act, jsonb_build_object('index', a.action_index, 'type', a.action_type, 'lead_status', a.action ->> 'status') || case
                  when not a.decides then '{"status": "overridden"}'::jsonb
                  when a.place_id is null then '{"status": "failed", "reason": "not_in_pipeline"}'::jsonb
                  when a.cur_status = a.action ->> 'status' then '{"status": "unchanged", "reason": "same_status"}'::jsonb
                  else '{"status": "applied"}'::jsonb
                end)::leadflow_private.pipeline_action_done),
      array_agg(row(a.seq, a.user_id, a.conversation_id, a.pipeline_id, a.place_id, false, a.cur_stage_id, a.cur_score, a.cur_status,
                    a.cur_stage_id, a.cur_score, a.action ->> 'status', null, null, null, null, 'STAGE_CHANGED', false,
                    'automation', null, a.automation_id, a.run_id,
                    'Lead status set by automation "' || a.automation_name || '"', null,
                    jsonb_build_object('action_index', a.action_index), v_depth + 1)::leadflow_private.pipeline_place_write)
        filter (where a.decides and a.place_id is not null and a.cur_status <> a.action ->> 'status')
      into v_more, v_writes
      from acts a;
    v_done := v_done || coalesce(v_more, '{}');
    v_next := leadflow_private.pipeline_write_places(v_writes, p_now);

    -- Moves: per contact, the last move decides. The source is the place in the automation's
    -- pipeline; a stage of another pipeline takes the contact there: its place here is left, and its
    -- score, status and analysis go with it (unless it already has a place there, which moves).
    with acts as materialized (
      select x as act, x.*,
             row_number() over (partition by x.conversation_id order by x.seq desc) = 1 as decides,
             t.id as stage_id, t.pipeline_id as stage_pipeline_id,
             src.id as src_id, src.stage_id as src_stage_id, src.lead_score as src_score, src.lead_status as src_status,
             case when src.analysed_at is not null then jsonb_build_object(
               'summary', src.analysis_summary, 'confidence', src.analysis_confidence, 'reasoning', src.analysis_reasoning,
               'recommended_stage', src.analysis_recommended_stage, 'model', src.analysis_model,
               'is_fallback', src.analysis_is_fallback, 'last_message_at', src.analysis_last_message_at,
               'analysed_at', src.analysed_at) end as src_analysis,
             dst.id as dst_id, dst.stage_id as dst_stage_id, dst.lead_score as dst_score, dst.lead_status as dst_status
        from unnest(v_actions) x
        left join lateral (
          select s.id, s.pipeline_id from public.pipeline_stages s
           where x.action_type = 'move_to_stage' and s.id = (x.action ->> 'stage_id')::uuid and s.user_id = x.user_id
          union all
          select d.id, d.pipeline_id from (
            select s.id, s.pipeline_id from public.pipeline_stages s
             where x.action_type = 'move_to_pipeline' and s.pipeline_id = (x.action ->> 'pipeline_id')::uuid and s.user_id = x.user_id
             order by s.is_default desc, s.stage_order
             limit 1
          ) d
        ) t on true
        left join public.pipeline_contacts src on src.conversation_id = x.conversation_id and src.pipeline_id = x.pipeline_id
        left join public.pipeline_contacts dst on dst.conversation_id = x.conversation_id and dst.pipeline_id = t.pipeline_id
       where x.action_type in ('move_to_stage', 'move_to_pipeline')
    ),
    planned as (
      select a.*,
             a.stage_pipeline_id = a.pipeline_id as same_pipeline,
             a.stage_pipeline_id <> a.pipeline_id and a.src_id is not null as leaves,
             case
               when not a.decides then 'overridden'
               when a.stage_id is null then 'failed'
               when a.stage_pipeline_id = a.pipeline_id and a.src_stage_id = a.stage_id then 'unchanged'
               when a.stage_pipeline_id <> a.pipeline_id and a.src_id is null and a.dst_stage_id = a.stage_id then 'unchanged'
               else 'applied'
             end as status
        from acts a
    )
    select
      array_agg(row(p.act, jsonb_build_object('index', p.action_index, 'type', p.action_type) || case p.status
                  when 'overridden' then '{"status": "overridden"}'::jsonb
                  when 'failed' then jsonb_build_object('status', 'failed', 'reason',
                    case when p.action_type = 'move_to_stage' then 'stage_not_found' else 'pipeline_not_found_or_empty' end)
                  else jsonb_build_object('status', p.status, 'pipeline_id', p.stage_pipeline_id, 'stage_id', p.stage_id)
                       || case when p.leaves and p.status = 'applied' then jsonb_build_object('left_pipeline_id', p.pipeline_id)
                               else '{}'::jsonb end
                end)::leadflow_private.pipeline_action_done),
      array_agg(row(p.seq, p.user_id, p.conversation_id, p.stage_pipeline_id,
                    coalesce(case when p.same_pipeline then p.src_id else p.dst_id end, gen_random_uuid()),
                    case when p.same_pipeline then p.src_id is null else p.dst_id is null end,
                    case when p.same_pipeline then p.src_stage_id else p.dst_stage_id end,
                    case when p.same_pipeline then p.src_score else p.dst_score end,
                    case when p.same_pipeline then p.src_status else p.dst_status end,
                    p.stage_id,
                    case when p.same_pipeline then p.src_score when p.dst_id is not null then p.dst_score else p.src_score end,
                    case when p.same_pipeline then coalesce(p.src_status, 'NEW') when p.dst_id is not null then p.dst_status
                         else coalesce(p.src_status, 'NEW') end,
                    case when not p.same_pipeline and p.dst_id is null then p.src_analysis end,
                    case when p.leaves then p.src_id end,
                    case when p.leaves then p.pipeline_id end,
                    case when p.leaves then p.src_stage_id end,
                    'STAGE_CHANGED', false, 'automation', null, p.automation_id, p.run_id,
                    'Moved by automation "' || p.automation_name || '"', null,
                    jsonb_build_object('action_index', p.action_index), v_depth + 1)::leadflow_private.pipeline_place_write)
        filter (where p.status = 'applied')
      into v_more, v_writes
      from planned p;
    v_done := v_done || coalesce(v_more, '{}');
    v_next := v_next || leadflow_private.pipeline_write_places(v_writes, p_now);

    -- The runs of this level with every action's result, and an AUTOMATION_FIRED activity each.
    with fired as materialized (
      select (d.action).run_id as run_id, (d.action).user_id as user_id, (d.action).automation_id as automation_id,
             (d.action).automation_name as automation_name, (d.action).conversation_id as conversation_id,
             (d.action).pipeline_id as pipeline_id, (d.action).trigger_type as trigger_type,
             (d.action).from_stage_id as from_stage_id, (d.action).to_stage_id as to_stage_id,
             (d.action).from_score as from_score, (d.action).to_score as to_score,
             (d.action).from_status as from_status, (d.action).to_status as to_status, (d.action).depth as depth,
             jsonb_agg(d.result order by (d.action).action_index) as results
        from unnest(v_done) d
       group by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14
    ),
    runs as (
      insert into public.pipeline_automation_runs (
        id, user_id, automation_id, conversation_id, pipeline_id, trigger_type, from_stage_id, to_stage_id,
        from_score, to_score, from_status, to_status, depth, status, results, fired_at
      )
      select f.run_id, f.user_id, f.automation_id, f.conversation_id, f.pipeline_id, f.trigger_type, f.from_stage_id,
             f.to_stage_id, f.from_score, f.to_score, f.from_status, f.to_status, f.depth, 'completed', f.results, p_now
        from fired f
    )
    insert into public.contact_activities (
      user_id, conversation_id, pipeline_id, type, title, description, from_stage_id, to_stage_id,
      actor, actor_id, automation_id, run_id, depth, metadata, occurred_at
    )
    select f.user_id, f.conversation_id, f.pipeline_id, 'AUTOMATION_FIRED', 'Automation "' || f.automation_name || '" fired', null,
           f.from_stage_id, f.to_stage_id, 'automation', null, f.automation_id, f.run_id, f.depth,
           jsonb_build_object('trigger_type', f.trigger_type, 'results', f.results), p_now
      from fired f;

    insert into public.pipeline_outbox (id, user_id, run_id, automation_id, conversation_id, action_index, kind, payload, available_at)
    select a.item_id, a.user_id, a.run_id, a.automation_id, a.conversation_id, a.action_index, a.action_type,
           jsonb_build_object(
             'action', a.action,
             'automation', jsonb_build_object('id', a.automation_id, 'name', a.automation_name),
             'contact', jsonb_build_object('conversation_id', c.id, 'page_id', c.page_id, 'sender_id', c.sender_id,
                                           'sender_name', c.sender_name),
             'pipeline', jsonb_build_object('id', a.pipeline_id, 'name', pl.name),
             'change', jsonb_build_object(
               'trigger_type', a.trigger_type, 'depth', a.depth,
               'from_stage', case when fs.id is not null then jsonb_build_object('id', fs.id, 'name', fs.name) end,
               'to_stage', case when ts.id is not null then jsonb_build_object('id', ts.id, 'name', ts.name) end,
               'from_score', a.from_score, 'to_score', a.to_score, 'from_status', a.from_status, 'to_status', a.to_status),
             'occurred_at', p_now),
           p_now
      from unnest(v_actions) a
      join public.messenger_conversations c on c.id = a.conversation_id
      join public.pipelines pl on pl.id = a.pipeline_id
      left join public.pipeline_stages fs on fs.id = a.from_stage_id
      left join public.pipeline_stages ts on ts.id = a.to_stage_id
     where a.action_type in ('webhook', 'notify');

    select v_fired_contacts || array_agg(a.conversation_id), v_fired_automations || array_agg(a.automation_id)
      into v_fired_contacts, v_fired_automations
      from unnest(v_actions) a
     where a.action_index = 0;

    v_level := v_next;
    v_depth := v_depth + 1;
  end loop;

  -- Each automation's counters, once, its row locked in id order.
  if cardinality(v_fired_automations) > 0 then
    perform from public.pipeline_automations a
     where a.id in (select distinct u from unnest(v_fired_automations) u)
     order by a.id
       for no key update;
    update public.pipeline_automations a
       set times_triggered = a.times_triggered + k.n,
           last_triggered_at = greatest(a.last_triggered_at, p_now)
      from (select u as id, count(*) as n from unnest(v_fired_automations) u group by u) k
     where a.id = k.id;
  end if;

  return coalesce((select jsonb_object_agg(k.conversation_id, k.runs)
                      from (select u as conversation_id, count(*) as runs from unnest(v_fired_contacts) u group by u) k),
                  '{}'::jsonb);
end;
$$;
comment on function leadflow_private.pipeline_fire(leadflow_private.pipeline_change[], timestamptz) is
  'The automation engine: fires the active automations matching each change, runs their actions level by level to the depth limit, records runs and outbox items.';

-- =============================================================================================
-- pipeline_assign(p_items, p_now) → one row per item
-- =============================================================================================
-- p_items: [{conversation_id, lead_score (0–100), lead_status?, recommended_stage?, summary?,
--            confidence? (0–100), reasoning?, model?, is_fallback?, last_message_at?,
--            pipeline_id?, update_mode?}] — the AI's analysis of each contact, at most 1,000 per call:
--            the Data API answers at most 1,000 rows (Supabase's default max-rows), and a longer
--            answer would be cut silently, so a longer batch is refused instead.
-- The pipeline is the item's pipeline_id, else the one of the conversation's Page
-- (pipeline_page_settings, when enabled); the update mode the item's, else the Page's, else
-- SKIP_EXISTING. The stage, by the seed's priorities (the first that names a stage decides):
--   1 status             a stage whose lead_statuses hold the analysis' status (WON, LOST …)
--   2 score_range        the stage whose score range holds the score
--   3 ai_recommendation  the stage named like recommended_stage (case and spaces ignored)
--   4 closest_score      the stage whose score range is closest to the score (ties: lower stage)
--   5 default_stage      the pipeline's default stage
--   6 first_stage        the pipeline's first stage
-- Then, for a contact already in the pipeline:
--   SKIP_EXISTING        kept, reason skip_existing: nothing is written
--   the same stage       kept, reason same_stage
--   a lower stage        kept, reason downgrade_protected, while the score is at or above the
--                        current stage's lead_score_min (a stage without a range protects nothing)
--   otherwise            moved
-- A contact not in the pipeline is assigned; one whose Page has no enabled settings (and no
-- pipeline_id given) is skipped, reason auto_assign_off. Assigned, moved and kept (except
-- skip_existing) contacts get the analysis' score, status and analysis (the stage is what may be
-- kept); their history holds the reasoning, confidence and recommendation (STAGE_CHANGED, or
-- ANALYSED when the stage stayed), and their changes fire the automations.
-- Errors (nothing written): p_items not an array or over 1,000 items, a malformed item, a
-- conversation listed twice, an unknown conversation or pipeline, a pipeline without stages.
create or replace function public.pipeline_assign(
  p_items jsonb,
  p_now timestamptz default leadflow_private.now()
)
returns table (
  item_index integer,
  conversation_id uuid,
  outcome text,
  reason text,
  priority text,
  pipeline_id uuid,
  stage_id uuid,
  stage_name text,
  from_stage_id uuid,
  from_stage_name text,
  proposed_stage_id uuid,
  proposed_stage_name text,
  lead_score integer,
  lead_status text,
  automations_fired integer
)
language plpgsql
volatile
set search_path = ''
set plan_cache_mode = force_generic_plan
as $$
#variable_conflict use_column
declare
  v_bad record;
  v_items leadflow_private.pipeline_assign_item[];
  v_ids uuid[];
  v_locked integer;
  v_outcomes leadflow_private.pipeline_outcome[];
  v_writes leadflow_private.pipeline_place_write[];
  v_changes leadflow_private.pipeline_change[];
  v_fired jsonb;
begin
  if jsonb_typeof(p_items) is distinct from 'array' then
    raise exception 'p_items: must be a JSON array of analysed contacts (got %)', coalesce(jsonb_typeof(p_items), 'null')
      using errcode = '22023';
  end if;
  if jsonb_array_length(p_items) > 1000 then
    raise exception 'p_items: at most 1000 contacts per call (got %)', jsonb_array_length(p_items)
      using errcode = '22023', hint = 'Split the batch: the Data API answers at most 1000 rows (max-rows), one per item.';
  end if;

  select e.n - 1 as idx, p.problem into v_bad
    from jsonb_array_elements(p_items) with ordinality e (item, n)
   cross join lateral (select leadflow_private.pipeline_assign_item_problem(e.item) as problem) p
   where p.problem is not null
   order by e.n
   limit 1;
  if found then
    raise exception 'p_items[%]%', v_bad.idx, v_bad.problem using errcode = '22023';
  end if;

  v_items := array(
    select row((e.n - 1)::integer, (e.item ->> 'conversation_id')::uuid, (e.item ->> 'pipeline_id')::uuid, e.item ->> 'update_mode',
               (e.item ->> 'lead_score')::numeric::integer, upper(btrim(e.item ->> 'lead_status')), e.item ->> 'recommended_stage',
               e.item ->> 'summary', (e.item ->> 'confidence')::numeric, e.item ->> 'reasoning', e.item ->> 'model',
               coalesce((e.item ->> 'is_fallback')::boolean, false), (e.item ->> 'last_message_at')::timestamptz
           )::leadflow_private.pipeline_assign_item
      from jsonb_array_elements(p_items) with ordinality e (item, n)
     order by e.n
  );
  if cardinality(v_items) = 0 then
    return;
  end if;

  select min(i.item_index) as first_index, max(i.item_index) as second_index, i.conversation_id into v_bad
    from unnest(v_items) i
   group by i.conversation_id
  having count(*) > 1
   limit 1;
  if found then
    raise exception 'p_items[%].conversation_id: conversation % is listed twice (also p_items[%])',
      v_bad.second_index, v_bad.conversation_id, v_bad.first_index using errcode = '22023';
  end if;

  -- The contacts' lock (see the header), then everything is read under it.
  v_ids := array(select i.conversation_id from unnest(v_items) i);
  select count(*) into v_locked
    from (select c.id from public.messenger_conversations c where c.id = any (v_ids) order by c.id for no key update) l;
  if v_locked < cardinality(v_ids) then
    select i.item_index, i.conversation_id into v_bad
      from unnest(v_items) i
     where not exists (select from public.messenger_conversations c where c.id = i.conversation_id)
     order by i.item_index
     limit 1;
    raise exception 'p_items[%].conversation_id: conversation % does not exist', v_bad.item_index, v_bad.conversation_id
      using errcode = 'P0002', hint = 'Use ids from messenger_conversations.';
  end if;

  select i.item_index, i.pipeline_id into v_bad
    from unnest(v_items) i
    join public.messenger_conversations c on c.id = i.conversation_id
   where i.pipeline_id is not null
     and not exists (select from public.pipelines p where p.id = i.pipeline_id and p.user_id = c.user_id)
   order by i.item_index
   limit 1;
  if found then
    raise exception 'p_items[%].pipeline_id: pipeline % does not exist (for this conversation''s owner)', v_bad.item_index, v_bad.pipeline_id
      using errcode = 'P0002', hint = 'Use ids from pipelines, of the conversation''s owner.';
  end if;

  -- Each contact's pipeline, proposed stage (with the priority that chose it) and current place.
  with decided as materialized (
    select i.*, c.user_id, r.pipeline_id as target_pipeline_id, r.update_mode as mode,
           best.id as best_id, best.name as best_name, best.stage_order as best_order, best.priority_rank,
           p.id as place_id, p.stage_id as cur_stage_id, p.lead_score as cur_score, p.lead_status as cur_status,
           cur.name as cur_name, cur.stage_order as cur_order, cur.lead_score_min as cur_min
      from unnest(v_items) i
      join public.messenger_conversations c on c.id = i.conversation_id
      left join public.pipeline_page_settings ps on ps.user_id = c.user_id and ps.page_id = c.page_id
     cross join lateral (
       select coalesce(i.pipeline_id, case when ps.enabled then ps.pipeline_id end) as pipeline_id,
              coalesce(i.update_mode, ps.update_mode, 'SKIP_EXISTING') as update_mode
     ) r
      left join lateral (
        select s.id, s.name, s.stage_order, k.priority_rank
          from public.pipeline_stages s
         cross join lateral (
           select case
             when i.lead_status = any (s.lead_statuses) then 1
             when i.lead_score between s.lead_score_min and s.lead_score_max then 2
             when lower(btrim(s.name)) = lower(btrim(i.recommended_stage)) then 3
             when s.lead_score_min is not null then 4
             when s.is_default then 5
             else 6
           end as priority_rank
         ) k
         where s.pipeline_id = r.pipeline_id
         order by k.priority_rank,
                  case when k.priority_rank = 4 then greatest(s.lead_score_min - i.lead_score, i.lead_score - s.lead_score_max) end,
                  s.stage_order
         limit 1
      ) best on true
      left join public.pipeline_contacts p on p.conversation_id = i.conversation_id and p.pipeline_id = r.pipeline_id
      left join public.pipeline_stages cur on cur.id = p.stage_id
  ),
  judged as materialized (
    select d.*, j.outcome, j.reason,
           case d.priority_rank when 1 then 'status' when 2 then 'score_range' when 3 then 'ai_recommendation'
                                when 4 then 'closest_score' when 5 then 'default_stage' when 6 then 'first_stage' end as priority,
           case when j.outcome in ('assigned', 'moved') then d.best_id else d.cur_stage_id end as final_stage_id,
           case when j.outcome in ('assigned', 'moved') then d.best_name else d.cur_name end as final_stage_name
      from decided d
     cross join lateral (
       select case
                when d.target_pipeline_id is null then 'skipped'
                when d.place_id is null then 'assigned'
                when d.mode = 'SKIP_EXISTING' then 'kept'
                when d.best_id = d.cur_stage_id then 'kept'
                when d.best_order < d.cur_order and d.cur_min is not null and d.lead_score >= d.cur_min then 'kept'
                else 'moved'
              end as outcome,
              case
                when d.target_pipeline_id is null then 'auto_assign_off'
                when d.place_id is null then null
                when d.mode = 'SKIP_EXISTING' then 'skip_existing'
                when d.best_id = d.cur_stage_id then 'same_stage'
                when d.best_order < d.cur_order and d.cur_min is not null and d.lead_score >= d.cur_min then 'downgrade_protected'
              end as reason
     ) j
  )
  select
    array_agg(row(j.item_index, j.conversation_id, j.outcome, j.reason,
                  case when j.outcome <> 'skipped' and j.reason is distinct from 'skip_existing' then j.priority end,
                  j.target_pipeline_id, j.final_stage_id, j.final_stage_name,
                  j.cur_stage_id, j.cur_name,
                  case when j.reason = 'downgrade_protected' then j.best_id end,
                  case when j.reason = 'downgrade_protected' then j.best_name end,
                  null::uuid,
                  case when j.outcome = 'skipped' or j.reason = 'skip_existing' then j.cur_score else j.lead_score end,
                  case when j.outcome = 'skipped' or j.reason = 'skip_existing' then j.cur_status
                       else coalesce(j.lead_status, j.cur_status, 'NEW') end
              )::leadflow_private.pipeline_outcome order by j.item_index),
    array_agg(row(j.item_index, j.user_id, j.conversation_id, j.target_pipeline_id,
                  coalesce(j.place_id, gen_random_uuid()), j.place_id is null,
                  j.cur_stage_id, j.cur_score, j.cur_status,
                  j.final_stage_id, j.lead_score, coalesce(j.lead_status, j.cur_status, 'NEW'),
                  jsonb_build_object('summary', j.summary, 'confidence', j.confidence, 'reasoning', j.reasoning,
                                     'recommended_stage', j.recommended_stage, 'model', j.model,
                                     'is_fallback', j.is_fallback, 'last_message_at', j.last_message_at, 'analysed_at', p_now),
                  null, null, null, 'STAGE_CHANGED', true, 'ai', j.model, null, null,
                  case j.outcome when 'assigned' then 'AI auto-assigned to pipeline' when 'moved' then 'AI moved to stage'
                                 else 'AI analysis (stage kept)' end,
                  j.reasoning,
                  jsonb_strip_nulls(jsonb_build_object(
                    'confidence', j.confidence, 'recommendation', j.recommended_stage, 'lead_score', j.lead_score,
                    'lead_status', coalesce(j.lead_status, j.cur_status, 'NEW'), 'priority', j.priority,
                    'is_fallback', j.is_fallback, 'model', j.model, 'outcome', j.outcome, 'reason', j.reason,
                    'proposed_stage_id', case when j.reason = 'downgrade_protected' then j.best_id end)),
                  0
              )::leadflow_private.pipeline_place_write order by j.item_index)
      filter (where j.outcome <> 'skipped' and j.reason is distinct from 'skip_existing')
    into v_outcomes, v_writes
    from judged j;

  select o.item_index, o.pipeline_id into v_bad
    from unnest(v_outcomes) o
   where o.pipeline_id is not null and o.stage_id is null
   order by o.item_index
   limit 1;
  if found then
    raise exception 'p_items[%]: pipeline % has no stages', v_bad.item_index, v_bad.pipeline_id
      using errcode = 'P0002', hint = 'Add stages to the pipeline (pipeline_stages) first.';
  end if;

  v_changes := leadflow_private.pipeline_write_places(v_writes, p_now);
  v_fired := leadflow_private.pipeline_fire(v_changes, p_now);

  return query
    select o.item_index, o.conversation_id, o.outcome, o.reason, o.priority, o.pipeline_id, o.stage_id, o.stage_name,
           o.from_stage_id, o.from_stage_name, o.proposed_stage_id, o.proposed_stage_name, o.lead_score, o.lead_status,
           coalesce((v_fired ->> o.conversation_id::text)::integer, 0)
      from unnest(v_outcomes) o
     order by o.item_index;
end;
$$;
comment on function public.pipeline_assign(jsonb, timestamptz) is
  'Batch: places analysed contacts in their pipeline by the seed''s priorities (status, score range, AI recommendation, closest score, default / first stage), with downgrade protection and the update modes; logs and fires automations. One row per item: assigned | moved | kept (skip_existing, same_stage, downgrade_protected) | skipped (auto_assign_off).';

-- =============================================================================================
-- pipeline_move(p_items, p_now) → one row per item
-- =============================================================================================
-- p_items: [{conversation_id, stage_id | stage_name, pipeline_id?, from_pipeline_id?, reason?,
--            actor? (user | ai; default user), actor_id?}] — at most 1,000 per call (see pipeline_assign).
-- The stage: stage_id (a stage of the conversation's owner; with pipeline_id, of that pipeline),
-- or stage_name in pipeline_id, or, without pipeline_id, in the one pipeline the contact is in.
-- A contact already in that pipeline moves to the stage (moved; kept same_stage when it is there).
-- Otherwise it enters the pipeline (assigned; without a score and NEW, until an analysis places
-- it). With from_pipeline_id it moves there from that pipeline (moved, left_pipeline_id): its
-- place there is left, and its score, status and analysis come with it (when it had no place in
-- the target pipeline yet). Logged as MANUAL_MOVE with the reason, actor and actor_id; fires the automations
-- like any move.
-- Errors (nothing written): a malformed item, a conversation listed twice, an unknown
-- conversation, stage, stage name or pipeline, a stage name without a pipeline to look in, a
-- from_pipeline_id the contact is not in.
create or replace function public.pipeline_move(
  p_items jsonb,
  p_now timestamptz default leadflow_private.now()
)
returns table (
  item_index integer,
  conversation_id uuid,
  outcome text,
  reason text,
  pipeline_id uuid,
  stage_id uuid,
  stage_name text,
  from_stage_id uuid,
  from_stage_name text,
  left_pipeline_id uuid,
  automations_fired integer
)
language plpgsql
volatile
set search_path = ''
set plan_cache_mode = force_generic_plan
as $$
#variable_conflict use_column
declare
  v_bad record;
  v_problem text;
  v_ids uuid[];
  v_locked integer;
  v_outcomes leadflow_private.pipeline_outcome[];
  v_writes leadflow_private.pipeline_place_write[];
  v_changes leadflow_private.pipeline_change[];
  v_fired jsonb;
begin
  if jsonb_typeof(p_items) is distinct from 'array' then
    raise exception 'p_items: must be a JSON array of moves (got %)', coalesce(jsonb_typeof(p_items), 'null') using errcode = '22023';
  end if;
  if jsonb_array_length(p_items) > 1000 then
    raise exception 'p_items: at most 1000 moves per call (got %)', jsonb_array_length(p_items)
      using errcode = '22023', hint = 'Split the batch: the Data API answers at most 1000 rows (max-rows), one per item.';
  end if;
  if jsonb_array_length(p_items) = 0 then
    return;
  end if;

  select e.n - 1 as idx, p.problem into v_bad
    from jsonb_array_elements(p_items) with ordinality e (item, n)
   cross join lateral (select leadflow_private.pipeline_move_item_problem(e.item) as problem) p
   where p.problem is not null
   order by e.n
   limit 1;
  if found then
    raise exception 'p_items[%]%', v_bad.idx, v_bad.problem using errcode = '22023';
  end if;

  select min(e.n) - 1 as first_index, max(e.n) - 1 as second_index, e.item ->> 'conversation_id' as conversation_id into v_bad
    from jsonb_array_elements(p_items) with ordinality e (item, n)
   group by e.item ->> 'conversation_id'
  having count(*) > 1
   limit 1;
  if found then
    raise exception 'p_items[%].conversation_id: conversation % is listed twice (also p_items[%])',
      v_bad.second_index, v_bad.conversation_id, v_bad.first_index using errcode = '22023';
  end if;

  v_ids := array(select (e.item ->> 'conversation_id')::uuid from jsonb_array_elements(p_items) e (item));
  select count(*) into v_locked
    from (select c.id from public.messenger_conversations c where c.id = any (v_ids) order by c.id for no key update) l;
  if v_locked < cardinality(v_ids) then
    select e.n - 1 as idx, e.item ->> 'conversation_id' as conversation_id into v_bad
      from jsonb_array_elements(p_items) with ordinality e (item, n)
     where not exists (select from public.messenger_conversations c where c.id = (e.item ->> 'conversation_id')::uuid)
     order by e.n
     limit 1;
    raise exception 'p_items[%].conversation_id: conversation % does not exist', v_bad.idx, v_bad.conversation_id
      using errcode = 'P0002', hint = 'Use ids from messenger_conversations.';
  end if;

  -- Each move's target stage and the contact's places, read under the lock; the first problem, if
  -- any, fails the call before anything is written.
  with items as materialized (
    select (e.n - 1)::integer as item_index, (e.item ->> 'conversation_id')::uuid as conversation_id,
           (e.item ->> 'stage_id')::uuid as stage_id, btrim(e.item ->> 'stage_name') as stage_name,
           (e.item ->> 'pipeline_id')::uuid as pipeline_id, (e.item ->> 'from_pipeline_id')::uuid as from_pipeline_id,
           e.item ->> 'reason' as reason, coalesce(e.item ->> 'actor', 'user') as actor, e.item ->> 'actor_id' as actor_id,
           c.user_id
      from jsonb_array_elements(p_items) with ordinality e (item, n)
      join public.messenger_conversations c on c.id = (e.item ->> 'conversation_id')::uuid
  ),
  planned as materialized (
    select i.*, s.id as target_stage_id, s.name as target_stage_name, s.pipeline_id as target_pipeline_id,
           places.n as place_count, places.only_pipeline_id,
           dst.id as dst_id, dst.stage_id as dst_stage_id, dst_stage.name as dst_stage_name, dst.lead_score as dst_score,
           dst.lead_status as dst_status,
           src.id as src_id, src.stage_id as src_stage_id, src_stage.name as src_stage_name, src.lead_score as src_score,
           src.lead_status as src_status,
           case when src.analysed_at is not null then jsonb_build_object(
             'summary', src.analysis_summary, 'confidence', src.analysis_confidence, 'reasoning', src.analysis_reasoning,
             'recommended_stage', src.analysis_recommended_stage, 'model', src.analysis_model,
             'is_fallback', src.analysis_is_fallback, 'last_message_at', src.analysis_last_message_at,
             'analysed_at', src.analysed_at) end as src_analysis
      from items i
     cross join lateral (
       select count(*)::integer as n, min(pc.pipeline_id::text)::uuid as only_pipeline_id
         from public.pipeline_contacts pc where pc.conversation_id = i.conversation_id
     ) places
      left join lateral (
        select st.id, st.name, st.pipeline_id from public.pipeline_stages st
         where st.user_id = i.user_id
           and case when i.stage_id is not null
                    then st.id = i.stage_id and (i.pipeline_id is null or st.pipeline_id = i.pipeline_id)
                    else st.pipeline_id = coalesce(i.pipeline_id, case when places.n = 1 then places.only_pipeline_id end)
                         and lower(btrim(st.name)) = lower(i.stage_name) end
         limit 1
      ) s on true
      left join public.pipeline_contacts dst on dst.conversation_id = i.conversation_id and dst.pipeline_id = s.pipeline_id
      left join public.pipeline_stages dst_stage on dst_stage.id = dst.stage_id
      -- The place left behind (from_pipeline_id), whether or not the contact is in the target already.
      left join public.pipeline_contacts src on src.conversation_id = i.conversation_id
                                            and src.pipeline_id = i.from_pipeline_id and i.from_pipeline_id <> s.pipeline_id
      left join public.pipeline_stages src_stage on src_stage.id = src.stage_id
  ),
  judged as materialized (
    select p.*,
           case when p.dst_id is not null and p.dst_stage_id = p.target_stage_id and p.src_id is null then 'kept'
                when p.dst_id is null and p.src_id is null then 'assigned'
                else 'moved' end as outcome,
           case
             when p.pipeline_id is not null and not exists (select from public.pipelines pl where pl.id = p.pipeline_id and pl.user_id = p.user_id)
               then '.pipeline_id: pipeline ' || p.pipeline_id || ' does not exist (for this conversation''s owner)'
             when p.stage_id is not null and p.target_stage_id is null
               then '.stage_id: stage ' || p.stage_id || ' does not exist (for this conversation''s owner'
                    || case when p.pipeline_id is not null then ', in pipeline ' || p.pipeline_id else '' end || ')'
             when p.stage_id is null and p.pipeline_id is null and p.place_count <> 1
               then '.pipeline_id: required with stage_name, the contact is in ' || p.place_count || ' pipelines'
             when p.stage_id is null and p.target_stage_id is null
               then '.stage_name: no stage named "' || p.stage_name || '" in pipeline ' || coalesce(p.pipeline_id, p.only_pipeline_id)
             when p.from_pipeline_id is not null
                  and not exists (select from public.pipeline_contacts fp where fp.conversation_id = p.conversation_id and fp.pipeline_id = p.from_pipeline_id)
               then '.from_pipeline_id: the contact is not in pipeline ' || p.from_pipeline_id
           end as problem
      from planned p
  )
  select
    (array_agg('p_items[' || j.item_index || ']' || j.problem order by j.item_index) filter (where j.problem is not null))[1],
    array_agg(row(j.item_index, j.conversation_id, j.outcome, case when j.outcome = 'kept' then 'same_stage' end, null,
                  j.target_pipeline_id, j.target_stage_id, j.target_stage_name,
                  coalesce(j.dst_stage_id, j.src_stage_id), coalesce(j.dst_stage_name, j.src_stage_name),
                  null, null, case when j.src_id is not null then j.from_pipeline_id end,
                  coalesce(j.dst_score, j.src_score), coalesce(j.dst_status, j.src_status, 'NEW')
              )::leadflow_private.pipeline_outcome order by j.item_index),
    array_agg(row(j.item_index, j.user_id, j.conversation_id, j.target_pipeline_id,
                  coalesce(j.dst_id, gen_random_uuid()), j.dst_id is null,
                  j.dst_stage_id, j.dst_score, j.dst_status,
                  j.target_stage_id,
                  case when j.dst_id is not null then j.dst_score else j.src_score end,
                  coalesce(j.dst_status, j.src_status, 'NEW'),
                  case when j.dst_id is null then j.src_analysis end,
                  j.src_id, case when j.src_id is not null then j.from_pipeline_id end, j.src_stage_id,
                  'MANUAL_MOVE', false, j.actor, j.actor_id, null, null,
                  case when j.actor = 'ai' then 'Moved by an AI agent' else 'Moved manually' end,
                  j.reason,
                  jsonb_strip_nulls(jsonb_build_object('stage_name', j.target_stage_name)),
                  0
              )::leadflow_private.pipeline_place_write order by j.item_index)
      filter (where j.outcome <> 'kept')
    into v_problem, v_outcomes, v_writes
    from judged j;
  if v_problem is not null then
    raise exception '%', v_problem using errcode = 'P0002';
  end if;
  v_changes := leadflow_private.pipeline_write_places(v_writes, p_now);
  v_fired := leadflow_private.pipeline_fire(v_changes, p_now);

  return query
    select o.item_index, o.conversation_id, o.outcome, o.reason, o.pipeline_id, o.stage_id, o.stage_name,
           o.from_stage_id, o.from_stage_name, o.left_pipeline_id, coalesce((v_fired ->> o.conversation_id::text)::integer, 0)
      from unnest(v_outcomes) o
     order by o.item_index;
end;
$$;
comment on function public.pipeline_move(jsonb, timestamptz) is
  'Batch: manual moves (the user''s app, an AI agent) to a stage by id or name, within a pipeline, into one, or from one to another; logged as MANUAL_MOVE; fires automations.';

-- =============================================================================================
-- pipeline_claim_outbox(p_execution_id, p_limit, p_lease_seconds, p_now) → the items handed out
-- =============================================================================================
-- Hands out up to p_limit webhook / notify items that are pending and due, or claimed by an
-- execution whose lease has run out (it died before reporting): oldest first, FOR UPDATE SKIP
-- LOCKED, so two executions claiming at once never get the same item. Each gets a lease of
-- p_lease_seconds: deliver, then pipeline_complete_outbox before it ends. attempt counts hand-outs.
create or replace function public.pipeline_claim_outbox(
  p_execution_id text,
  p_limit integer default 50,
  p_lease_seconds integer default 300,
  p_now timestamptz default leadflow_private.now()
)
returns table (
  outbox_id uuid,
  kind text,
  payload jsonb,
  attempt integer,
  lease_expires_at timestamptz,
  run_id uuid,
  automation_id uuid,
  conversation_id uuid,
  created_at timestamptz
)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
begin
  if p_execution_id is null or length(btrim(p_execution_id)) = 0 then
    raise exception 'p_execution_id is required: the claim records who holds each item'
      using errcode = '22023', hint = 'Pass the n8n execution id (or any unique id of this run).';
  end if;
  if p_limit is null or p_limit not between 1 and 1000 then
    raise exception 'p_limit must be between 1 and 1000 (got %)', p_limit using errcode = '22023';
  end if;
  if p_lease_seconds is null or p_lease_seconds not between 5 and 86400 then
    raise exception 'p_lease_seconds must be between 5 and 86400 (got %)', p_lease_seconds using errcode = '22023';
  end if;
  return query
    with taken as (
      select o.id from public.pipeline_outbox o
       where o.status in ('pending', 'claimed') and o.available_at <= p_now
       order by o.available_at, o.id
       limit p_limit
         for update skip locked
    ),
    claimed as (
      update public.pipeline_outbox o
         set status = 'claimed',
             claimed_by = p_execution_id,
             claimed_at = p_now,
             available_at = p_now + make_interval(secs => p_lease_seconds),
             attempts = o.attempts + 1
        from taken t
       where o.id = t.id
      returning o.id, o.kind, o.payload, o.attempts, o.available_at, o.run_id, o.automation_id, o.conversation_id, o.created_at
    )
    select c.id, c.kind, c.payload, c.attempts, c.available_at, c.run_id, c.automation_id, c.conversation_id, c.created_at
      from claimed c
     order by c.created_at, c.id;
end;
$$;
comment on function public.pipeline_claim_outbox(text, integer, integer, timestamptz) is
  'Hands out pending webhook / notify items (and those whose holder''s lease ran out) with a lease, each to one execution at a time.';

-- =============================================================================================
-- pipeline_complete_outbox(p_execution_id, p_items, p_now) → (outbox_id, outcome)
-- =============================================================================================
-- p_items: [{outbox_id, outcome: delivered | failed, error?, retry_after_seconds?}]
--   delivered                   done: never handed out again
--   failed, retry_after_seconds pending again, handed out after that long (outcome retrying)
--   failed                      done, with the error: never handed out again
-- Only the execution holding an item may complete it (its lease may have run out, as long as no
-- other execution has claimed it since); otherwise lease_lost (not_found: no such item).
-- A malformed item fails the whole call before anything is written.
create or replace function public.pipeline_complete_outbox(
  p_execution_id text,
  p_items jsonb,
  p_now timestamptz default leadflow_private.now()
)
returns table (outbox_id uuid, outcome text)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_bad record;
begin
  if jsonb_typeof(p_items) is distinct from 'array' then
    raise exception 'p_items: must be a JSON array of delivery reports (got %)', coalesce(jsonb_typeof(p_items), 'null') using errcode = '22023';
  end if;
  select e.n - 1 as idx, p.problem into v_bad
    from jsonb_array_elements(p_items) with ordinality e (item, n)
   cross join lateral (
     select case
       when jsonb_typeof(e.item) is distinct from 'object' then ': must be an object'
       when not leadflow_private.pipeline_is_uuid(e.item -> 'outbox_id') then '.outbox_id: required, an outbox item id (uuid)'
       when (e.item ->> 'outcome') is null or (e.item ->> 'outcome') not in ('delivered', 'failed') then
         '.outcome: required, delivered or failed (got ' || coalesce((e.item -> 'outcome')::text, 'nothing') || ')'
       when not leadflow_private.pipeline_is_null(e.item -> 'retry_after_seconds')
            and (jsonb_typeof(e.item -> 'retry_after_seconds') <> 'number'
                 or (e.item ->> 'retry_after_seconds')::numeric not between 0 and 604800) then
         '.retry_after_seconds: must be a number of seconds from 0 to 604800'
       when not leadflow_private.pipeline_is_null(e.item -> 'error')
            and (jsonb_typeof(e.item -> 'error') <> 'string' or length(e.item ->> 'error') > 2000
                 or not leadflow_private.is_valid_text(e.item ->> 'error', 'multiline')) then
         '.error: must be a text of at most 2000 characters without control characters'
     end as problem
   ) p
   where p.problem is not null
   order by e.n
   limit 1;
  if found then
    raise exception 'p_items[%]%', v_bad.idx, v_bad.problem using errcode = '22023';
  end if;

  return query
    with items as materialized (
      select distinct on ((e.item ->> 'outbox_id')::uuid) (e.item ->> 'outbox_id')::uuid as id, e.item ->> 'outcome' as outcome,
             e.item ->> 'error' as error, (e.item ->> 'retry_after_seconds')::numeric as retry_after_seconds
        from jsonb_array_elements(p_items) with ordinality e (item, n)
       order by (e.item ->> 'outbox_id')::uuid, e.n desc
    ),
    held as materialized (
      select i.*, o.status, o.claimed_by
        from items i
        join public.pipeline_outbox o on o.id = i.id
       order by o.id
         for update of o
    ),
    done as (
      update public.pipeline_outbox o
         set status = case when h.outcome = 'delivered' then 'delivered'
                           when h.retry_after_seconds is not null then 'pending' else 'failed' end,
             available_at = case when h.outcome = 'failed' and h.retry_after_seconds is not null
                                 then p_now + make_interval(secs => h.retry_after_seconds::double precision) else o.available_at end,
             completed_at = case when h.outcome = 'failed' and h.retry_after_seconds is not null then null else p_now end,
             claimed_by = case when h.outcome = 'failed' and h.retry_after_seconds is not null then null else o.claimed_by end,
             last_error = case when h.outcome = 'failed' then coalesce(h.error, 'failed') else o.last_error end
        from held h
       where o.id = h.id and h.status = 'claimed' and h.claimed_by = p_execution_id
      returning o.id, case when o.status = 'pending' then 'retrying' else o.status end as outcome
    )
    select d.id, d.outcome from done d
    union all
    select i.id, case when exists (select from held h where h.id = i.id) then 'lease_lost' else 'not_found' end
      from items i
     where i.id not in (select d.id from done d)
    order by 1;
end;
$$;
comment on function public.pipeline_complete_outbox(text, jsonb, timestamptz) is
  'Batch: what became of claimed webhook / notify items: delivered, failed, or failed to retry later; only their holder may say.';

-- =============================================================================================
-- Privileges
-- =============================================================================================
revoke all on function
  leadflow_private.pipeline_is_uuid(jsonb),
  leadflow_private.pipeline_is_instant(jsonb),
  leadflow_private.pipeline_is_null(jsonb),
  leadflow_private.pipeline_assign_item_problem(jsonb),
  leadflow_private.pipeline_move_item_problem(jsonb),
  leadflow_private.pipeline_write_places(leadflow_private.pipeline_place_write[], timestamptz),
  leadflow_private.pipeline_fire(leadflow_private.pipeline_change[], timestamptz)
from public, anon, authenticated;
grant execute on function
  leadflow_private.pipeline_is_uuid(jsonb),
  leadflow_private.pipeline_is_instant(jsonb),
  leadflow_private.pipeline_is_null(jsonb),
  leadflow_private.pipeline_assign_item_problem(jsonb),
  leadflow_private.pipeline_move_item_problem(jsonb),
  leadflow_private.pipeline_write_places(leadflow_private.pipeline_place_write[], timestamptz),
  leadflow_private.pipeline_fire(leadflow_private.pipeline_change[], timestamptz)
to service_role;

revoke all on function
  public.pipeline_assign(jsonb, timestamptz),
  public.pipeline_move(jsonb, timestamptz),
  public.pipeline_claim_outbox(text, integer, integer, timestamptz),
  public.pipeline_complete_outbox(text, jsonb, timestamptz)
from public, anon, authenticated;
grant execute on function
  public.pipeline_assign(jsonb, timestamptz),
  public.pipeline_move(jsonb, timestamptz),
  public.pipeline_claim_outbox(text, integer, integer, timestamptz),
  public.pipeline_complete_outbox(text, jsonb, timestamptz)
to service_role;
