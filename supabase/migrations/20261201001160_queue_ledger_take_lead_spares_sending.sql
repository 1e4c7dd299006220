-- Take Lead leaves a message whose send began to its worker: Complete records it sent (with its
-- wamid) or dead, and Take Lead's answer says it was being sent.
-- Re-created: public.queue_take_lead (its answer gains `sending`; otherwise as in
-- 20261201001040) and leadflow_private.leads_follow_status (otherwise as in 20261201000930).
-- New: leadflow_private.queue_message_lead_stopped and its trigger
-- whatsapp_message_queue_lead_stopped.
--
-- Why: Take Lead (and any change of a lead to a status but new or queued: the leads' trigger)
-- cancelled the lead's `claimed` messages even when queue_begin_send had already let them go to
-- Meta (send_started_at set, 20261201001100). The worker's Complete (`sent`, with the wamid) was
-- then refused `cancelled`: the ledger said cancelled for a message the lead received, its
-- message_id was lost, the metrics counted sent 0 cancelled 1 and the console said "1 waiting
-- queue item cancelled". A message whose send began is no longer waiting: it may be out.
--
-- Now:
--   queue_take_lead      cancels what has not begun sending (queued and failed messages, claimed
--                        ones whose send never began, the backlog item unless its message is being
--                        sent), makes the lead human_controlled and stops its follow-ups, as
--                        before, and leaves a claimed message whose send began to its worker, with
--                        its backlog item. Its answer gains `sending`: those messages
--                        ([{"item_id", "send_started_at", "worker"}], [] when none), so the person
--                        knows one may have reached the lead. `cancelled` lists what it cancelled,
--                        as before. The return type changes, so it is dropped and created again
--                        (same arguments, grants and comment re-stated).
--   leads_follow_status  the same rule whoever changes the lead (the owner's app, n8n): a claimed
--                        message whose send began, and its backlog item, are not cancelled.
--   Complete             unchanged. Such a message ends as its worker reports: `sent` (message id
--                        kept, the backlog item sent; the lead stays human_controlled: Complete
--                        makes only new or queued leads contacted), `dead` (its backlog item dead;
--                        the lead stays), or, after its lease ran out unreported, dead `uncertain`
--                        by the next Claim (20261201001100).
--   whatsapp_message_queue_lead_stopped  a BEFORE UPDATE row trigger, fired only when a claimed
--                        message goes back to waiting (failed, to be retried, or queued, released
--                        untried): if its lead is no longer new or queued, the message is
--                        cancelled instead (its error kept in last_error; the ledger row
--                        claimed -> cancelled, reason human_takeover or lead_<status>, its worker),
--                        with its backlog item: nothing is retried for a lead a person took. It
--                        reads the lead FOR SHARE: a Take Lead changing the lead at that moment
--                        either waits for this write (and its trigger then cancels the failed
--                        message) or is seen by it. Complete's answer for it: accepted, status
--                        cancelled. One index lookup per failed or released result; a sent one
--                        never fires it.

-- =============================================================================================
-- A claimed message going back to waiting for a lead that stopped: cancelled instead
-- =============================================================================================
create or replace function leadflow_private.queue_message_lead_stopped()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_status text;
begin
  -- Locked whatever its status: a take-over of this lead waits for this write to commit.
  select l.status into v_status from public.leads l where l.id = new.lead_id for share;
  if v_status not in ('new', 'queued') then
    new.status := 'cancelled';
    new.scheduled_for := old.scheduled_for;
    new.lease_expires_at := null;
    new.completed_at := new.updated_at;
    update public.lead_processing_queue p
       set status = 'cancelled', updated_at = new.updated_at
     where p.lead_id = new.lead_id and p.status = 'claimed';
  end if;
  return new;
end;
$$;
revoke all on function leadflow_private.queue_message_lead_stopped() from public, anon, authenticated, service_role;

drop trigger if exists whatsapp_message_queue_lead_stopped on public.whatsapp_message_queue;
create trigger whatsapp_message_queue_lead_stopped
  before update on public.whatsapp_message_queue
  for each row when (old.status = 'claimed' and new.status in ('queued', 'failed'))
  execute function leadflow_private.queue_message_lead_stopped();

-- =============================================================================================
-- leads_follow_status: a message whose send began is not cancelled
-- =============================================================================================
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
  return null;
end;
$$;

-- =============================================================================================
-- queue_take_lead: what is being sent is left to its worker, and said
-- =============================================================================================
drop function if exists public.queue_take_lead(uuid, uuid, text, timestamptz, uuid);
create function public.queue_take_lead(
  p_lead_id uuid,
  p_actor_id uuid default null,
  p_reason text default null,
  p_now timestamptz default leadflow_private.now(),
  p_user_id uuid default null
)
returns table (lead_id uuid, user_id uuid, status text, already_taken boolean, cancelled jsonb, stopped_rules integer, sending jsonb)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_lead record;
  v_take_over uuid := gen_random_uuid();
  v_detail jsonb;
  v_changed integer;
  v_rules integer := 0;
  v_cancelled jsonb;
  v_sending jsonb;
  v_note text;
begin
  if p_lead_id is null then
    raise exception 'p_lead_id: required, the lead to take over' using errcode = '22023';
  end if;
  v_note := btrim(p_reason, E' \t\n\r\u2028\u2029');
  if p_reason is not null and (length(v_note) not between 1 and 2000 or not leadflow_private.is_valid_text(p_reason, 'multiline')) then
    raise exception 'p_reason: must be text of 1 to 2000 characters (line breaks allowed), or null' using errcode = '22023';
  end if;
  select l.user_id, l.conversation_id into v_lead from public.leads l where l.id = p_lead_id and (p_user_id is null or l.user_id = p_user_id);
  if not found then
    raise exception 'p_lead_id: lead % does not exist%', p_lead_id, case when p_user_id is not null then ' for user ' || p_user_id else '' end
      using errcode = 'P0002', hint = 'Use an id from leads (of that owner).';
  end if;
  if p_actor_id is not null and not p_actor_id = any (leadflow_private.queue_known_users(array[p_actor_id])) then
    raise exception 'p_actor_id: user % does not exist', p_actor_id
      using errcode = '22023', hint = 'Pass the id of the person taking the lead over (auth.users), or leave it out.';
  end if;

  v_detail := jsonb_strip_nulls(jsonb_build_object('take_over_id', v_take_over, 'note', v_note));
  perform leadflow_private.queue_set_actor('user', p_actor_id, 'human_takeover', v_detail);
  -- Messages, backlog item, lead: the lock order. What has not begun sending is cancelled; a
  -- claimed message whose send began (it may be out) and its backlog item are left to its
  -- worker's Complete.
  update public.whatsapp_message_queue q
     set status = 'cancelled', lease_expires_at = null, completed_at = p_now, updated_at = p_now
   where q.lead_id = p_lead_id and q.status in ('queued', 'claimed', 'failed')
     and (q.status <> 'claimed' or q.send_started_at is null);
  update public.lead_processing_queue p
     set status = 'cancelled', updated_at = p_now
   where p.lead_id = p_lead_id and p.status in ('queued', 'claimed')
     and not exists (select from public.whatsapp_message_queue q
                      where q.lead_id = p.lead_id and q.status = 'claimed' and q.send_started_at is not null);
  -- (Its trigger cancels what a concurrent queue_prepare queued meanwhile, with the same detail.)
  update public.leads l
     set status = 'human_controlled', taken_over_at = p_now, taken_over_by = p_actor_id, updated_at = p_now
   where l.id = p_lead_id and l.status <> 'human_controlled';
  get diagnostics v_changed = row_count;

  if v_lead.conversation_id is not null then
    select count(*) into v_rules
      from public.ai_automation_rules r
      join public.messenger_conversations c on c.id = v_lead.conversation_id
     where r.user_id = v_lead.user_id and r.enabled and (r.page_id is null or r.page_id = c.page_id)
       and not exists (select from public.ai_automation_stops s
                        where s.conversation_id = v_lead.conversation_id and (s.rule_id is null or s.rule_id = r.id));
    insert into public.ai_automation_stops (user_id, conversation_id, rule_id, reason, note)
    values (v_lead.user_id, v_lead.conversation_id, null, 'human_takeover', coalesce(v_note, 'lead taken over (' || p_lead_id || ')'))
    on conflict (conversation_id, rule_id) do nothing;
  end if;
  perform leadflow_private.queue_set_actor(null);

  select coalesce(jsonb_agg(jsonb_build_object('queue', g.queue, 'item_id', g.item_id, 'from_status', g.from_status) order by g.id), '[]'::jsonb)
    into v_cancelled
    from public.queue_ledger g
   where g.lead_id = p_lead_id and g.to_status = 'cancelled' and g.detail ->> 'take_over_id' = v_take_over::text;
  -- The lead's messages being sent now: left to their worker, maybe delivered.
  select coalesce(jsonb_agg(jsonb_build_object('item_id', q.id, 'send_started_at', q.send_started_at, 'worker', q.lease_holder)
                            order by q.send_started_at, q.id), '[]'::jsonb)
    into v_sending
    from public.whatsapp_message_queue q
   where q.lead_id = p_lead_id and q.status = 'claimed' and q.send_started_at is not null;

  return query select p_lead_id, v_lead.user_id, 'human_controlled'::text, v_changed = 0, v_cancelled, v_rules, v_sending;
end;
$$;
comment on function public.queue_take_lead(uuid, uuid, text, timestamptz, uuid) is
  'A person takes a lead over in one transaction: its waiting messages and backlog item cancelled, the lead human_controlled, its follow-ups stopped; a message whose send began is left to its worker''s Complete and listed in sending; harmless twice.';
revoke all on function public.queue_take_lead(uuid, uuid, text, timestamptz, uuid) from public, anon, authenticated;
grant execute on function public.queue_take_lead(uuid, uuid, text, timestamptz, uuid) to service_role;
