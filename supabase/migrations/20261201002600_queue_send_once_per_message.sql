-- Queue Ledger's Send lets a claimed message go once (review S6): never twice in one call, never
-- again once its send began. Re-created: public.queue_begin_send (otherwise as in
-- 20261201002530_queue_send_own_phone_and_begun_reports.sql; a new signature, so the old one is
-- dropped, the grants given again and the comment re-stated).
--
-- Why: queue_begin_send answered send true for every occurrence of an id in a call, and again for a
-- message whose send had already begun (send_started_at = coalesce(send_started_at, now)), because
-- the same call also renewed the leases of the earlier groups' messages and could not tell a
-- renewal from a new send. So the same claimed items twice in Send's input (a Merge of Claim with
-- itself, a node retried) sent each message twice, and Complete then refused the whole batch (item
-- listed twice): nothing recorded, the messages ended dead (uncertain). An AI agent calling Send
-- twice for one claimed message sent it twice.
--
-- Now: queue_begin_send(p_worker, p_item_ids, p_phones, p_renew_item_ids, p_lease_seconds, p_now)
--   p_item_ids / p_phones: the messages about to be sent. One goes (send true) only if this worker
--       holds it, the phone is its lead's, its send has not begun, and only its first such
--       occurrence in the call; a later occurrence, or a message whose send began already, is
--       refused, reason already_sending: nothing written, its lease not renewed by this.
--   p_renew_item_ids (default none): messages whose send began earlier in the same run: their
--       leases are renewed (those this worker still holds), nothing else; never answered send, no
--       row returned for them.
--   phone_mismatch, phone_changed, cancelled (a take-over) and the lock order (messages by id, in
--   one statement) are kept.

drop function public.queue_begin_send(text, uuid[], text[], integer, timestamptz);

create function public.queue_begin_send(
  p_worker text,
  p_item_ids uuid[],
  p_phones text[],
  p_renew_item_ids uuid[] default '{}',
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
  with asked as (
    select distinct on (a.id) a.id, a.phone, a.n
      from unnest(p_item_ids, p_phones) with ordinality a (id, phone, n)
      join public.whatsapp_message_queue q on q.id = a.id and q.phone = a.phone
     order by a.id, a.n
  ), held as (
    select q.id, f.n
      from public.whatsapp_message_queue q
      left join asked f on f.id = q.id and f.phone = q.phone and q.send_started_at is null
     where q.id in (select f2.id from asked f2 union select r.id from unnest(p_renew_item_ids) r (id))
       and q.status = 'claimed' and q.lease_holder = p_worker
       and (f.id is not null or (q.id = any (p_renew_item_ids) and q.send_started_at is not null))
     order by q.id
       for update of q
  ), renewed as (
    update public.whatsapp_message_queue q
       set lease_expires_at = p_now + make_interval(secs => p_lease_seconds),
           send_started_at = case when h.n is not null then p_now else q.send_started_at end,
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
                -- Held by this worker, but the phone given is not the message's (its lead's).
                when q.status = 'claimed' and q.lease_holder = p_worker and q.phone is distinct from i.phone then 'phone_mismatch'
                -- Held by this worker and its send began: earlier in this call (the same id listed
                -- again) or in an earlier call. Never let go twice; nothing written for it.
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
comment on function public.queue_begin_send(text, uuid[], text[], uuid[], integer, timestamptz) is
  'Just before sending: lets go (send true) each message p_worker still holds, about to go to its own phone (p_phones, in the order of p_item_ids), whose send has not begun, once per call (its first occurrence): renews its lease and records that its send began (never handed out or let go again). Refuses the others (not_held, cancelled, phone_changed, phone_mismatch: the phone given is not the message''s, already_sending: its send began already, or it is listed again in the call, already_completed, not_found), so a message is never sent twice, nor after another claim took it, its lead was taken over, or its lead''s phone changed, nor to a number that is not its lead''s. p_renew_item_ids: messages whose send began earlier in the run; their leases only are renewed (no row answered for them).';

revoke all on function public.queue_begin_send(text, uuid[], text[], uuid[], integer, timestamptz) from public, anon, authenticated;
grant execute on function public.queue_begin_send(text, uuid[], text[], uuid[], integer, timestamptz) to service_role;
