-- CRM pipelines: which conversations are due an AI analysis, with their last messages, in one call.
-- Function: pipeline_due_for_analysis(p_limit, p_user_id, p_max_messages, p_now).
--
-- Why: AutoAssignStage's "Due for Analysis" compared each conversation's last customer message with
-- its place's last analysis in the node, because the Data API's filters cannot compare two columns:
-- it read candidates 1,000 at a time, then one request per conversation for its messages. The
-- database answers both at once: the due conversations, oldest waiting first, each with its Page's
-- pipeline and its last messages.
--
-- Due, on a Page whose auto-assignment is enabled (pipeline_page_settings) and with a customer
-- message (last_customer_message_at):
--   not_in_pipeline   the contact has no place in the Page's pipeline yet;
--   new_messages      (update mode UPDATE_EXISTING) the customer wrote after the last analysis
--                     saw the conversation: the last message it saw (analysis_last_message_at), or
--                     when it did not say, the time of the analysis (analysed_at); a place never
--                     analysed (a manual move) counts as not analysed.
-- A SKIP_EXISTING Page never has a placed contact analysed again: Assign would not use it.
--
-- A read: it claims nothing. Two runs at the same moment may analyse the same contact; Assign then
-- places it once (the second finds it in its stage: kept, same_stage, nothing fires again).

create or replace function public.pipeline_due_for_analysis(
  p_limit integer default 100,
  p_user_id uuid default null,
  p_max_messages integer default 20,
  p_now timestamptz default leadflow_private.now()
)
returns table (
  conversation_id uuid,
  user_id uuid,
  page_id text,
  sender_name text,
  pipeline_id uuid,
  update_mode text,
  reason text,
  last_customer_message_at timestamptz,
  last_analysed_message_at timestamptz,
  messages jsonb
)
language plpgsql
stable
set search_path = ''
as $$
#variable_conflict use_column
begin
  if p_limit is null or p_limit not between 1 and 1000 then
    raise exception 'p_limit must be between 1 and 1000 (got %)', p_limit
      using errcode = '22023', hint = 'Analyse at most 1,000 conversations per run; the rest are due in the next.';
  end if;
  if p_max_messages is null or p_max_messages not between 1 and 200 then
    raise exception 'p_max_messages must be between 1 and 200 (got %)', p_max_messages
      using errcode = '22023', hint = 'The model sees the last 1 to 200 messages of a conversation.';
  end if;
  return query
    with due as (
      select c.id, c.user_id, c.page_id, c.sender_name, s.pipeline_id, s.update_mode,
             case when pc.id is null then 'not_in_pipeline' else 'new_messages' end as reason,
             c.last_customer_message_at,
             coalesce(pc.analysis_last_message_at, pc.analysed_at) as last_analysed_message_at
        from public.pipeline_page_settings s
        join public.messenger_conversations c on c.user_id = s.user_id and c.page_id = s.page_id
        left join public.pipeline_contacts pc on pc.conversation_id = c.id and pc.pipeline_id = s.pipeline_id
       where s.enabled
         and (p_user_id is null or s.user_id = p_user_id)
         and c.last_customer_message_at is not null
         and c.last_customer_message_at <= p_now
         and (pc.id is null
              or (s.update_mode = 'UPDATE_EXISTING'
                  and (coalesce(pc.analysis_last_message_at, pc.analysed_at) is null
                       or coalesce(pc.analysis_last_message_at, pc.analysed_at) < c.last_customer_message_at)))
       order by c.last_customer_message_at, c.id
       limit p_limit
    )
    select d.id, d.user_id, d.page_id, d.sender_name, d.pipeline_id, d.update_mode, d.reason,
           d.last_customer_message_at, d.last_analysed_message_at,
           coalesce((
             select jsonb_agg(jsonb_build_object('direction', m.direction, 'text', coalesce(m.text, ''), 'sent_at', m.sent_at)
                              order by m.sent_at, m.id)
               from (select mm.id, mm.direction, mm.text, mm.sent_at
                       from public.messenger_messages mm
                      where mm.conversation_id = d.id and mm.sent_at <= p_now
                      order by mm.sent_at desc, mm.id desc
                      limit p_max_messages) m
           ), '[]'::jsonb)
      from due d
     order by d.last_customer_message_at, d.id;
end;
$$;
comment on function public.pipeline_due_for_analysis(integer, uuid, integer, timestamptz) is
  'The conversations due an AI analysis (not in their Page''s pipeline yet, or new customer messages since the last analysis on an UPDATE_EXISTING Page), oldest waiting first, with their last messages.';

revoke all on function public.pipeline_due_for_analysis(integer, uuid, integer, timestamptz) from public, anon, authenticated;
grant execute on function public.pipeline_due_for_analysis(integer, uuid, integer, timestamptz) to service_role;
