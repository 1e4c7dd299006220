-- Claim's sending hours are the instants Prepare's slots span, so no message Prepare schedules
-- waits for the next day because of a DST change.
-- Re-created: public.queue_claim (otherwise as in 20261201001100_queue_ledger_send_started.sql;
-- same signature, so its grants stay; comment re-stated).
--
-- Why (review R8, 4): queue_prepare schedules a day's slots between two instants,
-- (day + send_from) at time zone and (day + send_until) at time zone, while queue_claim opened an
-- owner's hours by the local wall-clock time (local time >= send_from and < send_until). On a DST
-- day the two disagree: with hours 01:30-02:30 in Europe/Berlin on 2027-03-28 (the clock skips
-- 02:00-03:00), Prepare reads 02:30 an hour later (03:30 CEST) and spreads the slots over
-- 01:30-03:30 local, but from 03:00 CEST the wall clock is past 02:30 and Claim answered nothing:
-- half the day's messages waited for the next day's hours. On the autumn day (hours ending inside
-- the hour the clock shows twice) the slots of the first pass of that hour waited for the second.
--
-- Now the hours are open when p_now is at or after (day + send_from) at time zone and before
-- (day + send_until) at time zone, for the owner's local day at p_now (a day of days_of_week), or
-- the day before it (hours ending at 24:00 on a day whose clock goes back from 01:00 to 00:00 end
-- at the second midnight, inside the next local day): Prepare's own instants, so both agree on every
-- day. On an ordinary day nothing changes. Ending stranded sends (send_uncertain) and handing out
-- are unchanged.

create or replace function public.queue_claim(
  p_worker text,
  p_limit integer default 100,
  p_lease_seconds integer default 300,
  p_now timestamptz default leadflow_private.now(),
  p_user_id uuid default null
)
returns table (item_id uuid, user_id uuid, lead_id uuid, lead_name text, phone text, message jsonb, attempt integer,
               scheduled_for timestamptz, lease_expires_at timestamptz)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_open uuid[];
  v_ids uuid[];
  v_uncertain uuid[];
