-- Stop on reply: a reply to a sent follow-up stops the contact even when it is stored after the
-- next follow-up was claimed.
-- Re-created: leadflow_private.ai_automation_stop_on_reply (the trigger function of
-- 20261122000200_follow_up_automation.sql, its only definition; the trigger on
-- messenger_conversations is unchanged and not re-created). Its grants are given again as there:
-- none to any API role.
--
-- Why: the trigger stopped a contact for a customer message after
-- greatest(last_follow_up_at, claimed_at while a claim is under way). So while follow-up #2 was
-- claimed (checking … sending), a reply to follow-up #1 written before that claim but stored after
-- it (Meta's webhook a few seconds late, Messenger Sync importing it later) was compared with the
-- claim, not with #1: no stop. automation_begin_send, which compares the same way, sent #2; once #2
-- was recorded the reply was older than last_follow_up_at, so nothing ever stopped the contact and
-- #3 was claimed at the next interval, to a person who had answered. docs/messenger.md promises a
-- reply stops the contact when it is newer than a follow-up sent to the person.
--
-- Now the message is compared with the last follow-up sent (last_follow_up_at, the send's start
-- since 20261201001480_follow_up_sent_at_send_start.sql), and with the claim only when none was sent
-- yet (last_follow_up_at null) and one is under way. Decisions:
--   * A contact sent a follow-up is stopped by any customer message after it, whether a next one is
--     claimed or not: the race above stops it, and automation_begin_send (not changed) sees the stop
--     row and skips the claimed follow-up as stopped, no guard taken.
--   * A contact never sent one is stopped only by a message after the claim of its first, while that
--     claim is under way (a message from before the claim is what made it due), and never while no
--     follow-up is under way: a first follow-up refused for the window stays not stopped, due when
--     the person writes (20261201001660_follow_up_window_refusal_not_due.sql).
--   * Where last_follow_up_at is set, the old comparison's greatest() was at least last_follow_up_at,
--     so every contact it stopped is still stopped; the only new stops are messages between the last
--     follow-up sent and a claim under way, stored after that claim.
--   * Resuming a contact by deleting its stop still works: the trigger fires only when
--     last_customer_message_at moves forward, so the message the stop was about never stops it
--     again, and automation_begin_send still compares with the claim. A later message that moves
--     last_customer_message_at stops it again, as before, now also one written before the next
--     claim and stored after it (it too is newer than the follow-up sent).

create or replace function leadflow_private.ai_automation_stop_on_reply()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into public.ai_automation_stops (user_id, conversation_id, rule_id, reason, note)
  select s.user_id, s.conversation_id, s.rule_id, 'replied', 'customer message at ' || new.last_customer_message_at
    from public.ai_automation_contact_states s
    join public.ai_automation_rules r on r.id = s.rule_id
   where s.conversation_id = new.id
     and r.stop_on_reply
     -- Newer than the last follow-up sent; with none sent yet, newer than the claim of the first
     -- while it is under way.
     and new.last_customer_message_at > coalesce(
       s.last_follow_up_at,
       case when s.current_stage in ('checking', 'eligible', 'generating', 'ready_to_send', 'sending') then s.claimed_at end
     )
  on conflict (conversation_id, rule_id) do nothing;
  return null;
end;
$$;

revoke all on function leadflow_private.ai_automation_stop_on_reply() from public, anon, authenticated, service_role;
