-- CRM pipelines, part 1 of 2: the tables and the rules they keep by themselves.
-- Tables: pipelines, pipeline_stages, pipeline_page_settings, pipeline_contacts, contact_activities,
-- pipeline_automations, pipeline_automation_runs, pipeline_outbox.
-- A pipeline is an ordered list of stages (New Lead → Contacted → Qualified → … → Won / Lost). Each
-- stage may hold a lead score range (0–100) and the lead statuses that route to it; one may be the
-- default stage for new contacts. A Facebook Page may have its analysed contacts placed in a
-- pipeline automatically (pipeline_page_settings). A contact (a Messenger conversation) has one
-- place per pipeline: its stage, lead score, lead status and the last AI analysis
-- (pipeline_contacts). Every change of a place is written to the append-only history
-- (contact_activities). Automations say what happens when a place changes (a stage, a status, a
-- score crossing a threshold): tags, follow-up stops, moves, a status, and webhooks or notifications
-- that n8n delivers (pipeline_outbox). Every firing is recorded with each action's result
-- (pipeline_automation_runs).
-- Every row belongs to an owner (`user_id`). Row level security lets a signed-in user reach only
-- their own rows; `anon` reaches nothing; `service_role` (n8n) reaches everything. Owners configure
-- pipelines, stages, page settings and automations; places, history, runs and the outbox are written
-- by the functions of part 2 (20261201000310_crm_pipelines_api.sql) only, which owners may read.
-- Composite foreign keys on (id, user_id) keep every configuration row and place with its parent's
-- owner, and a place's stage with its pipeline. The history, the runs and the outbox, written by
-- the thousand per call, have no keys: only the functions write them, and a trigger deletes them
-- with their conversation, pipeline or automation (see contact_activities).
--
-- Names: the seed's where it has them, in snake case (leadScoreMin → lead_score_min, isActive →
-- is_active, timesTriggered → times_triggered …), except the seed's stage `order`, which is
-- `stage_order` here: `order` is an SQL reserved word, and the Data API reserves `order` as its
-- sorting parameter, so a column of that name could not be filtered on through supabase-js.

-- =============================================================================================
-- Lead statuses
-- =============================================================================================
-- The statuses a contact may have, the AI returns and stages route by. One definition, read by every
-- check below and by the functions. No SET clause: immutable and reading nothing, the planner
-- inlines it into the checks.
create or replace function leadflow_private.pipeline_lead_statuses()
returns text[]
language sql
immutable
parallel safe
as $$
  select '{NEW,CONTACTED,QUALIFIED,PROPOSAL_SENT,NEGOTIATING,WON,LOST,UNRESPONSIVE}'::text[]
$$;
comment on function leadflow_private.pipeline_lead_statuses() is
  'The lead statuses a contact may have: NEW, CONTACTED, QUALIFIED, PROPOSAL_SENT, NEGOTIATING, WON, LOST, UNRESPONSIVE.';

-- Keeps updated_at for the tables owners edit.
create or replace function leadflow_private.pipeline_touch_updated_at()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.updated_at := now();
  return new;
end;
$$;

-- =============================================================================================
-- pipelines
-- =============================================================================================
create table if not exists public.pipelines (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  name text not null check (length(btrim(name)) between 1 and 200 and leadflow_private.is_valid_text(name, 'line')),
  description text check (description is null or (length(description) <= 2000 and leadflow_private.is_valid_text(description, 'multiline'))),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (id, user_id)
);
comment on table public.pipelines is 'A sales pipeline: an ordered list of stages contacts move through.';

-- One pipeline per name per owner, whatever the case or surrounding spaces.
create unique index if not exists pipelines_owner_name_key on public.pipelines (user_id, lower(btrim(name)));

drop trigger if exists pipelines_touch_updated_at on public.pipelines;
create trigger pipelines_touch_updated_at
  before update on public.pipelines
  for each row execute function leadflow_private.pipeline_touch_updated_at();

