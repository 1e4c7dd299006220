-- CRM automations: two defects of migration 20261201002400 found by review S2.
-- Re-created: leadflow_private.pipeline_automations_cancel_waiting() (otherwise as in
-- 20261201002400_crm_pipelines_automation_off_cancels_and_stage_in_use.sql) and
-- leadflow_private.pipeline_automations_validate() (otherwise as in 20261201000300_crm_pipelines.sql);
-- their triggers, grants and comments are unchanged (the revoke and comment of the first re-stated).
--
-- Why (1): the check "the edit inserted, removed or reordered actions" counted an action as found
-- at another place whenever an equal action stood anywhere in the other list, even at a place that
-- holds that same action before and after the edit. So an edit in place that made one action equal
-- to another cancelled a waiting item as "inserted, removed or reordered": [notify email, notify
-- slack] with the first's channel set to slack cancelled the first's item; [A, A, B] with the second
-- A's URL fixed cancelled the second's; [A, B] with B's URL set to A's cancelled B's. Nothing had
-- moved, and the fixed action was never delivered. Now a match counts only at a place whose action
-- changed in the edit (an action that left a changed place and is found at another changed place):
-- an insert, a removal or a swap still moves the actions after it and is caught as before.
--
-- Why (2): pipeline_automations_validate read the stages an automation names (trigger conditions,
-- move_to_stage targets) without a lock, and pipeline_stages_keep_automations (20261201002400) reads
-- the automations without one. With a stage delete and an automation naming it saved at the same
-- time (two requests of the owner's app), neither saw the other: the stage went and the automation
-- was saved naming it, active on a stage id that no longer exists (never fires, refuses every later
-- edit). Now the validation locks the stages it finds FOR KEY SHARE (which a delete conflicts with,
-- and a rename or a reorder does not): a delete begun first is waited for, and the stage is then
-- not found, so the save is refused (23503, naming the field); a save begun first makes the delete
-- wait, and the delete's trigger then sees the automation and refuses (23503, naming it). The lock
-- needs the caller's UPDATE right on the stage, which its owner has (the policy "Owners can update
-- their pipeline stages"); the service role bypasses row level security.

-- =============================================================================================
-- (1) Actions moved: a match counts only at a place whose action changed
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
    -- Moved: an action of a place that changed found unchanged at another place that changed too,
    -- before or after the edit. A match at a place that holds the same action before and after is
    -- not a move: fixing one action in place so that it equals another (two equal actions, or one
    -- made like its neighbour) leaves every other action where it was (20261201002450).
    v_moved := exists (
        select from jsonb_array_elements(old.actions) with ordinality a (action, n)
         where a.action is distinct from new.actions -> (a.n::integer - 1)
           and exists (select from jsonb_array_elements(new.actions) with ordinality b (action, m)
                        where b.action = a.action and b.action is distinct from old.actions -> (b.m::integer - 1)))
      or exists (
        select from jsonb_array_elements(new.actions) with ordinality b (action, n)
         where b.action is distinct from old.actions -> (b.n::integer - 1)
           and exists (select from jsonb_array_elements(old.actions) with ordinality a (action, m)
                        where a.action = b.action and a.action is distinct from new.actions -> (a.m::integer - 1)));
  end if;

  -- The automation's waiting items (the owner's, by pipeline_outbox_owner_idx) that must not go out
  -- as the automation is now, each with why.
  select array_agg(j.id order by j.id), array_agg(j.reason order by j.id)
    into v_ids, v_reasons
    from (
      select o.id,
             case
               when v_off then 'automation_inactive: the automation was switched off before this action was delivered'
               when (new.actions -> o.action_index) is null or (new.actions -> o.action_index ->> 'type') is distinct from o.kind then
                 'action_changed: the automation''s action ' || (o.action_index + 1) || ' is '
                 || coalesce('now ' || (new.actions -> o.action_index ->> 'type'), 'gone') || ', no longer this ' || o.kind
               when v_moved and (new.actions -> o.action_index) is distinct from (old.actions -> o.action_index) then
                 'action_changed: the automation''s actions were inserted, removed or reordered: action ' || (o.action_index + 1)
                 || ' is now another ' || o.kind || ', not the one this was queued for'
             end as reason
        from public.pipeline_outbox o
       where o.user_id = new.user_id and o.status in ('pending', 'claimed') and o.automation_id = new.id
    ) j
   where j.reason is not null;
  if v_ids is null then
    return null;
  end if;

  -- Locked in id order (as pipeline_complete_outbox and pipeline_cancel_outbox lock them), then
  -- written as they are now: one settled meanwhile is left alone. Pending, or claimed with its
  -- lease ended: cancelled. Claimed under a live lease (being delivered now): marked, its holder's
  -- report decides (a retry it asks for is cancelled then); a mark already there is kept.
  perform from public.pipeline_outbox o where o.id = any (v_ids) order by o.id for update;
  update public.pipeline_outbox o
     set status = case when o.status = 'pending' or o.available_at <= v_now then 'cancelled' else o.status end,
         completed_at = case when o.status = 'pending' or o.available_at <= v_now then v_now else o.completed_at end,
         last_error = case when o.status = 'pending' or o.available_at <= v_now then c.reason else o.last_error end,
         cancel_on_retry = case when o.status = 'pending' or o.available_at <= v_now then o.cancel_on_retry
                                else coalesce(o.cancel_on_retry, c.reason) end
    from unnest(v_ids, v_reasons) c (id, reason)
   where o.id = c.id and o.status in ('pending', 'claimed');
  return null;
