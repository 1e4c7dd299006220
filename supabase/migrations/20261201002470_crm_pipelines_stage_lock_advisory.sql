-- CRM automations: the stage lock of 20261201002450 deadlocked a reorder of stages with a save of
-- an automation naming them (review S10). Re-created: leadflow_private.pipeline_automations_validate()
-- (otherwise as in 20261201002450_crm_pipelines_edit_in_place_and_stage_lock.sql) and
-- leadflow_private.pipeline_stages_keep_automations() (otherwise as in
-- 20261201002400_crm_pipelines_automation_off_cancels_and_stage_in_use.sql); their triggers are
-- unchanged, their revokes and comment re-stated.
--
-- Why: the validation locked the stages it names FOR KEY SHARE. A column of a unique constraint
-- (stage_order, deferrable or not) counts as a key column, so an update of stage_order conflicts
-- with that lock: any reorder waited for an open save, and the owner's app swapping two stages'
-- order in one transaction while an automation naming both was saved got 40P01 (deadlock
-- detected): the swap held the first stage's row and waited on the second, which the save held
-- while waiting on the first. Now no row of pipeline_stages is locked: the save takes a shared
-- transaction-level advisory lock per stage it names (key hashtextextended('pipeline_stage:' || id,
-- 0)), in id order, before looking each up; the stage delete's trigger takes the same key
-- exclusively before reading the automations. A delete and a save naming the stage still wait for
-- each other whichever begins first, and the second is refused as before (23503); a rename or a
-- reorder takes no such lock and never waits. Transaction-level locks only: nothing is kept in the
-- session (the connection pooler rule).

create or replace function leadflow_private.pipeline_automations_validate()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  v_key text;
  v_action jsonb;
  v_index integer := 0;
  v_stage uuid;
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
  -- Then each stage named gets a shared transaction-level advisory lock, in id order, before it is
  -- looked up (20261201002470): a delete of one of them (pipeline_stages_keep_automations takes the
  -- same key exclusively), begun first, is waited for and the stage is then not found (refused
  -- here); begun after, it waits for this transaction and then sees the automation and refuses. No
  -- row of pipeline_stages is locked, so a rename or a reorder of the stages never waits for a save
  -- (a row lock FOR KEY SHARE, 20261201002450, made a reorder wait, stage_order being a column of a
  -- unique constraint, and deadlocked a two-stage swap with a save naming both).
  perform leadflow_private.pipeline_automation_valid(new.trigger_type, new.trigger_conditions, new.actions);
  for v_stage in
    select distinct s.id
      from (select (new.trigger_conditions ->> k)::uuid as id from unnest(array['from_stage_id', 'to_stage_id', 'stage_id']) k
            union all
            select (e ->> 'stage_id')::uuid from jsonb_array_elements(new.actions) e) s
     where s.id is not null
     order by s.id
  loop
    perform pg_advisory_xact_lock_shared(hashtextextended('pipeline_stage:' || v_stage::text, 0));
  end loop;
  foreach v_key in array array['from_stage_id', 'to_stage_id', 'stage_id'] loop
    if (new.trigger_conditions ->> v_key) is not null
       and not exists (select from public.pipeline_stages s
                        where s.id = (new.trigger_conditions ->> v_key)::uuid and s.pipeline_id = new.pipeline_id) then
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
       and not exists (select from public.pipeline_stages s where s.id = (v_action ->> 'stage_id')::uuid and s.user_id = new.user_id) then
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
revoke all on function leadflow_private.pipeline_automations_validate() from public, anon, authenticated, service_role;

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
  -- Waits for a save of an automation naming this stage (pipeline_automations_validate holds this
  -- key shared until its transaction ends), and makes a save begun after wait for this delete, so
  -- the automations read below are the ones committed (20261201002470).
  perform pg_advisory_xact_lock(hashtextextended('pipeline_stage:' || old.id::text, 0));
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

