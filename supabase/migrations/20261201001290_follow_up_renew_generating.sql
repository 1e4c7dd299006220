-- Follow-up generation: a short lease the Generate Follow-Up node renews while it works (a
-- heartbeat), instead of one lease for the whole batch. New: public.automation_renew_generating.
-- Nothing else is re-created (automation_mark_generating, as in 20261122000220, still moves the
-- batch to generating; it is now given the short lease).
--
-- Why: the node asked automation_mark_generating for a lease long enough for its whole batch with
-- every retry (about 70 minutes for 1,000 contacts at 32 at a time). When the worker died, its
-- contacts stayed generating that long: in progress, counted against the rule's daily limit, and
-- claimable by no other run until the reaper saw the lease end.
--
-- Now the node asks for a lease of a few minutes (its Lease option, 180 s by default) and, every
-- third of it while the batch is generating, renews it with this function: ONE call for all the
-- execution's contacts of the batch (per holder; a batch normally has one). A worker that stops
-- (crash, kill, lost network) stops renewing, so its contacts become claimable again (reaped by the
-- next claim) once the short lease, or the claim's own lease if that ends later, has run out.
--
-- A renewal extends only the leases the same holder still has: contacts still generating and
-- locked_by p_execution_id (a lease of its own that ran out and that nobody took over yet is
-- extended again, as automation_record_generation would still record it). A contact another
-- execution took over, or one already recorded (ready_to_send, failed) or released, is answered
-- lease_lost and left as it is. The lease ends p_lease_seconds from p_now (the database's clock,
-- leadflow_private.now(); tests pass an instant), never earlier than it already did. The held rows
-- are locked in id order, as automation_record_generation locks them, so the two never deadlock.
-- Only locked_until and updated_at change: the stage is the same, so no stage event is written.
-- SECURITY INVOKER and granted to service_role only, like the other transitions of the batch.

create or replace function public.automation_renew_generating(
  p_execution_id text,
  p_state_ids uuid[],
  p_lease_seconds integer default 180,
  p_now timestamptz default leadflow_private.now()
)
returns table (state_id uuid, outcome text, locked_until timestamptz)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
begin
  if p_execution_id is null or btrim(p_execution_id) = '' then
    raise exception 'p_execution_id must be the execution id that holds the contacts (got %)', coalesce(quote_literal(p_execution_id), 'null')
      using errcode = '22023', hint = 'Pass the execution_id the claim returned with the contacts.';
  end if;
  if p_state_ids is null then
    raise exception 'p_state_ids must be an array of contact state ids (got null)'
      using errcode = '22023', hint = 'Pass the state_id of every contact of the batch that is still generating.';
  end if;
  if p_lease_seconds is null or p_lease_seconds not between 5 and 86400 then
    raise exception 'p_lease_seconds must be between 5 and 86400 (got %)', coalesce(p_lease_seconds::text, 'null')
      using errcode = '22023';
  end if;
  if p_now is null then
    raise exception 'p_now must be an instant (got null)' using errcode = '22023', hint = 'Leave it out to use the database''s clock.';
  end if;
  return query
  with held as materialized (
    select s.id
      from public.ai_automation_contact_states s
     where s.id = any (p_state_ids)
       and s.current_stage = 'generating'
       and s.locked_by = p_execution_id
     order by s.id
       for update of s
  ),
  renewed as (
    update public.ai_automation_contact_states s
       set locked_until = greatest(s.locked_until, p_now + make_interval(secs => p_lease_seconds)),
           updated_at = now()
      from held h
     where s.id = h.id
    returning s.id, s.locked_until
  )
  select r.id, 'generating'::text, r.locked_until from renewed r
  union all
  select distinct u.id, 'lease_lost'::text, null::timestamptz
    from unnest(p_state_ids) u (id)
   where u.id is not null and u.id not in (select r.id from renewed r);
end;
$$;
comment on function public.automation_renew_generating(text, uuid[], integer, timestamptz) is
  'Heartbeat of a generating batch: the holder''s still-generating contacts are held until p_lease_seconds from p_now; any other contact is answered lease_lost and left as it is.';

revoke all on function public.automation_renew_generating(text, uuid[], integer, timestamptz) from public, anon, authenticated;
grant execute on function public.automation_renew_generating(text, uuid[], integer, timestamptz) to service_role;
