-- Stop on reply: a reply stops the contact when it is newer than any follow-up sent to the person,
-- also when that follow-up is only recorded as sent after the reply, or the reply only after a later
-- follow-up was sent.
-- Re-created: leadflow_private.ai_automation_stop_on_reply (the trigger function; its last definition
-- is 20261201001740_messenger_reply_race_stop_on_reply.sql; the trigger on messenger_conversations is
-- unchanged and not re-created). Its grants are given again as there: none to any API role.
-- New: leadflow_private.ai_automation_stop_on_settled_reply and its trigger on
-- ai_automation_contact_states, for a follow-up recorded as sent after its send was uncertain.
--
-- Why: two ways a person who answered a follow-up was sent the next one (a review reproduced both):
--   1. Follow-up #1 ends send_uncertain (Facebook's answer lost, or the reaper took the send over)
--      though it arrived; the person answers it; then #1 is recorded sent: Meta's retried delivery
--      of the app's own echo (messenger_record_events settles it) or the slow sender's own late
--      "sent" report (automation_record_send). When the reply came, the trigger compared it with
--      last_follow_up_at (null: nothing sent yet) or with the claim while one is under way (none:
--      the contact was failed), so it stopped nothing; when #1 became sent, nothing looked at the
--      reply (the trigger fires on the conversation's update, not on the send's record). #2 was
--      claimed and sent.
--   2. A reply to #1 that only Messenger Sync records, after #2 went out (the webhook missed it),
--      was compared with #2 (the last follow-up sent), not with #1: no stop, #3 was claimed.
--
-- Now:
--   * The trigger on a new customer message stops the contact for a rule with stop on reply when
--     the message is newer than any follow-up of that rule sent to the person (a guard row `sent`,
--     its attempted_at: the send's begin, as last_follow_up_at), not only the last one; with none
--     sent yet, newer than the claim of the first while it is under way (unchanged). The last
--     follow-up is tried first; the ledger is read only when the message is older than it, one
--     probe of ai_automation_executions_contact_idx (conversation, rule, attempted_at).
--   * When a contact whose send was uncertain is recorded sent (failed → sent or completed: the
--     echo's settlement or the late report), it is stopped for the rule if the person wrote after
--     that send began (the conversation's last_customer_message_at).
-- Decisions:
--   * An uncertain send does not count as sent for the trigger: a message after it stops nothing
--     while it stays uncertain (the message may have arrived or not; the contact is failed and gets
--     nothing by itself). Settled as sent, the stop is written then; requeued as not delivered
--     (Requeue Them (Checked Not Delivered)), the person's message was no reply and the follow-up
--     goes out again.
--   * "Any follow-up sent" rather than the one just before the message: there is one sequence per
--     rule and contact (follow_up_count never goes back), and a message newer than a sent follow-up
--     stops the contact whenever it reaches the database, as it would have on time. A contact whose
--     stop the owner deleted (resumed) is stopped again by a message the database had not seen when
--     they resumed, written after a follow-up, even one older than the follow-ups sent since; the
--     message the stop was about, and any older than it, never stop it again (the trigger fires only
--     when last_customer_message_at moves forward).
--   * Every contact the trigger stopped before is still stopped (the last follow-up is one of those
--     sent); the new stops are the late ones above.

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
     and (
       -- Newer than the last follow-up sent,
       new.last_customer_message_at > s.last_follow_up_at
       -- or than an earlier one (a reply stored after a later follow-up was sent),
       or (s.last_follow_up_at is not null
           and exists (select from public.ai_automation_executions e
                        where e.conversation_id = s.conversation_id and e.rule_id = s.rule_id
                          and e.attempted_at < new.last_customer_message_at and e.status = 'sent'))
       -- or, with none sent yet, than the claim of the first while it is under way.
       or (s.last_follow_up_at is null
           and s.current_stage in ('checking', 'eligible', 'generating', 'ready_to_send', 'sending')
           and new.last_customer_message_at > s.claimed_at)
     )
  on conflict (conversation_id, rule_id) do nothing;
  return null;
end;
$$;

revoke all on function leadflow_private.ai_automation_stop_on_reply() from public, anon, authenticated, service_role;

-- A follow-up recorded as sent after its send was uncertain: the person may have answered it in the
-- meantime (their message was compared with nothing sent then).
create or replace function leadflow_private.ai_automation_stop_on_settled_reply()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into public.ai_automation_stops (user_id, conversation_id, rule_id, reason, note)
  select new.user_id, new.conversation_id, new.rule_id, 'replied', 'customer message at ' || c.last_customer_message_at
    from public.ai_automation_rules r, public.messenger_conversations c
   where r.id = new.rule_id
     and r.stop_on_reply
     and c.id = new.conversation_id
     and c.last_customer_message_at > new.last_follow_up_at
  on conflict (conversation_id, rule_id) do nothing;
  return null;
end;
$$;

revoke all on function leadflow_private.ai_automation_stop_on_settled_reply() from public, anon, authenticated, service_role;

drop trigger if exists ai_automation_stop_on_settled_reply on public.ai_automation_contact_states;
create trigger ai_automation_stop_on_settled_reply
  after update of current_stage on public.ai_automation_contact_states
  for each row when (old.current_stage = 'failed' and new.current_stage in ('sent', 'completed') and new.last_follow_up_at is not null)
  execute function leadflow_private.ai_automation_stop_on_settled_reply();
