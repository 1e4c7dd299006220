-- The Leadflow console, part 3 (continued): the board's version covers the chosen pipeline only.
-- Function: console_pipeline_board (re-created, the same arguments and the same answer).
--
-- Why: the version of 20261201000781 was an md5 of the whole answer, the pipelines to pick from
-- included, each with its contact count. Every contact AutoAssignStage placed in ANY pipeline, and
-- every pipeline another owner made, changed the version of the board shown, and the next poll
-- answered the whole board (some 70 KB) although nothing on it moved. Now the version is computed
-- over the chosen pipeline and its stages and cards only, and the picker (a few dozen bytes per
-- pipeline) comes with every answer, the short one too: { unchanged: true, version, generatedAt,
-- pipelines }. The picker's counts are as fresh as before; the board is answered whole only when
-- the board changed.

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
                 'last_activity', case when a.type is null then null else json_build_object(
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
            select x.type, x.title, x.description, x.actor, x.occurred_at, x.metadata
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

  -- The version: the answer without what only the clock moves (generatedAt, and the seconds in stage,
  -- which grow with it by the same amount); the same board later has the same version.
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
  'The console''s pipeline board in one call: the pipelines, and for one pipeline its stages in order with their counts, average time in stage and one page of cards each (lead score and status, time in stage, the last analysis, the last activity); one stage may be paged further; a search narrows the cards. With p_known, the version of an earlier answer of the chosen pipeline (the picker not included), answers { unchanged: true } with the picker when nothing on the board but the clock moved.';

revoke all on function public.console_pipeline_board(uuid, integer, uuid, integer, text, text, timestamptz) from public, anon;
grant execute on function public.console_pipeline_board(uuid, integer, uuid, integer, text, text, timestamptz)
  to authenticated, service_role;
