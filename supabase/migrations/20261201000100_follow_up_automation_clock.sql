-- Follow-up automation: one clock for every judgement of time.
-- Schema: leadflow_private (not exposed by the Data API: PostgREST serves `public` only).
-- Function: leadflow_private.now(), the time every view and every `p_now` default judges by.
-- Changes: the four monitor views (automation_eligible_contacts, active_automation_contacts,
-- automation_monitor_summary, automation_live_stats) and the default of every `p_now` parameter
-- in `public` now read leadflow_private.now() instead of now().
--
-- Why: the functions already took `p_now`, but the views called now() directly, so "now" had two
-- definitions. leadflow_private.now() is the transaction's now() unless the setting
-- `leadflow.now` is set for the session or the transaction (`set local leadflow.now = '…'`), which
-- only a direct database connection can do: the Data API gives clients no way to set it. Tests use
-- it to judge a whole transaction, views included, at a chosen instant; production never sets it.

create schema if not exists leadflow_private;
comment on schema leadflow_private is
  'Leadflow internals: called by its views and functions, never through the Data API (not an exposed schema).';
revoke all on schema leadflow_private from public;
-- The views are security_invoker: the roles that read them call what they call.
grant usage on schema leadflow_private to authenticated, service_role;

-- No SET clause and pg_catalog-qualified names: the planner can inline it like the judgement's
-- SQL functions, and a caller's search_path cannot redirect it.
create or replace function leadflow_private.now()
returns timestamptz
language sql
stable
as $$
  select coalesce(nullif(pg_catalog.current_setting('leadflow.now', true), '')::timestamptz, pg_catalog.now())
$$;
comment on function leadflow_private.now() is
  'The time Leadflow judges by: now(), or the instant in the setting leadflow.now when a session or transaction sets one (tests).';
revoke all on function leadflow_private.now() from public;
grant execute on function leadflow_private.now() to authenticated, service_role;

-- =============================================================================================
-- The monitor views judge by the same clock as the functions
-- =============================================================================================
create or replace view public.automation_eligible_contacts
with (security_invoker = true) as
select
  e.rule_id,
  r.name as rule_name,
  e.user_id,
  e.conversation_id,
  e.page_id,
  e.sender_id,
  e.sender_name,
  e.matching_tags,
  e.is_being_processed,
  e.current_stage,
  e.contact_status,
  e.reason as status_reason,
  e.stop_reason,
  e.due_at,
  e.follow_up_count,
  e.last_follow_up_at,
  e.last_customer_message_at,
  e.window_closes_at,
  e.stage_entered_at,
  e.error_code,
  e.executions_last_7_days,
  e.last_execution_at
from public.ai_automation_rules r
cross join lateral public.automation_evaluate(r.id, leadflow_private.now()) e;

create or replace view public.active_automation_contacts
with (security_invoker = true) as
select a.*
from public.ai_automation_rules r
cross join lateral public.automation_active_contacts(r.id, leadflow_private.now()) a;

create or replace view public.automation_monitor_summary
with (security_invoker = true) as
select m.*
from public.ai_automation_rules r
cross join lateral public.automation_rule_summary(r.id, leadflow_private.now()) m;

create or replace view public.automation_live_stats
with (security_invoker = true) as
select st.*
from public.ai_automation_rules r
cross join lateral public.automation_stage_stats(r.id, leadflow_private.now()) st;

-- =============================================================================================
-- Every `p_now timestamptz default now()` in public defaults to the same clock
-- =============================================================================================
-- A default can only be changed by re-creating the function. Each definition is re-created from the
-- catalog exactly as it stands, with only the default replaced; `create or replace` keeps its
-- grants, owner and comment. The check at the end fails the migration if any default was missed.
do $$
declare
  v_function record;
  v_definition text;
begin
  for v_function in
    select p.oid, p.oid::regprocedure as signature
      from pg_catalog.pg_proc p
     where p.pronamespace = 'public'::regnamespace
       and pg_catalog.pg_get_function_arguments(p.oid) like '%p_now timestamp with time zone DEFAULT now()%'
  loop
    v_definition := pg_catalog.pg_get_functiondef(v_function.oid);
    execute pg_catalog.replace(
      v_definition,
      'p_now timestamp with time zone DEFAULT now()',
      'p_now timestamp with time zone DEFAULT leadflow_private.now()'
    );
  end loop;

  if exists (
    select from pg_catalog.pg_proc p
     where p.pronamespace = 'public'::regnamespace
       and pg_catalog.pg_get_function_arguments(p.oid) ~ 'DEFAULT now\(\)'
  ) then
    raise exception 'a function in public still defaults a time to now(): give it leadflow_private.now()';
  end if;
end
$$;
