-- Campaign objectives: "reached" means one thing, the value true, for the status and the stats.
-- New: leadflow_private.objective_reached(jsonb).
-- Re-created: leadflow_private.session_status_for (otherwise as in 20261122000300) and
-- public.campaign_session_stats (otherwise as in 20261122000300).
--
-- Why: the session status counted an objective as reached when its value was true, but the stats
-- counted every value other than false and null, so "no", 0 and "" were objectives reached: a
-- campaign with sessions whose interested was true, 0 and "no" answered statuses.interested 1 and
-- objectives.interested 3. Both now call objective_reached (value = true), so the counts agree. A
-- campaign's own objective recorded with another value (an answer such as 45000) is stored in the
-- session's objectives as before but is not counted as reached. Statuses do not change (the rule is
-- the one they already used), so no row is rewritten.

create or replace function leadflow_private.objective_reached(p_value jsonb)
returns boolean
language sql
immutable
parallel safe
set search_path = ''
as $$
  select coalesce(p_value = 'true'::jsonb, false)
$$;

comment on function leadflow_private.objective_reached(jsonb) is
  'Whether an objective''s value means reached: true only (false, null, 0, "no", "" and answers are not).';

create or replace function leadflow_private.session_status_for(objectives jsonb, contacted boolean)
returns text
language sql
immutable
set search_path = ''
as $$
  select case
    when leadflow_private.objective_reached(objectives -> 'started_work') then 'started_work'
    when leadflow_private.objective_reached(objectives -> 'rejected') then 'rejected'
    when leadflow_private.objective_reached(objectives -> 'interested') then 'interested'
    when contacted then 'contacted'
    else 'pending'
  end
$$;

create or replace function public.campaign_session_stats(p_owner uuid, p_campaign text)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  with campaign as (
    select c.id, c.name_uid, c.name, c.created_at
      from public.campaign_info c
     where c.user_id = p_owner and c.name_uid = p_campaign
  ),
  sessions as (
    select s.* from public.session_info s join campaign c on s.campaign_id = c.id where s.user_id = p_owner
  )
  select case when not exists (select from campaign) then null else jsonb_build_object(
    'campaign', (select jsonb_build_object('id', c.name_uid, 'name', c.name, 'created_at', c.created_at) from campaign c),
    'sessions', (select count(*) from sessions),
    'contacted', (select count(*) from sessions where contacted_at is not null),
    'statuses', (
      select jsonb_object_agg(st.status, (select count(*) from sessions s where s.status = st.status))
        from unnest(array['pending', 'contacted', 'interested', 'started_work', 'rejected']) as st(status)
    ),
    'messages', (
      select jsonb_build_object(
               'total', count(m.id),
               'outbound', count(m.id) filter (where m.direction = 'outbound'),
               'inbound', count(m.id) filter (where m.direction = 'inbound'))
        from sessions s join public.chat_history m on m.session_info_id = s.id
    ),
    'calls', (
      select jsonb_build_object(
               'total', count(k.id),
               'completed', count(k.id) filter (where k.outcome = 'completed'),
               'total_duration_seconds', coalesce(sum(k.duration_seconds), 0))
        from sessions s join public.call_info k on k.session_info_id = s.id
    ),
    -- Sessions whose value of each objective is reached (true), as the status reads it.
    'objectives', coalesce((
      select jsonb_object_agg(o.key, o.reached)
        from (
          select kv.key, count(*) as reached
            from sessions s, jsonb_each(s.objectives) kv
           where leadflow_private.objective_reached(kv.value)
           group by kv.key
        ) o
    ), '{}'::jsonb)
  ) end
$$;

-- The status trigger runs as whoever writes the session (the owner's app, n8n): like
-- session_status_for, the rule it calls is theirs to execute; nobody else's.
revoke all on function leadflow_private.objective_reached(jsonb) from public, anon;
grant execute on function leadflow_private.objective_reached(jsonb) to authenticated, service_role;
