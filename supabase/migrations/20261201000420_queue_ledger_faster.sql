-- The lead queue, fixes found by its tests and benchmarks (20261201000400 and …410 are applied
-- as they are; this replaces what needed changing).
-- Functions replaced: leadflow_private.queue_items_ledger, leadflow_private.leads_follow_status,
-- leadflow_private.queue_transition_allowed, leadflow_private.queue_add_lead_rows (its answer gains
-- the lead's source), public.queue_prepare, public.queue_add_leads, public.queue_add_leads_from_crm.
-- New: leadflow_private.queue_refuse_transition. Triggers recreated with a WHEN clause:
-- leads_touch_updated_at, user_queue_settings_touch_updated_at.
--
-- 1. The status machine is checked in the statement that writes the ledger rows. It was a
--    separate query joining the statement's old and new rows with LIMIT 1: the planner knows
--    nothing of a transition table's size, and with the limit it chose a nested loop over both,
--    n² comparisons: 0.1 s for 1,000 rows, more than ten minutes for the 100,000 rows of a
--    queue_prepare of 100 owners. The ledger's INSERT already joins them (merge or hash join,
--    linear); a move the machine does not allow now calls queue_refuse_transition there, which
--    raises the same error.
-- 2. queue_transition_allowed answered null, not false, for an insert of any status but queued
--    (comparisons with a null p_from), and the insert trigger's `where not …` let such a row
--    through: a backlog item could be inserted sent. Every unknown is now false.
-- 3. queue_prepare is linear in the backlog: it writes every pick or none (a lead changed by a
--    concurrent call between its read and its write fails the call with 40001, run again), so its
--    writes no longer test `= any (array)` of 10,000 ids per row; the leads already queued for the
--    day are one set read by the (user_id, day) index; a message sent today is looked up only for
--    a lead changed today (sending changes the lead: one untouched since the day began was not
--    contacted today).
-- 4. leads_follow_status joins the statement's old and new rows once (the ledger INSERT returns
--    the leads whose status changed), and runs the backlog and cancel statements only when a lead
--    came back to new or stopped: 10,000 leads going new → queued no longer pay for four more
--    joins that find nothing.
-- 5. updated_at is kept by a trigger with a WHEN clause, evaluated without calling the function:
--    the queue functions set updated_at themselves, so updating 10,000 leads calls no PL/pgSQL
--    function 10,000 times.
-- 6. queue_add_leads_from_crm joined the leads queue_add_lead_rows had just inserted, in the same
--    statement, whose snapshot predates them: the new leads were written but missing from its
--    answer. queue_add_lead_rows now answers each lead's source, read after its inserts.

create or replace function leadflow_private.queue_refuse_transition(p_queue text, p_id uuid, p_from text, p_to text)
returns text
language plpgsql
volatile
set search_path = ''
as $$
begin
  raise exception '%: item % cannot go from % to %', p_queue, p_id, coalesce(p_from, '(inserted)'), p_to
    using errcode = '23514', hint = 'docs/database.md shows the queue''s status machine.';
end;
$$;
revoke all on function leadflow_private.queue_refuse_transition(text, uuid, text, text) from public, anon, authenticated, service_role;

create or replace function leadflow_private.queue_items_ledger()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_who record;
  v_bad record;
