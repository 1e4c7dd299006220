-- Queue Ledger's Send: the cleanup of old taken-back begin keys never waits (review RMC1 F2 of
-- 20261201002890_queue_begin_key_taken_back.sql).
-- Re-created, same signature (create or replace keeps the grants, re-stated all the same):
--   public.queue_send_not_made (otherwise as in 20261201002890_queue_begin_key_taken_back.sql).
-- New grant: UPDATE on leadflow_private.queue_begin_keys_taken_back to service_role (a row lock,
-- FOR UPDATE, needs it; nothing updates the table).
--
-- Why: queue_send_not_made with a key deletes the keys taken back more than two days ago, then waits
-- for a queue_begin_send with its own key that is still running (the key's advisory lock). A call that
-- deleted an aged key keeps that row locked while it waits; another Send's queue_send_not_made then
-- waited on the same row in its own delete, so one Send's take-back waited for another Send's slow
-- begin (8 s in the review's repro, against 0.01 s). Now the cleanup skips the rows another call
-- holds (FOR UPDATE SKIP LOCKED): they are that call's to delete (or the next call's, if it rolls
-- back). Chosen over moving the delete after the clear: a delete there would still wait on the
-- locked row, and the call's transaction (so its caller's answer) with it.

grant update on leadflow_private.queue_begin_keys_taken_back to service_role;

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
    -- The cleanup never waits: keys another call is deleting (and keeps locked while it waits for its
    -- own key's begin) are left to it.
    delete from leadflow_private.queue_begin_keys_taken_back t
     where t.begin_key in (select o.begin_key from leadflow_private.queue_begin_keys_taken_back o
                            where o.taken_back_at < p_now - interval '2 days'
                              for update skip locked);
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

revoke all on function public.queue_send_not_made(text, uuid[], timestamptz, uuid) from public, anon, authenticated;
grant execute on function public.queue_send_not_made(text, uuid[], timestamptz, uuid) to service_role;
