-- A WhatsApp message whose sending began is never handed out again: if its run never reports, it
-- ends dead as `uncertain` (it may have been delivered), for a person to look at.
-- New: the column whatsapp_message_queue.send_started_at and the partial index
-- whatsapp_message_queue_sending_idx. Re-created: public.queue_begin_send (otherwise as in
-- 20261201001060) and public.queue_claim (otherwise as in 20261201000430).
--
-- Why: queue_begin_send only renewed the lease of the messages Send was about to send, and wrote
-- nothing saying that sending had begun. A run that died after Meta accepted a message (the
-- queue-mode worker killed, or queue_complete failing on a Supabase blip: Record Outcomes had no
-- retry) left the message `claimed`; once its lease ran out (300 s) the every-minute Claim handed
-- it out again like any claimed message whose worker died before sending, and it went out a second
-- time. docs/whatsapp.md promises that the queue never sends again a message that may have been
-- delivered (Send's own `uncertain` answer is dead at once, 20261201001050).
--
-- Now:
--   queue_begin_send  sets send_started_at (the first time, in the statement that renews the
--                     lease) on each message it lets go: from then on the message may be out. Only
--                     a column changes: no ledger row (the ledger records status, attempt and
--                     holder changes), no change to what it answers.
--   queue_claim       first ends every claimed message whose send began and whose lease ran out
--                     (of p_user_id's, else of every owner, whatever their sending hours): `dead`,
--                     last_error {"code": "uncertain", "permanent": true, "message": …}, ledger
--                     reason send_uncertain, with its worker; its backlog item `dead` with it
--                     (reason send_uncertain); its lead stays `queued`, out of Prepare's reach, as
--                     for Send's uncertain answer in queue_complete (20261201001050): the owner
--                     decides, `contacted` if it arrived, `new` to have it sent again. One
--                     set-based statement over the small partial index of messages being sent
--                     (SKIP LOCKED: a Complete recording one at that moment wins). Then it hands
--                     out what is due as before, never a claimed message whose send began; a
--                     message whose lease ran out before any begin_send (claimed, never sent) is
--                     handed out again, attempt + 1, as before. Each claim clears send_started_at:
--                     it is the current attempt's (a failed or released message sent earlier is
--                     claimed afresh).
-- Complete is unchanged: a report from the holder after its lease ran out is still accepted as
-- long as no Claim ended the message since (then it is refused, already_completed, the message
-- dead `uncertain`: the owner decides). Called twice with the same results (Record Outcomes now
-- retries), the second call records nothing: every message it names is no longer held.

alter table public.whatsapp_message_queue add column if not exists send_started_at timestamptz;
comment on column public.whatsapp_message_queue.send_started_at is
  'When queue_begin_send let the holder of the current attempt send it (from then on it may have been delivered); cleared by each claim. A claimed message with it whose lease ran out is never handed out again: queue_claim ends it dead, uncertain.';

-- The claimed messages being sent, by lease end: what queue_claim ends once their lease ran out.
create index if not exists whatsapp_message_queue_sending_idx on public.whatsapp_message_queue (lease_expires_at)
  where status = 'claimed' and send_started_at is not null;

create or replace function public.queue_begin_send(
  p_worker text,
  p_item_ids uuid[],
  p_lease_seconds integer default 300,
  p_now timestamptz default leadflow_private.now()
)
returns table (item_id uuid, send boolean, status text, reason text, lease_expires_at timestamptz)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_renewed jsonb;
begin
  if p_worker is null or length(btrim(p_worker)) = 0 or length(p_worker) > 200 or not leadflow_private.is_valid_text(p_worker, 'line') then
    raise exception 'p_worker: required, the worker that claimed the items (one line of at most 200 characters)' using errcode = '22023';
  end if;
  if p_item_ids is null or cardinality(p_item_ids) > 1000 or array_position(p_item_ids, null) is not null then
    raise exception 'p_item_ids: required, at most 1000 item ids without nulls (got %)', coalesce(cardinality(p_item_ids)::text, 'null')
      using errcode = '22023', hint = 'Pass the item_id Claim gave each message about to be sent.';
  end if;
  if p_lease_seconds is null or p_lease_seconds not between 5 and 86400 then
    raise exception 'p_lease_seconds: must be between 5 and 86400 (got %)', p_lease_seconds using errcode = '22023';
  end if;

  -- The lease renewed and the send's start recorded in one statement: a message this answers
  -- `send` for is one queue_claim never hands out again.
  with held as (
    select q.id from public.whatsapp_message_queue q
     where q.id = any (p_item_ids) and q.status = 'claimed' and q.lease_holder = p_worker
     order by q.id
       for update
  ), renewed as (
    update public.whatsapp_message_queue q
       set lease_expires_at = p_now + make_interval(secs => p_lease_seconds), send_started_at = coalesce(q.send_started_at, p_now),
           updated_at = p_now
      from held h
     where q.id = h.id
    returning q.id, q.lease_expires_at
  )
  select coalesce(jsonb_object_agg(r.id, r.lease_expires_at), '{}'::jsonb) into v_renewed from renewed r;

  return query
    select i.id, v_renewed ? i.id::text,
           coalesce(q.status, 'not_found'),
           case when v_renewed ? i.id::text then null
                when q.id is null then 'not_found'
                when q.status = 'cancelled' then 'cancelled'
                when q.status in ('sent', 'failed', 'dead') then 'already_completed'
                else 'not_held' end,
           (v_renewed ->> i.id::text)::timestamptz
      from unnest(p_item_ids) with ordinality i (id, n)
      left join public.whatsapp_message_queue q on q.id = i.id
     order by i.n;
end;
$$;
comment on function public.queue_begin_send(text, uuid[], integer, timestamptz) is
  'Just before sending: renews the lease of the messages p_worker still holds and records that their send began (send true; never handed out again), and refuses the others (not_held, cancelled, already_completed, not_found), so a message is never sent after another claim took it or its lead was taken over.';

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

  -- The owners whose sending hours are open now.
  v_open := array(
    select s.user_id from public.user_queue_settings s
     cross join lateral (select p_now at time zone s.time_zone as local_now) t
     where (p_user_id is null or s.user_id = p_user_id)
       and extract(isodow from t.local_now)::integer = any (s.days_of_week)
       and t.local_now::time >= s.send_from and t.local_now::time < s.send_until);
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
  'Hands out up to p_limit due WhatsApp messages of owners inside their sending hours, each to one worker with a lease (FOR UPDATE SKIP LOCKED), with the lead''s name and phone and the message to send. First ends dead (uncertain) every claimed message whose send began and whose lease ran out: it may have been delivered, it is never handed out again.';
