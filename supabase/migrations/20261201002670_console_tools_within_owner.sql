-- Console operations kept to one owner when an owner is given (the Leadflow Console node as an AI
-- agent's tool always gives one; docs/nodes.md, "One owner per tool").
--   console_rule_write: a change by p_rule_id with p_user_id given changes only a rule of that owner;
--     a rule of another owner is answered as one that does not exist (not_found, the same words),
--     nothing written. Same signature; otherwise as in 20261201002540_console_rule_write_version.sql.
--   console_rule_delete(p_rule_id, p_user_id): with p_user_id, deletes only that owner's rule
--     (another owner's: deleted false, as a rule of nobody's). New last argument (null: any owner's).
--   automation_timeline(p_rule_id, p_conversation_id, p_user_id): with p_user_id, only a rule of
--     that owner has events (another owner's: none, as an unknown one). New last argument.
--   automation_requeue(…, p_user_id): with p_user_id, a rule of another owner is refused as one that
--     does not exist (P0002, the same words), nothing requeued. New last argument.
-- A changed signature drops the old function; the grants are given again as they were.
--
-- Why: the node runs with the service role, so as a tool these read or changed any owner's rule whose
-- id the model gave. A caller without an owner (the console's webhooks, holding the console key)
-- keeps every owner's, as before.

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
  v_version timestamptz;
  v_current public.ai_automation_rules;
begin
  if p_settings is null or jsonb_typeof(p_settings) <> 'object' then
    return jsonb_build_object('saved', false, 'error', jsonb_build_object('field', null,
      'message', 'the settings must be a JSON object of the rule''s columns', 'hint', 'Send e.g. {"name": "…", "daily_limit": 50}.'));
  end if;
  -- The version the caller read (not a column this writes): taken out of the settings, kept to compare.
  if p_settings ? 'updated_at' then
    if p_rule_id is null then
      return jsonb_build_object('saved', false, 'error', jsonb_build_object('field', 'updated_at',
        'message', 'updated_at is the version of a rule you change: a new rule has none',
        'hint', 'Send updated_at only with the ruleId of the rule you read it from.'));
    end if;
    begin
      v_version := (p_settings ->> 'updated_at')::timestamptz;
    exception when data_exception then
      v_version := null;
    end;
    if v_version is null then
      return jsonb_build_object('saved', false, 'error', jsonb_build_object('field', 'updated_at',
        'message', format('updated_at %s is not a time', coalesce(p_settings ->> 'updated_at', 'null')),
        'hint', 'Send the rule''s updated_at exactly as console_rules or the last save answered it, or leave it out.'));
    end if;
    p_settings := p_settings - 'updated_at';
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
      select * into v_row from public.ai_automation_rules r
       where r.id = p_rule_id and (v_version is null or r.updated_at = v_version)
         and (p_user_id is null or r.user_id = p_user_id);
    else
      -- The version compared in the update itself: a concurrent save of the same rule makes this one
      -- wait and re-check the row it wrote, so a stale form never writes.
      execute format('update public.ai_automation_rules set (%s) = (select %s from jsonb_populate_record(null::public.ai_automation_rules, $1)) '
                     'where id = $2 and ($3::timestamptz is null or updated_at = $3) and ($4::uuid is null or user_id = $4) returning *',
                     v_list, v_list)
         into v_row using p_settings, p_rule_id, v_version, p_user_id;
    end if;
    if v_row.id is null and v_version is not null then
      select * into v_current from public.ai_automation_rules r where r.id = p_rule_id and (p_user_id is null or r.user_id = p_user_id);
      if v_current.id is not null then
        return jsonb_build_object('saved', false, 'stale', true, 'rule', to_jsonb(v_current), 'error', jsonb_build_object('field', 'updated_at',
          'message', format('rule %s was changed since you opened it (your version %s, now %s): nothing was saved',
                            v_current.id, to_jsonb(v_version) #>> '{}', to_jsonb(v_current.updated_at) #>> '{}'),
          'hint', 'Read the rule again (its settings now are in rule), make your change on them and save with that updated_at.'));
      end if;
    end if;
    if v_row.id is null then
      return jsonb_build_object('saved', false, 'error', jsonb_build_object('field', null,
        'message', format('there is no automation rule with id %s', p_rule_id) || case when p_user_id is null then '' else format(' for owner %s', p_user_id) end,
        'hint', 'Pick a rule from console_rules.'), 'not_found', true);
    end if;
    -- A page_id this save sets to a Page another owner connected: refused, the write rolled back
    -- (the handler below answers the column and the hint). See the header.
    if p_settings ? 'page_id' and v_row.page_id is not null
       and exists (select from public.messenger_pages mp where mp.page_id = v_row.page_id and mp.user_id <> v_row.user_id) then
      raise exception 'Page % is connected to another owner, not to this rule''s owner %', v_row.page_id, v_row.user_id
        using errcode = '23514', column = 'page_id',
              hint = 'Pick a Page this owner connected, or leave page_id empty (null) for every Page of the owner.';
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
  'Create (p_rule_id null) or change a follow-up rule from a JSON object of its columns, checked by the table''s own rules; a refusal answers the database''s message and the column, nothing written. p_save false previews: the contacts the rule would judge due, and why not, then rolls back. p_create_key: a create with the key the owner already used answers the rule it created (repeat true), nothing written; refused naming the first setting that differs. A page_id another owner connected is refused (field page_id). p_settings.updated_at (a change only): the rule''s updated_at as the caller read it; when the rule has changed since, refused (field updated_at, stale true, rule as it is now), nothing written. A change with p_user_id changes only a rule of that owner (another owner''s: not_found, as an unknown rule).';

revoke all on function public.console_rule_write(uuid, uuid, jsonb, boolean, timestamptz, uuid) from public, anon, authenticated;
grant execute on function public.console_rule_write(uuid, uuid, jsonb, boolean, timestamptz, uuid) to service_role;

-- =============================================================================================
-- console_rule_delete(p_rule_id, p_user_id) → jsonb { deleted, id }
-- =============================================================================================
drop function public.console_rule_delete(uuid);

create function public.console_rule_delete(p_rule_id uuid, p_user_id uuid default null)
returns jsonb
language sql
volatile
set search_path = ''
as $$
  with gone as (
    delete from public.ai_automation_rules r
     where r.id = p_rule_id and (p_user_id is null or r.user_id = p_user_id)
    returning r.id
  )
  select jsonb_build_object('deleted', exists (select from gone), 'id', p_rule_id)
$$;
comment on function public.console_rule_delete(uuid, uuid) is
  'Delete a follow-up rule (its contact states, events and executions go with it); deleted false when there was none. With p_user_id, only a rule of that owner (another owner''s: deleted false, as none).';

revoke all on function public.console_rule_delete(uuid, uuid) from public, anon, authenticated;
grant execute on function public.console_rule_delete(uuid, uuid) to service_role;

-- =============================================================================================
-- automation_timeline(p_rule_id, p_conversation_id, p_user_id) → one row per stage event
-- =============================================================================================
drop function public.automation_timeline(uuid, uuid);

create function public.automation_timeline(p_rule_id uuid, p_conversation_id uuid, p_user_id uuid default null)
returns table (
  event_id bigint,
  state_id uuid,
  rule_id uuid,
  conversation_id uuid,
  from_stage text,
  to_stage text,
  occurred_at timestamptz,
  seconds_in_previous_stage numeric,
  execution_id text,
  detail jsonb
)
language sql
stable
set search_path = ''
as $$
  select ev.id, ev.state_id, ev.rule_id, ev.conversation_id, ev.from_stage, ev.to_stage, ev.occurred_at,
         round(extract(epoch from ev.occurred_at - lag(ev.occurred_at) over (order by ev.occurred_at, ev.id))::numeric, 3),
         ev.execution_id, ev.detail
    from public.ai_automation_stage_events ev
   where ev.state_id = (select s.id from public.ai_automation_contact_states s
                         where s.rule_id = p_rule_id and s.conversation_id = p_conversation_id
                           and (p_user_id is null
                                or exists (select from public.ai_automation_rules r where r.id = s.rule_id and r.user_id = p_user_id)))
   order by ev.occurred_at, ev.id
$$;
comment on function public.automation_timeline(uuid, uuid, uuid) is
  'One contact''s stage events under a rule, oldest first. With p_user_id, only under a rule of that owner (another owner''s: no events, as an unknown rule).';

revoke all on function public.automation_timeline(uuid, uuid, uuid) from public, anon;
grant execute on function public.automation_timeline(uuid, uuid, uuid) to authenticated, service_role;

-- =============================================================================================
-- automation_requeue(p_rule_id, p_conversation_ids, p_uncertain, p_now, p_user_id) → json
-- =============================================================================================
drop function public.automation_requeue(uuid, uuid[], text, timestamptz);

create function public.automation_requeue(
  p_rule_id uuid,
  p_conversation_ids uuid[] default null,
  p_uncertain text default 'leave',
  p_now timestamptz default leadflow_private.now(),
  p_user_id uuid default null
)
returns json
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_answer json;
begin
  if p_rule_id is null then
    raise exception 'p_rule_id is required: the rule whose failed contacts are requeued' using errcode = '22023';
  end if;
  if p_uncertain is null or p_uncertain not in ('leave', 'requeue') then
    raise exception 'p_uncertain must be leave or requeue (got %)', coalesce(p_uncertain, 'null')
      using errcode = '22023',
            hint = 'leave: contacts whose send may have been delivered stay as they are; requeue: you checked they were not delivered.';
  end if;
  if p_conversation_ids is not null and cardinality(p_conversation_ids) not between 1 and 1000 then
    raise exception 'p_conversation_ids must hold 1 to 1000 ids, or be null for every failed contact of the rule (got %)', cardinality(p_conversation_ids)
      using errcode = '22023';
  end if;
  -- With an owner, another owner's rule is refused in the words of one that does not exist.
  if not exists (select from public.ai_automation_rules r where r.id = p_rule_id and (p_user_id is null or r.user_id = p_user_id)) then
    raise exception 'automation rule % does not exist', p_rule_id
      using errcode = 'P0002', hint = 'Check the rule id (ai_automation_rules.id).';
  end if;

  with asked as (
    select distinct c as conversation_id from unnest(p_conversation_ids) c
  ),
  failed as (
    -- The rule's failed contacts (those asked, or all), locked: a claim taking a due retry waits.
    select s.id, s.conversation_id, s.error_code, s.claimed_follow_up_number,
           s.error_code = 'send_uncertain' as uncertain
      from public.ai_automation_contact_states s
     where s.rule_id = p_rule_id
       and s.current_stage = 'failed'
       and (p_conversation_ids is null or s.conversation_id in (select a.conversation_id from asked a))
     order by s.id
       for update
  ),
  released as (
    update public.ai_automation_executions e
       set status = 'released',
           finished_at = coalesce(e.finished_at, p_now)
      from failed f
     where e.rule_id = p_rule_id and e.conversation_id = f.conversation_id
       and e.follow_up_number = f.claimed_follow_up_number
       and (e.status = 'failed' or (e.status = 'uncertain' and p_uncertain = 'requeue'))
    returning f.id
  ),
  requeued as (
    update public.ai_automation_contact_states s
       set retry_at = p_now,
           stage_detail = coalesce(s.stage_detail, '{}'::jsonb)
                          || jsonb_build_object('requeued_at', p_now, 'requeued_error_code', s.error_code),
           updated_at = now()
      from failed f
     where s.id = f.id
       and (not f.uncertain or p_uncertain = 'requeue')
    returning s.id
  ),
  answered as (
    select f.conversation_id, f.id as state_id,
           case when f.id in (select r.id from requeued r) then 'requeued' else 'uncertain_left' end as outcome,
           null::text as stage, f.error_code, f.id in (select x.id from released x) as released_guard
      from failed f
    union all
    -- Asked for, and not failed: its stage says where it is; no state at all: never claimed.
    select a.conversation_id, s.id, case when s.id is null then 'not_found' else 'not_failed' end,
           s.current_stage, s.error_code, false
      from asked a
      left join public.ai_automation_contact_states s on s.rule_id = p_rule_id and s.conversation_id = a.conversation_id
     where not exists (select from failed f where f.conversation_id = a.conversation_id)
  )
  select coalesce(json_agg(json_build_object(
           'conversation_id', x.conversation_id, 'state_id', x.state_id, 'outcome', x.outcome, 'stage', x.stage,
           'error_code', x.error_code, 'released_guard', x.released_guard)
         order by x.conversation_id), '[]'::json)
    into v_answer
    from answered x;
  return v_answer;
end;
$$;

comment on function public.automation_requeue(uuid, uuid[], text, timestamptz, uuid) is
  'Makes a rule''s failed follow-up contacts (all, or those of p_conversation_ids) due again now; send_uncertain ones only with p_uncertain = requeue (their duplicate guard released). One JSON array, an object per contact: requeued, uncertain_left, not_failed, not_found. With p_user_id, a rule of another owner is refused as one that does not exist (P0002), nothing requeued.';

revoke all on function public.automation_requeue(uuid, uuid[], text, timestamptz, uuid) from public, anon, authenticated;
grant execute on function public.automation_requeue(uuid, uuid[], text, timestamptz, uuid) to service_role;
