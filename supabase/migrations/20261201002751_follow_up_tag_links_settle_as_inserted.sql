-- Follow-up / CRM pipelines: the tag links' window copy is checked against the links as inserted,
-- and only a link whose copy differs is looked up again (issue 11: Assign of 10,000 faster).
-- Re-created: leadflow_private.conversation_tags_settle_window() (otherwise as in
-- 20261201002310_follow_up_window_copy_and_due_in_hours.sql: the same lock, first, in id order;
-- same trigger, grants and comment).
--
-- Why: after each insert into conversation_tags, the statement's step compared every new link's
-- copy of its conversation's last_customer_message_at with the conversation's by reading the link
-- again by its key (a probe of conversation_tags_pkey per link, ~15,000 in the Assign of 10,000
-- contacts and its re-evaluation), to find the few (none unless a message was being recorded, or
-- the writer gave no time or another) to set. The new links as inserted are in the statement's
-- transition table (new_links) already, and are still as inserted: no other transaction can change
-- a row this one has not committed, and an insert statement does not change its own rows again (an
-- upsert that met a row it inserted fails). So the comparison is made on new_links, and only the
-- links whose copy differs are read again, by their key, and set: the same links are set to the
-- same times as before.
-- Test: test/db/follow-up/tag-window-copy.test.ts, test/db/follow-up/tag-window-copy-concurrent.test.ts.

create or replace function leadflow_private.conversation_tags_settle_window()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform from public.messenger_conversations c
   where c.id in (select distinct n.conversation_id from new_links n)
   order by c.id
     for share of c;
  -- A new statement: it reads the times committed by the transactions the lock waited for. The new
  -- links are compared as inserted (new_links: no one else can change a row not yet committed, and
  -- an insert statement changes none of its rows again); only those whose copy differs are then
  -- found by their key and set.
  update public.conversation_tags ct
     set last_customer_message_at = s.last_customer_message_at
    from (
      select n.conversation_id, n.tag_id, c.last_customer_message_at
        from new_links n
        join public.messenger_conversations c on c.id = n.conversation_id
       where n.last_customer_message_at is distinct from c.last_customer_message_at
      offset 0
    ) s
   where ct.conversation_id = s.conversation_id and ct.tag_id = s.tag_id;
  return null;
end;
$$;
comment on function leadflow_private.conversation_tags_settle_window() is
  'After an insert into conversation_tags: locks the new links'' conversations FOR SHARE in id order (waiting for a message being recorded, and making one that comes meanwhile wait for the commit), then sets each new link''s last_customer_message_at copy to its conversation''s where it differs.';
revoke all on function leadflow_private.conversation_tags_settle_window() from public, anon, authenticated, service_role;
