-- The export's times in the owner's time zone, with its offset (review of the lead queue, D5).
-- Function replaced: public.queue_export (same arguments, same rows in the same order; its three
-- times, scheduled_for, created_at and updated_at, are now text instead of timestamptz).
--
-- Why: the export answered timestamptz, which the Data API writes in the database's zone (UTC). For
-- an owner in Asia/Kolkata sending 09:00–18:00, the row of day 2026-12-04 said scheduled_for
-- 2026-12-04T03:30:00+00:00: the day column is the owner's local day, the times were UTC, and
-- Excel / Sheets keep such a cell as text, so a manager read 03:30 for a 09:00 send.
--
-- Now each time is written in the owner's zone (user_queue_settings.time_zone; UTC for an owner
-- without settings, as queue_metrics and queue_prepare read it) with that instant's offset, in the
-- shape the Data API wrote before (ISO 8601, fractional seconds only when there are some):
-- 2026-12-04T09:00:00+05:30. A machine still reads the same instant; a person reads the owner's
-- clock. Each instant has its own offset, so a range across a DST change says +01:00 before it and
-- +02:00 after.
--
-- How: the function sets TimeZone to the owner's for its own run (set_config(…, true) with the
-- function's SET TimeZone clause: the caller's setting is back when it returns) and writes each time
-- with to_json, Postgres's own ISO writer, the one the Data API used. Measured on 300,000 values:
-- about 1 µs a value, as the Data API's writing of a timestamptz (arithmetic on the offset in SQL
-- was eight times as slow). The days of a range are p_from + n, not a timestamptz series, so they
-- do not depend on the zone.
drop function public.queue_export(uuid, date, date, text[], uuid, integer);

create function public.queue_export(
  p_user_id uuid,
  p_from date,
  p_to date,
  p_statuses text[] default null,
  p_after uuid default null,
  p_limit integer default 1000
)
returns table (item_id uuid, day date, status text, scheduled_for text, attempts integer, message_id text, last_error text,
               lead_id uuid, lead_name text, phone text, lead_status text, lead_score integer, source text,
               created_at text, updated_at text)
language plpgsql
stable
set search_path = ''
set plan_cache_mode = force_custom_plan
set "TimeZone" = 'UTC'
as $$
#variable_conflict use_column
declare
  v_bad record;
  v_from uuid := coalesce(p_after, '00000000-0000-0000-0000-000000000000'::uuid);
  v_zone text;
begin
  if p_user_id is null then
    raise exception 'p_user_id: required, the owner whose queue to export' using errcode = '22023';
  end if;
  if p_from is null or p_to is null or p_from > p_to or p_to - p_from > 365 then
    raise exception 'p_from, p_to: required, p_from on or before p_to, at most 366 days (got % to %)', p_from, p_to
      using errcode = '22023', hint = 'Days as YYYY-MM-DD, e.g. p_from = p_to = tomorrow for one day.';
  end if;
  select s.n, s.status into v_bad from unnest(p_statuses) with ordinality s (status, n)
   where s.status is null or not s.status = any (leadflow_private.queue_item_statuses()) order by s.n limit 1;
  if found then
    raise exception 'p_statuses[%]: % is not a queue status; they are queued, claimed, sent, failed, cancelled, dead', v_bad.n - 1,
      coalesce(v_bad.status, 'null') using errcode = '22023';
  end if;
  if p_limit is null or p_limit not between 1 and 1000 then
    raise exception 'p_limit: must be between 1 and 1000 (got %)', p_limit
      using errcode = '22023', hint = 'The Data API answers at most 1000 rows: page with p_after.';
  end if;
  if not p_user_id = any (leadflow_private.queue_known_users(array[p_user_id])) then
    raise exception 'p_user_id: user % does not exist', p_user_id using errcode = 'P0002', hint = 'Use the id of a user of this project (auth.users).';
  end if;

  -- The owner's zone for this call only (the SET clause above gives the caller's back on return).
  select s.time_zone into v_zone from public.user_queue_settings s where s.user_id = p_user_id;
  perform pg_catalog.set_config('TimeZone', coalesce(v_zone, 'UTC'), true);

  if p_from = p_to then
    -- One day: the (user_id, day, id) index from the key on, in its order.
    return query
      select q.id, q.day, q.status, pg_catalog.to_json(q.scheduled_for) #>> '{}', q.attempts, q.message_id,
             case when q.last_error is not null then coalesce((q.last_error ->> 'code') || ': ', '') || (q.last_error ->> 'message') end,
             l.id, l.name, l.phone, l.status, l.lead_score, l.source,
             pg_catalog.to_json(q.created_at) #>> '{}', pg_catalog.to_json(q.updated_at) #>> '{}'
        from (select q.* from public.whatsapp_message_queue q
               where q.user_id = p_user_id and q.day = p_from and q.id >= v_from and q.id is distinct from p_after
                 and (p_statuses is null or q.status = any (p_statuses))
               order by q.id
               limit p_limit) q
        join public.leads l on l.id = q.lead_id
       order by q.id;
  else
    -- Each day's first p_limit rows after the key, by the same index, then the first p_limit of them all.
    return query
      select q.id, q.day, q.status, pg_catalog.to_json(q.scheduled_for) #>> '{}', q.attempts, q.message_id,
             case when q.last_error is not null then coalesce((q.last_error ->> 'code') || ': ', '') || (q.last_error ->> 'message') end,
             l.id, l.name, l.phone, l.status, l.lead_score, l.source,
             pg_catalog.to_json(q.created_at) #>> '{}', pg_catalog.to_json(q.updated_at) #>> '{}'
        from generate_series(0, p_to - p_from) d (n)
       cross join lateral (
         select q.* from public.whatsapp_message_queue q
          where q.user_id = p_user_id and q.day = p_from + d.n and q.id >= v_from and q.id is distinct from p_after
            and (p_statuses is null or q.status = any (p_statuses))
          order by q.id
          limit p_limit
       ) q
        join public.leads l on l.id = q.lead_id
       order by q.id
       limit p_limit;
  end if;
end;
$$;
comment on function public.queue_export(uuid, date, date, text[], uuid, integer) is
  'A page of an owner''s WhatsApp queue for a range of days, with each message''s lead, in item_id order (keyset: p_after); its times in the owner''s time zone with their offset (ISO 8601).';

revoke all on function public.queue_export(uuid, date, date, text[], uuid, integer) from public, anon, authenticated;
grant execute on function public.queue_export(uuid, date, date, text[], uuid, integer) to service_role;
