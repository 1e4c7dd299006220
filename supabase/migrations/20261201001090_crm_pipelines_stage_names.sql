-- CRM pipelines: the stage names the analyses of a batch may recommend, in one call.
-- New: public.pipeline_stage_names(p_pipeline_ids, p_conversation_ids).
--
-- Why: Analyze lists a pipeline's stage names in the model's prompt: those of the pipeline the node
-- names, else of each conversation's Page pipeline (its owner's pipeline_page_settings for its Page,
-- when enabled: where Assign places it). It read them through the Data API in three steps (the
-- conversations' owners and Pages, their Pages' settings, the stages), each split into reads of 100
-- ids because the ids travel in the URL, and joined them in the node. The database answers for the
-- whole batch at once: one row per pipeline, with its stage names in order and the conversations
-- asked for whose Page pipeline it is. The ids travel in the body, however many.

create or replace function public.pipeline_stage_names(
  p_pipeline_ids uuid[] default '{}',
  p_conversation_ids uuid[] default '{}'
)
returns table (
  pipeline_id uuid,
  stage_names text[],
  conversation_ids uuid[]
)
language sql
stable
set search_path = ''
as $$
  with page_pipelines as (
    select ps.pipeline_id, c.id as conversation_id
      from public.messenger_conversations c
      join public.pipeline_page_settings ps on ps.user_id = c.user_id and ps.page_id = c.page_id
     where c.id = any (coalesce(p_conversation_ids, '{}'))
       and ps.enabled
  ),
  wanted as (
    select w.id as pipeline_id from unnest(coalesce(p_pipeline_ids, '{}')) w (id)
    union
    select pp.pipeline_id from page_pipelines pp
  )
  select w.pipeline_id,
         coalesce((select array_agg(s.name order by s.stage_order, s.id) from public.pipeline_stages s where s.pipeline_id = w.pipeline_id),
                  '{}'::text[]),
         coalesce((select array_agg(pp.conversation_id order by pp.conversation_id) from page_pipelines pp where pp.pipeline_id = w.pipeline_id),
                  '{}'::uuid[])
    from wanted w
   order by w.pipeline_id;
$$;

comment on function public.pipeline_stage_names(uuid[], uuid[]) is
  'The stage names, in order, of the pipelines asked for and of the asked conversations'' Page pipelines (pipeline_page_settings, when enabled): one row per pipeline, with the conversations whose Page pipeline it is.';

revoke all on function public.pipeline_stage_names(uuid[], uuid[]) from public, anon, authenticated;
grant execute on function public.pipeline_stage_names(uuid[], uuid[]) to service_role;
