-- The Leadflow console: a new rule saved twice is one rule.
-- Re-created: public.console_rule_write with a new last argument, p_create_key (default null: as
-- before), otherwise as in 20261201000770. New column: ai_automation_rules.create_key, unique per
-- owner (constraint ai_automation_rules_create_key_key).
--
-- Why: the console's Save Rule created a new rule with no rule id, so the same save delivered twice
-- (a double click, a retry after a timeout, a proxy sending the POST again) created two identical
-- rules, and both claimed and followed up the same contacts: every contact got two follow-ups.
--
-- Now the console's form draws one key (a random UUID) when it opens for a new rule and sends it
-- with every save of that form (the Idempotency-Key header, passed on by the Leadflow Console
-- node). A create with a key writes it on the rule (create_key); a create with the key the owner
-- already used answers the rule that key created, writing nothing:
--   { saved: true, repeat: true, rule, explain }  when every setting the repeat sends has the value
--                                                 the rule has: the same save again;
--   { saved: false, repeat: true, rule, error }   when one differs (a form changed after a save
--                                                 whose answer was lost): error.field names the
--                                                 first such column (in the form's order), the
--                                                 message gives both values, and rule is the rule
--                                                 the key created, to change by its id. A refusal
--                                                 rather than the rule: the person asked for a
--                                                 value that was not saved, and must not be told
--                                                 it was.
-- Two creates with one key at the same moment: the unique constraint lets one insert; the other's
-- insert (on conflict do nothing) waits for it, inserts nothing and reads the rule the first wrote,
-- in the same call. The key is ignored when a rule id is given (a change, as before) and by the
-- preview (p_save false), which writes nothing. A refused create writes nothing, so its key stays
-- free for the corrected save.
--
-- The old five-argument function is dropped, so that a call naming only those five arguments
-- (PostgREST, console_rule_prompt's positional call, the Leadflow Console node of older packages)
-- finds the one function, with p_create_key null.

alter table public.ai_automation_rules add column if not exists create_key uuid;
alter table public.ai_automation_rules drop constraint if exists ai_automation_rules_create_key_key;
alter table public.ai_automation_rules add constraint ai_automation_rules_create_key_key unique (user_id, create_key);
comment on column public.ai_automation_rules.create_key is
  'The key of the console save that created the rule (console_rule_write''s p_create_key: one per new-rule form, the same for every save of it), unique per owner, so the same create delivered twice makes one rule; null for rules created without one.';

drop function if exists public.console_rule_write(uuid, uuid, jsonb, boolean, timestamptz);

-- =============================================================================================
-- console_rule_write(p_rule_id, p_user_id, p_settings, p_save, p_now, p_create_key) → jsonb
-- =============================================================================================
-- As in 20261201000760 and 20261201000770, and p_create_key: see above.
create or replace function public.console_rule_write(
  p_rule_id uuid default null,
  p_user_id uuid default null,
  p_settings jsonb default '{}'::jsonb,
  p_save boolean default true,
  p_now timestamptz default leadflow_private.now(),
  p_create_key uuid default null
)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
  c_columns constant text[] := array['name', 'enabled', 'page_id', 'include_tag_ids', 'tag_match', 'exclude_tag_ids',
    'active_hours_start', 'active_hours_end', 'time_zone', 'active_days', 'daily_limit', 'max_follow_ups',
    'min_hours_between_follow_ups', 'stop_on_reply', 'instructions', 'model', 'language', 'context_message_count',
    'resume_after_takeover_hours'];
  v_keys text[];
  v_key text;
  v_list text;
  v_row public.ai_automation_rules;
  v_repeat boolean := false;
  v_asked jsonb;
  v_explain jsonb;
  v_message text;
  v_hint text;
  v_constraint text;
  v_column text;
  v_field text;
begin
  if p_settings is null or jsonb_typeof(p_settings) <> 'object' then
    return jsonb_build_object('saved', false, 'error', jsonb_build_object('field', null,
      'message', 'the settings must be a JSON object of the rule''s columns', 'hint', 'Send e.g. {"name": "…", "daily_limit": 50}.'));
  end if;
  if p_rule_id is null and p_user_id is null then
    return jsonb_build_object('saved', false, 'error', jsonb_build_object('field', 'user_id',
      'message', 'a new rule needs its owner', 'hint', 'Pass the owner''s user id (the user_id of their tags).'));
  end if;
  select coalesce(array_agg(k order by k), '{}') into v_keys from jsonb_object_keys(p_settings) k;
  -- Each setting alone, so a value of the wrong type is refused naming its column.
  foreach v_key in array v_keys loop
    if not v_key = any (c_columns) then
      return jsonb_build_object('saved', false, 'error', jsonb_build_object('field', v_key,
        'message', format('%s is not a setting of a rule', v_key), 'hint', 'Use the columns of ai_automation_rules: ' || array_to_string(c_columns, ', ') || '.'));
    end if;
    begin
      perform jsonb_populate_record(null::public.ai_automation_rules, jsonb_build_object(v_key, p_settings -> v_key));
    exception when data_exception then
      get stacked diagnostics v_message = message_text;
      return jsonb_build_object('saved', false, 'error', jsonb_build_object('field', v_key, 'message', v_message, 'hint', null));
    end;
  end loop;
  select string_agg(format('%I', k), ', ') into v_list from unnest(v_keys) k;

  begin
    if p_rule_id is null and p_save and p_create_key is not null then
      -- A create with a key: the rule the key already made, else a new one carrying the key. A
      -- concurrent create with the key makes this insert wait for it and insert nothing; the rule
      -- it wrote is then read (a new statement, so its committed row is seen).
      select * into v_row from public.ai_automation_rules r where r.user_id = p_user_id and r.create_key = p_create_key;
      if v_row.id is null then
        execute format('insert into public.ai_automation_rules (user_id, create_key%s) select $2, $3%s from jsonb_populate_record(null::public.ai_automation_rules, $1) '
                       'on conflict (user_id, create_key) do nothing returning *',
                       coalesce(', ' || v_list, ''), coalesce(', ' || v_list, ''))
           into v_row using p_settings, p_user_id, p_create_key;
        if v_row.id is null then
          select * into v_row from public.ai_automation_rules r where r.user_id = p_user_id and r.create_key = p_create_key;
          v_repeat := true;
        end if;
      else
        v_repeat := true;
      end if;
      if v_repeat and v_row.id is null then
        -- The rule the concurrent create made is gone already (deleted in between).
        return jsonb_build_object('saved', false, 'error', jsonb_build_object('field', 'create_key',
          'message', 'the rule this key created was deleted while this save ran', 'hint', 'Save again to create the rule anew (the key is free again).'));
      end if;
      if v_repeat then
        -- The same save again, if every setting it sends has the value the rule has: each value as
        -- the column would store it (jsonb_populate_record over the rule), compared as JSON.
        v_asked := to_jsonb(jsonb_populate_record(v_row, p_settings));
        select c.name into v_key
          from unnest(c_columns) with ordinality c(name, n)
         where p_settings ? c.name and (v_asked -> c.name) is distinct from (to_jsonb(v_row) -> c.name)
         order by c.n
         limit 1;
        if v_key is not null then
          return jsonb_build_object('saved', false, 'repeat', true, 'rule', to_jsonb(v_row), 'error', jsonb_build_object('field', v_key,
            'message', format('the rule this key created (%s) has %s %s; this save asks for %s: nothing was changed',
                              v_row.id, v_key, coalesce(to_jsonb(v_row) ->> v_key, 'null'), coalesce(v_asked ->> v_key, 'null')),
            'hint', format('A key creates one rule: change that rule by its id (ruleId %s), or send a new key for another rule.', v_row.id)));
        end if;
      end if;
    elsif p_rule_id is null then
      execute format('insert into public.ai_automation_rules (user_id%s) select $2%s from jsonb_populate_record(null::public.ai_automation_rules, $1) returning *',
                     coalesce(', ' || v_list, ''), coalesce(', ' || v_list, ''))
         into v_row using p_settings, p_user_id;
    elsif v_list is null then
      select * into v_row from public.ai_automation_rules r where r.id = p_rule_id;
    else
      execute format('update public.ai_automation_rules set (%s) = (select %s from jsonb_populate_record(null::public.ai_automation_rules, $1)) where id = $2 returning *',
                     v_list, v_list)
         into v_row using p_settings, p_rule_id;
    end if;
    if v_row.id is null then
      return jsonb_build_object('saved', false, 'error', jsonb_build_object('field', null,
        'message', format('there is no automation rule with id %s', p_rule_id), 'hint', 'Pick a rule from console_rules.'), 'not_found', true);
    end if;
    -- The claim's judgement of the rule as written, counted: due now, and not due by reason.
    select jsonb_build_object('tagged', coalesce(sum(x.n), 0),
                              'due', coalesce(sum(x.n) filter (where x.reason is null), 0),
                              'by_reason', coalesce(jsonb_object_agg(x.reason, x.n) filter (where x.reason is not null), '{}'::jsonb))
      into v_explain
      from (select e.reason, count(*) as n from leadflow_private.automation_evaluate(v_row.id, p_now) e group by e.reason) x;
    if not p_save then
      raise exception 'preview only' using errcode = 'LFPRV';
    end if;
  exception
    when sqlstate 'LFPRV' then
      return jsonb_build_object('saved', false, 'explain', v_explain);
    when data_exception or integrity_constraint_violation then
      get stacked diagnostics v_message = message_text, v_hint = pg_exception_hint,
                              v_constraint = constraint_name, v_column = column_name;
      v_field := case
        when nullif(v_column, '') is not null then v_column
        when v_constraint ~ '^ai_automation_rules_.+_check$' then substring(v_constraint from '^ai_automation_rules_(.+)_check$')
        when v_message like 'time zone %' then 'time_zone'
        when v_message like '%both included and excluded%' then 'exclude_tag_ids'
        when v_message like 'tag % does not exist%'
             and (p_settings -> 'exclude_tag_ids') ? substring(v_message from '^tag ([0-9a-f-]{36})') then 'exclude_tag_ids'
        when v_message like 'tag % does not exist%' or v_message like '%tag to include%' or v_message like '%listed twice%' then 'include_tag_ids'
      end;
      -- A check constraint says what it allows: its own definition, in the hint, so the person
      -- reads the bounds next to the field.
      if nullif(v_hint, '') is null and nullif(v_constraint, '') is not null then
        select 'Allowed: ' || regexp_replace(pg_catalog.pg_get_constraintdef(c.oid), '^CHECK ', '') || '.'
          into v_hint
          from pg_catalog.pg_constraint c
         where c.conname = v_constraint and c.conrelid = 'public.ai_automation_rules'::regclass and c.contype = 'c';
      end if;
      return jsonb_build_object('saved', false, 'error', jsonb_build_object('field', v_field, 'message', v_message, 'hint', nullif(v_hint, '')));
  end;
  if v_repeat then
    return jsonb_build_object('saved', true, 'repeat', true, 'rule', to_jsonb(v_row), 'explain', v_explain);
  end if;
  return jsonb_build_object('saved', true, 'rule', to_jsonb(v_row), 'explain', v_explain);
end;
$$;
comment on function public.console_rule_write(uuid, uuid, jsonb, boolean, timestamptz, uuid) is
  'Create (p_rule_id null) or change a follow-up rule from a JSON object of its columns, checked by the table''s own rules; a refusal answers the database''s message and the column, nothing written. p_save false previews: the contacts the rule would judge due, and why not, then rolls back. p_create_key: a create with the key the owner already used answers the rule it created (repeat true), nothing written; refused naming the first setting that differs.';

revoke all on function public.console_rule_write(uuid, uuid, jsonb, boolean, timestamptz, uuid) from public, anon, authenticated;
grant execute on function public.console_rule_write(uuid, uuid, jsonb, boolean, timestamptz, uuid) to service_role;
