-- CRM pipelines: switching an automation off, or inserting, removing or reordering its actions,
-- cancels its waiting webhook / notify actions at once; a stage an automation names cannot be
-- deleted on its own. New: column public.pipeline_outbox.cancel_on_retry, the trigger functions
-- leadflow_private.pipeline_automations_cancel_waiting(), leadflow_private.pipeline_outbox_cancel_on_retry()
-- and leadflow_private.pipeline_stages_keep_automations(), and their triggers. No public function is
-- re-created: pipeline_claim_outbox keeps its own check (as in 20261201001790).
--
-- Why (1): an outbox item was cancelled only when a claim read it (the `judged` check of
-- pipeline_claim_outbox). Between two sweeps, "switch off, edit the actions, switch on" (what the
-- docs told owners to do before removing or reordering actions) cancelled nothing: the next claim
-- found the automation on again and handed each waiting item out with the action now at its place.
-- An automation Hot alert with webhooks A, B and an item of each waiting: off, A removed, on, and
-- B's event went out to B's URL as action 1 while A's went to B too; a new first action C got an
-- event from before it existed, and the console showed "Webhook delivered". The same edit made
-- while the automation was on did the same.
--
-- Now, in the transaction of the change (a row trigger after an update of is_active or actions):
--   switched off (is_active true to false): every waiting item of the automation is cancelled,
--     last_error `automation_inactive: the automation was switched off before this action was
--     delivered` (the claim's words);
--   actions edited: an item whose action at its place is gone or of another type now is cancelled
--     as the claim would (`action_changed: the automation's action N is now notify, no longer this
--     webhook` / `… is gone, …`); when the edit inserted, removed or reordered actions (an action
--     found unchanged at another place, before or after the edit), an item whose place now holds
--     another action is cancelled too (`action_changed: the automation's actions were inserted,
--     removed or reordered: action N is now another webhook, not the one this was queued for`).
--     An edit in place (the list otherwise as it was: a URL fixed after a failure, a token rotated)
--     cancels nothing: a retry goes out as edited, as before. An edit that moves actions and changes
--     them in the same save cannot be told from an edit in place and is judged as one.
-- "Waiting" is pending, or claimed whose lease has ended (leadflow_private.now()): as
-- pipeline_cancel_outbox. An item claimed under a live lease is being delivered now, with the action
-- it was handed out with: it is left to its holder (delivered or failed for good as it reports), and
-- marked (cancel_on_retry, the reason): a retry its holder asks for, or its lease running out
-- without a report (the next claim), cancels it then with that reason instead of handing it out
-- again (a BEFORE UPDATE row trigger on pipeline_outbox, only for marked rows: its WHEN clause
-- costs the claims and reports of unmarked rows nothing else). The runs show each cancellation as
-- before (pipeline_outbox_result_on_run, a statement trigger, sees the rows as written).
-- The claim still checks each item as it hands it out (an item queued by a firing that read the
-- automation before it was switched off, in a transaction still open then, is cancelled there).
-- The automation's items are found by pipeline_outbox_owner_idx (the owner's waiting items, which
-- are few: delivered ones leave it), locked in id order before they are written (as the reports and
-- pipeline_cancel_outbox lock them), so a switch-off never deadlocks with them.
--
-- Why (2): a stage with no contacts could be deleted while an automation's trigger named it
-- (STAGE_CHANGED from_stage_id / to_stage_id, ENTERED_PIPELINE stage_id): the automation stayed
-- active, pointing at a stage id that no longer exists, never fired again, and any later edit of it
-- was refused (its conditions no longer valid). A move_to_stage action naming the stage failed at
-- every firing (stage_not_found).
-- Now a stage named by any of its owner's automations (active or not), in a trigger condition (an
-- automation of the stage's pipeline) or as a move_to_stage target (an automation of any of the
-- owner's pipelines), is not deleted on its own: 23503, `stage "Hot" is named by automation "Hot
-- alert" (its trigger): point it at another stage or delete it first`, the hint saying how, the
-- detail the automations' ids. Deleting the whole pipeline stays allowed (its row is gone when its
-- stages are deleted, as for pipeline_stages_keep_contacts): its own automations go with it, and
-- another pipeline's move into it fails with stage_not_found as before.

alter table public.pipeline_outbox
  add column if not exists cancel_on_retry text
    constraint pipeline_outbox_cancel_on_retry_text
    check (cancel_on_retry is null or (length(cancel_on_retry) <= 2000 and leadflow_private.is_valid_text(cancel_on_retry, 'multiline')));
comment on column public.pipeline_outbox.cancel_on_retry is
  'Set on an item being delivered (claimed, lease not ended) when its automation was switched off or its action moved: why. A retry its holder asks for, or a claim after its lease ended, cancels it with this reason instead.';

-- =============================================================================================
-- (1) An automation switched off, or its actions moved: its waiting items cancelled at once
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
    -- Moved: an action found unchanged at another place of the list, before or after the edit.
    v_moved := exists (
        select from jsonb_array_elements(old.actions) with ordinality a (action, n)
         where a.action is distinct from new.actions -> (a.n::integer - 1)
           and exists (select from jsonb_array_elements(new.actions) b (action) where b.action = a.action))
      or exists (
        select from jsonb_array_elements(new.actions) with ordinality b (action, n)
         where b.action is distinct from old.actions -> (b.n::integer - 1)
           and exists (select from jsonb_array_elements(old.actions) a (action) where a.action = b.action));
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

