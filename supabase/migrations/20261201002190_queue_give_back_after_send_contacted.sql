-- A lead given back after its first message went out is contacted: it is never queued, and messaged,
-- a second time.
-- Re-created: leadflow_private.leads_follow_status (otherwise as in
-- 20261201001720_queue_lead_follows_phone_and_session.sql; a trigger function, its revokes stay).
--
-- Why (review R8, 1): a lead taken over (queue_take_lead, or the owner's app setting
-- human_controlled) while its message was being sent keeps that message for its worker (it may be
-- out). Meta accepts it; queue_complete records it sent, its backlog item sent, and makes only a new
-- or queued lead contacted, so the lead stays human_controlled. Given back (set to new), the leads'
-- trigger put every sent, dead or cancelled backlog item back in the queue: the next Prepare queued
-- the lead again and the person got the first message twice. Given back a moment earlier, before
-- Complete recorded the send, the same lead ends contacted (queue_complete, reason message_sent)
-- and nothing more is sent.
--
-- Now: a lead that goes from human_controlled to new (given back, whoever writes it) whose backlog
-- item is sent (its last automated message went out) is made contacted at the end of the same
-- statement, as Complete makes a lead given back before the send was recorded: ledger rows
-- human_controlled -> new (the writer's, as before) then new -> contacted (actor automation, reason
-- message_sent, at the give-back's updated_at), its backlog item left sent. Its campaign sessions
-- were marked contacted by the send already (the earliest contacted_at is kept).
-- Unchanged: a lead given back whose backlog item is dead (its message died, or its send was
-- uncertain: new is how the owner has it sent again) or cancelled (taken before its send began, or
-- its failed send cancelled) goes back in the backlog; so does a lead set to new from any other
-- status (contacted included: the owner asking for the first message again).
-- (The update's own RETURNING, computed before this after-statement trigger, still shows new; the
-- row read back is contacted.)

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
  v_given_back uuid[];
  v_contacted uuid[];
  v_settings text[];
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
  -- backlog, those to stop, and those given back by a person (one join of the statement's old and
  -- new rows, whatever follows).
  with changed as (
    insert into public.queue_ledger (user_id, queue, item_id, lead_id, from_status, to_status, actor, actor_id, reason, detail, at)
    select n.user_id, 'leads', n.id, n.id, o.status, n.status, v_who.actor, v_who.actor_id,
           coalesce(v_who.reason, case when n.status = 'human_controlled' then 'human_takeover'
                                        -- Its phone removed while its message waited: back in the backlog
                                        -- (leads_waiting_messages_follow_phone), without a number.
                                        when n.status = 'new' and o.status = 'queued' and n.phone is null and o.phone is not null then 'phone_removed'
                                        else 'updated' end), v_who.detail, n.updated_at
      from new_rows n join old_rows o on o.id = n.id
     where n.status is distinct from o.status
    returning lead_id, from_status, to_status
  )
  select array_agg(c.lead_id) filter (where c.to_status = 'new'), array_agg(c.lead_id) filter (where c.to_status not in ('new', 'queued')),
         array_agg(c.lead_id) filter (where c.to_status = 'new' and c.from_status = 'human_controlled')
    into v_reopen, v_stop, v_given_back
    from changed c;

  -- Given back after its message went out (taken over while it was being sent, or after): its
  -- backlog item is sent. It is contacted, below, its backlog item left as it is.
  if v_given_back is not null then
    select array_agg(p.lead_id) into v_contacted
      from public.lead_processing_queue p
     where p.lead_id = any (v_given_back) and p.status = 'sent';
  end if;

  -- Back to new: back in the backlog.
  if v_reopen is not null then
    update public.lead_processing_queue p
       set status = 'queued', day = null, lease_holder = null, lease_expires_at = null, scheduled_for = l.updated_at, updated_at = l.updated_at
      from public.leads l
     where l.id = any (v_reopen) and p.lead_id = l.id and p.status in ('sent', 'dead', 'cancelled')
       and not (l.id = any (coalesce(v_contacted, '{}')));
    insert into public.lead_processing_queue (user_id, lead_id, status, scheduled_for, dedupe_key, created_at, updated_at)
    select l.user_id, l.id, 'queued', l.updated_at, 'lead:' || l.id, l.updated_at, l.updated_at
      from public.leads l
     where l.id = any (v_reopen)
    on conflict (user_id, dedupe_key) do nothing;
  end if;

  -- Done with, taken over or not to be contacted: nothing waits for it any more. A claimed
  -- message whose send began is not waiting (it may be out): its worker's Complete records it,
  -- and its backlog item with it.
  -- Their ledger rows say why from the lead's status (not the reason of the statement that fired
  -- this one).
  if v_stop is not null then
    v_reason := pg_catalog.current_setting('leadflow.queue_reason', true);
    perform pg_catalog.set_config('leadflow.queue_reason', '', true);
    if exists (select from public.whatsapp_message_queue q
                where q.lead_id = any (v_stop) and q.status in ('queued', 'claimed', 'failed')
                  and (q.status <> 'claimed' or q.send_started_at is null)) then
      update public.whatsapp_message_queue q
         set status = 'cancelled', lease_expires_at = null, (completed_at, updated_at) = (select l.updated_at, l.updated_at from public.leads l where l.id = q.lead_id)
       where q.lead_id = any (v_stop) and q.status in ('queued', 'claimed', 'failed')
         and (q.status <> 'claimed' or q.send_started_at is null);
    end if;
    if exists (select from public.lead_processing_queue p where p.lead_id = any (v_stop) and p.status in ('queued', 'claimed')) then
      update public.lead_processing_queue p
         set status = 'cancelled', updated_at = (select l.updated_at from public.leads l where l.id = p.lead_id)
       where p.lead_id = any (v_stop) and p.status in ('queued', 'claimed')
         and not exists (select from public.whatsapp_message_queue q
                          where q.lead_id = p.lead_id and q.status = 'claimed' and q.send_started_at is not null);
    end if;
    perform pg_catalog.set_config('leadflow.queue_reason', coalesce(v_reason, ''), true);
  end if;

  -- The leads given back after their message went out: contacted, as queue_complete makes a lead
  -- given back before it recorded the send (actor automation, reason message_sent), at the time of
  -- the give-back (the queue's actor set: leads_touch_updated_at keeps updated_at). This trigger
  -- runs again for that update (its ledger row; nothing waits for the lead). The statement's own
  -- actor settings are put back after it.
  if v_contacted is not null then
    v_settings := array[pg_catalog.current_setting('leadflow.queue_actor', true), pg_catalog.current_setting('leadflow.queue_actor_id', true),
                        pg_catalog.current_setting('leadflow.queue_reason', true), pg_catalog.current_setting('leadflow.queue_detail', true)];
    perform leadflow_private.queue_set_actor('automation', null, 'message_sent');
    update public.leads l set status = 'contacted' where l.id = any (v_contacted) and l.status = 'new';
    perform pg_catalog.set_config('leadflow.queue_actor', coalesce(v_settings[1], ''), true),
            pg_catalog.set_config('leadflow.queue_actor_id', coalesce(v_settings[2], ''), true),
            pg_catalog.set_config('leadflow.queue_reason', coalesce(v_settings[3], ''), true),
            pg_catalog.set_config('leadflow.queue_detail', coalesce(v_settings[4], ''), true);
  end if;
  return null;
end;
$$;
