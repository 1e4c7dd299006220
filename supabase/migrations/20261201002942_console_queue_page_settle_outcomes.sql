-- The console's Queue tab: each row says which settles of its dead message the database accepts.
-- Re-created: public.console_queue_page (otherwise as in
-- 20261201002230_console_queue_page_open_earlier_phone_owners.sql; same arguments and grants; the
-- comment names the new key).
--
-- Why (review RF1 F3): the console showed "It arrived" and "Send again" on every dead `uncertain`
-- row of a lead new or queued, guessing from the row; queue_settle_lead refused many of them (an
-- earlier message of the lead, settled already, the lead given back or set new, so its backlog item
-- queued again), and the owner pressed a button only to read a refusal. Each row now carries
-- `settle_outcomes`, the outcomes queue_settle_lead (…2941) would accept for it now, by the same
-- conditions: the row is the lead's last message (day, then created_at), dead with error
-- `uncertain`, never settled (no ledger row dead_message_settled for it), its lead new or queued;
-- then both when the lead's latest backlog item is dead, `delivered` only when it is queued again
-- (set to new after the death), none otherwise. [] for every other row. The console shows a button
-- only for an outcome listed; the database still decides when one is pressed.

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
  v_owner_labels jsonb;
  v_owner uuid := p_user_id;
  v_settings public.user_queue_settings;
  v_zone text;
  v_today date;
  v_day date;
  v_search text;
  v_digits text;
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
    select coalesce(jsonb_agg(s.user_id order by s.user_id), '[]'::jsonb),
           jsonb_build_object('ownerLabels', coalesce(jsonb_object_agg(s.user_id, (
             -- The owner's named Pages, else their campaigns: the first three by when they came, "+N more".
             select case when count(*) = 0 then null
                         else string_agg(n.name, ', ' order by n.ord) filter (where n.ord <= 3)
                              || case when count(*) > 3 then ' +' || (count(*) - 3) || ' more' else '' end end
               from (select x.name, row_number() over (order by x.rank, x.at, x.name) as ord
                       from (select p.name, 0 as rank, p.connected_at as at from public.messenger_pages p
                              where p.user_id = s.user_id and p.name is not null
                             union all
                             select c.name, 1, c.created_at from public.campaign_info c
                              where c.user_id = s.user_id
                                and not exists (select from public.messenger_pages p where p.user_id = s.user_id and p.name is not null)) x) n)),
             '{}'::jsonb))
      into v_owners, v_owner_labels
      from public.user_queue_settings s;
  end if;
  if v_owner is null then
    -- The first owner by id (the settings' primary key).
    select s.user_id into v_owner from public.user_queue_settings s order by s.user_id limit 1;
    if v_owner is null then
      return case when v_owners is null then '{}'::jsonb else jsonb_build_object('owners', v_owners) || v_owner_labels end
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
  -- A phone as people write it: its digits without the separators and the leading +, 00 or trunk 0
  -- ("07853 724011", "+44 7853 724011", "0044 7853 724011" → 7853724011 or 447853724011), found in
  -- the E.164 phone's digits when 6 or more are left.
  v_digits := regexp_replace(btrim(coalesce(p_search, '')), '[[:space:]()./-]', '', 'g');
  v_digits := case when v_digits ~ '^(\+|00|0)?[0-9]+$' then regexp_replace(v_digits, '^(\+|00|0)', '') end;
  if length(v_digits) < 6 then
    v_digits := null;
  end if;

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
                                         where l.id = d.lead_id and (l.name ilike v_search or l.phone like v_search
                                                                        or (v_digits is not null and l.phone like '%' || v_digits || '%'))))
  ),
  page as (
    select m.* from matching m order by m.scheduled_for, m.id offset p_offset limit p_limit
  )
  select case when v_owners is null then '{}'::jsonb else jsonb_build_object('owners', v_owners) || v_owner_labels end || jsonb_build_object(
    'owner', v_owner,
    'settings', case when v_settings.user_id is null then null else jsonb_build_object(
      'time_zone', v_settings.time_zone, 'daily_capacity', v_settings.daily_capacity, 'send_from', v_settings.send_from,
      'send_until', v_settings.send_until, 'days_of_week', to_jsonb(v_settings.days_of_week), 'max_attempts', v_settings.max_attempts) end,
    'timeZone', v_zone,
    'today', v_today,
    'day', v_day,
    'generatedAt', p_now,
    'counts', (select to_jsonb(c) from counts c),
    -- The open messages (queued, claimed, failed with a retry to come) of the days before today: the
    -- claim still sends them, so the page says so whichever day it shows.
    'earlierOpen', (select jsonb_build_object('total', coalesce(sum(e.open), 0)::int,
                                              'days', coalesce(jsonb_agg(jsonb_build_object('day', e.day, 'open', e.open) order by e.day), '[]'::jsonb))
                      from (select q.day, count(*)::int as open
                              from public.whatsapp_message_queue q
                             where q.user_id = v_owner and q.day < v_today and q.status in ('queued', 'claimed', 'failed')
                             group by q.day) e),
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
                 'settle_outcomes', case
                   when p.status = 'dead' and p.last_error ->> 'code' = 'uncertain' and l.status in ('new', 'queued')
                    and p.id = (select m.id from public.whatsapp_message_queue m where m.lead_id = p.lead_id
                                 order by m.day desc, m.created_at desc limit 1)
                    and not exists (select from public.queue_ledger g where g.lead_id = p.lead_id and g.reason = 'dead_message_settled'
                                      and g.detail ->> 'item_id' = p.id::text)
                   then case (select b.status from public.lead_processing_queue b where b.lead_id = p.lead_id order by b.created_at desc limit 1)
                          when 'dead' then '["delivered", "send_again"]'::jsonb
                          when 'queued' then '["delivered"]'::jsonb
                          else '[]'::jsonb end
                   else '[]'::jsonb end,
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
  'The console''s Queue tab in one call: the owners (unless p_owners is false), an owner''s queue day (today in their time zone), its counts by status, the open messages of earlier days by day, and one page of its messages (by status, a search of name or phone, a phone as people write it too) with each lead (its conversation, whether that is stopped for every follow-up rule) and its last ledger row, and settle_outcomes: the outcomes queue_settle_lead accepts now for a dead uncertain message (both, delivered only, or []); with the owners, a label for each (their Pages'' or campaigns'' names).';

revoke all on function public.console_queue_page(uuid, date, text, text, integer, integer, boolean, timestamptz) from public, anon, authenticated;
grant execute on function public.console_queue_page(uuid, date, text, text, integer, integer, boolean, timestamptz) to service_role;
