-- The lead queue: a lead that is done with cancels what waits for it by that lead's key alone.
-- Re-created: leadflow_private.leads_follow_status (otherwise as in 20261201000420).
--
-- Why: when leads stop (contacted, invalid, taken over, not to be contacted), the trigger cancels
-- their waiting messages and backlog items. Both statements joined the leads to them first: for
-- Complete's 100 leads just contacted, 100 lookups in leads and then 100 in each queue by lead,
-- every time, to find nothing (Complete has just marked those messages and items sent): about 2 ms
-- of a Complete's 15-18 (auto_explain on bench/queue-claim.ts's work). Now each statement looks
-- its queue up by lead (the index on lead_id) and reads the lead's time only for a row it cancels.
-- Same rows cancelled with the same times (test/db/queue); one connection, 40 batches of 100:
-- Complete 15.0-16.8 -> 14.8-15.2 ms.

create or replace function leadflow_private.leads_follow_status()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_who record;
  v_reason text;
  v_reopen uuid[];
  v_stop uuid[];
begin
  select * into v_who from leadflow_private.queue_actor();
  if tg_op = 'INSERT' then
    insert into public.queue_ledger (user_id, queue, item_id, lead_id, from_status, to_status, actor, actor_id, reason, detail, at)
    select n.user_id, 'leads', n.id, n.id, null, n.status, v_who.actor, v_who.actor_id, coalesce(v_who.reason, 'added'), v_who.detail, n.created_at
      from new_rows n;
    insert into public.lead_processing_queue (user_id, lead_id, status, scheduled_for, dedupe_key, created_at, updated_at)
    select n.user_id, n.id, 'queued', n.created_at, 'lead:' || n.id, n.created_at, n.created_at
      from new_rows n
     where n.status = 'new'
    on conflict (user_id, dedupe_key) do nothing;
    return null;
  end if;

  -- The ledger rows of the leads whose status changed; from them, the leads to put back in the
  -- backlog and those to stop (one join of the statement's old and new rows, whatever follows).
  with changed as (
    insert into public.queue_ledger (user_id, queue, item_id, lead_id, from_status, to_status, actor, actor_id, reason, detail, at)
    select n.user_id, 'leads', n.id, n.id, o.status, n.status, v_who.actor, v_who.actor_id,
           coalesce(v_who.reason, case when n.status = 'human_controlled' then 'human_takeover' else 'updated' end), v_who.detail, n.updated_at
      from new_rows n join old_rows o on o.id = n.id
     where n.status is distinct from o.status
    returning lead_id, to_status
  )
  select array_agg(c.lead_id) filter (where c.to_status = 'new'), array_agg(c.lead_id) filter (where c.to_status not in ('new', 'queued'))
    into v_reopen, v_stop
    from changed c;

  -- Back to new: back in the backlog.
  if v_reopen is not null then
    update public.lead_processing_queue p
       set status = 'queued', day = null, lease_holder = null, lease_expires_at = null, scheduled_for = l.updated_at, updated_at = l.updated_at
      from public.leads l
     where l.id = any (v_reopen) and p.lead_id = l.id and p.status in ('sent', 'dead', 'cancelled');
    insert into public.lead_processing_queue (user_id, lead_id, status, scheduled_for, dedupe_key, created_at, updated_at)
    select l.user_id, l.id, 'queued', l.updated_at, 'lead:' || l.id, l.updated_at, l.updated_at
      from public.leads l
     where l.id = any (v_reopen)
    on conflict (user_id, dedupe_key) do nothing;
  end if;

  -- Done with, taken over or not to be contacted: nothing waits for it any more.
  -- Their ledger rows say why from the lead's status (not the reason of the statement that fired
  -- this one).
  if v_stop is not null then
    v_reason := pg_catalog.current_setting('leadflow.queue_reason', true);
    perform pg_catalog.set_config('leadflow.queue_reason', '', true);
    update public.whatsapp_message_queue q
       set status = 'cancelled', lease_expires_at = null,
           completed_at = (select l.updated_at from public.leads l where l.id = q.lead_id),
           updated_at = (select l.updated_at from public.leads l where l.id = q.lead_id)
     where q.lead_id = any (v_stop) and q.status in ('queued', 'claimed', 'failed');
    update public.lead_processing_queue p
       set status = 'cancelled', updated_at = (select l.updated_at from public.leads l where l.id = p.lead_id)
     where p.lead_id = any (v_stop) and p.status in ('queued', 'claimed');
    perform pg_catalog.set_config('leadflow.queue_reason', coalesce(v_reason, ''), true);
  end if;
  return null;
end;
$$;
