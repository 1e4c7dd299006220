-- CRM pipelines (Auto Assign): the history of a contact the fallback score placed says so, instead
-- of naming the model as the one who placed it.
-- Re-created: public.pipeline_assign (otherwise as in 20261201002140); same signature, results,
-- grants and comment.
--
-- Why: when Gemini failed on a new contact (quota, blocked, timeout, an invalid reply), Analyze's
-- deterministic fallback score placed it, and its contact_activities row said actor ai, actor_id
-- the model (e.g. gemini-3-flash), "AI auto-assigned to pipeline": the history told that the model
-- judged a contact it never judged, and so did the change handed to the automations it fired (the
-- outbox payload's change.actor_id). Now the row of an analysis marked is_fallback says:
--   * actor_id 'fallback-score' (actor stays 'ai': the analysis step placed it, not a person or an
--     automation; 'ai' with an actor_id is also what pipeline_assign's replay check reads);
--   * title 'Placed by the fallback score (the model failed)';
--   * description: the analysis' reasoning as before, which for Analyze's fallback names why the
--     model failed ("Gemini: quota");
--   * metadata as before: is_fallback true, model the model that was asked.
-- The model's own analyses are logged exactly as before. Nothing else changes; the cost is one
-- CASE per written item.
-- Test: test/db/pipelines/fallback-history.test.ts.

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
  v_checked boolean;
  v_items leadflow_private.pipeline_assign_item[];
  v_ids uuid[];
  v_locked integer;
  v_outcomes leadflow_private.pipeline_outcome[];
  v_writes leadflow_private.pipeline_place_write[];
  v_changes leadflow_private.pipeline_change[];
  v_fired jsonb;
  -- The places whose analysis this call leaves as it was because the model failed (kept,
  -- fallback_analysis), with the time of the last message the failed try saw.
  v_failed_ids uuid[];
  v_failed_at timestamptz[];
  -- The new places' ids: one random draw for the call.
  v_place_prefix text := left(gen_random_uuid()::text, 24);
begin
  perform leadflow_private.pipeline_plan_for_sizes();
  if jsonb_typeof(p_items) is distinct from 'array' then
    raise exception 'p_items: must be a JSON array of analysed contacts (got %)', coalesce(jsonb_typeof(p_items), 'null')
      using errcode = '22023';
  end if;
  if jsonb_array_length(p_items) > 1000 then
    raise exception 'p_items: at most 1000 contacts per call (got %)', jsonb_array_length(p_items)
      using errcode = '22023', hint = 'Split the batch: the Data API answers at most 1000 rows (max-rows), one per item.';
  end if;

  -- The batch's checks at once: the per-item check below (which names the first problem by its
  -- position and field) runs only when one of these fails. Each is as strict as the per-item check
  -- it stands for; the texts are checked as one string per kind (one regular expression for the
  -- batch instead of one per item and field), each value first known to be a string without a
  -- comma, so the joined ids and instants split back into exactly the values.
  select coalesce(bool_and(coalesce(
           jsonb_typeof(e.item) = 'object'
           and e.item - '{conversation_id,lead_score,lead_status,recommended_stage,summary,confidence,reasoning,model,is_fallback,last_message_at,pipeline_id,update_mode}'::text[] = '{}'::jsonb
           and jsonb_typeof(x.conversation_id) = 'string' and strpos(x.conversation_id #>> '{}', ',') = 0
           and jsonb_typeof(x.lead_score) = 'number'
           and (x.lead_score #>> '{}')::numeric between 0 and 100
           and (x.lead_score #>> '{}')::numeric = trunc((x.lead_score #>> '{}')::numeric)
           and (x.lead_status is null or x.lead_status = 'null'
                or (jsonb_typeof(x.lead_status) = 'string' and upper(btrim(x.lead_status #>> '{}')) = any (leadflow_private.pipeline_lead_statuses())))
           and (x.recommended_stage is null or x.recommended_stage = 'null'
                or (jsonb_typeof(x.recommended_stage) = 'string' and length(x.recommended_stage #>> '{}') <= 200))
           and (x.summary is null or x.summary = 'null' or (jsonb_typeof(x.summary) = 'string' and length(x.summary #>> '{}') <= 10000))
           and (x.reasoning is null or x.reasoning = 'null' or (jsonb_typeof(x.reasoning) = 'string' and length(x.reasoning #>> '{}') <= 10000))
           and (x.confidence is null or x.confidence = 'null'
                or (jsonb_typeof(x.confidence) = 'number' and (x.confidence #>> '{}')::numeric between 0 and 100))
           and (x.model is null or x.model = 'null' or (jsonb_typeof(x.model) = 'string' and length(x.model #>> '{}') between 1 and 200))
           and (x.is_fallback is null or jsonb_typeof(x.is_fallback) in ('null', 'boolean'))
           and (x.last_message_at is null or x.last_message_at = 'null'
                or (jsonb_typeof(x.last_message_at) = 'string' and strpos(x.last_message_at #>> '{}', ',') = 0))
           and (x.pipeline_id is null or x.pipeline_id = 'null'
                or (jsonb_typeof(x.pipeline_id) = 'string' and strpos(x.pipeline_id #>> '{}', ',') = 0))
           and (x.update_mode is null or x.update_mode = 'null' or (x.update_mode #>> '{}') in ('SKIP_EXISTING', 'UPDATE_EXISTING')),
           false)), true)
         and coalesce(string_agg(x.conversation_id #>> '{}', ',') ~ '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(,[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})*$', true)
         and coalesce(string_agg(x.pipeline_id #>> '{}', ',') ~ '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(,[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})*$', true)
         and coalesce(string_agg(x.last_message_at #>> '{}', ',') ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(Z|z|[+-][0-9]{2}(:?[0-9]{2})?)(,[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(Z|z|[+-][0-9]{2}(:?[0-9]{2})?))*$', true)
         and coalesce(leadflow_private.is_valid_text(string_agg(concat(x.recommended_stage #>> '{}', x.model #>> '{}'), ''), 'line'), true)
         and coalesce(leadflow_private.is_valid_text(string_agg(concat(x.summary #>> '{}', x.reasoning #>> '{}'), ''), 'multiline'), true)
    into v_checked
    from jsonb_array_elements(p_items) e (item)
   -- Each field read once.
   cross join lateral (
     select e.item -> 'conversation_id' as conversation_id, e.item -> 'lead_score' as lead_score, e.item -> 'lead_status' as lead_status,
            e.item -> 'recommended_stage' as recommended_stage, e.item -> 'summary' as summary, e.item -> 'confidence' as confidence,
            e.item -> 'reasoning' as reasoning, e.item -> 'model' as model, e.item -> 'is_fallback' as is_fallback,
            e.item -> 'last_message_at' as last_message_at, e.item -> 'pipeline_id' as pipeline_id, e.item -> 'update_mode' as update_mode
     offset 0
   ) x;

  -- One pass: the first problem (by position), and every valid item parsed. A time the batch's
  -- pattern lets through but no calendar has (2026-02-30, 24:30) fails the parse: then the pass
  -- runs again with the check item by item, which names it.
  loop
    begin
      select (array_agg('p_items[' || (e.n - 1) || ']' || p.problem order by e.n) filter (where p.problem is not null))[1],
             array_agg(row((e.n - 1)::integer, (e.item ->> 'conversation_id')::uuid, (e.item ->> 'pipeline_id')::uuid, e.item ->> 'update_mode',
                           (e.item ->> 'lead_score')::numeric::integer, upper(btrim(e.item ->> 'lead_status')), e.item ->> 'recommended_stage',
                           e.item ->> 'summary', (e.item ->> 'confidence')::numeric, e.item ->> 'reasoning', e.item ->> 'model',
                           coalesce((e.item ->> 'is_fallback')::boolean, false), (e.item ->> 'last_message_at')::timestamptz
                       )::leadflow_private.pipeline_assign_item)
               filter (where p.problem is null)
        into v_problem, v_items
        from jsonb_array_elements(p_items) with ordinality e (item, n)
       cross join lateral (select case when v_checked then null else leadflow_private.pipeline_assign_item_problem(e.item) end as problem offset 0) p;
      exit;
    exception when datetime_field_overflow or invalid_datetime_format then
      if not v_checked then
        raise;
      end if;
      v_checked := false;
    end;
  end loop;
  if v_problem is not null then
    raise exception '%', v_problem using errcode = '22023';
  end if;
  if coalesce(cardinality(v_items), 0) = 0 then
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

  -- The contacts' lock (see 20261201000310's header), then everything is read under it.
  v_ids := array(select i.conversation_id from unnest(v_items) i);
  select count(*) into v_locked
    from (select c.id from public.messenger_conversations c where c.id = any (v_ids) order by c.id for no key update) l;
  if v_locked < cardinality(v_ids) then
    select i.item_index, i.conversation_id into v_bad
      from unnest(v_items) i
     where not exists (select from public.messenger_conversations c where c.id = i.conversation_id limit 1)
     order by i.item_index
     limit 1;
    raise exception 'p_items[%].conversation_id: conversation % does not exist', v_bad.item_index, v_bad.conversation_id
      using errcode = 'P0002', hint = 'Use ids from messenger_conversations.';
  end if;

  select i.item_index, i.pipeline_id into v_bad
    from unnest(v_items) i
   cross join lateral (select c.user_id from public.messenger_conversations c where c.id = i.conversation_id limit 1) c
    left join lateral (select true as found from public.pipelines p where p.id = i.pipeline_id and p.user_id = c.user_id limit 1) pl on true
   where i.pipeline_id is not null
     and pl.found is null
   order by i.item_index
   limit 1;
  if found then
    raise exception 'p_items[%].pipeline_id: pipeline % does not exist (for this conversation''s owner)', v_bad.item_index, v_bad.pipeline_id
      using errcode = 'P0002', hint = 'Use ids from pipelines, of the conversation''s owner.';
  end if;

  -- The target pipelines' stages, locked (FOR KEY SHARE: a stage's delete waits for this call, an
  -- edit of its name or range does not) in id order, in one statement, before anything reads them.
  -- A delete that began first ends first: this call then sees the stage gone and never chooses it.
  -- One that comes later waits, and then finds the contacts placed in it (its trigger refuses it).
  perform from (
    select s.id from public.pipeline_stages s
     where s.pipeline_id = any (array(
             select distinct coalesce(i.pipeline_id, ps.pipeline_id)
               from unnest(v_items) i
              cross join lateral (select c.user_id, c.page_id from public.messenger_conversations c where c.id = i.conversation_id limit 1) c
               left join lateral (
                 select ps.pipeline_id from public.pipeline_page_settings ps
                  where i.pipeline_id is null and ps.user_id = c.user_id and ps.page_id = c.page_id and ps.enabled limit 1
               ) ps on true))
     order by s.id
       for key share
  ) l;

  -- Each contact's pipeline, proposed stage (with the priority that chose it) and current place.
  with targets as materialized (
    select i.*, c.user_id,
           coalesce(i.pipeline_id, case when ps.enabled then ps.pipeline_id end) as target_pipeline_id,
           coalesce(i.update_mode, ps.update_mode, 'SKIP_EXISTING') as mode
      from unnest(v_items) i
     cross join lateral (select c.user_id, c.page_id from public.messenger_conversations c where c.id = i.conversation_id limit 1) c
      left join lateral (
        select ps.enabled, ps.pipeline_id, ps.update_mode from public.pipeline_page_settings ps
         where ps.user_id = c.user_id and ps.page_id = c.page_id limit 1
      ) ps on true
  ),
  stage_map as materialized (
    select leadflow_private.pipeline_stage_map(
             array(select distinct t.target_pipeline_id from targets t where t.target_pipeline_id is not null)) as m
  ),
  -- The first priority that names a stage: status, score range, recommendation, closest range,
  -- default / first stage (each entry says its rank).
  chosen as materialized (
    select t.*,
           coalesce(case when t.lead_status is not null then sm.m #> array[t.target_pipeline_id::text, 'st', t.lead_status] end,
                    sm.m #> array[t.target_pipeline_id::text, 'rg', t.lead_score::text],
                    case when t.recommended_stage is not null
                         then sm.m #> array[t.target_pipeline_id::text, 'nm', lower(btrim(t.recommended_stage))] end,
                    sm.m #> array[t.target_pipeline_id::text, 'cl', t.lead_score::text],
                    sm.m #> array[t.target_pipeline_id::text, 'fb']) as best,
           p.id as place_id, p.stage_id as cur_stage_id, p.lead_score as cur_score, p.lead_status as cur_status,
           coalesce(p.analysis_is_fallback, false) as cur_fallback, p.analysis_last_message_at as cur_last_message_at,
           -- Placed by the fallback score and still where that analysis (or the automations it fired,
           -- in its transaction) put it: provisional. A move after it (a person's) ends that.
           coalesce(p.analysis_is_fallback and p.stage_entered_at <= p.analysed_at, false) as cur_provisional,
           -- The analysis the place holds is this item's (a replay: a retry after a lost answer).
           rp.found is not null as replay,
           sm.m #> array[t.target_pipeline_id::text, 'id', p.stage_id::text] as cur,
           lf.found is not null as left_target,
           el.pipeline_id as other_pipeline_id, el.stage_id as other_stage_id, el.stage_name as other_stage_name,
           el.lead_score as other_score, el.lead_status as other_status
      from targets t
     cross join stage_map sm
      left join lateral (
        select p.id, p.stage_id, p.lead_score, p.lead_status, p.stage_entered_at, p.analysis_is_fallback, p.analysis_last_message_at,
               p.analysed_at, p.analysis_summary, p.analysis_confidence, p.analysis_reasoning, p.analysis_recommended_stage,
               p.analysis_model
          from public.pipeline_contacts p
         where p.conversation_id = t.conversation_id and p.pipeline_id = t.target_pipeline_id limit 1
      ) p on true
      -- A replay: the place's analysis is this item's, field for field (the same messages, score,
      -- status, recommendation, confidence, summary, reasoning, model and fallback flag). The score
      -- and status the analysis gave are its history's (the STAGE_CHANGED or ANALYSED record the
      -- write logged at analysed_at, by key), as an automation or a person may have changed the
      -- place's since; looked up only for a place whose analysis texts already match.
      left join lateral (
        select true as found from public.contact_activities a
         where p.analysed_at is not null
           and p.analysis_last_message_at is not distinct from t.last_message_at
           and p.analysis_is_fallback = t.is_fallback
           and p.analysis_summary is not distinct from t.summary
           and p.analysis_reasoning is not distinct from t.reasoning
           and p.analysis_recommended_stage is not distinct from t.recommended_stage
           and p.analysis_model is not distinct from t.model
           and p.analysis_confidence is not distinct from t.confidence::numeric(5, 2)
           and a.conversation_id = t.conversation_id and a.pipeline_id = t.target_pipeline_id
           and a.occurred_at = p.analysed_at
           and a.actor = 'ai' and a.type in ('STAGE_CHANGED', 'ANALYSED') and a.metadata ? 'outcome'
           and (a.metadata ->> 'lead_score')::integer = t.lead_score
           and (t.lead_status is null or a.metadata ->> 'lead_status' = t.lead_status)
         limit 1
      ) rp on true
      -- Not in the target pipeline: whether it was moved out of it (its history's leave record,
      -- looked up only then), and where it is now (its latest place, if it has one).
      left join lateral (
        select true as found from public.contact_activities a
         where p.id is null and t.target_pipeline_id is not null
           and a.conversation_id = t.conversation_id and a.pipeline_id = t.target_pipeline_id
           and a.type = 'STAGE_CHANGED' and a.to_stage_id is null
         limit 1
      ) lf on true
      left join lateral (
        select o.pipeline_id, o.stage_id, st.name as stage_name, o.lead_score, o.lead_status
          from public.pipeline_contacts o
          join public.pipeline_stages st on st.id = o.stage_id
         where lf.found and o.conversation_id = t.conversation_id
         order by o.stage_entered_at desc, o.id
         limit 1
      ) el on true
  ),
  decided as (
    select c.*, (c.best ->> 'id')::uuid as best_id, c.best ->> 'name' as best_name, (c.best ->> 'order')::integer as best_order,
           (c.best ->> 'rank')::integer as priority_rank,
           c.cur ->> 'name' as cur_name, (c.cur ->> 'order')::integer as cur_order, (c.cur ->> 'min')::integer as cur_min
      from chosen c
  ),
  judged as materialized (
    select d.*, j.outcome, j.reason,
           case d.priority_rank when 1 then 'status' when 2 then 'score_range' when 3 then 'ai_recommendation'
                                when 4 then 'closest_score' when 5 then 'default_stage' when 6 then 'first_stage' end as priority,
           case when j.outcome in ('assigned', 'moved') then d.best_id else d.cur_stage_id end as final_stage_id,
           case when j.outcome in ('assigned', 'moved') then d.best_name else d.cur_name end as final_stage_name,
           -- Whether the analysis is written (placed, moved, or kept with its score and status). A
           -- SKIP_EXISTING place still holding the fallback's analysis (a person moved it since) takes
           -- the model's score and summary, in the stage the person chose.
           j.outcome <> 'skipped'
             and coalesce(j.reason not in ('skip_existing', 'fallback_analysis', 'stale_analysis', 'already_applied')
                          or (j.reason = 'skip_existing' and d.cur_fallback), true) as writes
      from decided d
     cross join lateral (
       select case
                when d.target_pipeline_id is null then 'skipped'
                when d.place_id is null and d.left_target then 'skipped'
                when d.place_id is null and d.best_id is null then 'skipped'
                when d.place_id is null then 'assigned'
                when d.cur_last_message_at > d.last_message_at then 'kept'
                when d.is_fallback then 'kept'
                when d.mode = 'SKIP_EXISTING' and not d.cur_provisional then 'kept'
                when d.replay then 'kept'
                when d.best_id = d.cur_stage_id then 'kept'
                when d.best_order < d.cur_order and d.cur_min is not null and d.lead_score >= d.cur_min then 'kept'
                else 'moved'
              end as outcome,
              case
                when d.target_pipeline_id is null then 'auto_assign_off'
                when d.place_id is null and d.left_target then 'left_pipeline'
                when d.place_id is null and d.best_id is null then 'pipeline_has_no_stages'
                when d.place_id is null then null
                when d.cur_last_message_at > d.last_message_at then 'stale_analysis'
                when d.is_fallback then 'fallback_analysis'
                when d.mode = 'SKIP_EXISTING' and not d.cur_provisional then 'skip_existing'
                when d.replay then 'already_applied'
                when d.best_id = d.cur_stage_id then 'same_stage'
                when d.best_order < d.cur_order and d.cur_min is not null and d.lead_score >= d.cur_min then 'downgrade_protected'
              end as reason
       offset 0
     ) j
  )
  select
    array_agg(row(j.item_index, j.conversation_id, j.outcome, j.reason,
                  case when j.writes and j.reason is distinct from 'skip_existing' then j.priority end,
                  -- left_pipeline: where the contact is now (its latest place elsewhere), if anywhere.
                  coalesce(j.other_pipeline_id, j.target_pipeline_id),
                  coalesce(j.other_stage_id, j.final_stage_id), coalesce(j.other_stage_name, j.final_stage_name),
                  coalesce(j.other_stage_id, j.cur_stage_id), coalesce(j.other_stage_name, j.cur_name),
                  case when j.reason = 'downgrade_protected' then j.best_id end,
                  case when j.reason = 'downgrade_protected' then j.best_name end,
                  null::uuid,
                  case when j.writes then j.lead_score else coalesce(j.other_score, j.cur_score) end,
                  case when j.writes then coalesce(j.lead_status, j.cur_status, 'NEW') else coalesce(j.other_status, j.cur_status) end
              )::leadflow_private.pipeline_outcome),
    array_agg(row(j.item_index, j.user_id, j.conversation_id, j.target_pipeline_id,
                  coalesce(j.place_id, leadflow_private.pipeline_new_id(v_place_prefix, j.item_index)), j.place_id is null,
                  j.cur_stage_id, j.cur_score, j.cur_status,
                  j.final_stage_id, j.lead_score, coalesce(j.lead_status, j.cur_status, 'NEW'),
                  jsonb_build_object('summary', j.summary, 'confidence', j.confidence, 'reasoning', j.reasoning,
                                     'recommended_stage', j.recommended_stage, 'model', j.model,
                                     'is_fallback', j.is_fallback, 'last_message_at', j.last_message_at, 'analysed_at', p_now),
                  null, null, null, 'STAGE_CHANGED', true, 'ai',
                  -- Who scored it: the model, or the fallback score when the model failed (the model's
                  -- name stays in the metadata and on the place, as the model that was asked).
                  case when j.is_fallback then 'fallback-score' else j.model end, null, null,
                  case when j.is_fallback then
                         case j.outcome when 'assigned' then 'Placed by the fallback score (the model failed)'
                                        when 'moved' then 'Moved by the fallback score (the model failed)'
                                        else 'Fallback score (the model failed; stage kept)' end
                       else
                         case j.outcome when 'assigned' then 'AI auto-assigned to pipeline' when 'moved' then 'AI moved to stage'
                                        else 'AI analysis (stage kept)' end
                  end,
                  j.reasoning,
                  jsonb_strip_nulls(jsonb_build_object(
                    'confidence', j.confidence, 'recommendation', j.recommended_stage, 'lead_score', j.lead_score,
                    'lead_status', coalesce(j.lead_status, j.cur_status, 'NEW'),
                    'priority', case when j.reason is distinct from 'skip_existing' then j.priority end,
                    'is_fallback', j.is_fallback, 'model', j.model, 'outcome', j.outcome, 'reason', j.reason,
                    'proposed_stage_id', case when j.reason = 'downgrade_protected' then j.best_id end)),
                  0
              )::leadflow_private.pipeline_place_write)
      filter (where j.writes),
    array_agg(j.place_id) filter (where j.reason = 'fallback_analysis'),
    array_agg(coalesce(j.last_message_at, p_now)) filter (where j.reason = 'fallback_analysis')
    into v_outcomes, v_writes, v_failed_ids, v_failed_at
    from judged j;

  select o.item_index, o.pipeline_id into v_bad
    from unnest(v_outcomes) o
   where o.pipeline_id is not null and o.stage_id is null and o.outcome <> 'skipped'
   order by o.item_index
   limit 1;
  if found then
    raise exception 'p_items[%]: pipeline % has no stages', v_bad.item_index, v_bad.pipeline_id
      using errcode = 'P0002', hint = 'Add stages to the pipeline (pipeline_stages) first.';
  end if;

  -- The model failed on these contacts' messages: the place keeps the model's analysis, and records
  -- the try (the last message it saw), so pipeline_due_for_analysis lists them after the others
  -- until the customer writes again. Only such items write here: none in a call the model answered.
  if v_failed_ids is not null then
    perform leadflow_private.pipeline_record_failed_analyses(v_failed_ids, v_failed_at);
  end if;

  v_changes := leadflow_private.pipeline_write_places(v_writes, p_now);
  v_fired := leadflow_private.pipeline_fire(v_changes, p_now);

  return query
    select o.item_index, o.conversation_id, o.outcome, o.reason, o.priority, o.pipeline_id, o.stage_id, o.stage_name,
           o.from_stage_id, o.from_stage_name, o.proposed_stage_id, o.proposed_stage_name, o.lead_score, o.lead_status,
           coalesce((v_fired #>> array['runs', o.conversation_id::text])::integer, 0),
           -- The webhook / notify actions this call queued for the contact (pipeline_claim_outbox's p_outbox_ids).
           array(select x::uuid from jsonb_array_elements_text(v_fired #> array['outbox', o.conversation_id::text]) x)
      from unnest(v_outcomes) o
     order by o.item_index;
end;
$$;
comment on function public.pipeline_assign(jsonb, timestamptz) is
  'Batch: places analysed contacts in their pipeline by the seed''s priorities (status, score range, AI recommendation, closest score, default / first stage), with downgrade protection and the update modes; logs and fires automations. One row per item: assigned | moved | kept (skip_existing, same_stage, downgrade_protected, fallback_analysis, stale_analysis) | skipped (auto_assign_off, left_pipeline), with the outbox items it queued.';
revoke all on function public.pipeline_assign(jsonb, timestamptz) from public, anon, authenticated;
grant execute on function public.pipeline_assign(jsonb, timestamptz) to service_role;
