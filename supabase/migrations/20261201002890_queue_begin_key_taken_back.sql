-- Queue Ledger's Send: a queue_begin_send key Send has given up on is taken back in the database
-- (review RC1b F1 of 6701583, the time limit on each queue_begin_send call).
-- New: table leadflow_private.queue_begin_keys_taken_back, function
-- leadflow_private.queue_begin_key_lock.
-- Re-created, same signatures (create or replace keeps the grants, re-stated all the same; comments
-- re-stated):
--   public.queue_begin_send (otherwise as in 20261201002810_queue_begin_send_repeated.sql),
--   public.queue_send_not_made (otherwise as in 20261201002810_queue_begin_send_repeated.sql).
--
-- Why: Send gives each queue_begin_send call a time limit; an aborted call is only the client giving
-- up: the statement still runs (waiting for a row lock, on a loaded database) and commits its marks
-- AFTER queue_send_not_made looked for them by the key (its read sees the rows as before the begin
-- committed, matches nothing, clears nothing). The message, never sent, stayed begun and ended dead,
-- uncertain, at its lease's end. The same held for a request a gateway forwarded late.
-- Now queue_send_not_made with a key records it as taken back and waits for a queue_begin_send with
-- that key that is running (an advisory lock per key: shared by queue_begin_send, exclusive by
-- queue_send_not_made), then reads; a queue_begin_send with a key taken back raises before it
-- writes anything. A key lock, not the messages' row locks, so that queue_send_not_made never waits
-- for another transaction holding the messages when no begin with its key runs.

create table if not exists leadflow_private.queue_begin_keys_taken_back (
  begin_key uuid primary key,
  taken_back_at timestamptz not null
);
comment on table leadflow_private.queue_begin_keys_taken_back is
  'queue_begin_send keys Queue Ledger''s Send gave up on (queue_send_not_made with the key): a queue_begin_send with one of them lets nothing go. Kept two days.';
create index if not exists queue_begin_keys_taken_back_at_idx on leadflow_private.queue_begin_keys_taken_back (taken_back_at);
alter table leadflow_private.queue_begin_keys_taken_back enable row level security;
revoke all on leadflow_private.queue_begin_keys_taken_back from public, anon, authenticated, service_role;
grant select, insert, delete on leadflow_private.queue_begin_keys_taken_back to service_role;

create or replace function leadflow_private.queue_begin_key_lock(p_begin_key uuid)
returns bigint
language sql
immutable
set search_path = ''
as $$
  select hashtextextended('queue_begin_key:' || p_begin_key::text, 0)
$$;
comment on function leadflow_private.queue_begin_key_lock(uuid) is
  'The advisory lock of a queue_begin_send key (shared by queue_begin_send, exclusive by queue_send_not_made).';
revoke all on function leadflow_private.queue_begin_key_lock(uuid) from public, anon, authenticated;
grant execute on function leadflow_private.queue_begin_key_lock(uuid) to service_role;

