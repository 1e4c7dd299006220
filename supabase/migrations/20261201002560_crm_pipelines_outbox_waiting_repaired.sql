-- CRM automations: the upgrade cancels the waiting webhook / notify actions an older version left to
-- go out wrongly. New: leadflow_private.pipeline_actions_moved(jsonb, jsonb),
-- leadflow_private.pipeline_outbox_cancel_reason(boolean, boolean, text, integer, jsonb, jsonb) and
-- leadflow_private.pipeline_outbox_cancel_waiting(uuid[], text[], timestamptz): the rule and the write
-- of the trigger, moved out of it so that the repair below uses the same SQL, not a second copy.
-- Re-created: leadflow_private.pipeline_automations_cancel_waiting() (otherwise as in
-- 20261201002450_crm_pipelines_edit_in_place_and_stage_lock.sql; its trigger unchanged, its revoke
-- and comment re-stated).
--
-- Why (review U): …2400 (and …2450) cancel an automation's waiting items in the transaction that
-- switches it off or moves its actions, but nothing repaired the items an older version had left
-- waiting. On a database upgraded from before …2400:
--   an automation switched off before the upgrade, with no sweep since (the claim cancelled them only
--     when it read them), had its waiting items handed out as soon as it was switched on again;
--   after "switch off, remove action A, switch on" done before the upgrade, A's waiting item was
--     handed out with the action now at its place: A's event went to B's webhook.
--
-- Repair (once, here), over every waiting item (pending or claimed, by pipeline_outbox_available_idx):
--   of an automation that is off: cancelled, `automation_inactive: …`, as the switch-off would have;
--   whose queued action (payload.action: what the firing queued, or what its last claim handed out)
--     is not the automation's action at its place now: judged as the trigger judges an edit of the
--     actions, from the actions as the firing queued them (each place with an item of the run, any
--     status: its payload.action; the other places as they are now, so they count as unchanged) to
--     the actions now: gone or of another type, or (actions inserted, removed or reordered) another
--     one now, cancelled with the trigger's words; an edit in place (a URL fixed) cancels nothing.
-- Written by the trigger's own write: pending, or claimed whose lease ended, cancelled; one under a
-- live lease (being delivered now) marked cancel_on_retry. Set-based; a database with nothing to
-- repair (a fresh install, or one repaired already) has nothing changed.

-- =============================================================================================
-- The trigger's rule and write, as private functions
-- =============================================================================================
create or replace function leadflow_private.pipeline_actions_moved(p_old jsonb, p_new jsonb)
returns boolean
language sql
immutable
set search_path = ''
as $$
  -- Moved: an action of a place that changed found unchanged at another place that changed too,
  -- before or after the edit. A match at a place that holds the same action before and after is
  -- not a move: fixing one action in place so that it equals another (two equal actions, or one
  -- made like its neighbour) leaves every other action where it was (20261201002450).
  select exists (
           select from jsonb_array_elements(p_old) with ordinality a (action, n)
            where a.action is distinct from p_new -> (a.n::integer - 1)
              and exists (select from jsonb_array_elements(p_new) with ordinality b (action, m)
                           where b.action = a.action and b.action is distinct from p_old -> (b.m::integer - 1)))
      or exists (
           select from jsonb_array_elements(p_new) with ordinality b (action, n)
            where b.action is distinct from p_old -> (b.n::integer - 1)
              and exists (select from jsonb_array_elements(p_old) with ordinality a (action, m)
                           where a.action = b.action and a.action is distinct from p_new -> (a.m::integer - 1)))
$$;
comment on function leadflow_private.pipeline_actions_moved(jsonb, jsonb) is
  'Whether an edit of an automation''s actions from p_old to p_new inserted, removed or reordered actions (an action of a changed place found at another changed place). The trigger pipeline_automations_cancel_waiting and the repair of 20261201002560 use it.';
revoke all on function leadflow_private.pipeline_actions_moved(jsonb, jsonb) from public, anon, authenticated, service_role;

create or replace function leadflow_private.pipeline_outbox_cancel_reason(
  p_off boolean,
  p_moved boolean,
  p_kind text,
  p_action_index integer,
  p_old_action jsonb,
  p_new_actions jsonb
)
returns text
language sql
immutable
set search_path = ''
as $$
  select case
    when p_off then 'automation_inactive: the automation was switched off before this action was delivered'
    when (p_new_actions -> p_action_index) is null or (p_new_actions -> p_action_index ->> 'type') is distinct from p_kind then
      'action_changed: the automation''s action ' || (p_action_index + 1) || ' is '
      || coalesce('now ' || (p_new_actions -> p_action_index ->> 'type'), 'gone') || ', no longer this ' || p_kind
    when p_moved and (p_new_actions -> p_action_index) is distinct from p_old_action then
      'action_changed: the automation''s actions were inserted, removed or reordered: action ' || (p_action_index + 1)
      || ' is now another ' || p_kind || ', not the one this was queued for'
  end
$$;
comment on function leadflow_private.pipeline_outbox_cancel_reason(boolean, boolean, text, integer, jsonb, jsonb) is
  'Why a waiting outbox item must not go out as its automation is now (null: it may): switched off; its action gone or of another type; the actions moved and its place holds another one. The trigger pipeline_automations_cancel_waiting and the repair of 20261201002560 use it.';
revoke all on function leadflow_private.pipeline_outbox_cancel_reason(boolean, boolean, text, integer, jsonb, jsonb) from public, anon, authenticated, service_role;