-- =============================================================================================
-- pipeline_stages
-- =============================================================================================
create table if not exists public.pipeline_stages (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid(),
  pipeline_id uuid not null,
  name text not null check (length(btrim(name)) between 1 and 100 and leadflow_private.is_valid_text(name, 'line')),
  description text check (description is null or (length(description) <= 2000 and leadflow_private.is_valid_text(description, 'multiline'))),
  -- The stage's place in the pipeline: lower first. "A lower stage" in downgrade protection means a
  -- lower stage_order.
  stage_order integer not null check (stage_order between 0 and 10000),
  -- The lead scores that route a contact here (priority 2 of the assignment), both ends included;
  -- both null: no range.
  lead_score_min integer,
  lead_score_max integer,
  -- The lead statuses that route a contact here (priority 1), e.g. {WON}.
  lead_statuses text[] not null default '{}',
  -- Where a contact goes when nothing else decides (else the first stage).
  is_default boolean not null default false,
  color text check (color is null or color ~ '^#[0-9a-fA-F]{6}$'),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint pipeline_stages_score_range check (
    (lead_score_min is null and lead_score_max is null)
    or (lead_score_min is not null and lead_score_max is not null
        and lead_score_min between 0 and 100 and lead_score_max between 0 and 100 and lead_score_min <= lead_score_max)
  ),
  -- <@ also refuses null elements.
  constraint pipeline_stages_lead_statuses check (lead_statuses <@ leadflow_private.pipeline_lead_statuses()),
  -- Deferred, so stages can swap places in one transaction.
  constraint pipeline_stages_order_key unique (pipeline_id, stage_order) deferrable initially deferred,
  unique (id, user_id),
  -- A place names its stage with its pipeline and owner (pipeline_contacts' key to this table).
  unique (id, pipeline_id, user_id),
  foreign key (pipeline_id, user_id) references public.pipelines (id, user_id) on delete cascade
);
comment on table public.pipeline_stages is 'The stages of a pipeline, in stage_order, with the lead score range and lead statuses that route contacts to each.';
comment on column public.pipeline_stages.stage_order is 'The stage''s position in its pipeline (the seed''s `order`), unique per pipeline; lower comes first.';

-- Stage names are unique per pipeline whatever the case: the AI's recommendation and a move by name
-- find a stage by its name.
create unique index if not exists pipeline_stages_name_key on public.pipeline_stages (pipeline_id, lower(btrim(name)));

drop trigger if exists pipeline_stages_touch_updated_at on public.pipeline_stages;
create trigger pipeline_stages_touch_updated_at
  before update on public.pipeline_stages
  for each row execute function leadflow_private.pipeline_touch_updated_at();

-- What no row can say alone, checked across the pipeline's stages when the transaction commits
-- (so stages can be rearranged in several statements): score ranges do not overlap, a status routes
-- to one stage only, one default stage at most. Otherwise the assignment's priorities 1 and 2 could
-- match two stages for one contact. The pipeline row is locked first (FOR NO KEY UPDATE, which
-- does not block the assignment's key checks), so two transactions editing the same pipeline's
-- stages are checked one after the other, each against what the other committed.
create or replace function leadflow_private.pipeline_stages_check_pipeline()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_bad record;
begin
  perform from public.pipelines p where p.id = new.pipeline_id for no key update;
  if not found then
    return null; -- the pipeline is being deleted with its stages
  end if;
  if exists (select from unnest(new.lead_statuses) s group by s having count(*) > 1) then
    raise exception 'stage "%": lead_statuses lists a status twice', new.name using errcode = '23514';
  end if;
  select a.name as a_name, b.name as b_name, a.lead_score_min as a_min, a.lead_score_max as a_max,
         b.lead_score_min as b_min, b.lead_score_max as b_max
    into v_bad
    from public.pipeline_stages a
    join public.pipeline_stages b on b.pipeline_id = a.pipeline_id and b.id > a.id
   where a.pipeline_id = new.pipeline_id
     and a.lead_score_min is not null and b.lead_score_min is not null
     and a.lead_score_min <= b.lead_score_max and b.lead_score_min <= a.lead_score_max
   limit 1;
  if found then
    raise exception 'stages "%" (% to %) and "%" (% to %) have overlapping lead score ranges',
      v_bad.a_name, v_bad.a_min, v_bad.a_max, v_bad.b_name, v_bad.b_min, v_bad.b_max
      using errcode = '23514', hint = 'A score routes a contact to one stage: make the ranges of a pipeline''s stages disjoint.';
  end if;
  select s.status, array_agg(st.name order by st.stage_order) as stages
    into v_bad
    from public.pipeline_stages st
   cross join unnest(st.lead_statuses) s (status)
   where st.pipeline_id = new.pipeline_id
   group by s.status
  having count(*) > 1
   limit 1;
  if found then
    raise exception 'lead status % routes to more than one stage (%)', v_bad.status, array_to_string(v_bad.stages, ', ')
      using errcode = '23514', hint = 'A status routes a contact to one stage per pipeline.';
  end if;
  if (select count(*) from public.pipeline_stages st where st.pipeline_id = new.pipeline_id and st.is_default) > 1 then
    raise exception 'a pipeline has one default stage at most' using errcode = '23514';
  end if;
  return null;
end;
$$;

drop trigger if exists pipeline_stages_check_pipeline on public.pipeline_stages;
create constraint trigger pipeline_stages_check_pipeline
  after insert or update on public.pipeline_stages
  deferrable initially deferred
  for each row execute function leadflow_private.pipeline_stages_check_pipeline();

-- =============================================================================================
-- pipeline_page_settings: auto-assignment per Facebook Page
-- =============================================================================================
create table if not exists public.pipeline_page_settings (
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  page_id text not null check (page_id ~ '^[0-9]{1,32}$'),
  -- The pipeline the Page's analysed contacts are placed in (the seed's autoPipelineId).
  pipeline_id uuid not null,
  -- SKIP_EXISTING: a contact already in the pipeline is left alone; UPDATE_EXISTING: it is
  -- re-evaluated (the seed's autoPipelineMode).
  update_mode text not null default 'SKIP_EXISTING' check (update_mode in ('SKIP_EXISTING', 'UPDATE_EXISTING')),
  enabled boolean not null default true,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (user_id, page_id),
  foreign key (pipeline_id, user_id) references public.pipelines (id, user_id) on delete cascade
);
comment on table public.pipeline_page_settings is 'Per Facebook Page: whether its analysed contacts are placed in a pipeline automatically, which one, and whether contacts already there are re-evaluated.';

create index if not exists pipeline_page_settings_pipeline_idx on public.pipeline_page_settings (pipeline_id);

drop trigger if exists pipeline_page_settings_touch_updated_at on public.pipeline_page_settings;
create trigger pipeline_page_settings_touch_updated_at
  before update on public.pipeline_page_settings
  for each row execute function leadflow_private.pipeline_touch_updated_at();

-- =============================================================================================
-- pipeline_contacts: a contact's place in a pipeline
-- =============================================================================================
create table if not exists public.pipeline_contacts (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null,
  conversation_id uuid not null,
  pipeline_id uuid not null,
  stage_id uuid not null,
  -- null until an analysis gives one (a contact moved into a pipeline by hand has none).
  lead_score integer check (lead_score between 0 and 100),
  lead_status text not null default 'NEW' check (lead_status = any (leadflow_private.pipeline_lead_statuses())),
  stage_entered_at timestamptz not null,
  -- The last AI analysis that placed or re-evaluated the contact.
  analysis_summary text check (analysis_summary is null
                                or (length(analysis_summary) <= 10000 and leadflow_private.is_valid_text(analysis_summary, 'multiline'))),
  analysis_confidence numeric(5, 2) check (analysis_confidence between 0 and 100),
  analysis_reasoning text check (analysis_reasoning is null
                                 or (length(analysis_reasoning) <= 10000 and leadflow_private.is_valid_text(analysis_reasoning, 'multiline'))),
  analysis_recommended_stage text check (analysis_recommended_stage is null
                                         or (length(analysis_recommended_stage) <= 200
                                             and leadflow_private.is_valid_text(analysis_recommended_stage, 'line'))),
  analysis_model text check (analysis_model is null or (length(analysis_model) <= 200 and leadflow_private.is_valid_text(analysis_model, 'line'))),
  -- Whether the analysis is the fallback score (the model failed) rather than the model's.
  analysis_is_fallback boolean,
  -- The time of the last message the analysis saw.
  analysis_last_message_at timestamptz,
  analysed_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  -- An analysed place always says whether it was the fallback; a place never analysed has no analysis.
  constraint pipeline_contacts_analysis_complete check (
    (analysed_at is null) = (analysis_is_fallback is null)
    and (analysed_at is not null or (analysis_summary is null and analysis_confidence is null and analysis_reasoning is null
                                     and analysis_recommended_stage is null and analysis_model is null
                                     and analysis_last_message_at is null))
  ),
  -- One place per conversation per pipeline; the key also finds a conversation's places.
  unique (conversation_id, pipeline_id),
  foreign key (conversation_id, user_id) references public.messenger_conversations (id, user_id) on delete cascade,
  -- The stage is one of this pipeline's, of the same owner (the stage's own key ties it to the
  -- pipeline): one key checks all three. Deleting the pipeline deletes its stages and so its places;
  -- a stage that still holds contacts cannot be deleted on its own (pipeline_stages_keep_contacts).
  foreign key (stage_id, pipeline_id, user_id) references public.pipeline_stages (id, pipeline_id, user_id) on delete cascade
);
comment on table public.pipeline_contacts is 'Where a contact (a Messenger conversation) stands in a pipeline: stage, lead score and status, the last AI analysis. One per conversation per pipeline; written by pipeline_assign, pipeline_move and automations.';

-- A pipeline's board (contacts by stage), and the cascade when a stage is deleted.
create index if not exists pipeline_contacts_stage_idx on public.pipeline_contacts (pipeline_id, stage_id);

-- A stage that holds contacts is not deleted with them: move them first. Deleting the pipeline
-- (its row is already gone when its stages are deleted) takes stages and places together.
create or replace function leadflow_private.pipeline_stages_keep_contacts()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if exists (select from public.pipeline_contacts p where p.pipeline_id = old.pipeline_id and p.stage_id = old.id)
     and exists (select from public.pipelines p where p.id = old.pipeline_id) then
    raise exception 'stage "%" still holds contacts: move them to another stage first', old.name
      using errcode = '23503', hint = 'pipeline_move moves contacts; or delete the whole pipeline.';
  end if;
  return old;
end;
$$;

drop trigger if exists pipeline_stages_keep_contacts on public.pipeline_stages;
create trigger pipeline_stages_keep_contacts
  before delete on public.pipeline_stages
  for each row execute function leadflow_private.pipeline_stages_keep_contacts();

-- =============================================================================================
-- contact_activities: the append-only history of every place
-- =============================================================================================
create table if not exists public.contact_activities (
  id bigint generated always as identity primary key,
  -- The owner, the conversation and the pipeline. No foreign keys, on purpose: a key is checked
  -- once per row, an assignment of 1,000 contacts writes thousands of activities, and the two keys
  -- tripled the cost of writing them (10,000 rows: 156 ms with, 51 ms without, on the test
  -- stack). The same guarantee holds without them: only the pipeline
  -- functions write here (no API role may insert, service_role included), always for the places
  -- they have just written, and deleting a conversation or a pipeline deletes its history
  -- (pipeline_drop_history).
  user_id uuid not null,
  conversation_id uuid not null,
  pipeline_id uuid not null,
  type text not null check (type in (
    'STAGE_CHANGED', 'SCORE_CHANGED', 'STATUS_CHANGED', 'ANALYSED', 'AUTOMATION_FIRED', 'MANUAL_MOVE'
  )),
  title text not null check (length(title) between 1 and 300 and leadflow_private.is_valid_text(title, 'line')),
  -- The AI's reasoning, the mover's reason, or what an automation did.
  description text check (description is null or (length(description) <= 10000 and leadflow_private.is_valid_text(description, 'multiline'))),
  -- Ids only, no keys: the history outlives a stage deleted later. from null: entered the pipeline;
  -- to null: left it for another pipeline.
  from_stage_id uuid,
  to_stage_id uuid,
  actor text not null check (actor in ('ai', 'user', 'automation')),
  -- Who, when known: the signed-in user's id, the AI agent's name.
  actor_id text check (actor_id is null or (length(actor_id) <= 200 and leadflow_private.is_valid_text(actor_id, 'line'))),
  automation_id uuid,
  run_id uuid,
  -- How many automation steps led to this change: 0 for an analysis or a manual move.
  depth smallint not null default 0 check (depth >= 0),
  -- confidence, recommendation, lead_score, lead_status, priority, from / to values …
  metadata jsonb not null default '{}'::jsonb check (jsonb_typeof(metadata) = 'object'),
  occurred_at timestamptz not null,
  constraint contact_activities_stage_change check (
    type not in ('STAGE_CHANGED', 'MANUAL_MOVE') or from_stage_id is distinct from to_stage_id
  ),
  constraint contact_activities_automation check (
    (actor <> 'automation' and type <> 'AUTOMATION_FIRED') or (automation_id is not null and run_id is not null)
  )
);
comment on table public.contact_activities is 'Every change of a contact''s place (stage, score, status), every analysis and every automation fired, with who did it and why; append-only.';

-- A contact's timeline in a pipeline (in order: occurred_at, depth, id); also the cleanup of a
-- deleted conversation.
create index if not exists contact_activities_contact_idx on public.contact_activities (conversation_id, pipeline_id, occurred_at, id);

-- Append-only: no updates; deletes only when the conversation or the pipeline is gone
-- (pipeline_drop_history).
create or replace function leadflow_private.contact_activities_append_only()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if tg_op = 'UPDATE' then
    raise exception 'contact activities are append-only' using errcode = '42501';
  end if;
  if exists (select from public.messenger_conversations c where c.id = old.conversation_id)
     and exists (select from public.pipelines p where p.id = old.pipeline_id) then
    raise exception 'contact activities are append-only (delete the conversation or the pipeline to drop their history)'
      using errcode = '42501';
  end if;
  return old;
end;
$$;

drop trigger if exists contact_activities_append_only on public.contact_activities;
create trigger contact_activities_append_only
  before update or delete on public.contact_activities
  for each row execute function leadflow_private.contact_activities_append_only();

-- =============================================================================================
-- pipeline_automations: what happens when a place changes
-- =============================================================================================
-- The shape of an automation, checked when it is written (the check constraint below), each
-- problem named by its field:
--   trigger_type        trigger_conditions (every key optional unless said)
--   STAGE_CHANGED       from_stage_id, to_stage_id        a stage change in the pipeline (entering
--                                                         it included: from is then none)
--   ENTERED_PIPELINE    stage_id                          the contact got a place in the pipeline
--   STATUS_CHANGED      from_status, to_status            the lead status of a place changed
--   SCORE_CROSSED       threshold (1–100, required),      the lead score of a place went from below
--                       direction (up | down, required)   the threshold to it or above (up), or
--                                                         from it or above to below (down)
--   actions: an array of 1 to 20 objects, run in order:
--     {"type": "add_tag", "tag_id"}             {"type": "remove_tag", "tag_id"}
--     {"type": "stop_follow_up", "rule_id"?}    a stop row in ai_automation_stops (no rule_id:
--                                               every rule)
--     {"type": "resume_follow_up", "rule_id"?}  deletes the stop row of that rule (no rule_id:
--                                               every stop row of the contact)
--     {"type": "move_to_stage", "stage_id"}     a stage of this or another pipeline of the owner
--     {"type": "move_to_pipeline", "pipeline_id"}  its default stage, else its first
--     {"type": "set_lead_status", "status"}
--     {"type": "webhook", "url", "method"?, "body"?}   delivered by n8n through pipeline_outbox
--     {"type": "notify", "message", "channel"?, "to"?} delivered by n8n through pipeline_outbox
-- Unknown keys are refused (a misspelt key would otherwise be silently ignored). Whether the ids
-- name rows of the same owner is checked by the trigger below (it reads tables; a check may not).
-- Immutable: it reads nothing but its arguments.
create or replace function leadflow_private.pipeline_automation_valid(p_trigger_type text, p_conditions jsonb, p_actions jsonb)
returns boolean
language plpgsql
immutable
set search_path = ''
as $$
declare
  c_uuid constant text := '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
  v_allowed text[];
  v_required text[];
  v_key text;
  v_value jsonb;
  v_action jsonb;
  v_index integer := 0;
  v_type text;
  v_field text;
begin
  v_allowed := case p_trigger_type
    when 'STAGE_CHANGED' then '{from_stage_id,to_stage_id}'::text[]
    when 'ENTERED_PIPELINE' then '{stage_id}'::text[]
    when 'STATUS_CHANGED' then '{from_status,to_status}'::text[]
    when 'SCORE_CROSSED' then '{threshold,direction}'::text[]
  end;
  if v_allowed is null then
    raise exception 'trigger_type: must be STAGE_CHANGED, ENTERED_PIPELINE, STATUS_CHANGED or SCORE_CROSSED (got %)',
      coalesce(p_trigger_type, 'null') using errcode = '23514';
  end if;
  if jsonb_typeof(p_conditions) is distinct from 'object' then
    raise exception 'trigger_conditions: must be a JSON object (got %)', coalesce(jsonb_typeof(p_conditions), 'null')
      using errcode = '23514';
  end if;
  for v_key, v_value in select e.key, e.value from jsonb_each(p_conditions) e loop
    if not v_key = any (v_allowed) then
      raise exception 'trigger_conditions.%: not a condition of %; it takes %', v_key, p_trigger_type, array_to_string(v_allowed, ', ')
        using errcode = '23514';
    end if;
    if v_key like '%stage_id' and jsonb_typeof(v_value) <> 'null'
       and (jsonb_typeof(v_value) <> 'string' or (v_value #>> '{}') !~ c_uuid) then
      raise exception 'trigger_conditions.%: must be a stage id (a uuid) or null (got %)', v_key, v_value using errcode = '23514';
    end if;
    if v_key like '%status' and jsonb_typeof(v_value) <> 'null'
       and (jsonb_typeof(v_value) <> 'string' or not (v_value #>> '{}') = any (leadflow_private.pipeline_lead_statuses())) then
      raise exception 'trigger_conditions.%: must be one of % or null (got %)', v_key,
        array_to_string(leadflow_private.pipeline_lead_statuses(), ', '), v_value using errcode = '23514';
    end if;
  end loop;
  if p_trigger_type = 'SCORE_CROSSED' then
    v_value := p_conditions -> 'threshold';
    if jsonb_typeof(v_value) is distinct from 'number' or (v_value #>> '{}')::numeric not between 1 and 100
       or (v_value #>> '{}')::numeric <> trunc((v_value #>> '{}')::numeric) then
      raise exception 'trigger_conditions.threshold: required, a whole number from 1 to 100 (got %)', coalesce(v_value::text, 'nothing')
        using errcode = '23514';
    end if;
    if (p_conditions ->> 'direction') is null or (p_conditions ->> 'direction') not in ('up', 'down') then
      raise exception 'trigger_conditions.direction: required, up or down (got %)', coalesce((p_conditions -> 'direction')::text, 'nothing')
        using errcode = '23514';
    end if;
  end if;

  if jsonb_typeof(p_actions) is distinct from 'array' or jsonb_array_length(p_actions) not between 1 and 20 then
    raise exception 'actions: must be an array of 1 to 20 actions (got %)',
      case when jsonb_typeof(p_actions) = 'array' then jsonb_array_length(p_actions) || ' actions' else coalesce(jsonb_typeof(p_actions), 'null') end
      using errcode = '23514';
  end if;
  for v_action in select e from jsonb_array_elements(p_actions) e loop
    if jsonb_typeof(v_action) <> 'object' then
      raise exception 'actions[%]: must be an object with a type (got %)', v_index, v_action using errcode = '23514';
    end if;
    v_type := v_action ->> 'type';
    v_allowed := case v_type
      when 'add_tag' then '{tag_id}'::text[]
      when 'remove_tag' then '{tag_id}'::text[]
      when 'stop_follow_up' then '{rule_id}'::text[]
      when 'resume_follow_up' then '{rule_id}'::text[]
      when 'move_to_stage' then '{stage_id}'::text[]
      when 'move_to_pipeline' then '{pipeline_id}'::text[]
      when 'set_lead_status' then '{status}'::text[]
      when 'webhook' then '{url,method,body}'::text[]
      when 'notify' then '{message,channel,to}'::text[]
    end;
    if v_allowed is null then
      raise exception 'actions[%].type: must be add_tag, remove_tag, stop_follow_up, resume_follow_up, move_to_stage, move_to_pipeline, set_lead_status, webhook or notify (got %)',
        v_index, coalesce((v_action -> 'type')::text, 'nothing') using errcode = '23514';
    end if;
    v_required := case v_type
      when 'stop_follow_up' then '{}'::text[]
      when 'resume_follow_up' then '{}'::text[]
      when 'webhook' then '{url}'::text[]
      when 'notify' then '{message}'::text[]
      else v_allowed
    end;
    for v_key, v_value in select e.key, e.value from jsonb_each(v_action) e where e.key <> 'type' loop
      if not v_key = any (v_allowed) then
        raise exception 'actions[%].%: not a field of %; it takes %', v_index, v_key, v_type, array_to_string(v_allowed, ', ')
          using errcode = '23514';
      end if;
    end loop;
    foreach v_field in array v_required loop
      if jsonb_typeof(v_action -> v_field) is null or jsonb_typeof(v_action -> v_field) = 'null' then
        raise exception 'actions[%].%: required for %', v_index, v_field, v_type using errcode = '23514';
      end if;
    end loop;
    for v_key, v_value in select e.key, e.value from jsonb_each(v_action) e where e.key <> 'type' and jsonb_typeof(e.value) <> 'null' loop
      if v_key in ('tag_id', 'rule_id', 'stage_id', 'pipeline_id')
         and (jsonb_typeof(v_value) <> 'string' or (v_value #>> '{}') !~ c_uuid) then
        raise exception 'actions[%].%: must be a uuid (got %)', v_index, v_key, v_value using errcode = '23514';
      elsif v_key = 'status'
         and (jsonb_typeof(v_value) <> 'string' or not (v_value #>> '{}') = any (leadflow_private.pipeline_lead_statuses())) then
        raise exception 'actions[%].status: must be one of % (got %)', v_index,
          array_to_string(leadflow_private.pipeline_lead_statuses(), ', '), v_value using errcode = '23514';
      elsif v_key = 'url'
         and (jsonb_typeof(v_value) <> 'string' or (v_value #>> '{}') !~ '^https?://[^/?#]+' or length(v_value #>> '{}') > 2000
              or not leadflow_private.is_valid_text(v_value #>> '{}', 'token')) then
        raise exception 'actions[%].url: must be an http or https URL of at most 2000 characters, without spaces (got %)', v_index, v_value
          using errcode = '23514';
      elsif v_key = 'method' and (v_value #>> '{}') is distinct from 'POST' and (v_value #>> '{}') is distinct from 'PUT'
         and (v_value #>> '{}') is distinct from 'PATCH' then
        raise exception 'actions[%].method: must be POST, PUT or PATCH (got %)', v_index, v_value using errcode = '23514';
      elsif v_key = 'body' and jsonb_typeof(v_value) <> 'object' then
        raise exception 'actions[%].body: must be a JSON object (got %)', v_index, v_value using errcode = '23514';
      elsif v_key = 'message'
         and (jsonb_typeof(v_value) <> 'string' or length(btrim(v_value #>> '{}')) not between 1 and 2000
              or not leadflow_private.is_valid_text(v_value #>> '{}', 'multiline')) then
        raise exception 'actions[%].message: must be a text of 1 to 2000 characters without control characters', v_index using errcode = '23514';
      elsif v_key = 'channel' and (jsonb_typeof(v_value) <> 'string' or (v_value #>> '{}') !~ '^[a-z][a-z0-9_]{0,31}$') then
        raise exception 'actions[%].channel: must be a lowercase word such as email or slack (got %)', v_index, v_value
          using errcode = '23514';
      elsif v_key = 'to' and (jsonb_typeof(v_value) <> 'string' or length(v_value #>> '{}') not between 1 and 200
                              or not leadflow_private.is_valid_text(v_value #>> '{}', 'line')) then
        raise exception 'actions[%].to: must be one line of 1 to 200 characters (got %)', v_index, v_value using errcode = '23514';
      end if;
    end loop;
    v_index := v_index + 1;
  end loop;
  return true;
end;
$$;
comment on function leadflow_private.pipeline_automation_valid(text, jsonb, jsonb) is
  'The shape of an automation''s trigger conditions and actions: true, or an error naming the field that is wrong.';

create table if not exists public.pipeline_automations (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid(),
  pipeline_id uuid not null,
  name text not null check (length(btrim(name)) between 1 and 200 and leadflow_private.is_valid_text(name, 'line')),
  description text check (description is null or (length(description) <= 2000 and leadflow_private.is_valid_text(description, 'multiline'))),
  is_active boolean not null default true,
  trigger_type text not null,
  trigger_conditions jsonb not null default '{}'::jsonb,
  actions jsonb not null,
  times_triggered bigint not null default 0 check (times_triggered >= 0),
  last_triggered_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint pipeline_automations_valid check (leadflow_private.pipeline_automation_valid(trigger_type, trigger_conditions, actions)),
  unique (id, user_id),
  foreign key (pipeline_id, user_id) references public.pipelines (id, user_id) on delete cascade
);
comment on table public.pipeline_automations is 'When a contact''s place in the pipeline changes in a given way (trigger_type, trigger_conditions), run these actions: tags, follow-up stops, moves, a status (in the same transaction), webhooks and notifications (through pipeline_outbox).';

-- The engine looks up the active automations of the pipelines a batch changed.
create index if not exists pipeline_automations_pipeline_idx on public.pipeline_automations (pipeline_id, created_at, id) where is_active;

-- The ids an automation names are the owner's: its conditions' stages are this pipeline's; its
-- actions' tags, rules, stages and pipelines are the owner's. Checked when it is written, so a
-- firing never meets another owner's row (one deleted later fails that action only, with a reason).
create or replace function leadflow_private.pipeline_automations_validate()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  v_key text;
  v_action jsonb;
  v_index integer := 0;
begin
  if tg_op = 'UPDATE' then
    if (new.name, new.description, new.is_active, new.pipeline_id, new.trigger_type, new.trigger_conditions, new.actions)
       is distinct from (old.name, old.description, old.is_active, old.pipeline_id, old.trigger_type, old.trigger_conditions, old.actions) then
      new.updated_at := now();
    end if;
    -- Counting a firing (times_triggered, last_triggered_at) checks nothing again: a tag deleted
    -- since fails that action only, it does not stop the automation from being counted.
    if (new.user_id, new.pipeline_id, new.trigger_type, new.trigger_conditions, new.actions)
       is not distinct from (old.user_id, old.pipeline_id, old.trigger_type, old.trigger_conditions, old.actions) then
      return new;
    end if;
  end if;
  -- The shape first (the check constraint runs after this trigger): the lookups below rely on it.
  perform leadflow_private.pipeline_automation_valid(new.trigger_type, new.trigger_conditions, new.actions);
  foreach v_key in array array['from_stage_id', 'to_stage_id', 'stage_id'] loop
    if (new.trigger_conditions ->> v_key) is not null
       and not exists (select from public.pipeline_stages s
                        where s.id = (new.trigger_conditions ->> v_key)::uuid and s.pipeline_id = new.pipeline_id) then
      raise exception 'trigger_conditions.%: stage % is not a stage of this automation''s pipeline', v_key, new.trigger_conditions ->> v_key
        using errcode = '23503', hint = 'Use an id from pipeline_stages of the automation''s pipeline_id.';
    end if;
  end loop;
  for v_action in select e from jsonb_array_elements(new.actions) e loop
    if (v_action ->> 'tag_id') is not null
       and not exists (select from public.tags t where t.id = (v_action ->> 'tag_id')::uuid and t.user_id = new.user_id) then
      raise exception 'actions[%].tag_id: tag % does not exist or belongs to another owner', v_index, v_action ->> 'tag_id'
        using errcode = '23503';
    end if;
    if (v_action ->> 'rule_id') is not null
       and not exists (select from public.ai_automation_rules r where r.id = (v_action ->> 'rule_id')::uuid and r.user_id = new.user_id) then
      raise exception 'actions[%].rule_id: follow-up rule % does not exist or belongs to another owner', v_index, v_action ->> 'rule_id'
        using errcode = '23503';
    end if;
    if (v_action ->> 'stage_id') is not null
       and not exists (select from public.pipeline_stages s where s.id = (v_action ->> 'stage_id')::uuid and s.user_id = new.user_id) then
      raise exception 'actions[%].stage_id: stage % does not exist or belongs to another owner', v_index, v_action ->> 'stage_id'
        using errcode = '23503';
    end if;
    if (v_action ->> 'pipeline_id') is not null
       and not exists (select from public.pipelines p where p.id = (v_action ->> 'pipeline_id')::uuid and p.user_id = new.user_id) then
      raise exception 'actions[%].pipeline_id: pipeline % does not exist or belongs to another owner', v_index, v_action ->> 'pipeline_id'
        using errcode = '23503';
    end if;
    v_index := v_index + 1;
  end loop;
  return new;
end;
$$;

drop trigger if exists pipeline_automations_validate on public.pipeline_automations;
create trigger pipeline_automations_validate
  before insert or update on public.pipeline_automations
  for each row execute function leadflow_private.pipeline_automations_validate();

-- =============================================================================================
-- pipeline_automation_runs: every firing, with each action's result
-- =============================================================================================
create table if not exists public.pipeline_automation_runs (
  id uuid primary key default gen_random_uuid(),
  -- No foreign keys, like contact_activities and for the same reason: only the engine writes here,
  -- and deleting an automation or a conversation deletes its runs (pipeline_drop_history).
  user_id uuid not null,
  automation_id uuid not null,
  conversation_id uuid not null,
  pipeline_id uuid not null,
  -- The change that fired it: the trigger type matched, the place's values before and after.
  trigger_type text not null check (trigger_type in ('STAGE_CHANGED', 'ENTERED_PIPELINE', 'STATUS_CHANGED', 'SCORE_CROSSED')),
  from_stage_id uuid,
  to_stage_id uuid,
  from_score integer,
  to_score integer,
  from_status text,
  to_status text,
  -- 0: fired by an analysis or a manual move; n: by a change an automation made at depth n - 1.
  depth smallint not null check (depth >= 0),
  -- completed: the actions ran (each result says how); depth_limit: it matched a change made too
  -- many automation steps after the original one, so it did not run (a loop stops here).
  status text not null check (status in ('completed', 'depth_limit')),
  -- One entry per action, in order: {index, type, status: applied | unchanged | overridden |
  -- queued | failed, reason?, …}.
  results jsonb not null default '[]'::jsonb check (jsonb_typeof(results) = 'array'),
  fired_at timestamptz not null
);
comment on table public.pipeline_automation_runs is 'One row per automation fired for a change of a contact''s place: the change, when, and each action''s result.';

-- An automation's runs, a contact's runs (and the cleanups of both).
create index if not exists pipeline_automation_runs_automation_idx on public.pipeline_automation_runs (automation_id, fired_at);
create index if not exists pipeline_automation_runs_contact_idx on public.pipeline_automation_runs (conversation_id, fired_at);

-- =============================================================================================
-- pipeline_outbox: webhook and notify actions, handed to n8n once each
-- =============================================================================================
-- Written with its run, in the transaction of the change. pipeline_claim_outbox hands items out
-- with a lease (FOR UPDATE SKIP LOCKED), pipeline_complete_outbox records the delivery. An item
-- whose lease ran out without a delivery report (the execution died) is handed out again.
create table if not exists public.pipeline_outbox (
  id uuid primary key default gen_random_uuid(),
  -- No foreign keys: written by the engine with its run, deleted with it (pipeline_drop_history).
  user_id uuid not null,
  run_id uuid not null,
  automation_id uuid not null,
  conversation_id uuid not null,
  -- The action's position in the automation's actions: one item per action per firing.
  action_index integer not null check (action_index >= 0),
  kind text not null check (kind in ('webhook', 'notify')),
  -- The action and what it is about: {action, automation, contact, pipeline, change, occurred_at}.
  payload jsonb not null check (jsonb_typeof(payload) = 'object'),
  -- pending → claimed → delivered | failed; claimed → pending (a failure to retry later).
  status text not null default 'pending' check (status in ('pending', 'claimed', 'delivered', 'failed')),
  -- pending: when it may be handed out; claimed: when its lease ends and it may be handed out again.
  available_at timestamptz not null,
  attempts integer not null default 0 check (attempts >= 0),
  claimed_by text,
  claimed_at timestamptz,
  completed_at timestamptz,
  last_error text check (last_error is null or (length(last_error) <= 2000 and leadflow_private.is_valid_text(last_error, 'multiline'))),
  created_at timestamptz not null default now(),
  constraint pipeline_outbox_claimed_has_holder check (status <> 'claimed' or (claimed_by is not null and claimed_at is not null)),
  constraint pipeline_outbox_done_has_time check ((status in ('delivered', 'failed')) = (completed_at is not null)),
  unique (run_id, action_index)
);
comment on table public.pipeline_outbox is 'Webhook and notify actions of automations, for n8n to deliver: claimed with a lease (one holder at a time), completed once.';

-- The claim's way in: what may be handed out, soonest first.
create index if not exists pipeline_outbox_available_idx on public.pipeline_outbox (available_at, id)
  where status in ('pending', 'claimed');

-- =============================================================================================
-- pipeline_drop_history: what ON DELETE CASCADE would do for the tables without keys
-- =============================================================================================
-- Once per statement rather than once per row, for deletes cascaded from an owner too:
--   a conversation deleted: its activities, runs and their outbox items;
--   a pipeline deleted: its activities (its automations go by their key, and so their runs);
--   an automation deleted: its runs and their outbox items.
create or replace function leadflow_private.pipeline_drop_history()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if tg_table_name = 'messenger_conversations' then
    delete from public.contact_activities a where a.conversation_id in (select o.id from old_rows o);
    with runs as (
      delete from public.pipeline_automation_runs r where r.conversation_id in (select o.id from old_rows o) returning r.id
    )
    delete from public.pipeline_outbox x where x.run_id in (select r.id from runs r);
  elsif tg_table_name = 'pipelines' then
    delete from public.contact_activities a where a.pipeline_id in (select o.id from old_rows o);
  else
    with runs as (
      delete from public.pipeline_automation_runs r where r.automation_id in (select o.id from old_rows o) returning r.id
    )
    delete from public.pipeline_outbox x where x.run_id in (select r.id from runs r);
  end if;
  return null;
end;
$$;

drop trigger if exists pipeline_drop_history on public.messenger_conversations;
create trigger pipeline_drop_history
  after delete on public.messenger_conversations
  referencing old table as old_rows
  for each statement execute function leadflow_private.pipeline_drop_history();
drop trigger if exists pipeline_drop_history on public.pipelines;
create trigger pipeline_drop_history
  after delete on public.pipelines
  referencing old table as old_rows
  for each statement execute function leadflow_private.pipeline_drop_history();
drop trigger if exists pipeline_drop_history on public.pipeline_automations;
create trigger pipeline_drop_history
  after delete on public.pipeline_automations
  referencing old table as old_rows
  for each statement execute function leadflow_private.pipeline_drop_history();

-- =============================================================================================
-- Privileges and row level security
-- =============================================================================================
-- Owners configure pipelines, stages, page settings and automations; they read (never write)
-- places, their history, runs and the outbox, which only the pipeline functions write (so every
-- change is logged and fires its automations, and the tables without keys hold only rows the
-- functions made). service_role (n8n) configures like an owner, reads everything, and writes
-- places, history, runs and the outbox through the functions only (it may update an outbox item:
-- pipeline_claim_outbox and pipeline_complete_outbox run with its rights). anon gets nothing.
-- (Supabase's default privileges give every API role everything on a new table: take it back
-- first.) No role may TRUNCATE: it fires no delete trigger, so history would outlive its contacts.
revoke all on public.pipelines, public.pipeline_stages, public.pipeline_page_settings, public.pipeline_contacts,
  public.contact_activities, public.pipeline_automations, public.pipeline_automation_runs, public.pipeline_outbox
  from anon, authenticated, service_role;
grant select, insert, update, delete on public.pipelines, public.pipeline_stages, public.pipeline_page_settings,
  public.pipeline_automations to authenticated;
grant select on public.pipeline_contacts, public.contact_activities, public.pipeline_automation_runs, public.pipeline_outbox
  to authenticated;
grant select, insert, update, delete on public.pipelines, public.pipeline_stages, public.pipeline_page_settings,
  public.pipeline_automations to service_role;
grant select on public.pipeline_contacts, public.contact_activities, public.pipeline_automation_runs to service_role;
grant select, update on public.pipeline_outbox to service_role;

revoke all on function leadflow_private.pipeline_touch_updated_at(), leadflow_private.pipeline_stages_check_pipeline(),
  leadflow_private.pipeline_stages_keep_contacts(), leadflow_private.contact_activities_append_only(),
  leadflow_private.pipeline_automations_validate(), leadflow_private.pipeline_drop_history()
  from public, anon, authenticated, service_role;
-- The checks call these as the writing role.
revoke all on function leadflow_private.pipeline_lead_statuses(), leadflow_private.pipeline_automation_valid(text, jsonb, jsonb)
  from public, anon;
grant execute on function leadflow_private.pipeline_lead_statuses(), leadflow_private.pipeline_automation_valid(text, jsonb, jsonb)
  to authenticated, service_role;

alter table public.pipelines enable row level security;
alter table public.pipeline_stages enable row level security;
alter table public.pipeline_page_settings enable row level security;
alter table public.pipeline_contacts enable row level security;
alter table public.contact_activities enable row level security;
alter table public.pipeline_automations enable row level security;
alter table public.pipeline_automation_runs enable row level security;
alter table public.pipeline_outbox enable row level security;

-- pipelines ------------------------------------------------------------------------------------
drop policy if exists "Owners can read their pipelines" on public.pipelines;
create policy "Owners can read their pipelines" on public.pipelines
  for select to authenticated using ((select auth.uid()) = user_id);
drop policy if exists "Owners can create their pipelines" on public.pipelines;
create policy "Owners can create their pipelines" on public.pipelines
  for insert to authenticated with check ((select auth.uid()) = user_id);
drop policy if exists "Owners can update their pipelines" on public.pipelines;
create policy "Owners can update their pipelines" on public.pipelines
  for update to authenticated using ((select auth.uid()) = user_id) with check ((select auth.uid()) = user_id);
drop policy if exists "Owners can delete their pipelines" on public.pipelines;
create policy "Owners can delete their pipelines" on public.pipelines
  for delete to authenticated using ((select auth.uid()) = user_id);

-- pipeline_stages ------------------------------------------------------------------------------
drop policy if exists "Owners can read their pipeline stages" on public.pipeline_stages;
create policy "Owners can read their pipeline stages" on public.pipeline_stages
  for select to authenticated using ((select auth.uid()) = user_id);
drop policy if exists "Owners can create their pipeline stages" on public.pipeline_stages;
create policy "Owners can create their pipeline stages" on public.pipeline_stages
  for insert to authenticated with check ((select auth.uid()) = user_id);
drop policy if exists "Owners can update their pipeline stages" on public.pipeline_stages;
create policy "Owners can update their pipeline stages" on public.pipeline_stages
  for update to authenticated using ((select auth.uid()) = user_id) with check ((select auth.uid()) = user_id);
drop policy if exists "Owners can delete their pipeline stages" on public.pipeline_stages;
create policy "Owners can delete their pipeline stages" on public.pipeline_stages
  for delete to authenticated using ((select auth.uid()) = user_id);

-- pipeline_page_settings -----------------------------------------------------------------------
drop policy if exists "Owners can read their pages' pipeline settings" on public.pipeline_page_settings;
create policy "Owners can read their pages' pipeline settings" on public.pipeline_page_settings
  for select to authenticated using ((select auth.uid()) = user_id);
drop policy if exists "Owners can create their pages' pipeline settings" on public.pipeline_page_settings;
create policy "Owners can create their pages' pipeline settings" on public.pipeline_page_settings
  for insert to authenticated with check ((select auth.uid()) = user_id);
drop policy if exists "Owners can update their pages' pipeline settings" on public.pipeline_page_settings;
create policy "Owners can update their pages' pipeline settings" on public.pipeline_page_settings
  for update to authenticated using ((select auth.uid()) = user_id) with check ((select auth.uid()) = user_id);
drop policy if exists "Owners can delete their pages' pipeline settings" on public.pipeline_page_settings;
create policy "Owners can delete their pages' pipeline settings" on public.pipeline_page_settings
  for delete to authenticated using ((select auth.uid()) = user_id);

-- pipeline_contacts: read-only for owners (the board) ------------------------------------------
drop policy if exists "Owners can read their contacts' pipeline places" on public.pipeline_contacts;
create policy "Owners can read their contacts' pipeline places" on public.pipeline_contacts
  for select to authenticated using ((select auth.uid()) = user_id);

-- contact_activities: read-only for owners (the timeline) --------------------------------------
drop policy if exists "Owners can read their contacts' activities" on public.contact_activities;
create policy "Owners can read their contacts' activities" on public.contact_activities
  for select to authenticated using ((select auth.uid()) = user_id);

-- pipeline_automations -------------------------------------------------------------------------
drop policy if exists "Owners can read their pipeline automations" on public.pipeline_automations;
create policy "Owners can read their pipeline automations" on public.pipeline_automations
  for select to authenticated using ((select auth.uid()) = user_id);
drop policy if exists "Owners can create their pipeline automations" on public.pipeline_automations;
create policy "Owners can create their pipeline automations" on public.pipeline_automations
  for insert to authenticated with check ((select auth.uid()) = user_id);
drop policy if exists "Owners can update their pipeline automations" on public.pipeline_automations;
create policy "Owners can update their pipeline automations" on public.pipeline_automations
  for update to authenticated using ((select auth.uid()) = user_id) with check ((select auth.uid()) = user_id);
drop policy if exists "Owners can delete their pipeline automations" on public.pipeline_automations;
create policy "Owners can delete their pipeline automations" on public.pipeline_automations
  for delete to authenticated using ((select auth.uid()) = user_id);

-- pipeline_automation_runs: read-only for owners -----------------------------------------------
drop policy if exists "Owners can read their automation runs" on public.pipeline_automation_runs;
create policy "Owners can read their automation runs" on public.pipeline_automation_runs
  for select to authenticated using ((select auth.uid()) = user_id);

-- pipeline_outbox: read-only for owners --------------------------------------------------------
drop policy if exists "Owners can read their automation outbox" on public.pipeline_outbox;
create policy "Owners can read their automation outbox" on public.pipeline_outbox
  for select to authenticated using ((select auth.uid()) = user_id);

-- =============================================================================================
-- Realtime: the app's pipeline board follows places as they move (the seed's live board).
-- =============================================================================================
do $$
begin
  if exists (select from pg_publication where pubname = 'supabase_realtime')
     and not exists (
       select from pg_publication_tables
        where pubname = 'supabase_realtime' and schemaname = 'public' and tablename = 'pipeline_contacts'
     ) then
    alter publication supabase_realtime add table public.pipeline_contacts;
  end if;
end
$$;
