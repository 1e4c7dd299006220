-- Leadflow's private schema and its clock.
-- Schema: leadflow_private. Function: leadflow_private.now().
--
-- leadflow_private holds everything the API is built from but is not the API: the building blocks of
-- the follow-up judgement, the stage machine's check, the trigger functions. The Data API exposes
-- `public` only (Supabase's default), so nothing here can be called through /rest/v1/rpc; the roles
-- that read the views (security_invoker) are granted what those views call, function by function.
-- Every function created here has no EXECUTE for PUBLIC unless a migration grants it.
--
-- leadflow_private.now() is the time every judgement of time reads: the monitor views and the
-- default of every `p_now` parameter. It is the transaction's now() unless the setting
-- `leadflow.now` is set for the session or the transaction (`set local leadflow.now = '…'`), which
-- only a direct database connection can do: the Data API gives clients no way to set it. Tests use
-- it to judge a whole transaction, views included, at a chosen instant; production never sets it.

create schema if not exists leadflow_private;
comment on schema leadflow_private is
  'Leadflow internals: called by its views, functions and triggers, never through the Data API (not an exposed schema).';
revoke all on schema leadflow_private from public;
grant usage on schema leadflow_private to authenticated, service_role;
alter default privileges in schema leadflow_private revoke execute on functions from public;

-- No SET clause and pg_catalog-qualified names: the planner can inline it like the judgement's SQL
-- functions, and a caller's search_path cannot redirect it.
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
