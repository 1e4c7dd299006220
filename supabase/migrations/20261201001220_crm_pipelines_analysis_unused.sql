-- CRM pipelines: which conversations' analysis Assign would not use, for a batch in one call.
-- New: public.pipeline_analysis_unused(p_conversation_ids, p_pipeline_ids).
--
-- Why: Analyze "From the Input" (workflows/messenger-inbound.json: every customer who writes) asked
-- Gemini about every conversation, and Assign then dropped the analysis of a contact whose Page has
-- auto-assignment off (skipped, auto_assign_off), of one already placed on a SKIP_EXISTING Page
-- (kept, skip_existing) and of one moved out of its pipeline (skipped, left_pipeline): one Gemini
-- call per inbound message for nothing, on the keys and quota Generate Follow-Up shares. Due for
-- Analysis never lists those (pipeline_due_for_analysis). Now Analyze asks first, for the whole
-- batch: this function answers, by the rules pipeline_assign decides them with (its targets and
-- outcomes, as in 20261201001190), the conversations whose analysis would not be used, with the outcome
-- and reason Assign would answer; Analyze leaves them out of the Gemini calls.
--
-- The rules, for each conversation asked (with the pipeline named for it, or null):
--   - target pipeline: the one named (when its owner's), else the Page's (pipeline_page_settings,
--     when enabled); none: skipped, auto_assign_off;
--   - not in the target pipeline and moved out of it (its leave record: STAGE_CHANGED with no
--     to_stage_id): skipped, left_pipeline;
--   - in it, update mode (the Page's, else SKIP_EXISTING) SKIP_EXISTING, and not placed by the
--     fallback score: kept, skip_existing.
-- Not listed: everything else (the analysis is used), an unknown conversation, and a named pipeline
-- that is not the owner's (Assign refuses those, naming them). Assign's own Update Mode, when set on
-- the node, is not known here: Analyze's option says so. A read: it claims nothing.

create or replace function public.pipeline_analysis_unused(
  p_conversation_ids uuid[],
  p_pipeline_ids uuid[] default '{}'
)
returns table (
  item_index integer,
  conversation_id uuid,
  outcome text,
  reason text
)
language plpgsql
stable
set search_path = ''
as $$
#variable_conflict use_column
begin
  if coalesce(cardinality(p_conversation_ids), 0) > 1000 then
    raise exception 'p_conversation_ids: at most 1000 conversations per call (got %)', cardinality(p_conversation_ids)
      using errcode = '22023', hint = 'Split the batch: the Data API answers at most 1000 rows (max-rows).';
  end if;
  if coalesce(cardinality(p_pipeline_ids), 0) not in (0, coalesce(cardinality(p_conversation_ids), 0)) then
    raise exception 'p_pipeline_ids: must be empty or name one pipeline (or null) per conversation of p_conversation_ids (got % for %)',
      cardinality(p_pipeline_ids), coalesce(cardinality(p_conversation_ids), 0)
      using errcode = '22023';
  end if;
  return query
    with targets as materialized (
      select (a.n - 1)::integer as item_index, c.id as conversation_id,
             coalesce(a.pipeline_id, case when ps.enabled then ps.pipeline_id end) as target_pipeline_id,
             coalesce(ps.update_mode, 'SKIP_EXISTING') as mode
        -- An empty p_pipeline_ids: unnest pads it with nulls (the Page's pipeline for each).
        from unnest(coalesce(p_conversation_ids, '{}'), coalesce(p_pipeline_ids, '{}')) with ordinality a (conversation_id, pipeline_id, n)
       cross join lateral (select c.id, c.user_id, c.page_id from public.messenger_conversations c where c.id = a.conversation_id limit 1) c
        left join lateral (
          select ps.enabled, ps.pipeline_id, ps.update_mode from public.pipeline_page_settings ps
           where ps.user_id = c.user_id and ps.page_id = c.page_id limit 1
        ) ps on true
       -- A named pipeline that is not the owner's: Assign refuses it, naming it; not decided here.
       where a.pipeline_id is null
          or exists (select from public.pipelines p where p.id = a.pipeline_id and p.user_id = c.user_id)
    )
    select t.item_index, t.conversation_id,
           case when t.target_pipeline_id is null or pl.place_id is null then 'skipped' else 'kept' end,
           case when t.target_pipeline_id is null then 'auto_assign_off'
                when pl.place_id is null then 'left_pipeline'
                else 'skip_existing' end
      from targets t
      left join lateral (
        select p.id as place_id, coalesce(p.analysis_is_fallback, false) as is_fallback from public.pipeline_contacts p
         where p.conversation_id = t.conversation_id and p.pipeline_id = t.target_pipeline_id limit 1
      ) pl on true
     where t.target_pipeline_id is null
        or (pl.place_id is null
            and exists (select from public.contact_activities a
                         where a.conversation_id = t.conversation_id and a.pipeline_id = t.target_pipeline_id
                           and a.type = 'STAGE_CHANGED' and a.to_stage_id is null))
        or (pl.place_id is not null and t.mode = 'SKIP_EXISTING' and not pl.is_fallback)
     order by t.item_index;
end;
$$;

comment on function public.pipeline_analysis_unused(uuid[], uuid[]) is
  'Of the conversations asked (each with the pipeline named for it, or null for its Page''s), those whose analysis pipeline_assign would not use, with the outcome and reason it would answer: skipped auto_assign_off, skipped left_pipeline, kept skip_existing. A read, one call for a batch of up to 1000.';

revoke all on function public.pipeline_analysis_unused(uuid[], uuid[]) from public, anon, authenticated;
grant execute on function public.pipeline_analysis_unused(uuid[], uuid[]) to service_role;