drop trigger if exists pipeline_automations_cancel_waiting on public.pipeline_automations;
create trigger pipeline_automations_cancel_waiting
  after update of is_active, actions on public.pipeline_automations
  for each row
  when ((old.is_active and not new.is_active) or old.actions is distinct from new.actions)
  execute function leadflow_private.pipeline_automations_cancel_waiting();

-- A marked item (being delivered when its automation was switched off or its action moved) that
-- would wait again, by its holder's retry or by a claim after its lease ended, is cancelled instead,
-- with the mark's reason (and the failure the retry reported); a claim does not count it as handed
-- out. The mark is cleared: a person who puts the item back to pending on purpose gets it handed out.
create or replace function leadflow_private.pipeline_outbox_cancel_on_retry()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.completed_at := case when new.status = 'claimed' then new.claimed_at else leadflow_private.now() end;
  new.last_error := case
    when new.status = 'pending' and new.last_error is distinct from old.last_error and new.last_error is not null then
      left(old.cancel_on_retry || '; its last delivery failed: ' || new.last_error, 2000)
    else old.cancel_on_retry
  end;
  new.status := 'cancelled';
  new.claimed_by := old.claimed_by;
  new.claimed_at := old.claimed_at;
  new.attempts := old.attempts;
  new.available_at := old.available_at;
  new.payload := old.payload;
  new.cancel_on_retry := null;
  return new;
end;
$$;
comment on function leadflow_private.pipeline_outbox_cancel_on_retry() is
  'Trigger: an outbox item marked cancel_on_retry that a retry report or a claim would make wait again is cancelled with that reason instead.';
revoke all on function leadflow_private.pipeline_outbox_cancel_on_retry() from public, anon, authenticated, service_role;

drop trigger if exists pipeline_outbox_cancel_on_retry on public.pipeline_outbox;
create trigger pipeline_outbox_cancel_on_retry
  before update on public.pipeline_outbox
  for each row
  when (old.cancel_on_retry is not null
        and ((old.status = 'claimed' and new.status = 'pending')
             or (new.status = 'claimed' and new.claimed_at is distinct from old.claimed_at)))
  execute function leadflow_private.pipeline_outbox_cancel_on_retry();

-- =============================================================================================
-- (2) A stage an automation names is not deleted on its own
-- =============================================================================================
create or replace function leadflow_private.pipeline_stages_keep_automations()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_names text;
  v_ids text;
  v_count integer;
begin
  if not exists (select from public.pipelines p where p.id = old.pipeline_id) then
    return old;  -- the whole pipeline is being deleted
  end if;
  select count(*)::integer,
         string_agg('"' || n.name || '" (' || n.uses || case when n.is_active then '' else ', switched off' end || ')', ', ' order by n.name, n.id),
         string_agg(n.id::text, ', ' order by n.name, n.id)
    into v_count, v_names, v_ids
    from (
      select a.id, a.name, a.is_active,
             concat_ws(' and ',
               case when a.pipeline_id = old.pipeline_id
                         and old.id in ((a.trigger_conditions ->> 'from_stage_id')::uuid, (a.trigger_conditions ->> 'to_stage_id')::uuid,
                                        (a.trigger_conditions ->> 'stage_id')::uuid)
                    then 'its trigger' end,
               case when exists (select from jsonb_array_elements(a.actions) e
                                  where e ->> 'type' = 'move_to_stage' and (e ->> 'stage_id')::uuid = old.id)
                    then 'a move to this stage' end) as uses
        from public.pipeline_automations a
       where a.user_id = old.user_id
    ) n
   where n.uses <> '';
  if v_count > 0 then
    raise exception 'stage "%" is named by %: point % at another stage or delete % first',
      old.name,
      case when v_count = 1 then 'automation ' else 'automations ' end || v_names,
      case when v_count = 1 then 'it' else 'them' end,
      case when v_count = 1 then 'it' else 'them' end
      using errcode = '23503',
            detail = 'Automation ids: ' || v_ids || '.',
            hint = 'Change the trigger (trigger_conditions) or the move_to_stage action of each automation named to another stage, or delete the automation, then delete the stage. Deleting the whole pipeline deletes its own automations with it.';
  end if;
  return old;
end;
$$;
comment on function leadflow_private.pipeline_stages_keep_automations() is
  'Trigger: a stage named by an automation''s trigger conditions (its pipeline''s) or move_to_stage action (any of the owner''s) is not deleted on its own; deleting the whole pipeline is.';
revoke all on function leadflow_private.pipeline_stages_keep_automations() from public, anon, authenticated, service_role;

drop trigger if exists pipeline_stages_keep_automations on public.pipeline_stages;
create trigger pipeline_stages_keep_automations
  before delete on public.pipeline_stages
  for each row execute function leadflow_private.pipeline_stages_keep_automations();
