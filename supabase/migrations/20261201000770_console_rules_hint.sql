-- The Leadflow console, part 3: a refused rule says what its field allows.
-- Function: console_rule_write (replaced; same arguments and answer).
--
-- Why: a value outside a column's check (a daily limit of 0) was refused with Postgres's message
-- only, 'new row … violates check constraint "ai_automation_rules_daily_limit_check"', which names
-- the field but not what it accepts. The hint now carries the constraint's own definition
-- ("Allowed: ((daily_limit >= 1) AND (daily_limit <= 1000000))."), read from the catalog, so the bounds
-- are said once, by the table.

create or replace function public.console_rule_write(
  p_rule_id uuid default null,
  p_user_id uuid default null,
  p_settings jsonb default '{}'::jsonb,
  p_save boolean default true,
  p_now timestamptz default leadflow_private.now()
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
    if p_rule_id is null then
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
  return jsonb_build_object('saved', true, 'rule', to_jsonb(v_row), 'explain', v_explain);
end;
$$;
