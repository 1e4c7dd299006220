-- The blank rule no longer counts the format characters that draw a glyph as showing nothing.
-- Re-created (create or replace, same signature, so its grants and the callers stay):
--   leadflow_private.is_blank (otherwise as in 20261201002380_campaign_queue_names_blank_rule.sql;
--     comment re-stated): U+0600-U+0605, U+06DD, U+070F, U+0890-U+0891, U+08E2, U+110BD and U+110CD
--     (Unicode's Prepended_Concatenation_Mark: the Arabic number signs, the end of ayah "۝", the
--     Syriac abbreviation mark, the Kaithi number signs) are no longer blank; every other white
--     space and format character still is. nodes/shared/blank.ts takes them out the same way, and
--     test/db/blank-text.test.ts checks the two code point by code point.
-- Why: these are format characters (Cf) but, unlike U+200B, they show even alone. A campaign named
-- "۝" was refused as "shows nothing" by Campaign Session Create, create_campaign_sessions and
-- campaign_info_name_check (20261201002500_campaign_name_blank_refused.sql), and that migration's
-- upgrade renamed such a stored campaign to its name_uid (its old name is not kept: the owner can
-- name it again). A task's or a lead's name of such a mark was dropped as no name.
--
-- Who calls it: campaign_info_name_check and public.create_campaign_sessions (…2500),
-- leadflow_private.queue_lead_item_problem and leadflow_private.queue_add_lead_rows (…2380),
-- public.queue_add_leads_from_crm (…2440). Fewer characters are blank now, so every name they
-- accepted before is still accepted: rows that satisfied campaign_info_name_check still do (no
-- re-validation needed), and nothing that was stored changes.

-- Immutable and without a SET clause, so the planner can inline it (as leadflow_private.is_valid_text);
-- a fixed collation and pg_catalog's operator, so neither the locale nor a search_path changes what it
-- means. E'' strings: the regular expression engine reads the escapes. Null for null.
create or replace function leadflow_private.is_blank(p_value text)
returns boolean
language sql
immutable
parallel safe
as $$
  select (p_value collate pg_catalog."C") operator(pg_catalog.~)
    E'^[\\x09-\\x0d\\x20\\xa0\\xad\\u061c\\u1680\\u180e\\u2000-\\u200f\\u2028-\\u202f\\u205f-\\u2064\\u2066-\\u206f\\u3000\\ufeff\\ufff9-\\ufffb\\U00013430-\\U0001343f\\U0001bca0-\\U0001bca3\\U0001d173-\\U0001d17a\\U000e0001\\U000e0020-\\U000e007f]*$'
$$;
comment on function leadflow_private.is_blank(text) is
  'Whether p_value shows nothing: empty, or only white space and Unicode format characters (JavaScript''s [\s\p{Cf}], as nodes/shared/blank.ts reads it) other than those that draw a glyph (Prepended_Concatenation_Mark: U+0600-U+0605, U+06DD, U+070F, U+0890-U+0891, U+08E2, U+110BD, U+110CD); null for null. A name that is blank is no name.';
revoke all on function leadflow_private.is_blank(text) from public, anon;
grant execute on function leadflow_private.is_blank(text) to authenticated, service_role;