-- =============================================================================================
-- public.queue_begin_send: a key taken back lets nothing go
-- =============================================================================================
create or replace function public.queue_begin_send(
  p_worker text,
  p_item_ids uuid[],
  p_phones text[],
  p_renew_item_ids uuid[] default '{}',
  p_lease_seconds integer default 300,
  p_now timestamptz default leadflow_private.now(),
  p_begin_key uuid default null
)
returns table (item_id uuid, send boolean, status text, reason text, lease_expires_at timestamptz)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_begun jsonb;
begin
  if p_worker is null or length(btrim(p_worker)) = 0 or length(p_worker) > 200 or not leadflow_private.is_valid_text(p_worker, 'line') then
    raise exception 'p_worker: required, the worker that claimed the items (one line of at most 200 characters)' using errcode = '22023';
  end if;
  if p_item_ids is null or cardinality(p_item_ids) > 1000 or array_position(p_item_ids, null) is not null then
    raise exception 'p_item_ids: required, at most 1000 item ids without nulls (got %)', coalesce(cardinality(p_item_ids)::text, 'null')
      using errcode = '22023', hint = 'Pass the item_id Claim gave each message about to be sent.';
  end if;
  if p_phones is null or cardinality(p_phones) <> cardinality(p_item_ids) or array_position(p_phones, null) is not null then
    raise exception 'p_phones: required, the phone each message is about to be sent to, one per item id without nulls (got % for % item ids)',
      coalesce(cardinality(p_phones)::text, 'null'), cardinality(p_item_ids)
      using errcode = '22023', hint = 'Pass, in the order of p_item_ids, the phone Send is about to send each message to (the phone Claim gave it).';
  end if;
  if p_renew_item_ids is null or cardinality(p_renew_item_ids) > 1000 or array_position(p_renew_item_ids, null) is not null then
    raise exception 'p_renew_item_ids: at most 1000 item ids without nulls, or an empty list (got %)', coalesce(cardinality(p_renew_item_ids)::text, 'null')
      using errcode = '22023', hint = 'Pass the item ids whose send began earlier in this run and whose leases are to be renewed, or none.';
  end if;
  if p_lease_seconds is null or p_lease_seconds not between 5 and 86400 then
    raise exception 'p_lease_seconds: must be between 5 and 86400 (got %)', p_lease_seconds using errcode = '22023';
  end if;
  -- A call with a key that Send has taken back (queue_send_not_made with this key: Send gave up
  -- waiting for this call, or for its repeat) lets nothing go: it may still reach the database, or
  -- run here, after Send cleared the marks it looked for. Under the key's lock (shared by this key's
  -- calls; queue_send_not_made takes it exclusively after recording the key), then read in a
  -- statement of its own: either queue_send_not_made committed first and the key is seen here, or it
  -- waits for this call's commit and then clears what this call set.
  if p_begin_key is not null then
    perform pg_advisory_xact_lock_shared(leadflow_private.queue_begin_key_lock(p_begin_key));
    if exists (select 1 from leadflow_private.queue_begin_keys_taken_back t where t.begin_key = p_begin_key) then
      raise exception 'p_begin_key: this call''s key was taken back (queue_send_not_made): nothing is let go with it'
        using errcode = '55000', hint = 'Send gave up on this call; call queue_begin_send again with a new key.';
    end if;
  end if;

  -- In one statement, messages locked in id order: a message asked for whose send begins now (held
  -- by this worker, about to go to its own phone, its send not begun; the first such occurrence in
  -- the call) gets its lease renewed and its send's start recorded; a message of p_renew_item_ids
  -- whose send began and that this worker still holds gets its lease renewed, nothing else. A
  -- message this answers `send` for is one queue_claim never hands out again, nor this function.
  -- A call with a key (p_begin_key) records it with the send's mark (begin_key); the same call
  -- repeated with that key (its first answer lost) finds the messages it began still claimed by
  -- p_worker, their mark set with that key, and answers `send` again for them (their lease renewed,
  -- their mark and its key kept); any other key, or none, is answered already_sending as before.
  with asked as (
    select distinct on (a.id) a.id, a.phone, a.n
      from unnest(p_item_ids, p_phones) with ordinality a (id, phone, n)
      join public.whatsapp_message_queue q on q.id = a.id and q.phone = a.phone
     order by a.id, a.n
  ), held as (
    select q.id, f.n
      from public.whatsapp_message_queue q
      left join asked f on f.id = q.id and f.phone = q.phone
                       and (q.send_started_at is null or (p_begin_key is not null and q.begin_key = p_begin_key))
     where q.id in (select f2.id from asked f2 union select r.id from unnest(p_renew_item_ids) r (id))
       and q.status = 'claimed' and q.lease_holder = p_worker
       and (f.id is not null or (q.id = any (p_renew_item_ids) and q.send_started_at is not null))
     order by q.id
       for update of q
  ), renewed as (
    update public.whatsapp_message_queue q
       set lease_expires_at = p_now + make_interval(secs => p_lease_seconds),
           send_started_at = case when h.n is not null and q.send_started_at is null then p_now else q.send_started_at end,
           begin_key = case when h.n is not null then p_begin_key else q.begin_key end,
           updated_at = p_now
      from held h
     where q.id = h.id
    returning q.id, h.n, q.lease_expires_at
  )
  select coalesce(jsonb_object_agg(r.id, jsonb_build_object('n', r.n, 'lease', r.lease_expires_at)) filter (where r.n is not null), '{}'::jsonb)
    into v_begun from renewed r;

  return query
    select i.id, coalesce((v_begun #>> array[i.id::text, 'n'])::bigint = i.n, false),
           coalesce(q.status, 'not_found'),
           case when (v_begun #>> array[i.id::text, 'n'])::bigint = i.n then null
                when q.id is null then 'not_found'
                -- This worker's hold ended by its lead's phone changing (released to the new number,
                -- or cancelled when the lead has none): the last ledger row of the message that
                -- ended a claim of this worker says so. Read only for a refused message.
                when q.status in ('queued', 'failed', 'claimed', 'cancelled')
                     and not (q.status = 'claimed' and q.lease_holder = p_worker)
                     and (select g.reason from public.queue_ledger g
                           where g.lead_id = q.lead_id and g.queue = 'whatsapp_message_queue' and g.item_id = q.id
                             and g.from_status = 'claimed' and g.worker = p_worker
                           order by g.id desc
                           limit 1) in ('phone_changed', 'phone_removed') then 'phone_changed'
                -- Held by this worker and its send began (in an earlier call, or earlier in this one):
                -- a repeat whatever phone it is asked with now, answered first, so that no report of
                -- this occurrence (Send passes an already_sending on without item_id) can give back a
                -- message that may be out already.
                when q.status = 'claimed' and q.lease_holder = p_worker and q.send_started_at is not null then 'already_sending'
                -- Held by this worker, but the phone given is not the message's (its lead's).
                when q.status = 'claimed' and q.lease_holder = p_worker and q.phone is distinct from i.phone then 'phone_mismatch'
                -- A fallback (such a message, its send not begun and its phone its own, is let go
                -- above). Never let go twice; nothing written for it.
                when q.status = 'claimed' and q.lease_holder = p_worker then 'already_sending'
                when q.status = 'cancelled' then 'cancelled'
                when q.status in ('sent', 'failed', 'dead') then 'already_completed'
                else 'not_held' end,
           case when (v_begun #>> array[i.id::text, 'n'])::bigint = i.n then (v_begun #>> array[i.id::text, 'lease'])::timestamptz end
      from unnest(p_item_ids, p_phones) with ordinality i (id, phone, n)
      left join public.whatsapp_message_queue q on q.id = i.id
     order by i.n;
end;
$$;
comment on function public.queue_begin_send(text, uuid[], text[], uuid[], integer, timestamptz, uuid) is
  'Just before sending: lets go (send true) each message p_worker still holds, about to go to its own phone (p_phones, in the order of p_item_ids), whose send has not begun, once per call (its first occurrence): renews its lease and records that its send began (never handed out or let go again), with the call''s key (p_begin_key, stored as begin_key). The same call repeated with the same key (its answer lost) answers send again for the messages that key began, still held by p_worker. A key queue_send_not_made took back is refused (55000), nothing written. Refuses the others (not_held, cancelled, phone_changed, phone_mismatch: the phone given is not the message''s, already_sending: its send began already (answered first, whatever the phone given; another key or none), or it is listed again in the call, already_completed, not_found), so a message is never sent twice, nor after another claim took it, its lead was taken over, or its lead''s phone changed, nor to a number that is not its lead''s. p_renew_item_ids: messages whose send began earlier in the run; their leases only are renewed (no row answered for them).';

revoke all on function public.queue_begin_send(text, uuid[], text[], uuid[], integer, timestamptz, uuid) from public, anon, authenticated;
grant execute on function public.queue_begin_send(text, uuid[], text[], uuid[], integer, timestamptz, uuid) to service_role;

-- =============================================================================================
-- public.queue_send_not_made: with a key, the key is taken back first
-- =============================================================================================
create or replace function public.queue_send_not_made(
  p_worker text,
  p_item_ids uuid[],
  p_now timestamptz default leadflow_private.now(),
  p_begin_key uuid default null
)
returns table (item_id uuid)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
begin
  if p_worker is null or length(btrim(p_worker)) = 0 or length(p_worker) > 200 or not leadflow_private.is_valid_text(p_worker, 'line') then
    raise exception 'p_worker: required, the worker that claimed the items (one line of at most 200 characters)' using errcode = '22023';
  end if;
  if p_item_ids is null or cardinality(p_item_ids) > 1000 then
    raise exception 'p_item_ids: required, at most 1000 ids (got %)', coalesce(cardinality(p_item_ids)::text, 'null')
      using errcode = '22023', hint = 'Split the ids into calls of at most 1000.';
  end if;
  -- With a key: the key is recorded as taken back first, so that a queue_begin_send with it that has
  -- not yet run (still on its way, or a repeat) lets nothing go, then this waits for one that is
  -- running (the key's lock): what it set is committed and read below, in a statement of its own.
  -- Keys taken back more than two days ago are forgotten (a begin holds its messages for at most
  -- its lease, at most a day).
  if p_begin_key is not null then
    insert into leadflow_private.queue_begin_keys_taken_back (begin_key, taken_back_at) values (p_begin_key, p_now)
      on conflict (begin_key) do nothing;
    delete from leadflow_private.queue_begin_keys_taken_back t where t.taken_back_at < p_now - interval '2 days';
    perform pg_advisory_xact_lock(leadflow_private.queue_begin_key_lock(p_begin_key));
  end if;
  -- Only the marks of this worker's claimed messages whose send began, and with a key only those
  -- that key set (a call of this Send whose answer was lost: the messages another Send of the same
  -- worker let go keep theirs); nothing else changes (no status change, so no ledger row: the
  -- release Complete then records is the ledger's row). Each message by its primary key, in id
  -- order (the lock order of queue_complete's messages).
  return query
    with mine as (
      select q.id from public.whatsapp_message_queue q
       where q.id = any (p_item_ids) and q.status = 'claimed' and q.lease_holder = p_worker and q.send_started_at is not null
         and (p_begin_key is null or q.begin_key = p_begin_key)
       order by q.id
         for update
    )
    update public.whatsapp_message_queue q
       set send_started_at = null, begin_key = null, updated_at = p_now
      from mine m
     where q.id = m.id
    returning q.id;
end;
$$;

comment on function public.queue_send_not_made(text, uuid[], timestamptz, uuid) is
  'Queue Ledger''s Send only: for messages it let go (queue_begin_send) whose request it did not make (Meta refused it: invalid_token, business_account; the batch stopped or the run was cancelled before it; a later check of its group failed; the answer of the queue_begin_send call that let them go was lost), clears send_started_at of those p_worker still holds claimed, so that its release (queue_complete, released) gives them back; with p_begin_key, only the marks that queue_begin_send key set (never another Send''s), and the key is taken back: a queue_begin_send with it still running is waited for, one that runs later lets nothing go. Answers the ids cleared. queue_complete refuses any release of a message whose send began. No tool reaches it: Complete never calls it.';

revoke all on function public.queue_send_not_made(text, uuid[], timestamptz, uuid) from public, anon, authenticated;
grant execute on function public.queue_send_not_made(text, uuid[], timestamptz, uuid) to service_role;
