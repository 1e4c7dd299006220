-- A queued message's text stays fixed, checked only by an UPDATE that sets it. New:
-- leadflow_private.queue_message_fixed and its trigger whatsapp_message_queue_message_fixed (BEFORE
-- UPDATE OF message, per row, when the message differs). Re-created:
-- leadflow_private.queue_items_ledger (otherwise as in 20261201000430), without that check.
--
-- Why: the ledger trigger, run once per UPDATE statement on whatsapp_message_queue, compared every
-- updated row's message with its old one (new_rows joined to old_rows) to refuse a rewrite. Claim and
-- Complete never set the message, yet each paid for that join: in bench/queue-claim.ts --profile it
-- was about a quarter of queue_claim's time and an eighth of queue_complete's. A trigger `OF message`
-- is not even called by an UPDATE whose SET list leaves the message out; one that sets it is refused
-- as before (23514, the same message and hint), now before the row is written.

create or replace function leadflow_private.queue_items_ledger()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_who record;
  v_bad record;
begin
  select * into v_who from leadflow_private.queue_actor();
  if tg_op = 'INSERT' then
    select n.id, n.status into v_bad from new_rows n
     where not leadflow_private.queue_transition_allowed(tg_table_name, null, n.status) limit 1;
    if found then
      raise exception '%: an item is inserted queued (item % was inserted %)', tg_table_name, v_bad.id, v_bad.status
        using errcode = '23514';
    end if;
    -- A message's content, once per distinct message (a day's queue shares its owner's).
    if tg_table_name = 'whatsapp_message_queue' then
      perform leadflow_private.queue_message_valid(m.message) from (select distinct n.message from new_rows n) m;
    end if;
    insert into public.queue_ledger (user_id, queue, item_id, lead_id, day, from_status, to_status, attempt, worker,
                                     actor, actor_id, reason, detail, scheduled_for, at)
    select n.user_id, tg_table_name, n.id, n.lead_id, case when tg_table_name = 'whatsapp_message_queue' then n.day end,
           null, n.status, n.attempts, null, v_who.actor, v_who.actor_id,
           coalesce(v_who.reason, case when tg_table_name = 'whatsapp_message_queue' then 'prepared' else 'added' end),
           v_who.detail, n.scheduled_for, n.created_at
      from new_rows n;
  else
    -- (What a message says is fixed once it is queued: checked per row by queue_message_fixed, only
    -- when an UPDATE sets the message.)
    insert into public.queue_ledger (user_id, queue, item_id, lead_id, day, from_status, to_status, attempt, worker,
                                     actor, actor_id, reason, detail, scheduled_for, at)
    select n.user_id, tg_table_name, n.id, n.lead_id, case when tg_table_name = 'whatsapp_message_queue' then n.day end,
           o.status,
           -- The status machine: a move it does not allow fails the statement.
           case when n.status is not distinct from o.status or leadflow_private.queue_transition_allowed(tg_table_name, o.status, n.status)
                then n.status else leadflow_private.queue_refuse_transition(tg_table_name, n.id, o.status, n.status) end,
           n.attempts,
           case when n.status = 'claimed' then n.lease_holder when o.status = 'claimed' then o.lease_holder end,
           v_who.actor, v_who.actor_id,
           coalesce(v_who.reason, case
             when n.status = 'claimed' and o.status = 'claimed' then 'lease_expired'
             when n.status = 'claimed' then 'claimed'
             when n.status = 'sent' then 'sent'
             when n.status = 'failed' then 'send_failed'
             when n.status = 'dead' and (n.last_error ->> 'permanent') = 'true' then 'permanent_error'
             when n.status = 'dead' then 'max_attempts'
             when n.status = 'queued' and o.status = 'claimed' then 'released'
             when n.status = 'queued' then 'reopened'
             -- Cancelled by a change of its lead (the lead's new status is visible here).
             when n.status = 'cancelled' then (select case when l.status = 'human_controlled' then 'human_takeover' else 'lead_' || l.status end
                                                  from public.leads l where l.id = n.lead_id)
             else 'updated'
           end),
           coalesce(case when n.status = 'sent' and n.message_id is not null then jsonb_build_object('message_id', n.message_id)
                         when n.status in ('failed', 'dead') then n.last_error end,
                    v_who.detail),
           case when n.status in ('queued', 'failed') then n.scheduled_for end,
           n.updated_at
      from new_rows n join old_rows o on o.id = n.id
     where n.status is distinct from o.status or n.attempts is distinct from o.attempts
        or n.lease_holder is distinct from o.lease_holder;
  end if;
  return null;
end;
$$;


create or replace function leadflow_private.queue_message_fixed()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  raise exception 'whatsapp_message_queue: the message of item % cannot change once queued', new.id
    using errcode = '23514', hint = 'Cancel it and queue another (queue_prepare uses the settings'' message).';
end;
$$;

comment on function leadflow_private.queue_message_fixed() is
  'Refuses a change of a queued WhatsApp message''s content (what the ledger and the export say was sent).';

revoke all on function leadflow_private.queue_message_fixed() from public, anon, authenticated;

drop trigger if exists whatsapp_message_queue_message_fixed on public.whatsapp_message_queue;
create trigger whatsapp_message_queue_message_fixed
  before update of message on public.whatsapp_message_queue
  for each row
  when (old.message is distinct from new.message)
  execute function leadflow_private.queue_message_fixed();
