-- Prepare Tomorrow: every slot of a day is due at a minute's Claim inside the sending hours, so a
-- capacity above the number of minutes in the hours no longer leaves the day's last messages for
-- the next day.
-- Re-created: public.queue_prepare (otherwise as in 20261201001390; same signature, so its grants
-- stay): only the slot each pick gets (the `picks` step) changes.
--
-- Why: the n-th message of a day (n from 0) was due at send_from + n × (hours ÷ capacity), the last
-- one at send_until − hours ÷ capacity. queue_claim hands out only while local time < send_until,
-- and workflows/queue-run.json claims once a minute, so the last run inside the hours is in the
-- hours' last minute (at send_until − 1 minute when it runs on the minute). With the slots under a
-- minute apart (a capacity above the minutes of the hours: 600 over 09:00–17:00, 48 s apart) the
-- slots after that last run were not due at it: 599 of the 600 went out that day, the one at
-- 16:59:12 the next day at 09:00, on top of that day's own capacity.
--
-- Now the slots are n × step after send_from, the step the smaller of hours ÷ capacity (as before)
-- and (hours − 1 minute) ÷ (capacity − 1): the last slot is never after send_until − 1 minute, and
-- every run of a once-a-minute schedule, at whatever second it fires, has one run in the hours'
-- last minute, at or after it. Where the slots are a minute or more apart (capacity ≤ the minutes
-- of the hours) the first is the smaller, so every such day is prepared exactly as before, to the
-- microsecond (the same expression); above, the capacity is spread evenly over
-- [send_from, send_until − 1 minute]. Hours of a minute or less put every slot at send_from. Each
-- slot is still a function of its index in the day (the day's live messages counted first), so a
-- second run queues nothing more and a refill takes the next index: idempotent as before.

create or replace function public.queue_prepare(
  p_user_id uuid default null,
  p_now timestamptz default leadflow_private.now(),
  p_after_user_id uuid default null,
  p_until_user_id uuid default null,
  p_owner_limit integer default null
)
returns table (user_id uuid, day date, time_zone text, capacity integer, queued integer, already_queued integer, skipped jsonb)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_ids uuid[];
  v_owners leadflow_private.queue_prepare_owner[];
  v_picks leadflow_private.queue_pick[];
  v_skipped jsonb;
  v_written integer;
begin
  if p_user_id is not null and not exists (select from public.user_queue_settings s where s.user_id = p_user_id) then
    if not p_user_id = any (leadflow_private.queue_known_users(array[p_user_id])) then
      raise exception 'p_user_id: user % does not exist', p_user_id using errcode = 'P0002', hint = 'Use the id of a user of this project (auth.users).';
    end if;
    raise exception 'p_user_id: user % has no queue settings', p_user_id
      using errcode = 'P0002', hint = 'Insert their row in user_queue_settings (capacity, hours, time zone, message) first.';
  end if;

  if p_owner_limit is not null and p_owner_limit not between 1 and 1000 then
    raise exception 'p_owner_limit: must be from 1 to 1000 owners per call (got %)', p_owner_limit
      using errcode = '22023', hint = 'Page through the owners: the Data API answers at most 1000 rows (max-rows), one per owner; pass the last user_id answered as p_after_user_id.';
  end if;

  -- The owners' settings (this page of them: after p_after_user_id, up to p_until_user_id, at
  -- most p_owner_limit),
  -- locked (one prepare per owner at a time), in user_id order, in a statement of their own: the
  -- next statements' snapshots are taken once the lock is held, so they see what a call that held
  -- it before committed. The next statements read exactly the owners locked here.
  select coalesce(array_agg(s.user_id order by s.user_id), '{}') into v_ids
    from (select s.user_id from public.user_queue_settings s
           where (p_user_id is null or s.user_id = p_user_id)
             and (p_after_user_id is null or s.user_id > p_after_user_id)
             and (p_until_user_id is null or s.user_id <= p_until_user_id)
           order by s.user_id
           limit p_owner_limit
             for no key update) s;

  -- The owners, their day and what it holds already (the day's messages not cancelled).
  select array_agg(row(s.user_id, d.day, s.time_zone, s.daily_capacity,
                       (select count(*) from public.whatsapp_message_queue q where q.user_id = s.user_id and q.day = d.day and q.status <> 'cancelled'),
                       extract(isodow from d.day)::integer = any (s.days_of_week),
                       (d.day + s.send_from) at time zone s.time_zone,
                       (d.day + s.send_until) at time zone s.time_zone,
                       (d.day - 1)::timestamp at time zone s.time_zone,
                       s.message)::leadflow_private.queue_prepare_owner
                   order by s.user_id)
    into v_owners
    from (select s.* from public.user_queue_settings s where s.user_id = any (v_ids)) s
   cross join lateral (select (p_now at time zone s.time_zone)::date + 1 as day) d;
  if v_owners is null then
    return;
  end if;

  -- The backlog of each owner, why each lead is skipped or its rank; the picks and their slots;
  -- the counts by reason.
  with owners as materialized (
    select o.* from unnest(v_owners) o
  ),
  queued_that_day as materialized (
    select distinct q.lead_id from owners o join public.whatsapp_message_queue q on q.user_id = o.user_id and q.day = o.day
  ),
  candidates as materialized (
    select o.user_id, p.id as backlog_id, l.id as lead_id, l.phone, l.created_at, coalesce(pc.score, l.lead_score) as score,
           case
             when l.status = 'human_controlled' then 'taken_over'
             when l.status <> 'new' then 'not_new'
             when l.phone is null then 'no_phone'
             when l.updated_at >= o.today_start
                  and exists (select from public.whatsapp_message_queue q
                               where q.lead_id = l.id and q.status = 'sent' and q.completed_at >= o.today_start) then 'contacted_today'
             when d.lead_id is not null then 'already_queued_that_day'
             when not o.sending_day then 'not_a_sending_day'
           end as skip
      from owners o
      join public.lead_processing_queue p on p.user_id = o.user_id and p.status = 'queued'
      join public.leads l on l.id = p.lead_id
      left join queued_that_day d on d.lead_id = l.id
      left join lateral (
        select pc.lead_score as score from public.pipeline_contacts pc
         where l.conversation_id is not null and pc.conversation_id = l.conversation_id and pc.lead_score is not null
         order by pc.analysed_at desc nulls last, pc.updated_at desc
         limit 1
      ) pc on true
  ),
  ranked as materialized (
    select c.user_id, c.backlog_id, c.lead_id, c.phone, c.score,
           row_number() over (partition by c.user_id order by c.score desc nulls last, c.created_at, c.lead_id) as rn
      from candidates c
     where c.skip is null
  ),
  picks as materialized (
    -- The slot of the day's index n (its live messages first): n × the smaller step of
    -- hours ÷ capacity and (hours − 1 minute) ÷ (capacity − 1), so the last one is at most a
    -- minute before send_until, due at the hours' last once-a-minute Claim.
    select r.*, o.day, o.message,
           o.window_start + least(
             (o.window_end - o.window_start) * ((o.already + r.rn - 1)::double precision / o.capacity),
             greatest(o.window_end - o.window_start - interval '1 minute', interval '0')
               * ((o.already + r.rn - 1)::double precision / greatest(o.capacity - 1, 1))
           ) as scheduled_for
      from ranked r join owners o on o.user_id = r.user_id
     where r.rn <= o.capacity - o.already
  )
  select (select array_agg(row(k.user_id, k.backlog_id, k.lead_id, k.score, k.day, k.phone, k.message, k.scheduled_for
                           )::leadflow_private.queue_pick order by k.user_id, k.rn)
            from picks k),
         (select jsonb_object_agg(s.user_id, s.counts)
            from (select s.user_id, jsonb_object_agg(s.reason, s.n) as counts
                    from (select c.skip as reason, c.user_id, count(*) as n from candidates c where c.skip is not null group by 1, 2
                          union all
                          select 'over_capacity', r.user_id, count(*) from ranked r join owners o on o.user_id = r.user_id
                           where r.rn > o.capacity - o.already group by 2
                          union all
                          select '#queued', k.user_id, count(*) from picks k group by 2) s
                   group by s.user_id) s)
    into v_picks, v_skipped;

  if v_picks is not null then
    perform leadflow_private.queue_set_actor('automation', null, 'prepared');
    -- Backlog items, then leads (the lock order), then the messages. Every pick or none.
    update public.lead_processing_queue p
       set status = 'claimed', lease_holder = 'queue_prepare', day = k.day, updated_at = p_now
      from unnest(v_picks) k
     where p.id = k.backlog_id and p.status = 'queued';
    get diagnostics v_written = row_count;
    if v_written = cardinality(v_picks) then
      update public.leads l
         set status = 'queued', lead_score = coalesce(k.score, l.lead_score), updated_at = p_now
        from unnest(v_picks) k
       where l.id = k.lead_id and l.status = 'new';
      get diagnostics v_written = row_count;
    end if;
    if v_written <> cardinality(v_picks) then
      raise exception 'a lead changed while the queue was being prepared; nothing was written'
        using errcode = '40001', hint = 'Run queue_prepare again.';
    end if;
    insert into public.whatsapp_message_queue (user_id, lead_id, day, phone, message, status, scheduled_for, dedupe_key, created_at, updated_at)
    select k.user_id, k.lead_id, k.day, k.phone, k.message, 'queued', k.scheduled_for, 'wa:' || k.lead_id || ':' || k.day, p_now, p_now
      from unnest(v_picks) k;
    perform leadflow_private.queue_set_actor(null);
  end if;

  return query
    select o.user_id, o.day, o.time_zone, o.capacity,
           coalesce((v_skipped -> o.user_id::text ->> '#queued')::integer, 0),
           o.already,
           '{"taken_over": 0, "not_new": 0, "no_phone": 0, "contacted_today": 0, "already_queued_that_day": 0, "not_a_sending_day": 0, "over_capacity": 0}'::jsonb
             || (coalesce(v_skipped -> o.user_id::text, '{}'::jsonb) - '#queued')
      from unnest(v_owners) o
     order by o.user_id;
end;
$$;

comment on function public.queue_prepare(uuid, timestamptz, uuid, uuid, integer) is
  'Fills each owner''s queue for their tomorrow (local day) from the backlog: up to the daily capacity, highest lead score first, spread over the sending hours (the last slot at most a minute before their end, so a once-a-minute Claim reaches every one that day); says why other leads were skipped. Idempotent. A page of owners with p_after_user_id, p_until_user_id and p_owner_limit (at most 1000).';