begin
  select * into v_who from leadflow_private.queue_actor();
  if tg_op = 'INSERT' then
    select n.id, n.status into v_bad from new_rows n
     where not leadflow_private.queue_transition_allowed(tg_table_name, null, n.status) limit 1;
    if found then
      raise exception '%: an item is inserted queued (item % was inserted %)', tg_table_name, v_bad.id, v_bad.status
        using errcode = '23514';
    end if;
    insert into public.queue_ledger (user_id, queue, item_id, lead_id, day, from_status, to_status, attempt, worker,
                                     actor, actor_id, reason, detail, scheduled_for, at)
    select n.user_id, tg_table_name, n.id, n.lead_id, case when tg_table_name = 'whatsapp_message_queue' then n.day end,
           null, n.status, n.attempts, null, v_who.actor, v_who.actor_id,
           coalesce(v_who.reason, case when tg_table_name = 'whatsapp_message_queue' then 'prepared' else 'added' end),
           v_who.detail, n.scheduled_for, n.created_at
      from new_rows n;
  else
    insert into public.queue_ledger (user_id, queue, item_id, lead_id, day, from_status, to_status, attempt, worker,
                                     actor, actor_id, reason, detail, scheduled_for, at)
    select n.user_id, tg_table_name, n.id, n.lead_id, case when tg_table_name = 'whatsapp_message_queue' then n.day end,
           o.status,
           -- The status machine: a move it does not allow fails the statement.
           case when n.status is not distinct from o.status or leadflow_private.queue_transition_allowed(tg_table_name, o.status, n.status)
                then n.status else leadflow_private.queue_refuse_transition(tg_table_name, n.id, o.status, n.status) end,
           n.attempts,
           case when n.status = 'claimed' then n.lease_holder when o.status = 'claimed' then o.lease_holder end,
           v_who.actor, v_who.actor_id,
           coalesce(v_who.reason, case
             when n.status = 'claimed' and o.status = 'claimed' then 'lease_expired'
             when n.status = 'claimed' then 'claimed'
             when n.status = 'sent' then 'sent'
             when n.status = 'failed' then 'send_failed'
             when n.status = 'dead' and (n.last_error ->> 'permanent') = 'true' then 'permanent_error'
             when n.status = 'dead' then 'max_attempts'
             when n.status = 'queued' and o.status = 'claimed' then 'released'
             when n.status = 'queued' then 'reopened'
             -- Cancelled by a change of its lead (the lead's new status is visible here).
             when n.status = 'cancelled' then (select case when l.status = 'human_controlled' then 'human_takeover' else 'lead_' || l.status end
                                                  from public.leads l where l.id = n.lead_id)
             else 'updated'
           end),
           coalesce(case when n.status = 'sent' and n.message_id is not null then jsonb_build_object('message_id', n.message_id)
                         when n.status in ('failed', 'dead') then n.last_error end,
                    v_who.detail),
           case when n.status in ('queued', 'failed') then n.scheduled_for end,
           n.updated_at
      from new_rows n join old_rows o on o.id = n.id
     where n.status is distinct from o.status or n.attempts is distinct from o.attempts
        or n.lease_holder is distinct from o.lease_holder;
  end if;
  return null;
end;
$$;

-- =============================================================================================
-- queue_prepare: linear in the backlog
-- =============================================================================================
-- Same result as 20261201000410's; what changed is how it is computed, measured on 100,000 leads of
-- 100 owners (bench/queue-prepare.ts):
--   - the picks are all taken or the call fails (40001, run again): a lead changed by a
--     concurrent call between the read and the write is rare, and with every pick taken the writes
--     join nothing (each `= any (array)` of 10,000 ids over 10,000 rows was a scan per row);
--   - the leads already queued for the day are one set read by the (user_id, day) index, joined
--     once, instead of a lookup per lead of the backlog;
--   - a message sent today is looked up only for a lead changed today (sending a message changes
--     its lead: one untouched since the day began cannot have been contacted today).
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

  -- The owners' settings, locked (one prepare per owner at a time), in user_id order.
  select array_agg(row(s.user_id, d.day, s.time_zone, s.daily_capacity,
                       (select count(*) from public.whatsapp_message_queue q where q.user_id = s.user_id and q.day = d.day and q.status <> 'cancelled'),
                       extract(isodow from d.day)::integer = any (s.days_of_week),
                       (d.day + s.send_from) at time zone s.time_zone,
                       (d.day + s.send_until) at time zone s.time_zone,
                       (d.day - 1)::timestamp at time zone s.time_zone,
                       s.message)::leadflow_private.queue_prepare_owner
                   order by s.user_id)
    into v_owners
    from (select s.* from public.user_queue_settings s where p_user_id is null or s.user_id = p_user_id order by s.user_id for no key update) s
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

-- =============================================================================================
-- updated_at kept by a trigger that runs only when the writer did not set it
-- =============================================================================================
-- A WHEN clause is evaluated without calling the function: the queue functions set updated_at
-- themselves, so updating 10,000 leads no longer calls a PL/pgSQL function 10,000 times.
drop trigger if exists leads_touch_updated_at on public.leads;
create trigger leads_touch_updated_at
  before update on public.leads
  for each row when (new.updated_at is not distinct from old.updated_at)
  execute function leadflow_private.queue_touch_updated_at();
drop trigger if exists user_queue_settings_touch_updated_at on public.user_queue_settings;
create trigger user_queue_settings_touch_updated_at
  before update on public.user_queue_settings
  for each row when (new.updated_at is not distinct from old.updated_at)
  execute function leadflow_private.queue_touch_updated_at();

-- =============================================================================================
-- leads_follow_status: one join of the statement's rows, the rest only when needed
-- =============================================================================================
-- Same rules as 20261201000400's. The ledger's INSERT returns the leads whose status changed, and
-- the backlog and cancel statements run only when some lead came back to new or stopped: a
-- prepare's 10,000 leads going new → queued no longer pay for four more joins of the statement's
-- old and new rows that find nothing.
create or replace function leadflow_private.leads_follow_status()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_who record;
  v_reason text;
  v_reopen uuid[];
  v_stop uuid[];
begin
  select * into v_who from leadflow_private.queue_actor();
  if tg_op = 'INSERT' then
    insert into public.queue_ledger (user_id, queue, item_id, lead_id, from_status, to_status, actor, actor_id, reason, detail, at)
    select n.user_id, 'leads', n.id, n.id, null, n.status, v_who.actor, v_who.actor_id, coalesce(v_who.reason, 'added'), v_who.detail, n.created_at
      from new_rows n;
    insert into public.lead_processing_queue (user_id, lead_id, status, scheduled_for, dedupe_key, created_at, updated_at)
    select n.user_id, n.id, 'queued', n.created_at, 'lead:' || n.id, n.created_at, n.created_at
      from new_rows n
     where n.status = 'new'
    on conflict (user_id, dedupe_key) do nothing;
    return null;
  end if;

  -- The ledger rows of the leads whose status changed; from them, the leads to put back in the
  -- backlog and those to stop (one join of the statement's old and new rows, whatever follows).
  with changed as (
    insert into public.queue_ledger (user_id, queue, item_id, lead_id, from_status, to_status, actor, actor_id, reason, detail, at)
    select n.user_id, 'leads', n.id, n.id, o.status, n.status, v_who.actor, v_who.actor_id,
           coalesce(v_who.reason, case when n.status = 'human_controlled' then 'human_takeover' else 'updated' end), v_who.detail, n.updated_at
      from new_rows n join old_rows o on o.id = n.id
     where n.status is distinct from o.status
    returning lead_id, to_status
  )
  select array_agg(c.lead_id) filter (where c.to_status = 'new'), array_agg(c.lead_id) filter (where c.to_status not in ('new', 'queued'))
    into v_reopen, v_stop
    from changed c;

  -- Back to new: back in the backlog.
  if v_reopen is not null then
    update public.lead_processing_queue p
       set status = 'queued', day = null, lease_holder = null, lease_expires_at = null, scheduled_for = l.updated_at, updated_at = l.updated_at
      from public.leads l
     where l.id = any (v_reopen) and p.lead_id = l.id and p.status in ('sent', 'dead', 'cancelled');
    insert into public.lead_processing_queue (user_id, lead_id, status, scheduled_for, dedupe_key, created_at, updated_at)
    select l.user_id, l.id, 'queued', l.updated_at, 'lead:' || l.id, l.updated_at, l.updated_at
      from public.leads l
     where l.id = any (v_reopen)
    on conflict (user_id, dedupe_key) do nothing;
  end if;

  -- Done with, taken over or not to be contacted: nothing waits for it any more.
  -- Their ledger rows say why from the lead's status (not the reason of the statement that fired
  -- this one).
  if v_stop is not null then
    v_reason := pg_catalog.current_setting('leadflow.queue_reason', true);
    perform pg_catalog.set_config('leadflow.queue_reason', '', true);
    update public.whatsapp_message_queue q
       set status = 'cancelled', lease_expires_at = null, completed_at = l.updated_at, updated_at = l.updated_at
      from public.leads l
     where l.id = any (v_stop) and q.lead_id = l.id and q.status in ('queued', 'claimed', 'failed');
    update public.lead_processing_queue p
       set status = 'cancelled', updated_at = l.updated_at
      from public.leads l
     where l.id = any (v_stop) and p.lead_id = l.id and p.status in ('queued', 'claimed');
    perform pg_catalog.set_config('leadflow.queue_reason', coalesce(v_reason, ''), true);
  end if;
  return null;
end;
$$;

-- =============================================================================================
-- queue_transition_allowed: false, never null
-- =============================================================================================
-- For an insert (p_from null) of any status but queued, the comparisons with null made the answer
-- null instead of false, and the insert trigger's `where not …` let the row through: a backlog
-- item or a message could be inserted sent. The same rule, with every unknown answered false.
create or replace function leadflow_private.queue_transition_allowed(p_queue text, p_from text, p_to text)
returns boolean
language sql
immutable
parallel safe
as $$
  select coalesce(case p_queue
    when 'whatsapp_message_queue' then
      (p_from is null and p_to = 'queued')
      or (p_from is not null and p_from in ('queued', 'failed', 'claimed') and p_to = 'claimed')
      or (p_from is not null and p_from = 'claimed' and p_to in ('sent', 'failed', 'dead', 'queued'))
      or (p_from is not null and p_from in ('queued', 'claimed', 'failed') and p_to = 'cancelled')
    when 'lead_processing_queue' then
      (p_from is null and p_to = 'queued')
      or (p_from is not null and p_from = 'queued' and p_to = 'claimed')
      or (p_from is not null and p_from = 'claimed' and p_to in ('sent', 'dead'))
      or (p_from is not null and p_from in ('queued', 'claimed') and p_to = 'cancelled')
      or (p_from is not null and p_from in ('sent', 'dead', 'cancelled') and p_to = 'queued')
  end, false)
$$;

-- =============================================================================================
-- queue_add_leads_from_crm: every row it added
-- =============================================================================================
-- It joined the leads queue_add_lead_rows had just inserted in the same statement, whose snapshot
-- was taken before them: the new leads were written but missing from its answer (a tag's new
-- conversations answered nothing). queue_add_lead_rows now answers each lead's source itself,
-- read after its inserts, and the CRM import joins nothing.
drop function if exists leadflow_private.queue_add_lead_rows(leadflow_private.queue_new_lead[], timestamptz);
create or replace function leadflow_private.queue_add_lead_rows(p_items leadflow_private.queue_new_lead[], p_now timestamptz)
returns table (item_index integer, lead_id uuid, outcome text, status text, source text)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_out leadflow_private.queue_lead_outcome[];
  v_bad record;
begin
  with recursive items as materialized (
    select i.*,
           coalesce(
             (select l.id from public.leads l where i.phone is not null and l.user_id = i.user_id and l.phone = i.phone),
             (select l.id from public.leads l where i.conversation_id is not null and l.user_id = i.user_id and l.conversation_id = i.conversation_id),
             (select l.id from public.leads l where i.campaign_session_id is not null and l.user_id = i.user_id
                                                  and l.campaign_session_id = i.campaign_session_id)
           ) as existing_id
      from unnest(p_items) i
  ),
  -- Among the items without a lead: the earliest item sharing a key with each (itself if none).
  fresh as materialized (
    select f.item_index,
           least(min(f.item_index) over (partition by f.user_id, f.phone_key),
                 min(f.item_index) over (partition by f.user_id, f.conversation_key),
                 min(f.item_index) over (partition by f.user_id, f.session_key)) as first_index
      from (select i.item_index, i.user_id,
                   coalesce(i.phone, '#' || i.item_index) as phone_key,
                   coalesce(i.conversation_id::text, '#' || i.item_index) as conversation_key,
                   coalesce(i.campaign_session_id::text, '#' || i.item_index) as session_key
              from items i where i.existing_id is null) f
  ),
  -- Followed to its end (first_index only decreases): the item whose new lead each item is. Two
  -- such items never share a key (the later would point at the earlier), so their inserts never
  -- collide with each other.
  chain (item_index, target) as (
    select f.item_index, f.first_index from fresh f
    union all
    select c.item_index, f.first_index from chain c join fresh f on f.item_index = c.target where f.first_index < f.item_index
  ),
  target_of as materialized (
    select c.item_index, min(c.target) as target from chain c group by c.item_index
  ),
  new_leads as materialized (
    select i.*, gen_random_uuid() as new_id
      from items i join target_of t on t.item_index = i.item_index and t.target = i.item_index
  ),
  inserted as (
    insert into public.leads (id, user_id, name, phone, conversation_id, campaign_session_id, source, lead_score, status, created_at, updated_at)
    select n.new_id, n.user_id, n.name, n.phone, n.conversation_id, n.campaign_session_id, n.source,
           coalesce(n.lead_score,
                    (select pc.lead_score from public.pipeline_contacts pc
                      where n.conversation_id is not null and pc.conversation_id = n.conversation_id and pc.lead_score is not null
                      order by pc.analysed_at desc nulls last, pc.updated_at desc
                      limit 1)),
           'new', p_now, p_now
      from new_leads n
     order by n.item_index
    on conflict do nothing
    returning id
  )
  select array_agg(row(i.item_index, i.user_id, i.phone, i.conversation_id, i.campaign_session_id,
                       coalesce(i.existing_id, x.id),
                       x.id is not null and t.target = i.item_index)::leadflow_private.queue_lead_outcome
                   order by i.item_index)
    into v_out
    from items i
    left join target_of t on t.item_index = i.item_index
    left join new_leads n on n.item_index = t.target
    left join inserted x on x.id = n.new_id;

  -- Lost races: a concurrent call inserted one of these leads first. Read it by the item's keys.
  if exists (select from unnest(v_out) o where o.lead_id is null) then
    v_out := array(
      select row(o.item_index, o.user_id, o.phone, o.conversation_id, o.campaign_session_id,
                 coalesce(o.lead_id,
                          (select l.id from public.leads l where o.phone is not null and l.user_id = o.user_id and l.phone = o.phone),
                          (select l.id from public.leads l where o.conversation_id is not null and l.user_id = o.user_id
                                                               and l.conversation_id = o.conversation_id),
                          (select l.id from public.leads l where o.campaign_session_id is not null and l.user_id = o.user_id
                                                               and l.campaign_session_id = o.campaign_session_id)),
                 o.created)::leadflow_private.queue_lead_outcome
        from unnest(v_out) o
       order by o.item_index);
    select o.item_index into v_bad from unnest(v_out) o where o.lead_id is null order by o.item_index limit 1;
    if found then
      raise exception 'p_items[%]: a concurrent call added a lead sharing a key with this one; nothing was written', v_bad.item_index
        using errcode = '40001', hint = 'Call again: the leads added meanwhile will be found as existing.';
    end if;
  end if;

  return query
    select o.item_index, o.lead_id, case when o.created then 'created' else 'existing' end, l.status, l.source
      from unnest(v_out) o
      join public.leads l on l.id = o.lead_id
     order by o.item_index;
end;
$$;
revoke all on function leadflow_private.queue_add_lead_rows(leadflow_private.queue_new_lead[], timestamptz) from public, anon, authenticated;
grant execute on function leadflow_private.queue_add_lead_rows(leadflow_private.queue_new_lead[], timestamptz) to service_role;

create or replace function public.queue_add_leads(
  p_items jsonb,
  p_now timestamptz default leadflow_private.now()
)
returns table (item_index integer, lead_id uuid, outcome text, status text)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_bad record;
  v_items leadflow_private.queue_new_lead[];
  v_known uuid[];
begin
  if jsonb_typeof(p_items) is distinct from 'array' then
    raise exception 'p_items: must be a JSON array of leads (got %)', coalesce(jsonb_typeof(p_items), 'null')
      using errcode = '22023', hint = 'Send [{"user_id": …, "name": …, "phone": "+…"}, …].';
  end if;
  if jsonb_array_length(p_items) > 1000 then
    raise exception 'p_items: at most 1000 leads per call (got %)', jsonb_array_length(p_items)
      using errcode = '22023', hint = 'Split the batch: the Data API answers at most 1000 rows (max-rows), one per item.';
  end if;
  select e.n - 1 as idx, p.problem into v_bad
    from jsonb_array_elements(p_items) with ordinality e (item, n)
   cross join lateral (select leadflow_private.queue_lead_item_problem(e.item) as problem) p
   where p.problem is not null
   order by e.n
   limit 1;
  if found then
    raise exception 'p_items[%]%', v_bad.idx, v_bad.problem
      using errcode = '22023', hint = 'Correct or remove that item and send the batch again: nothing was written.';
  end if;

  v_items := array(
    select row((e.n - 1)::integer, (e.item ->> 'user_id')::uuid, btrim(e.item ->> 'name'), e.item ->> 'phone',
               (e.item ->> 'conversation_id')::uuid, (e.item ->> 'campaign_session_id')::uuid, btrim(e.item ->> 'source'),
               (e.item ->> 'lead_score')::numeric::integer)::leadflow_private.queue_new_lead
      from jsonb_array_elements(p_items) with ordinality e (item, n)
     order by e.n);
  if cardinality(v_items) = 0 then
    return;
  end if;

  v_known := leadflow_private.queue_known_users(array(select distinct i.user_id from unnest(v_items) i));
  select i.item_index, i.user_id into v_bad from unnest(v_items) i where not i.user_id = any (v_known) order by i.item_index limit 1;
  if found then
    raise exception 'p_items[%].user_id: user % does not exist', v_bad.item_index, v_bad.user_id
      using errcode = 'P0002', hint = 'Use the id of a user of this project (auth.users): the lead''s owner.';
  end if;
  select i.item_index, i.conversation_id, i.user_id into v_bad
    from unnest(v_items) i
   where i.conversation_id is not null
     and not exists (select from public.messenger_conversations c where c.id = i.conversation_id and c.user_id = i.user_id)
   order by i.item_index
   limit 1;
  if found then
    raise exception 'p_items[%].conversation_id: conversation % does not exist for user %', v_bad.item_index, v_bad.conversation_id, v_bad.user_id
      using errcode = 'P0002', hint = 'Use ids from messenger_conversations of the lead''s owner, or leave conversation_id out.';
  end if;
  select i.item_index, i.campaign_session_id, i.user_id into v_bad
    from unnest(v_items) i
   where i.campaign_session_id is not null
     and not exists (select from public.session_info s where s.id = i.campaign_session_id and s.user_id = i.user_id)
   order by i.item_index
   limit 1;
  if found then
    raise exception 'p_items[%].campaign_session_id: campaign session % does not exist for user %', v_bad.item_index,
      v_bad.campaign_session_id, v_bad.user_id
      using errcode = 'P0002', hint = 'Use ids from session_info of the lead''s owner, or leave campaign_session_id out.';
  end if;

  perform leadflow_private.queue_set_actor('automation', null, 'added');
  return query select r.item_index, r.lead_id, r.outcome, r.status from leadflow_private.queue_add_lead_rows(v_items, p_now) r;
  perform leadflow_private.queue_set_actor(null);
end;
$$;
comment on function public.queue_add_leads(jsonb, timestamptz) is
  'Batch: adds leads (name, E.164 phone, conversation, campaign session, source, score), deduplicated by phone, conversation and session: created or existing, each with its status.';


create or replace function public.queue_add_leads_from_crm(
  p_user_id uuid,
  p_tag_id uuid default null,
  p_campaign_id uuid default null,
  p_now timestamptz default leadflow_private.now(),
  p_after uuid default null,
  p_limit integer default 1000
)
returns table (lead_id uuid, outcome text, source text, conversation_id uuid, campaign_session_id uuid)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_items leadflow_private.queue_new_lead[];
begin
  if p_user_id is null then
    raise exception 'p_user_id: required, the owner whose CRM the leads come from' using errcode = '22023';
  end if;
  if (p_tag_id is null) = (p_campaign_id is null) then
    raise exception 'p_tag_id, p_campaign_id: give exactly one (got %)', case when p_tag_id is null then 'neither' else 'both' end
      using errcode = '22023', hint = 'p_tag_id: the conversations carrying a tag; p_campaign_id: the sessions of a campaign.';
  end if;
  if p_limit is null or p_limit not between 1 and 1000 then
    raise exception 'p_limit: must be between 1 and 1000 (got %)', p_limit
      using errcode = '22023', hint = 'The Data API answers at most 1000 rows: page with p_after.';
  end if;
  if not p_user_id = any (leadflow_private.queue_known_users(array[p_user_id])) then
    raise exception 'p_user_id: user % does not exist', p_user_id using errcode = 'P0002', hint = 'Use the id of a user of this project (auth.users).';
  end if;
  if p_tag_id is not null and not exists (select from public.tags t where t.id = p_tag_id and t.user_id = p_user_id) then
    raise exception 'p_tag_id: tag % does not exist for user %', p_tag_id, p_user_id
      using errcode = 'P0002', hint = 'Use an id from tags of the same owner.';
  end if;
  if p_campaign_id is not null and not exists (select from public.campaign_info c where c.id = p_campaign_id and c.user_id = p_user_id) then
    raise exception 'p_campaign_id: campaign % does not exist for user %', p_campaign_id, p_user_id
      using errcode = 'P0002', hint = 'Use an id from campaign_info of the same owner.';
  end if;

  if p_tag_id is not null then
    v_items := array(
      select row((row_number() over (order by c.id) - 1)::integer, p_user_id,
                 case when length(btrim(c.sender_name)) between 1 and 200 and leadflow_private.is_valid_text(c.sender_name, 'line')
                      then btrim(c.sender_name) end,
                 null, c.id, null, 'crm_tag', null)::leadflow_private.queue_new_lead
        from public.conversation_tags ct
        join public.messenger_conversations c on c.id = ct.conversation_id
       where ct.tag_id = p_tag_id and c.user_id = p_user_id and (p_after is null or c.id > p_after)
       order by c.id
       limit p_limit);
  else
    v_items := array(
      select row((row_number() over (order by s.id) - 1)::integer, p_user_id,
                 case when length(btrim(coalesce(s.display_name, n.contact_name))) between 1 and 200
                       and leadflow_private.is_valid_text(coalesce(s.display_name, n.contact_name), 'line')
                      then btrim(coalesce(s.display_name, n.contact_name)) end,
                 s.phone_e164, null, s.id, 'campaign', null)::leadflow_private.queue_new_lead
        from public.session_info s
        left join public.numbers n on n.user_id = s.user_id and n.phone_e164 = s.phone_e164
       where s.campaign_id = p_campaign_id and s.user_id = p_user_id and (p_after is null or s.id > p_after)
       order by s.id
       limit p_limit);
  end if;
  if cardinality(v_items) = 0 then
    return;
  end if;

  perform leadflow_private.queue_set_actor('automation', null, 'added');
  return query
    select r.lead_id, r.outcome, r.source, i.conversation_id, i.campaign_session_id
      from leadflow_private.queue_add_lead_rows(v_items, p_now) r
      join unnest(v_items) i on i.item_index = r.item_index
     order by r.item_index;
  perform leadflow_private.queue_set_actor(null);
end;
$$;
comment on function public.queue_add_leads_from_crm(uuid, uuid, uuid, timestamptz, uuid, integer) is
  'Adds leads from the conversations carrying a tag or the sessions of a campaign, page by page, deduplicated like queue_add_leads.';

