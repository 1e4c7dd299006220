-- CRM pipelines: the stage names Analyze lists in its prompt, kept to one owner when asked.
-- Changed: public.pipeline_stage_names(p_pipeline_ids, p_conversation_ids) becomes
-- public.pipeline_stage_names(p_pipeline_ids, p_conversation_ids, p_user_id default null).
--
-- Why: as an AI agent's tool Auto Assign Stage's Analyze acts within one owner (docs/nodes.md,
-- "One owner per tool"): the model may give the Pipeline whose stage names the prompt lists, and
-- the node reaches the database with the service role. With p_user_id, a pipeline named that is not
-- that owner's answers as an unknown one does (a row with no stage names), and a conversation that
-- is not that owner's has no Page pipeline (as an unknown conversation). Without p_user_id (null, a
-- workflow's empty Owner User ID, and every caller before) the answer is as before, byte for byte.
-- A read: it claims nothing. The old two-argument function is dropped so that the Data API has one
-- function of this name (a call with two named arguments takes p_user_id's default).

drop function if exists public.pipeline_stage_names(uuid[], uuid[]);

create function public.pipeline_stage_names(
  p_pipeline_ids uuid[] default '{}',
  p_conversation_ids uuid[] default '{}',
  p_user_id uuid default null
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
       and (p_user_id is null or c.user_id = p_user_id)
  ),
  wanted as (
    select w.id as pipeline_id from unnest(coalesce(p_pipeline_ids, '{}')) w (id)
    union
    select pp.pipeline_id from page_pipelines pp
  )
  select w.pipeline_id,
         coalesce((select array_agg(s.name order by s.stage_order, s.id)
                     from public.pipeline_stages s
                    where s.pipeline_id = w.pipeline_id
                      and (p_user_id is null
                           or exists (select from public.pipelines p where p.id = w.pipeline_id and p.user_id = p_user_id))),
                  '{}'::text[]),
         coalesce((select array_agg(pp.conversation_id order by pp.conversation_id) from page_pipelines pp where pp.pipeline_id = w.pipeline_id),
                  '{}'::uuid[])
    from wanted w
   order by w.pipeline_id;
$$;

comment on function public.pipeline_stage_names(uuid[], uuid[], uuid) is
  'The stage names, in order, of the pipelines asked for and of the asked conversations'' Page pipelines (pipeline_page_settings, when enabled): one row per pipeline, with the conversations whose Page pipeline it is. With p_user_id, only that owner''s: another owner''s pipeline answers as an unknown one (no stage names), another owner''s conversation has no Page pipeline.';

revoke all on function public.pipeline_stage_names(uuid[], uuid[], uuid) from public, anon, authenticated;
grant execute on function public.pipeline_stage_names(uuid[], uuid[], uuid) to service_role;
