-- A tag that a follow-up rule or a pipeline automation uses can no longer be deleted.
-- New: leadflow_private.tags_refuse_delete_in_use and its trigger on public.tags (before delete,
-- for each row). Nothing else changes.
--
-- Why: rules name their tags by id (ai_automation_rules.include_tag_ids / exclude_tag_ids) and
-- automations' add_tag / remove_tag actions name theirs by tag_id. Both are checked when the rule or
-- the automation is written, but nothing stopped the tag from being deleted afterwards. A deleted
-- include tag stays in the rule's list: with tag_match 'all' nobody can carry every tag any more, so
-- the rule follows up no one while contacts still carry the tags that are left, and the console's
-- rule card (which lists the tags that exist) shows the one left and says "No contact carries this
-- rule's tags yet" — the "no contacts while contacts are waiting" the seed describes, with nothing
-- to say why. A deleted exclude tag silently stops excluding, and an automation's tag action fails
-- at every stage change.
--
-- Now deleting such a tag is refused (23503, foreign_key_violation, as a foreign key would: the
-- Data API answers 409) with the first rule or automation using it, by name, how many use it, and
-- what to do: take the tag out of them (or delete them) first. The check reads the owner's rules
-- (ai_automation_rules_owner_idx) and automations (filtered by owner: an owner has a handful) for
-- each tag deleted: tags are deleted rarely. When the owner themselves is being deleted (auth.users' cascade, which also deletes their
-- rules and automations in the same statement), nothing is refused.
--
-- Rules and automations that already name a deleted tag are left as they are: which of their
-- remaining tags the owner meant to keep is theirs to say. Saving such a rule again refuses the
-- missing tag (the rule's own check), which names it.

create or replace function leadflow_private.tags_refuse_delete_in_use()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_rules integer;
  v_rule text;
  v_automations integer;
  v_automation text;
begin
  -- The owner is being deleted: their rules and automations go with their tags.
  if not exists (select from auth.users u where u.id = old.user_id) then
    return old;
  end if;

  select count(*), min(r.name) into v_rules, v_rule
    from public.ai_automation_rules r
   where r.user_id = old.user_id
     and (old.id = any (r.include_tag_ids) or old.id = any (r.exclude_tag_ids));
  if v_rules > 0 then
    raise exception 'tag "%" is used by the follow-up rule "%"%', old.name, v_rule,
      case when v_rules > 1 then format(' and %s other rule%s', v_rules - 1, case when v_rules > 2 then 's' end) else '' end
      using errcode = 'foreign_key_violation',
            hint = 'Take the tag out of the rule''s include and exclude tags (or delete the rule) first, then delete the tag.';
  end if;

  select count(*), min(a.name) into v_automations, v_automation
    from public.pipeline_automations a
   where a.user_id = old.user_id
     and exists (select from jsonb_array_elements(a.actions) x where x ->> 'tag_id' = old.id::text);
  if v_automations > 0 then
    raise exception 'tag "%" is used by the pipeline automation "%"%', old.name, v_automation,
      case when v_automations > 1 then format(' and %s other automation%s', v_automations - 1, case when v_automations > 2 then 's' end) else '' end
      using errcode = 'foreign_key_violation',
            hint = 'Take the add_tag or remove_tag action naming the tag out of the automation (or delete the automation) first, then delete the tag.';
  end if;
  return old;
end;
$$;
comment on function leadflow_private.tags_refuse_delete_in_use() is
  'Before a tag is deleted: refuses (23503) while a follow-up rule (include or exclude tags) or a pipeline automation (add_tag / remove_tag) of its owner names it; an owner being deleted is let through.';
revoke all on function leadflow_private.tags_refuse_delete_in_use() from public, anon, authenticated, service_role;

drop trigger if exists tags_refuse_delete_in_use on public.tags;
create trigger tags_refuse_delete_in_use
  before delete on public.tags
  for each row execute function leadflow_private.tags_refuse_delete_in_use();
