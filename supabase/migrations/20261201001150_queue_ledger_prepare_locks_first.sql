-- Two Prepare Tomorrow runs at the same time queue the day once: the owner's lock is taken before
-- the day is counted. Re-created: public.queue_prepare (otherwise as in 20261201000420).
--
-- Why: queue_prepare counted the day's messages (`already`) in the statement that locked the
-- owner's settings row (FOR NO KEY UPDATE). A second call waited for that lock, but its count came
-- from the snapshot its statement took before waiting, from before the first call committed: it
-- read 0. Its next statement, with a fresh snapshot, saw the first call's leads as queued and
-- picked other new leads, up to the full capacity again. n8n triggers fire twice and the hourly
-- schedule can overlap a `POST …/queue/prepare`: with a capacity of 3 and 10 new leads, two calls
-- at once both answered queued 3, already_queued 0, and the day held 6 messages, two at each of
-- 09:00, 11:40 and 14:20. docs/database.md promises "Run twice, it queues nothing more".
--
-- Now the owners' settings rows are locked (in user_id order, as before) in a statement of their
-- own, and the day is counted and the owners read in the next one: in READ COMMITTED (PostgREST's,
-- and the default) each statement of the function takes a new snapshot, so a call that waited for
-- the lock counts the messages the call before it committed, and its backlog statement (later
-- still) sees those leads queued: it queues nothing more. One statement more per call, nothing per
-- lead.
--
-- No constraint on the day's slots: two live messages of a day may legitimately share a time (a
-- slot freed by a take-over is refilled at the slot after the day's live ones, test/db/queue/
-- prepare.test.ts; a capacity raised during the day gives slots that can fall on older ones), and
-- a capacity lowered after a Prepare leaves a day over the new capacity. The lock is the rule.

create or replace function public.queue_prepare(
  p_user_id uuid default null,
  p_now timestamptz default leadflow_private.now()
)
returns table (user_id uuid, day date, time_zone text, capacity integer, queued integer, already_queued integer, skipped jsonb)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
declare
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

  -- The owners' settings, locked (one prepare per owner at a time), in user_id order, in a
  -- statement of their own: the next statements' snapshots are taken once the lock is held, so
  -- they see what a call that held it before committed.
  perform from (select s.user_id from public.user_queue_settings s where p_user_id is null or s.user_id = p_user_id
                 order by s.user_id for no key update) s;

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
    from (select s.* from public.user_queue_settings s where p_user_id is null or s.user_id = p_user_id) s
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
    select r.*, o.day, o.message,
           o.window_start + (o.window_end - o.window_start) * ((o.already + r.rn - 1)::double precision / o.capacity) as scheduled_for
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
