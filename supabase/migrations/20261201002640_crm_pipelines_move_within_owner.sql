-- CRM pipelines: a move may be kept to one owner. An item of pipeline_move may carry
-- owner_user_id (a user id, uuid; null or absent: any owner's contact, as before): a contact that is
-- not that owner's is refused as one that does not exist (P0002, not_found, 404 on the contact-move
-- webhook), with the same words whether it is another owner's or nobody's:
--   p_items[i].conversation_id: conversation <id> does not exist for owner <owner_user_id>
-- Nothing is written (the whole call is refused, as for any other item's problem).
-- Re-created: leadflow_private.pipeline_move_item_problem (otherwise as in
-- 20261201000310_crm_pipelines_api.sql: owner_user_id is a field of a move, a uuid when given) and
-- public.pipeline_move (otherwise as in 20261201002340_crm_pipelines_move_refuse_leaving_own_pipeline.sql;
-- same signature, comment and grants).
--
-- Why: Auto Assign Stage's Move runs with the service role, so as an AI agent's tool it moved any
-- contact whose UUID the model gave, another owner's included. The node now requires, as a tool, an
-- Owner User ID set by the workflow's builder (or given by the model where the builder chose
-- $fromAI) and passes it here; the database checks it under the same lock as the move.

create or replace function leadflow_private.pipeline_move_item_problem(p_item jsonb)
returns text
language sql
stable
parallel safe
as $$
  select case
    when jsonb_typeof(p_item) is distinct from 'object' then ': must be an object (got ' || coalesce(jsonb_typeof(p_item), 'null') || ')'
    when p_item - '{conversation_id,stage_id,stage_name,pipeline_id,from_pipeline_id,reason,actor,actor_id,owner_user_id}'::text[] <> '{}'::jsonb then
      '.' || (jsonb_path_query_array(p_item - '{conversation_id,stage_id,stage_name,pipeline_id,from_pipeline_id,reason,actor,actor_id,owner_user_id}'::text[],
                                     '$.keyvalue().key') ->> 0)
        || ': not a field of a move; the fields are conversation_id, stage_id, stage_name, pipeline_id, from_pipeline_id, '
        || 'reason, actor, actor_id, owner_user_id'
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
    when not leadflow_private.pipeline_is_null(p_item -> 'owner_user_id') and not leadflow_private.pipeline_is_uuid(p_item -> 'owner_user_id') then
      '.owner_user_id: must be a user id (uuid) (got ' || (p_item -> 'owner_user_id')::text || ')'
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
  automations_fired integer,
  outbox_ids uuid[]
)
language plpgsql
volatile
set search_path = ''
set plan_cache_mode = force_generic_plan
set enable_seqscan = off
set enable_bitmapscan = off
as $$
#variable_conflict use_column
declare
  v_bad record;
  v_problem text;
  v_problem_code text;
  v_problem_detail text;
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
  -- A contact that does not exist, or (an item with owner_user_id) is not that owner's: the same
  -- words for both, naming the owner asked for, so a caller kept to one owner learns nothing of
  -- another owner's contacts. Checked under the lock, before anything is read or written.
  if v_locked < cardinality(v_ids) or jsonb_path_exists(p_items, '$[*] ? (exists (@.owner_user_id) && @.owner_user_id != null)') then
    select e.n - 1 as idx, e.item ->> 'conversation_id' as conversation_id, e.item ->> 'owner_user_id' as owner_user_id into v_bad
      from jsonb_array_elements(p_items) with ordinality e (item, n)
     where not exists (select from public.messenger_conversations c
                        where c.id = (e.item ->> 'conversation_id')::uuid
                          and (e.item ->> 'owner_user_id' is null or c.user_id = (e.item ->> 'owner_user_id')::uuid))
     order by e.n
     limit 1;
    if found then
      if v_bad.owner_user_id is not null then
        raise exception 'p_items[%].conversation_id: conversation % does not exist for owner %', v_bad.idx, v_bad.conversation_id, lower(v_bad.owner_user_id)
          using errcode = 'P0002', hint = 'Use ids of this owner''s contacts (messenger_conversations of owner_user_id).';
      end if;
      raise exception 'p_items[%].conversation_id: conversation % does not exist', v_bad.idx, v_bad.conversation_id
        using errcode = 'P0002', hint = 'Use ids from messenger_conversations.';
    end if;
  end if;

  -- The stages a move may go to, locked (FOR KEY SHARE, in id order, one statement) before they are
  -- read: every stage of the pipelines named, of the stages named by id, and of the pipelines the
  -- contacts are in (a stage by name in the contact's only pipeline). A delete of one of them that
  -- began first ends first (this call then sees it gone: the item's stage does not exist); one that
  -- comes later waits and then finds the contacts placed in it.
  perform from (
    select s.id from public.pipeline_stages s
     where s.pipeline_id = any (array(
             select (e.item ->> 'pipeline_id')::uuid from jsonb_array_elements(p_items) e (item)
             union
             select st.pipeline_id from public.pipeline_stages st
              where st.id = any (array(select (e.item ->> 'stage_id')::uuid from jsonb_array_elements(p_items) e (item)))
             union
             select pc.pipeline_id from public.pipeline_contacts pc where pc.conversation_id = any (v_ids)))
     order by s.id
       for key share
  ) l;

  -- Each move's target stage and the contact's places, read under the lock; the first problem, if
  -- any, fails the call before anything is written.
  with items as materialized (
    select (e.n - 1)::integer as item_index, (e.item ->> 'conversation_id')::uuid as conversation_id,
           (e.item ->> 'stage_id')::uuid as stage_id, btrim(e.item ->> 'stage_name') as stage_name,
           (e.item ->> 'pipeline_id')::uuid as pipeline_id, (e.item ->> 'from_pipeline_id')::uuid as from_pipeline_id,
           e.item ->> 'reason' as reason, coalesce(e.item ->> 'actor', 'user') as actor, e.item ->> 'actor_id' as actor_id,
           c.user_id
      from jsonb_array_elements(p_items) with ordinality e (item, n)
     cross join lateral (
       select c.user_id from public.messenger_conversations c where c.id = (e.item ->> 'conversation_id')::uuid limit 1
     ) c
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
      left join lateral (
        select dst.id, dst.stage_id, dst.lead_score, dst.lead_status from public.pipeline_contacts dst
         where dst.conversation_id = i.conversation_id and dst.pipeline_id = s.pipeline_id limit 1
      ) dst on true
      left join lateral (select st.name from public.pipeline_stages st where st.id = dst.stage_id limit 1) dst_stage on true
      -- The place left behind (from_pipeline_id), whether or not the contact is in the target already.
      left join lateral (
        select src.* from public.pipeline_contacts src
         where src.conversation_id = i.conversation_id and src.pipeline_id = i.from_pipeline_id and i.from_pipeline_id <> s.pipeline_id
         limit 1
      ) src on true
      left join lateral (select st.name from public.pipeline_stages st where st.id = src.stage_id limit 1) src_stage on true
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
             -- The stage is in the pipeline it would leave: a leave and a move within one pipeline at once.
             when p.from_pipeline_id = p.target_pipeline_id
               then '.from_pipeline_id: the stage is in pipeline ' || p.from_pipeline_id
                    || ', the pipeline it would leave: give pipeline_id or a stage of another pipeline'
             when p.from_pipeline_id is not null
                  and not exists (select from public.pipeline_contacts fp where fp.conversation_id = p.conversation_id and fp.pipeline_id = p.from_pipeline_id)
               then '.from_pipeline_id: the contact is not in pipeline ' || p.from_pipeline_id
           end as problem,
           -- A missing pipeline_id and a from_pipeline_id that is the stage's own pipeline are the
           -- request's fault (22023, 400 in a webhook); every other problem names something that does
           -- not exist (P0002, 404). (The conditions before the first in the case above need a
           -- pipeline_id or a stage_id; the second has found its stage, so none before it held.)
           case when p.stage_id is null and p.pipeline_id is null and p.place_count <> 1 then '22023'
                when p.from_pipeline_id = p.target_pipeline_id then '22023'
                else 'P0002' end as problem_code,
           case when p.from_pipeline_id = p.target_pipeline_id
                then jsonb_build_object('field', 'from_pipeline_id', 'reason', 'stage_in_pipeline_left', 'item_index', p.item_index)::text
           end as problem_detail
      from planned p
  )
  select
    (array_agg('p_items[' || j.item_index || ']' || j.problem order by j.item_index) filter (where j.problem is not null))[1],
    (array_agg(j.problem_code order by j.item_index) filter (where j.problem is not null))[1],
    (array_agg(j.problem_detail order by j.item_index) filter (where j.problem is not null))[1],
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
    into v_problem, v_problem_code, v_problem_detail, v_outcomes, v_writes
    from judged j;
  if v_problem is not null then
    if v_problem_detail is not null then
      raise exception '%', v_problem using errcode = v_problem_code, detail = v_problem_detail;
    end if;
    raise exception '%', v_problem using errcode = v_problem_code;
  end if;
  v_changes := leadflow_private.pipeline_write_places(v_writes, p_now);
  v_fired := leadflow_private.pipeline_fire(v_changes, p_now);

  return query
    select o.item_index, o.conversation_id, o.outcome, o.reason, o.pipeline_id, o.stage_id, o.stage_name,
           o.from_stage_id, o.from_stage_name, o.left_pipeline_id, coalesce((v_fired #>> array['runs', o.conversation_id::text])::integer, 0),
           -- The webhook / notify actions this call queued for the contact (pipeline_claim_outbox's p_outbox_ids).
           array(select x::uuid from jsonb_array_elements_text(v_fired #> array['outbox', o.conversation_id::text]) x)
      from unnest(v_outcomes) o
     order by o.item_index;
end;
$$;
comment on function public.pipeline_move(jsonb, timestamptz) is
  'Batch: manual moves (the user''s app, an AI agent) to a stage by id or name, within a pipeline, into one, or from one to another; logged as MANUAL_MOVE; fires automations; each row with the outbox items it queued.';
revoke all on function public.pipeline_move(jsonb, timestamptz) from public, anon, authenticated;
grant execute on function public.pipeline_move(jsonb, timestamptz) to service_role;