create or replace function leadflow_private.pipeline_outbox_cancel_waiting(p_ids uuid[], p_reasons text[], p_now timestamptz)
returns void
language plpgsql
set search_path = ''
as $$
begin
  -- Locked in id order (as pipeline_complete_outbox and pipeline_cancel_outbox lock them), then
  -- written as they are now: one settled meanwhile is left alone. Pending, or claimed with its
  -- lease ended: cancelled. Claimed under a live lease (being delivered now): marked, its holder's
  -- report decides (a retry it asks for is cancelled then); a mark already there is kept.
  perform from public.pipeline_outbox o where o.id = any (p_ids) order by o.id for update;
  update public.pipeline_outbox o
     set status = case when o.status = 'pending' or o.available_at <= p_now then 'cancelled' else o.status end,
         completed_at = case when o.status = 'pending' or o.available_at <= p_now then p_now else o.completed_at end,
         last_error = case when o.status = 'pending' or o.available_at <= p_now then c.reason else o.last_error end,
         cancel_on_retry = case when o.status = 'pending' or o.available_at <= p_now then o.cancel_on_retry
                                else coalesce(o.cancel_on_retry, c.reason) end
    from unnest(p_ids, p_reasons) c (id, reason)
   where o.id = c.id and o.status in ('pending', 'claimed');
end;
$$;
comment on function leadflow_private.pipeline_outbox_cancel_waiting(uuid[], text[], timestamptz) is
  'Cancels these outbox items with these reasons (pending, or claimed whose lease ended at p_now); one under a live lease is marked cancel_on_retry instead. The trigger pipeline_automations_cancel_waiting and the repair of 20261201002560 write with it.';
revoke all on function leadflow_private.pipeline_outbox_cancel_waiting(uuid[], text[], timestamptz) from public, anon, authenticated, service_role;

-- =============================================================================================
-- The trigger, with the rule and the write above
-- =============================================================================================
create or replace function leadflow_private.pipeline_automations_cancel_waiting()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_now timestamptz := leadflow_private.now();
  v_off boolean := old.is_active and not new.is_active;
  v_moved boolean := false;
  v_ids uuid[];
  v_reasons text[];
begin
  if not v_off then
    v_moved := leadflow_private.pipeline_actions_moved(old.actions, new.actions);
  end if;

  -- The automation's waiting items (the owner's, by pipeline_outbox_owner_idx) that must not go out
  -- as the automation is now, each with why.
  select array_agg(j.id order by j.id), array_agg(j.reason order by j.id)
    into v_ids, v_reasons
    from (
      select o.id,
             leadflow_private.pipeline_outbox_cancel_reason(v_off, v_moved, o.kind, o.action_index,
                                                            old.actions -> o.action_index, new.actions) as reason
        from public.pipeline_outbox o
       where o.user_id = new.user_id and o.status in ('pending', 'claimed') and o.automation_id = new.id
    ) j
   where j.reason is not null;
  if v_ids is null then
    return null;
  end if;

  perform leadflow_private.pipeline_outbox_cancel_waiting(v_ids, v_reasons, v_now);
  return null;
end;
$$;
comment on function leadflow_private.pipeline_automations_cancel_waiting() is
  'Trigger: an automation switched off cancels its waiting outbox items; an edit of its actions cancels those whose action is gone, of another type, or (actions inserted, removed or reordered) another one now. Items under a live lease are marked (cancel_on_retry) instead.';
revoke all on function leadflow_private.pipeline_automations_cancel_waiting() from public, anon, authenticated, service_role;

-- =============================================================================================
-- Repair: the waiting items an older version left to go out wrongly
-- =============================================================================================
do $$
declare
  v_ids uuid[];
  v_reasons text[];
begin
  with waiting as materialized (
    -- Waiting items of an automation that is off, or whose queued action is not the one at its place now.
    select o.id, o.run_id, o.kind, o.action_index, o.payload -> 'action' as queued, a.is_active, a.actions
      from public.pipeline_outbox o
      join public.pipeline_automations a on a.id = o.automation_id
     where o.status in ('pending', 'claimed')
       and (not a.is_active or (o.payload -> 'action') is distinct from (a.actions -> o.action_index))
  ),
  runs as materialized (
    -- The actions as each run (firing) of an active automation queued them: its items' actions at
    -- their places (any status), the automation's current action at every other place.
    select r.run_id, r.actions,
           (select jsonb_agg(coalesce(i.payload -> 'action', r.actions -> g.n) order by g.n)
              from generate_series(0, greatest(jsonb_array_length(r.actions),
                                               (select max(x.action_index) + 1 from public.pipeline_outbox x where x.run_id = r.run_id)) - 1) g (n)
              left join public.pipeline_outbox i on i.run_id = r.run_id and i.action_index = g.n) as queued_actions
      from (select distinct w.run_id, w.actions from waiting w where w.is_active) r
  ),
  judged as (
    select w.id,
           leadflow_private.pipeline_outbox_cancel_reason(
             not w.is_active,
             w.is_active and leadflow_private.pipeline_actions_moved(r.queued_actions, w.actions),
             w.kind, w.action_index, w.queued, w.actions) as reason
      from waiting w
      left join runs r on r.run_id = w.run_id
  )
  select array_agg(j.id order by j.id), array_agg(j.reason order by j.id)
    into v_ids, v_reasons
    from judged j
   where j.reason is not null;

  if v_ids is not null then
    perform leadflow_private.pipeline_outbox_cancel_waiting(v_ids, v_reasons, leadflow_private.now());
  end if;
end;
$$;
