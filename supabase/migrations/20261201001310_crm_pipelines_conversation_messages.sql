-- CRM pipelines: the sender names and last messages of a batch of conversations, in one call.
-- New: public.pipeline_conversation_messages(p_conversation_ids, p_max_messages, p_user_id).
--
-- Why: Analyze "From the Input" (workflows/messenger-inbound.json: every customer who writes), for
-- an item without its own messages, read the conversation (its sender name) and then its last
-- messages through the Data API: two round trips per item, 200 for a batch of 100, where the house
-- rule is one call per batch. Due for Analysis already reads them with the due list
-- (pipeline_due_for_analysis). Now Analyze asks the database once for the whole batch: one row per
-- conversation asked that exists (and, with p_user_id, is that owner's), with its sender name and
-- its last p_max_messages messages oldest first, as a JSON array: one row per conversation, so a
-- batch of up to 1,000 conversations fits the Data API's 1,000 rows (max-rows) whatever the
-- messages. A conversation that is not answered is unknown (or another owner's): Analyze fails that
-- item, naming its Conversation ID, and analyses the others.
--
-- The messages are those the node read before, all of them (no p_now: as before, a message is seen
-- whatever its sent_at), the last by sent_at (then id, so equal times give one answer), each
-- { direction, text ('' for none), sent_at }, as pipeline_due_for_analysis answers them. The rows
-- come in the order the conversations are first asked. A read: it claims nothing.

create or replace function public.pipeline_conversation_messages(
  p_conversation_ids uuid[],
  p_max_messages integer default 20,
  p_user_id uuid default null
)
returns table (
  conversation_id uuid,
  sender_name text,
  messages jsonb
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
  if p_max_messages is null or p_max_messages not between 1 and 200 then
    raise exception 'p_max_messages must be between 1 and 200 (got %)', p_max_messages
      using errcode = '22023', hint = 'The model sees the last 1 to 200 messages of a conversation.';
  end if;
  return query
    with asked as (
      select a.id, min(a.n) as n
        from unnest(coalesce(p_conversation_ids, '{}')) with ordinality a (id, n)
       where a.id is not null
       group by a.id
    )
    select c.id, c.sender_name,
           coalesce((
             select jsonb_agg(jsonb_build_object('direction', m.direction, 'text', coalesce(m.text, ''), 'sent_at', m.sent_at)
                              order by m.sent_at, m.id)
               from (select mm.id, mm.direction, mm.text, mm.sent_at
                       from public.messenger_messages mm
                      where mm.conversation_id = c.id
                      order by mm.sent_at desc, mm.id desc
                      limit p_max_messages) m
           ), '[]'::jsonb)
      from asked a
      join public.messenger_conversations c on c.id = a.id
     where p_user_id is null or c.user_id = p_user_id
     order by a.n;
end;
$$;

comment on function public.pipeline_conversation_messages(uuid[], integer, uuid) is
  'The sender name and last p_max_messages messages (oldest first, a JSON array) of each conversation asked that exists and, with p_user_id, is that owner''s: one row per conversation, in the order asked, up to 1000 per call. A read.';

revoke all on function public.pipeline_conversation_messages(uuid[], integer, uuid) from public, anon, authenticated;
grant execute on function public.pipeline_conversation_messages(uuid[], integer, uuid) to service_role;
