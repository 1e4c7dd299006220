-- A signed-in user can no longer put contacts, rules or pipeline settings on a Facebook Page that
-- another owner has connected.
-- Re-created: the insert and update policies of public.messenger_conversations ("Owners can create
-- their conversations", "Owners can update their conversations"), public.ai_automation_rules
-- ("Owners can create their automation rules", "Owners can update their automation rules") and
-- public.pipeline_page_settings ("Owners can create their pages' pipeline settings", "Owners can
-- update their pages' pipeline settings"): otherwise as in 20261122000100_crm_core.sql,
-- 20261122000200_follow_up_automation.sql and 20261201000300_crm_pipelines.sql (same names, same
-- role authenticated, the same USING and owner check). New: leadflow_private.page_of_another_owner.
--
-- Why: those policies checked only user_id = auth.uid(). messenger_pages holds one owner per Page
-- (n8n connects it), but nothing tied a row's page_id to that owner, so owner A, signed in, could
-- insert a conversation (any PSID) and a rule (any instructions) on owner B's connected Page. The
-- follow-up claim of B's Page (automation_claim_explained with p_page_id, as the shipped
-- tag-monitor-send.json calls it with one Page credential for every owner's rules) then handed A's
-- contact to that Page's send run: B's Page sent a message generated from A's instructions to a
-- person A chose.
--
-- Now, for authenticated, the WITH CHECK of those policies also refuses a page_id that
-- messenger_pages connects to another owner (42501, "new row violates row-level security policy").
-- A Page not connected at all is still accepted (an owner's app may create rules and contacts
-- before n8n connects the Page), as is a null page_id where the column allows it (a rule for
-- every Page). An update of a row already on another owner's Page is refused too, whatever it
-- changes: the new row is checked, not what changed. Deletes and reads are unchanged.
--
-- messenger_pages has row level security (owners read only their own Pages), and a policy's
-- subquery runs as the invoker: read there, B's row would be invisible to A and the check would
-- pass. So the check is leadflow_private.page_of_another_owner(page_id), security definer (the
-- migrations' owner reads every Page), search_path '', stable, executable by authenticated only:
-- it says whether the Page is connected to an owner other than auth.uid(), nothing more.
--
-- Left as they were:
--   * service_role bypasses row level security: n8n and the console's functions are unaffected.
--     messenger_record_events and messenger_sync_begin already refuse another owner's Page
--     (leadflow_private.messenger_page_owner answers page_of_another_owner). public.console_rule_write (20261201001410) writes a rule's page_id
--     for p_user_id (a create) or for the rule's owner (a change) with the service role and does not
--     check it: it should refuse the same, but it has no one-line validation of page_id to add it
--     to (the check needs the rule's owner on a change), so re-creating that function is left to a
--     change of its own. The console is the operator's tool, signed in with the service role.
--   * Rows written before this migration, or before the Page was connected, stay where they are;
--     the claim (automation_claim_explained) does not compare a contact's owner with its Page's.

-- =============================================================================================
-- leadflow_private.page_of_another_owner(p_page_id) → boolean
-- =============================================================================================
create or replace function leadflow_private.page_of_another_owner(p_page_id text)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select p_page_id is not null
     and exists (select from public.messenger_pages p where p.page_id = p_page_id and p.user_id <> (select auth.uid()))
$$;
comment on function leadflow_private.page_of_another_owner(text) is
  'Whether messenger_pages connects this Page to an owner other than the signed-in user (auth.uid()); false for a null or unconnected Page. Security definer, so the policies that call it see every owner''s Page.';
revoke all on function leadflow_private.page_of_another_owner(text) from public, anon, authenticated, service_role;
grant execute on function leadflow_private.page_of_another_owner(text) to authenticated;

-- messenger_conversations ---------------------------------------------------------------------
drop policy if exists "Owners can create their conversations" on public.messenger_conversations;
create policy "Owners can create their conversations" on public.messenger_conversations
  for insert to authenticated
  with check ((select auth.uid()) = user_id and not leadflow_private.page_of_another_owner(page_id));
drop policy if exists "Owners can update their conversations" on public.messenger_conversations;
create policy "Owners can update their conversations" on public.messenger_conversations
  for update to authenticated using ((select auth.uid()) = user_id)
  with check ((select auth.uid()) = user_id and not leadflow_private.page_of_another_owner(page_id));

-- ai_automation_rules (page_id null: every Page, allowed) -------------------------------------
drop policy if exists "Owners can create their automation rules" on public.ai_automation_rules;
create policy "Owners can create their automation rules" on public.ai_automation_rules
  for insert to authenticated
  with check ((select auth.uid()) = user_id and not leadflow_private.page_of_another_owner(page_id));
drop policy if exists "Owners can update their automation rules" on public.ai_automation_rules;
create policy "Owners can update their automation rules" on public.ai_automation_rules
  for update to authenticated using ((select auth.uid()) = user_id)
  with check ((select auth.uid()) = user_id and not leadflow_private.page_of_another_owner(page_id));

-- pipeline_page_settings ----------------------------------------------------------------------
drop policy if exists "Owners can create their pages' pipeline settings" on public.pipeline_page_settings;
create policy "Owners can create their pages' pipeline settings" on public.pipeline_page_settings
  for insert to authenticated
  with check ((select auth.uid()) = user_id and not leadflow_private.page_of_another_owner(page_id));
drop policy if exists "Owners can update their pages' pipeline settings" on public.pipeline_page_settings;
create policy "Owners can update their pages' pipeline settings" on public.pipeline_page_settings
  for update to authenticated using ((select auth.uid()) = user_id)
  with check ((select auth.uid()) = user_id and not leadflow_private.page_of_another_owner(page_id));
