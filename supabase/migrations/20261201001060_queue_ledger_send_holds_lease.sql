-- Send asks the database, just before each group of messages goes out, whether its worker still
-- holds them, and renews their lease. New: public.queue_begin_send.
--
-- Why: Claim hands out up to 1,000 messages with a lease (300 s in workflows/queue-run.json), and
-- Send then sent every one of them without asking again. A batch slower than its lease (Meta
-- answering in seconds, 10 at a time) went on sending after the lease had run out, while the next
-- minute's Claim took those same messages again (a claimed message whose lease ran out is handed
-- out again): the same WhatsApp message twice, Complete refusing the first worker's report
-- (not_held) too late. And a lead taken over after Claim (queue_take_lead cancels its claimed
-- message) still got its message: Complete refused it (cancelled), after it had gone out, though a
-- human_controlled lead is one nothing automated reaches.
--
-- Now, for each group Send is about to send (one call per group, set-based):
--   a message still claimed by p_worker   its lease runs p_lease_seconds from p_now again (also
--                                         when it had run out but no other claim took it): send.
--   anything else                          refused, nothing written, with the reason Complete gives:
--                                         not_held (claimed by another worker, or released),
--                                         cancelled (its lead taken over or stopped meanwhile),
--                                         already_completed, not_found.
-- The renewal locks the messages (in id order, the lock order), so a concurrent Claim either took
-- them first (then they are refused here) or finds them held until the new lease end. Only the
-- lease end changes: no ledger row (the ledger records status, attempt and holder changes).

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

  with held as (
    select q.id from public.whatsapp_message_queue q
     where q.id = any (p_item_ids) and q.status = 'claimed' and q.lease_holder = p_worker
     order by q.id
       for update
  ), renewed as (
    update public.whatsapp_message_queue q
       set lease_expires_at = p_now + make_interval(secs => p_lease_seconds), updated_at = p_now
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
  'Just before sending: renews the lease of the messages p_worker still holds (send true) and refuses the others (not_held, cancelled, already_completed, not_found), so a message is never sent after another claim took it or its lead was taken over.';

revoke all on function public.queue_begin_send(text, uuid[], integer, timestamptz) from public, anon, authenticated;
grant execute on function public.queue_begin_send(text, uuid[], integer, timestamptz) to service_role;
