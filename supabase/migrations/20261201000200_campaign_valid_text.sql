-- Valid text: one definition of the characters a text column may hold, the one the nodes check
-- (nodes/shared/valid-input.ts), so that a value a node accepts is never refused by a constraint.
-- Function: leadflow_private.is_valid_text(value, kind).
-- Constraints rewritten with it: campaign_info.name, numbers.contact_name, session_info.session_id,
-- session_info.display_name, campaign_session_requests.idempotency_key (their lengths unchanged).
--
-- Why: those checks used the classes [[:cntrl:]] and [[:space:]], whose members depend on the
-- database's locale and Postgres version. In a C-locale database on Postgres 17, C1 controls
-- (U+0080-U+009F) are [[:cntrl:]] but U+2028/U+2029 and U+00A0 are neither class; in a glibc
-- en_US.UTF-8 database U+2028/U+2029 are controls too; on older versions in the C locale nothing
-- above U+007F is. The node refused C0 and DEL only, so a C1 control in a campaign name or a session
-- id passed the webhook's check, broke the constraint, and the caller got 500 instead of a 400
-- naming the field.
--
-- The definition, written out by code point so that it means the same in every database:
--   'line'       no control character: C0 (U+0001-U+001F), DEL (U+007F), C1 (U+0080-U+009F), and
--                no line or paragraph separator (U+2028, U+2029)
--   'multiline'  the same, except tab, line feed, carriage return, U+2028 and U+2029 (line breaks)
--   'token'      a line without whitespace either: space, U+00A0, U+1680, U+2000-U+200A, U+202F,
--                U+205F, U+3000, U+FEFF (what JavaScript's \s matches besides controls and separators)
-- NUL and lone surrogates need no check: Postgres text cannot hold them. Lengths stay in each
-- constraint, in characters as length() counts them (code points), as the nodes count them.
--
-- Rows written before: each constraint is added NOT VALID (checked for every new or updated row)
-- and then validated; where an existing row breaks it, it stays NOT VALID and a warning names it,
-- so this migration applies to any database. Find the rows with the constraint's expression.

-- Immutable and without a SET clause, so the planner can inline it into the checks; pg_catalog's
-- operator and a fixed collation named, so neither a search_path nor the database's locale changes
-- what it means. E'' strings: the regular expression engine, not the SQL parser, reads the escapes,
-- whatever standard_conforming_strings is.
create or replace function leadflow_private.is_valid_text(p_value text, p_kind text)
returns boolean
language sql
immutable
parallel safe
as $$
  select (p_value collate pg_catalog."C") operator(pg_catalog.!~) case p_kind
    when 'line' then E'[\\x01-\\x1f\\x7f-\\x9f\\u2028\\u2029]'
    when 'multiline' then E'[\\x01-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f]'
    when 'token' then E'[\\x01-\\x20\\x7f-\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff]'
  end
$$;
comment on function leadflow_private.is_valid_text(text, text) is
  'Whether p_value holds only characters text of p_kind may hold (line, multiline or token); null for another kind. The nodes check the same (nodes/shared/valid-input.ts).';
-- Whoever writes a checked column evaluates the check: the owner's app (authenticated), n8n
-- (service_role), and the security definer functions (their owner).
revoke all on function leadflow_private.is_valid_text(text, text) from public, anon;
grant execute on function leadflow_private.is_valid_text(text, text) to authenticated, service_role;

alter table public.campaign_info
  drop constraint if exists campaign_info_name_check,
  add constraint campaign_info_name_check
    check (length(btrim(name)) between 1 and 200 and leadflow_private.is_valid_text(name, 'line')) not valid;

alter table public.numbers
  drop constraint if exists numbers_contact_name_check,
  add constraint numbers_contact_name_check
    check (contact_name is null or (length(contact_name) <= 200 and leadflow_private.is_valid_text(contact_name, 'line'))) not valid;

alter table public.session_info
  drop constraint if exists session_info_session_id_check,
  add constraint session_info_session_id_check
    check (length(session_id) between 1 and 128 and leadflow_private.is_valid_text(session_id, 'token')) not valid,
  drop constraint if exists session_info_display_name_check,
  add constraint session_info_display_name_check
    check (display_name is null or (length(display_name) <= 200 and leadflow_private.is_valid_text(display_name, 'line'))) not valid;

alter table public.campaign_session_requests
  drop constraint if exists campaign_session_requests_idempotency_key_check,
  add constraint campaign_session_requests_idempotency_key_check
    check (length(idempotency_key) between 1 and 200 and leadflow_private.is_valid_text(idempotency_key, 'line')) not valid;

do $$
declare
  c record;
begin
  for c in
    select con.conrelid::regclass as tbl, con.conname as name
      from pg_catalog.pg_constraint con
     where con.conname in ('campaign_info_name_check', 'numbers_contact_name_check', 'session_info_session_id_check',
                           'session_info_display_name_check', 'campaign_session_requests_idempotency_key_check')
       and con.connamespace = 'public'::regnamespace
  loop
    begin
      execute format('alter table %s validate constraint %I', c.tbl, c.name);
    exception when check_violation then
      raise warning 'leadflow: % stays NOT VALID: rows written before 20261201000200_campaign_valid_text break it (new and updated rows are checked)', c.name;
    end;
  end loop;
end
$$;
