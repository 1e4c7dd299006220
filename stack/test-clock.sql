-- Tests' stacks only (startStack({ clockHeader: true })): PostgREST calls this at the start of every
-- request (its db-pre-request), and a request carrying `X-Leadflow-Now: <ISO instant>` is judged at
-- that instant: the header sets `leadflow.now` for the request's transaction, which
-- leadflow_private.now() reads (supabase/migrations/20261122000050_leadflow_private.sql).
-- Never part of the migrations: on a real project no client can move the database's clock.
-- Idempotent: it runs at every start of a test stack.
create schema if not exists leadflow_test;
grant usage on schema leadflow_test to anon, authenticated, service_role;

create or replace function leadflow_test.clock_from_header()
returns void
language plpgsql
set search_path = ''
as $$
declare
  v_now text := pg_catalog.current_setting('request.headers', true)::json ->> 'x-leadflow-now';
begin
  if v_now is not null then
    -- The cast refuses anything that is not an instant, so a bad header fails the request loudly.
    perform pg_catalog.set_config('leadflow.now', v_now::timestamptz::text, true);
  end if;
end
$$;
revoke all on function leadflow_test.clock_from_header() from public;
grant execute on function leadflow_test.clock_from_header() to anon, authenticated, service_role;
