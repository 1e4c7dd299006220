-- Two holes left by 20261201001720 / 20261201001730 (a reviewer's repro on a real stack): a phone
-- changed while Prepare runs was queued at the old number, and a person who said no in a campaign
-- was still sent the queue's first message when her phone reached an existing lead.
-- Re-created: public.queue_prepare (otherwise as in 20261201001580; same signature, so its grants
-- stay; comment re-stated): one condition of its update of the leads.
-- New: leadflow_private.leads_follow_answered_session and its trigger leads_follow_answered_session
-- (leads).
--
-- Why:
--   1. queue_prepare reads each pick's phone with the backlog, then locks the leads: its update
--      re-checked only `status = 'new'` after waiting for a lead's row lock. A phone changed (or
--      removed) by a transaction holding the lead meanwhile was committed before the message
--      existed, so leads_waiting_messages_follow_phone found nothing to follow, and the message was
--      inserted with the old number: Claim handed it out and Send sent it to the old number (with
--      the phone removed, to a lead that has none).
--   2. 20261201001730's rule (nobody whose campaign outreach started is made a lead) is applied
--      when Add Leads makes a lead, not when an existing lead gets a phone: (a) Add Leads naming an
--      existing lead (by its conversation) with the phone of a session that was answered fills the
--      phone in, and the lead stays new; (b) the owner's app correcting a queued lead's phone to
--      that number rewrites its waiting message to it (20261201001720). Either way Prepare / Claim
--      sent the first message to a person who had said no.
--
-- Now:
--   queue_prepare  the lead's update also requires `phone is not distinct from` the phone picked:
--       a lead whose phone changed under it is not written, so the call's count check fails it
--       (40001 "a lead changed while the queue was being prepared; nothing was written", as a lead
--       taken over meanwhile does); Prepare Tomorrow calls once more on 40001, and that call reads
--       the new phone (queues it, or skips the lead as no_phone). Only that condition changes.
--   leads_follow_answered_session  AFTER UPDATE OF phone on leads, per row, only when the lead is
--       new or queued and gets a (different) phone (WHEN: no call otherwise). The owner's sessions
--       with that phone that no other lead holds (a session's lead is the lead holding it, else the
--       lead with its phone: 20261201001570) are locked for share; the first whose outreach started
--       (leadflow_private.queue_session_outreach_started, the rule of 20261201001730; a rejected one
--       first, then by id) moves the lead as the session's own answer would
--       (session_info_lead_follows_status): rejected -> not_interested, interested / started_work ->
--       engaged, contacted (or pending with an objective recorded: the campaign reached the person)
--       -> contacted; ledger actor automation, reason that session's (session_<status>,
--       session_objective_recorded); leads_follow_status then cancels its waiting message and
--       backlog item (a message whose send began is left to its worker). Its updated_at is the
--       phone change's. Covers every writer of a phone: Add Leads' fill, the owner's app, a
--       workflow. A phone with no such session costs one probe of session_info_owner_phone_idx.
--       The share lock: a session answered at the same moment either committed first (seen here)
--       or waits for this transaction, and its trigger then finds this lead by its phone.
-- Not changed: leads_waiting_messages_follow_phone (the message takes the new number first, in the
-- same statement, and is cancelled with the move), queue_add_lead_rows' skip of a new lead.

-- =============================================================================================
-- public.queue_prepare: a lead whose phone changed under it fails the call (40001)
-- =============================================================================================
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
    -- Backlog items, then leads (the lock order), then the messages. Every pick or none. A lead
    -- re-read after waiting for its lock must still be new and have the phone picked: a phone
    -- changed or removed by a transaction that held the lead meanwhile (its trigger ran before this
    -- message existed) fails the call with 40001, and the next call queues the new number.
    update public.lead_processing_queue p
       set status = 'claimed', lease_holder = 'queue_prepare', day = k.day, updated_at = p_now
      from unnest(v_picks) k
     where p.id = k.backlog_id and p.status = 'queued';
    get diagnostics v_written = row_count;
    if v_written = cardinality(v_picks) then
      update public.leads l
         set status = 'queued', lead_score = coalesce(k.score, l.lead_score), updated_at = p_now
        from unnest(v_picks) k
       where l.id = k.lead_id and l.status = 'new' and l.phone is not distinct from k.phone;
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

-- =============================================================================================
-- leadflow_private.leads_follow_answered_session: a lead given the phone of an answered session
-- =============================================================================================
create or replace function leadflow_private.leads_follow_answered_session()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_reason text;
  v_actor text[];
begin
  -- Nearly every phone has no session: one probe. The sessions with it locked for share, so one
  -- answered meanwhile is either committed (read below) or waits for this transaction.
  perform from public.session_info p
    where p.user_id = new.user_id and p.phone_e164 = new.phone
      for share;
  if not found then
    return null;
  end if;

  -- Of those no other lead holds (this lead is their lead), the first whose outreach started.
  select leadflow_private.queue_session_outreach_started(p.status, p.contacted_at, p.objectives) into v_reason
    from public.session_info p
   where p.user_id = new.user_id and p.phone_e164 = new.phone
     and leadflow_private.queue_session_outreach_started(p.status, p.contacted_at, p.objectives) is not null
     and not exists (select from public.leads h where h.user_id = p.user_id and h.campaign_session_id = p.id and h.id <> new.id)
   order by p.status = 'rejected' desc, p.id
   limit 1;
  if v_reason is null then
    return null;
  end if;

  v_actor := array[pg_catalog.current_setting('leadflow.queue_actor', true),
                   pg_catalog.current_setting('leadflow.queue_actor_id', true),
                   pg_catalog.current_setting('leadflow.queue_reason', true),
                   pg_catalog.current_setting('leadflow.queue_detail', true)];
  perform leadflow_private.queue_set_actor('automation', null, v_reason);
  -- updated_at set here (the leads' touch trigger leaves it to writers that set an actor): the
  -- phone change's, so the ledger row and the message's cancellation are at that moment.
  update public.leads l
     set status = case v_reason when 'session_rejected' then 'not_interested'
                                when 'session_interested' then 'engaged'
                                when 'session_started_work' then 'engaged'
                                else 'contacted' end,
         updated_at = case when new.updated_at is distinct from old.updated_at then new.updated_at else leadflow_private.now() end
   where l.id = new.id and l.status in ('new', 'queued');
  perform pg_catalog.set_config('leadflow.queue_actor', coalesce(v_actor[1], ''), true),
          pg_catalog.set_config('leadflow.queue_actor_id', coalesce(v_actor[2], ''), true),
          pg_catalog.set_config('leadflow.queue_reason', coalesce(v_actor[3], ''), true),
          pg_catalog.set_config('leadflow.queue_detail', coalesce(v_actor[4], ''), true);
  return null;
end;
$$;

comment on function leadflow_private.leads_follow_answered_session() is
  'After a new or queued lead gets a phone (whoever writes it): when a session of the owner with that phone that no other lead holds had its outreach started (leadflow_private.queue_session_outreach_started, a rejected one first), the lead moves as that session''s answer moves it: rejected to not_interested, interested or started_work to engaged, otherwise contacted (ledger actor automation, reason session_<status> or session_objective_recorded); leads_follow_status cancels its waiting message.';

revoke all on function leadflow_private.leads_follow_answered_session() from public, anon, authenticated, service_role;

drop trigger if exists leads_follow_answered_session on public.leads;
create trigger leads_follow_answered_session
  after update of phone on public.leads
  for each row when (new.phone is not null and old.phone is distinct from new.phone and new.status in ('new', 'queued'))
  execute function leadflow_private.leads_follow_answered_session();
