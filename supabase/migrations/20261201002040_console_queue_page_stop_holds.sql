-- The console's Queue tab says "follow-ups stopped" only for a stop that holds until deleted.
-- Re-created: public.console_queue_page (otherwise as in 20261201002010_console_queue_page_follow_ups.sql;
-- same arguments, grants and comment).
--
-- Why (review Z): a row's follow_ups_stopped was true for any stop for every rule (rule_id null),
-- also a Page-inbox takeover's (last_human_message_at set), which a rule with
-- resume_after_takeover_hours lifts by itself: the row of a lead that opted out read "· follow-ups
-- stopped", with no Stop follow-ups button, while the rule messaged the person again. Now it is
-- true only for a stop for every rule without last_human_message_at (a take's, a manual one, an
-- automation's), so such a row offers Stop follow-ups, whose take makes the stop hold
-- (20261201002030_queue_take_stop_holds.sql). Still one probe of the stops' unique key per row.

create or replace function public.console_queue_page(
  p_user_id uuid default null,
  p_day date default null,
  p_status text default null,
  p_search text default null,
  p_offset integer default 0,
  p_limit integer default 50,
  p_owners boolean default true,
  p_now timestamptz default leadflow_private.now()
)
returns jsonb
language plpgsql
stable
set search_path = ''
set plan_cache_mode = force_custom_plan
as $$
declare
  v_owners jsonb;
  v_owner uuid := p_user_id;
  v_settings public.user_queue_settings;
  v_zone text;
  v_today date;
  v_day date;
  v_search text;
  v_result jsonb;
begin
  if p_status is not null and not p_status = any (leadflow_private.queue_item_statuses()) then
    raise exception 'p_status must be queued, claimed, sent, failed, cancelled or dead (got %)', left(p_status, 40)
      using errcode = '22023', hint = 'Leave it out for every status.';
  end if;
  if p_offset is null or p_offset < 0 or p_offset > 1000000 then
    raise exception 'p_offset must be between 0 and 1000000 (got %)', coalesce(p_offset::text, 'null')
      using errcode = '22023', hint = 'Start at 0 and add p_limit for each next page.';
  end if;
  if p_limit is null or p_limit not between 1 and 500 then
    raise exception 'p_limit must be between 1 and 500 messages (got %)', coalesce(p_limit::text, 'null')
      using errcode = '22023', hint = 'Ask for a page of at most 500 messages.';
  end if;
  if p_search is not null and length(p_search) > 200 then
    raise exception 'p_search must be at most 200 characters (got %)', length(p_search)
      using errcode = '22023', hint = 'Search by a part of the lead''s name or phone.';
  end if;

  -- The owners with a queue (their settings say how it sends), for the page's picker, when asked.
  if p_owners is null or p_owners then
    select coalesce(jsonb_agg(s.user_id order by s.user_id), '[]'::jsonb) into v_owners from public.user_queue_settings s;
  end if;
  if v_owner is null then
    -- The first owner by id (the settings' primary key).
    select s.user_id into v_owner from public.user_queue_settings s order by s.user_id limit 1;
    if v_owner is null then
      return case when v_owners is null then '{}'::jsonb else jsonb_build_object('owners', v_owners) end
             || jsonb_build_object('owner', null, 'generatedAt', p_now);
    end if;
  elsif not v_owner = any (leadflow_private.queue_known_users(array[v_owner])) then
    raise exception 'p_user_id: user % does not exist', v_owner
      using errcode = 'P0002', hint = 'Use an id from the answer''s owners (ask without p_user_id).';
  end if;

  select s.* into v_settings from public.user_queue_settings s where s.user_id = v_owner;
  v_zone := coalesce(v_settings.time_zone, 'UTC');
  v_today := (p_now at time zone v_zone)::date;
  v_day := coalesce(p_day, v_today);
  -- The search matches a part of the lead's name or phone, its wildcards taken literally.
  v_search := case when nullif(btrim(p_search), '') is null then null
                   else '%' || replace(replace(replace(btrim(p_search), '\', '\\'), '%', '\%'), '_', '\_') || '%' end;

  with day_items as materialized (
    select q.id, q.lead_id, q.status, q.scheduled_for, q.attempts, q.last_error, q.message_id, q.completed_at
      from public.whatsapp_message_queue q
     where q.user_id = v_owner and q.day = v_day
  ),
  counts as (
    select count(*)::int as total,
           count(*) filter (where d.status = 'queued')::int as queued,
           count(*) filter (where d.status = 'claimed')::int as claimed,
           count(*) filter (where d.status = 'sent')::int as sent,
           count(*) filter (where d.status = 'failed')::int as failed,
           count(*) filter (where d.status = 'cancelled')::int as cancelled,
           count(*) filter (where d.status = 'dead')::int as dead
      from day_items d
  ),
  matching as materialized (
    select d.* from day_items d
     where (p_status is null or d.status = p_status)
       and (v_search is null or exists (select from public.leads l
                                         where l.id = d.lead_id and (l.name ilike v_search or l.phone like v_search)))
  ),
  page as (
    select m.* from matching m order by m.scheduled_for, m.id offset p_offset limit p_limit
  )
  select case when v_owners is null then '{}'::jsonb else jsonb_build_object('owners', v_owners) end || jsonb_build_object(
    'owner', v_owner,
    'settings', case when v_settings.user_id is null then null else jsonb_build_object(
      'time_zone', v_settings.time_zone, 'daily_capacity', v_settings.daily_capacity, 'send_from', v_settings.send_from,
      'send_until', v_settings.send_until, 'days_of_week', to_jsonb(v_settings.days_of_week), 'max_attempts', v_settings.max_attempts) end,
    'timeZone', v_zone,
    'today', v_today,
    'day', v_day,
    'generatedAt', p_now,
    'counts', (select to_jsonb(c) from counts c),
    'rows', jsonb_build_object(
      'total', (select count(*) from matching)::int,
      'offset', p_offset,
      'limit', p_limit,
      'rows', coalesce((
        select jsonb_agg(jsonb_build_object(
                 'item_id', p.id, 'lead_id', p.lead_id, 'name', l.name, 'phone', l.phone, 'lead_status', l.status,
                 'lead_score', l.lead_score, 'status', p.status, 'attempts', p.attempts, 'scheduled_for', p.scheduled_for,
                 'completed_at', p.completed_at, 'message_id', p.message_id,
                 'last_error', case when p.last_error is not null then coalesce((p.last_error ->> 'code') || ': ', '') || (p.last_error ->> 'message') end,
                 'taken_over_at', l.taken_over_at, 'taken_over_by', l.taken_over_by,
                 'conversation_id', l.conversation_id,
                 'follow_ups_stopped', l.conversation_id is not null
                   and exists (select from public.ai_automation_stops s where s.conversation_id = l.conversation_id and s.rule_id is null
                                 and s.last_human_message_at is null),
                 'last_event', (select jsonb_build_object('queue', g.queue, 'from_status', g.from_status, 'to_status', g.to_status,
                                                          'reason', g.reason, 'actor', g.actor, 'worker', g.worker, 'at', g.at)
                                  from public.queue_ledger g where g.lead_id = p.lead_id order by g.id desc limit 1))
               order by p.scheduled_for, p.id)
          from page p join public.leads l on l.id = p.lead_id), '[]'::jsonb)
    )
  )
  into v_result;

  return v_result;
end;
$$;
comment on function public.console_queue_page(uuid, date, text, text, integer, integer, boolean, timestamptz) is
  'The console''s Queue tab in one call: the owners (unless p_owners is false), an owner''s queue day (today in their time zone), its counts by status, and one page of its messages (by status, search) with each lead (its conversation, whether that is stopped for every follow-up rule) and its last ledger row.';

revoke all on function public.console_queue_page(uuid, date, text, text, integer, integer, boolean, timestamptz) from public, anon, authenticated;
grant execute on function public.console_queue_page(uuid, date, text, text, integer, integer, boolean, timestamptz) to service_role;
