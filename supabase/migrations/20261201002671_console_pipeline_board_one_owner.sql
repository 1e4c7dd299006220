-- Console board kept to one owner when an owner is given (the Leadflow Console node's Read Board as an
-- AI agent's tool always gives one; docs/nodes.md, "One owner per tool"). A new last argument,
-- p_user_id (null, the default: as before): when given, the pipelines listed are that owner's only,
-- and a pipeline of another owner is not found (null, the node's not_found), like one that does not
-- exist. Re-created: public.console_pipeline_board, otherwise as in
-- 20261201002250_console_pipeline_board_offsets.sql (same answer, comment and grants). The signature
-- changes, so the old function is dropped and the grants given again as there.
--
-- Why: the node runs with the service role, so as a tool Read Board listed every owner's pipelines
-- and showed any owner's board (contact names, scores, last analyses). The console's Pipeline tab
-- (the console key) still reads every owner's without one.

drop function public.console_pipeline_board(uuid, integer, uuid, integer, text, text, timestamptz, jsonb);

create function public.console_pipeline_board(
  p_pipeline_id uuid default null,
  p_limit integer default 20,
  p_stage_id uuid default null,
  p_offset integer default 0,
  p_search text default null,
  p_known text default null,
  p_now timestamptz default leadflow_private.now(),
  p_offsets jsonb default null,
  p_user_id uuid default null
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
  v_offsets jsonb := '{}'::jsonb;
  v_key text;
  v_value jsonb;
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
  if p_offsets is not null and jsonb_typeof(p_offsets) <> 'object' then
    raise exception 'p_offsets must be a JSON object of stage id to offset (got a JSON %)', jsonb_typeof(p_offsets)
      using errcode = '22023', hint = 'Send {"<stage id>": 20, …}: each paged stage''s id with where its page starts.';
  end if;
  if p_offsets is not null and p_stage_id is not null then
    raise exception 'p_offsets and p_stage_id are two ways to page: pass one of them'
      using errcode = '22023', hint = 'Put the stage''s offset into p_offsets and leave p_stage_id and p_offset out.';
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
    from public.pipelines p
   where p_user_id is null or p.user_id = p_user_id;

  if p_pipeline_id is null then
    return json_build_object('pipelines', v_pipelines, 'pipeline', null, 'generatedAt', p_now, 'stages', '[]'::json);
  end if;
  select * into v_pipeline from public.pipelines p where p.id = p_pipeline_id and (p_user_id is null or p.user_id = p_user_id);
  if not found then
    return null;
  end if;
  -- Each paged stage's offset: from p_offsets, or the old shape's one stage.
  if p_stage_id is not null then
    v_offsets := jsonb_build_object(p_stage_id::text, p_offset);
  end if;
  for v_key, v_value in select e.key, e.value from jsonb_each(coalesce(p_offsets, '{}'::jsonb)) e loop
    if v_key !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
      raise exception 'p_offsets: the key "%" is not a stage id', left(v_key, 40)
        using errcode = '22023', hint = 'Use the ids of the answer''s stages as the keys of p_offsets.';
    end if;
    if jsonb_typeof(v_value) <> 'number' or v_value::text !~ '^[0-9]+$' or v_value::text::numeric > 1000000 then
      raise exception 'p_offsets: the offset of stage % must be a whole number from 0 to 1000000 (got %)', v_key, left(v_value::text, 40)
        using errcode = '22023', hint = 'Start at 0 and add p_limit for each next page of the stage.';
    end if;
    if not exists (select from public.pipeline_stages st where st.id = v_key::uuid and st.pipeline_id = p_pipeline_id) then
      raise exception 'p_offsets: % is not a stage of pipeline %', v_key, p_pipeline_id
        using errcode = '22023', hint = 'Use the ids of the answer''s stages as the keys of p_offsets (a stage deleted meanwhile: ask without its offset).';
    end if;
    v_offsets := v_offsets || jsonb_build_object(lower(v_key), v_value::text::integer);
  end loop;

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
      'offset', coalesce((v_offsets ->> st.id::text)::integer, 0),
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
             offset coalesce((v_offsets ->> st.id::text)::integer, 0)
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
comment on function public.console_pipeline_board(uuid, integer, uuid, integer, text, text, timestamptz, jsonb, uuid) is
  'The console''s pipeline board in one call: the pipelines, and for one pipeline its stages in order with their counts, average time in stage and one page of cards each (lead score and status, time in stage, the last analysis, the last activity: an automation''s firing with its run''s results as they are now); each stage may be paged further (p_offsets: stage id to offset; or the one stage of p_stage_id and p_offset); a search narrows the cards. With p_known, the version of an earlier answer of the chosen pipeline (the picker not included), answers { unchanged: true } with the picker when nothing on the board but the clock moved. With p_user_id, only that owner''s pipelines are listed, and a pipeline of another owner is null like an unknown one.';

revoke all on function public.console_pipeline_board(uuid, integer, uuid, integer, text, text, timestamptz, jsonb, uuid) from public, anon;
grant execute on function public.console_pipeline_board(uuid, integer, uuid, integer, text, text, timestamptz, jsonb, uuid)
  to authenticated, service_role;