begin
  if p_worker is null or length(btrim(p_worker)) = 0 or length(p_worker) > 200 or not leadflow_private.is_valid_text(p_worker, 'line') then
    raise exception 'p_worker: required, who claims (one line of at most 200 characters)'
      using errcode = '22023', hint = 'Pass the n8n execution id (or any id unique to this run): queue_complete checks it.';
  end if;
  if p_limit is null or p_limit not between 1 and 1000 then
    raise exception 'p_limit: must be between 1 and 1000 (got %)', p_limit using errcode = '22023';
  end if;
  if p_lease_seconds is null or p_lease_seconds not between 5 and 86400 then
    raise exception 'p_lease_seconds: must be between 5 and 86400 (got %)', p_lease_seconds using errcode = '22023';
  end if;
  if p_user_id is not null and not p_user_id = any (leadflow_private.queue_known_users(array[p_user_id])) then
    raise exception 'p_user_id: user % does not exist', p_user_id using errcode = 'P0002', hint = 'Use the id of a user of this project (auth.users).';
  end if;

  -- The messages whose send began and whose worker never reported before its lease ran out: they
  -- may have been delivered, so they are never handed out again. Dead, uncertain, with their
  -- backlog items (the lead stays queued: the owner decides), in one statement each, by the
  -- partial index of messages being sent; SKIP LOCKED: one a Complete is recording is its.
  perform leadflow_private.queue_set_actor('automation', null, 'send_uncertain');
  with stranded as (
    select q.id from public.whatsapp_message_queue q
     where q.status = 'claimed' and q.send_started_at is not null and q.lease_expires_at <= p_now
       and (p_user_id is null or q.user_id = p_user_id)
     order by q.id
       for update skip locked
  ), ended as (
    update public.whatsapp_message_queue q
       set status = 'dead',
           last_error = jsonb_build_object(
             'code', 'uncertain', 'permanent', true,
             'message', 'No outcome recorded: the run of worker ' || q.lease_holder || ' began sending it at '
                          || to_char(q.send_started_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
                          || ' and its lease ran out without a report; it may have been delivered, so it is not sent again'),
           lease_expires_at = null, completed_at = p_now, updated_at = p_now
      from stranded s
     where q.id = s.id
    returning q.lead_id
  )
  select array_agg(e.lead_id) into v_uncertain from ended e;
  if v_uncertain is not null then
    update public.lead_processing_queue p
       set status = 'dead', updated_at = p_now
     where p.lead_id = any (v_uncertain) and p.status = 'claimed';
  end if;
  perform leadflow_private.queue_set_actor(null);

  -- The owners whose sending hours are open now: p_now inside a sending day's hours as instants,
  -- built as queue_prepare builds its slots ((day + send_from) at time zone, (day + send_until) at
  -- time zone), so every slot Prepare gives is inside the hours Claim opens, DST days included (a
  -- time the clock skips is read an hour later, one it shows twice is the second). The day is the
  -- owner's local day, or the day before it: hours ending at 24:00 where the clock goes back at
  -- 01:00 to 00:00 end at the second midnight, inside the next local day.
  v_open := array(
    select s.user_id from public.user_queue_settings s
     cross join lateral (select (p_now at time zone s.time_zone)::date as today) t
     where (p_user_id is null or s.user_id = p_user_id)
       and exists (select from (values (t.today), (t.today - 1)) d (day)
                    where extract(isodow from d.day)::integer = any (s.days_of_week)
                      and p_now >= (d.day + s.send_from) at time zone s.time_zone
                      and p_now < (d.day + s.send_until) at time zone s.time_zone));
  if cardinality(v_open) = 0 then
    return;
  end if;

  -- The due messages, locked (SKIP LOCKED: another claim's are skipped, never waited for); then
  -- updated by their ids, an index lookup each whatever the planner guesses of their number. A
  -- claimed one only when its send never began (its worker died before sending).
  v_ids := array(
    select q.id from public.whatsapp_message_queue q
     where q.status in ('queued', 'failed', 'claimed') and q.available_at <= p_now and q.user_id = any (v_open)
       and (q.status <> 'claimed' or q.send_started_at is null)
     order by q.available_at, q.id
     limit p_limit
       for update skip locked);
  if cardinality(v_ids) = 0 then
    return;
  end if;

  perform leadflow_private.queue_set_actor('automation');
  return query
    with claimed as (
      update public.whatsapp_message_queue q
         set status = 'claimed', lease_holder = p_worker, lease_expires_at = p_now + make_interval(secs => p_lease_seconds),
             send_started_at = null, attempts = q.attempts + 1, updated_at = p_now
       where q.id = any (v_ids)
      returning q.id, q.user_id, q.lead_id, q.phone, q.message, q.attempts, q.scheduled_for, q.lease_expires_at
    )
    select c.id, c.user_id, c.lead_id, l.name, c.phone,
           case when c.message ->> 'type' = 'text'
                then jsonb_build_object('type', 'text', 'text',
                       case when l.name is null then regexp_replace(c.message ->> 'text', ' ?\{\{name\}\}', '', 'g')
                            else replace(c.message ->> 'text', '{{name}}', l.name) end)
                else c.message end,
           c.attempts, c.scheduled_for, c.lease_expires_at
      from claimed c
      join public.leads l on l.id = c.lead_id
     order by c.scheduled_for, c.id;
  perform leadflow_private.queue_set_actor(null);
end;
$$;
comment on function public.queue_claim(text, integer, integer, timestamptz, uuid) is
  'Hands out up to p_limit due WhatsApp messages of owners inside their sending hours (as instants, built as queue_prepare builds its slots: the same on DST days), each to one worker with a lease (FOR UPDATE SKIP LOCKED), with the lead''s name and phone and the message to send. First ends dead (uncertain) every claimed message whose send began and whose lease ran out: it may have been delivered, it is never handed out again.';
