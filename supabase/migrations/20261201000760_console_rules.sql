-- The Leadflow console, part 2: follow-up rules made and edited from the page.
-- Functions: console_rules, console_rule_write, console_rule_delete (new).
--
-- Why: a rule (ai_automation_rules) could only be made by writing a row with arrays of tag UUIDs in
-- a table editor. The console's Rules tab lists the rules with their tags by name, and saves a
-- rule's settings through console_rule_write: the table's own checks (its constraints and its
-- validation trigger) judge the settings, and a refusal comes back as data, the database's message
-- with the column it concerns, so the page shows it beside the field. Nothing is written then.
-- The same function previews unsaved settings: it writes them inside a subtransaction, judges the
-- tagged contacts with the claim's judgement (automation_evaluate, unchanged), and rolls the
-- subtransaction back, so the preview is what the rule would see if it were saved now, and nothing
-- stays written.

-- =============================================================================================
-- console_rules(p_user_id) → jsonb: the rules in full with their tags by name, and the tags
-- =============================================================================================
create or replace function public.console_rules(p_user_id uuid default null)
returns jsonb
language sql
stable
set search_path = ''
as $$
  select jsonb_build_object(
    'rules', coalesce((
      select jsonb_agg(to_jsonb(r) || jsonb_build_object(
               'include_tags', (select coalesce(jsonb_agg(jsonb_build_object('id', t.id, 'name', t.name) order by lower(t.name), t.id), '[]'::jsonb)
                                  from public.tags t where t.id = any (r.include_tag_ids)),
               'exclude_tags', (select coalesce(jsonb_agg(jsonb_build_object('id', t.id, 'name', t.name) order by lower(t.name), t.id), '[]'::jsonb)
                                  from public.tags t where t.id = any (r.exclude_tag_ids)))
             order by r.name, r.id)
        from public.ai_automation_rules r
       where p_user_id is null or r.user_id = p_user_id), '[]'::jsonb),
    'tags', coalesce((
      select jsonb_agg(jsonb_build_object('id', t.id, 'name', t.name, 'user_id', t.user_id) order by lower(t.name), t.id)
        from public.tags t
       where p_user_id is null or t.user_id = p_user_id), '[]'::jsonb),
    'owners', coalesce((
      select jsonb_agg(o.user_id order by o.user_id)
        from (select t.user_id from public.tags t union select r.user_id from public.ai_automation_rules r) o
       where p_user_id is null or o.user_id = p_user_id), '[]'::jsonb)
  )
$$;
comment on function public.console_rules(uuid) is
  'The console''s Rules tab: every rule (of one owner, or all) in full with its include and exclude tags by name, the tags by name, and the owners.';

-- =============================================================================================
-- console_rule_write(p_rule_id, p_user_id, p_settings, p_save, p_now) → jsonb
-- =============================================================================================
-- p_rule_id null: a new rule of p_user_id; else the rule's columns named in p_settings change.
-- p_settings: a JSON object of columns of ai_automation_rules (not id, user_id or the timestamps);
-- those left out keep their value (a new rule: the column's default).
-- p_save false: the preview; nothing stays written.
-- Answers { saved, rule, explain: { tagged, due, by_reason } } or, refused,
-- { saved: false, error: { field, message, hint } } (field: the column, or null).
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
      return jsonb_build_object('saved', false, 'error', jsonb_build_object('field', v_field, 'message', v_message, 'hint', nullif(v_hint, '')));
  end;
  return jsonb_build_object('saved', true, 'rule', to_jsonb(v_row), 'explain', v_explain);
end;
$$;
comment on function public.console_rule_write(uuid, uuid, jsonb, boolean, timestamptz) is
  'Create (p_rule_id null) or change a follow-up rule from a JSON object of its columns, checked by the table''s own rules; a refusal answers the database''s message and the column, nothing written. p_save false previews: the contacts the rule would judge due, and why not, then rolls back.';

-- =============================================================================================
-- console_rule_delete(p_rule_id) → jsonb { deleted }
-- =============================================================================================
create or replace function public.console_rule_delete(p_rule_id uuid)
returns jsonb
language sql
volatile
set search_path = ''
as $$
  with gone as (delete from public.ai_automation_rules r where r.id = p_rule_id returning r.id)
  select jsonb_build_object('deleted', exists (select from gone), 'id', p_rule_id)
$$;
comment on function public.console_rule_delete(uuid) is
  'Delete a follow-up rule (its contact states, events and executions go with it); deleted false when there was none.';

revoke all on function public.console_rules(uuid), public.console_rule_write(uuid, uuid, jsonb, boolean, timestamptz),
  public.console_rule_delete(uuid) from public, anon, authenticated;
grant execute on function public.console_rules(uuid), public.console_rule_write(uuid, uuid, jsonb, boolean, timestamptz),
  public.console_rule_delete(uuid) to service_role;