end;
$$;
comment on function leadflow_private.pipeline_automations_cancel_waiting() is
  'Trigger: an automation switched off cancels its waiting outbox items; an edit of its actions cancels those whose action is gone, of another type, or (actions inserted, removed or reordered) another one now. Items under a live lease are marked (cancel_on_retry) instead.';
revoke all on function leadflow_private.pipeline_automations_cancel_waiting() from public, anon, authenticated, service_role;

-- =============================================================================================
-- (2) The stages an automation names are locked while it is saved
-- =============================================================================================
create or replace function leadflow_private.pipeline_automations_validate()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  v_key text;
  v_action jsonb;
  v_index integer := 0;
begin
  if tg_op = 'UPDATE' then
    if (new.name, new.description, new.is_active, new.pipeline_id, new.trigger_type, new.trigger_conditions, new.actions)
       is distinct from (old.name, old.description, old.is_active, old.pipeline_id, old.trigger_type, old.trigger_conditions, old.actions) then
      new.updated_at := now();
    end if;
    -- Counting a firing (times_triggered, last_triggered_at) checks nothing again: a tag deleted
    -- since fails that action only, it does not stop the automation from being counted.
    if (new.user_id, new.pipeline_id, new.trigger_type, new.trigger_conditions, new.actions)
       is not distinct from (old.user_id, old.pipeline_id, old.trigger_type, old.trigger_conditions, old.actions) then
      return new;
    end if;
  end if;
  -- The shape first (the check constraint runs after this trigger): the lookups below rely on it.
  -- The stages named are locked FOR KEY SHARE until the transaction ends (20261201002450): a
  -- delete of one of them, begun first, is waited for and the stage is then not found (refused
  -- here); begun after, it waits for this transaction and pipeline_stages_keep_automations then
  -- sees the automation and refuses it. A rename or reorder of the stage (no key change) does not
  -- wait.
  perform leadflow_private.pipeline_automation_valid(new.trigger_type, new.trigger_conditions, new.actions);
  foreach v_key in array array['from_stage_id', 'to_stage_id', 'stage_id'] loop
    if (new.trigger_conditions ->> v_key) is not null
       and not exists (select from public.pipeline_stages s
                        where s.id = (new.trigger_conditions ->> v_key)::uuid and s.pipeline_id = new.pipeline_id
                        for key share) then
      raise exception 'trigger_conditions.%: stage % is not a stage of this automation''s pipeline', v_key, new.trigger_conditions ->> v_key
        using errcode = '23503', hint = 'Use an id from pipeline_stages of the automation''s pipeline_id.';
    end if;
  end loop;
  for v_action in select e from jsonb_array_elements(new.actions) e loop
    if (v_action ->> 'tag_id') is not null
       and not exists (select from public.tags t where t.id = (v_action ->> 'tag_id')::uuid and t.user_id = new.user_id) then
      raise exception 'actions[%].tag_id: tag % does not exist or belongs to another owner', v_index, v_action ->> 'tag_id'
        using errcode = '23503';
    end if;
    if (v_action ->> 'rule_id') is not null
       and not exists (select from public.ai_automation_rules r where r.id = (v_action ->> 'rule_id')::uuid and r.user_id = new.user_id) then
      raise exception 'actions[%].rule_id: follow-up rule % does not exist or belongs to another owner', v_index, v_action ->> 'rule_id'
        using errcode = '23503';
    end if;
    if (v_action ->> 'stage_id') is not null
       and not exists (select from public.pipeline_stages s where s.id = (v_action ->> 'stage_id')::uuid and s.user_id = new.user_id
                        for key share) then
      raise exception 'actions[%].stage_id: stage % does not exist or belongs to another owner', v_index, v_action ->> 'stage_id'
        using errcode = '23503';
    end if;
    if (v_action ->> 'pipeline_id') is not null
       and not exists (select from public.pipelines p where p.id = (v_action ->> 'pipeline_id')::uuid and p.user_id = new.user_id) then
      raise exception 'actions[%].pipeline_id: pipeline % does not exist or belongs to another owner', v_index, v_action ->> 'pipeline_id'
        using errcode = '23503';
    end if;
    v_index := v_index + 1;
  end loop;
  return new;
end;
$$;
