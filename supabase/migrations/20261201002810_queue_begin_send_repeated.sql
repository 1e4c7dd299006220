-- Queue Ledger's Send: a queue_begin_send whose answer was lost is repeated with its own key, and
-- the marks it may have set are taken back by that key alone (task MF1, review RF1 of
-- 20261201002770_queue_send_not_made.sql).
-- New column: whatsapp_message_queue.begin_key.
-- Re-created with a new last argument, p_begin_key (default null: as before); the old signatures
-- dropped, so that PostgREST finds one function each (PGRST203 otherwise):
--   public.queue_begin_send (otherwise as in 20261201002690_queue_send_begun_guards.sql),
--   public.queue_send_not_made (otherwise as in 20261201002770_queue_send_not_made.sql).
--
-- Why: when queue_begin_send committed but its answer was lost on the way back (a reset
-- connection, a gateway's 502/504, an answer cut short: 206), Send knew of no message it had let go,
-- so it took no mark back and reported the group `released not_checked`; since …2770
-- queue_complete refuses every release of a message whose send began, so the messages stayed
-- claimed and ended dead `uncertain` at their lease's end though nothing had been sent (their leads
-- left `queued`, their backlog items dead).
-- Now Send gives each queue_begin_send call a key of its own (a random UUID), stored with the mark
-- (begin_key), and repeats a call that failed in a way that may have been saved with the same key:
-- the repeat answers `send` again for what that key began (as automation_begin_send does since
-- 20261201001380_follow_up_begin_send_repeated.sql). If it still fails, Send gives that call's ids
-- and key to queue_send_not_made, which then clears only the marks set with that key: never an
-- earlier Send's (the same tool called twice in one execution shares the claim's worker name).

alter table public.whatsapp_message_queue add column if not exists begin_key uuid;
comment on column public.whatsapp_message_queue.begin_key is
  'The key of the queue_begin_send call that set send_started_at (Queue Ledger''s Send: one per call, kept when the call is repeated); null for callers that give none. queue_send_not_made given a key clears only the marks set with it.';

-- =============================================================================================
-- public.queue_begin_send: a call repeated with its key answers send again for what it began
-- =============================================================================================
drop function if exists public.queue_begin_send(text, uuid[], text[], uuid[], integer, timestamptz);

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
  'Just before sending: lets go (send true) each message p_worker still holds, about to go to its own phone (p_phones, in the order of p_item_ids), whose send has not begun, once per call (its first occurrence): renews its lease and records that its send began (never handed out or let go again), with the call''s key (p_begin_key, stored as begin_key). The same call repeated with the same key (its answer lost) answers send again for the messages that key began, still held by p_worker. Refuses the others (not_held, cancelled, phone_changed, phone_mismatch: the phone given is not the message''s, already_sending: its send began already (answered first, whatever the phone given; another key or none), or it is listed again in the call, already_completed, not_found), so a message is never sent twice, nor after another claim took it, its lead was taken over, or its lead''s phone changed, nor to a number that is not its lead''s. p_renew_item_ids: messages whose send began earlier in the run; their leases only are renewed (no row answered for them).';

revoke all on function public.queue_begin_send(text, uuid[], text[], uuid[], integer, timestamptz, uuid) from public, anon, authenticated;
grant execute on function public.queue_begin_send(text, uuid[], text[], uuid[], integer, timestamptz, uuid) to service_role;

-- =============================================================================================
-- public.queue_send_not_made: with a key, only the marks that key set
-- =============================================================================================
drop function if exists public.queue_send_not_made(text, uuid[], timestamptz);

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
  'Queue Ledger''s Send only: for messages it let go (queue_begin_send) whose request it did not make (Meta refused it: invalid_token, business_account; the batch stopped or the run was cancelled before it; a later check of its group failed; the answer of the queue_begin_send call that let them go was lost), clears send_started_at of those p_worker still holds claimed, so that its release (queue_complete, released) gives them back; with p_begin_key, only the marks that queue_begin_send key set (never another Send''s). Answers the ids cleared. queue_complete refuses any release of a message whose send began. No tool reaches it: Complete never calls it.';

revoke all on function public.queue_send_not_made(text, uuid[], timestamptz, uuid) from public, anon, authenticated;
grant execute on function public.queue_send_not_made(text, uuid[], timestamptz, uuid) to service_role;
