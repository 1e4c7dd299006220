-- Follow-up: a run whose Generate Follow-Up (or Facebook Send, before any send began) fails as a
-- node gives its claimed contacts back at once. New: public.automation_release. Nothing else is
-- re-created.
--
-- Why: when Generate Follow-Up failed as a node (a Leadflow Gemini API credential with no key, no
-- model set anywhere, any error before or instead of generating its items), nothing released the
-- claim. Its contacts stayed eligible, held by the run's claim for the claim's whole lease (600 s
-- in the shipped workflow): a Trigger Now in the next ten minutes, even once the key was added,
-- answered claimed 0 with notClaimedByReason {in_progress: N}, and the monitor showed them held and
-- counted them in used_today (the daily limit counts claimed contacts: automation_rule_usage). The
-- "no contacts while contacts are waiting" this package exists to end. The same held for a Facebook
-- Send that failed as a node before beginning any send (a credential it cannot use, a setting it
-- refuses): its ready_to_send contacts stayed held until the lease ended.
--
-- automation_release(p_execution_id, p_state_ids, p_reason, p_now) gives back, in one call, the
-- contacts of p_state_ids that p_execution_id still holds before their send began: eligible,
-- generating or ready_to_send, locked_by p_execution_id. Each moves to queued (a transition the
-- stage machine allows from those three, the one the reaper makes when a lease runs out), its
-- lease ended (locked_by, locked_until null) and its generated message dropped, so the next claim
-- judges it at once like any contact a run left, and it no longer counts in the day's use of the
-- limit. The stage history records it (the states' trigger) with stage_detail {reason: p_reason,
-- held_by, lease_until}: the reason is the caller's word for why (Generate Follow-Up:
-- generation_setup_failed; Facebook Send: send_setup_failed), as lease_expired is the reaper's.
--
-- Never released: a contact in sending (its send began: the message may have gone out;
-- automation_record_send or the reaper, send_uncertain, decide), one another execution holds (its
-- lease ran out and another claim took it), one already recorded (failed, skipped, sent) or released.
-- Those are answered not_held, with the stage they are in (null for no such contact), and left
-- exactly as they are: so calling it twice is harmless (the second call answers not_held, writes
-- nothing). The held rows are locked in id order (FOR UPDATE; the stage and holder re-checked on
-- the locked row), as automation_record_generation and automation_renew_generating lock them, so a
-- release never deadlocks with them and a claim's SKIP LOCKED passes over rows it is releasing.
-- At most 1,000 ids a call (one row answered per id; the Data API answers at most 1,000).
-- SECURITY INVOKER and granted to service_role only, like the other transitions of the batch.

create or replace function public.automation_release(
  p_execution_id text,
  p_state_ids uuid[],
  p_reason text,
  p_now timestamptz default leadflow_private.now()
)
returns table (state_id uuid, outcome text, stage text)
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
  if p_state_ids is null or cardinality(p_state_ids) > 1000 then
    raise exception 'p_state_ids must be an array of at most 1000 contact state ids (got %)', coalesce(cardinality(p_state_ids)::text || ' ids', 'null')
      using errcode = '22023', hint = 'Pass the state_id of every contact to give back, at most 1000 a call.';
  end if;
  if p_reason is null or p_reason !~ '^[a-z][a-z0-9_]{2,62}$' then
    raise exception 'p_reason must be a short lower-case word saying why, e.g. generation_setup_failed (got %)', coalesce(quote_literal(p_reason), 'null')
      using errcode = '22023';
  end if;
  if p_now is null then
    raise exception 'p_now must be an instant (got null)' using errcode = '22023', hint = 'Leave it out to use the database''s clock.';
  end if;
  return query
  with held as materialized (
    select s.id, s.current_stage
      from public.ai_automation_contact_states s
     where s.id = any (p_state_ids)
       and s.current_stage in ('eligible', 'generating', 'ready_to_send')
       and s.locked_by = p_execution_id
     order by s.id
       for update of s
  ),
  released as (
    update public.ai_automation_contact_states s
       set current_stage = 'queued',
           stage_entered_at = p_now,
           stage_detail = jsonb_build_object('reason', p_reason, 'held_by', s.locked_by, 'lease_until', s.locked_until),
           execution_id = p_execution_id,
           locked_by = null,
           locked_until = null,
           generated_message = null,
           updated_at = now()
      from held h
     where s.id = h.id
    returning s.id, h.current_stage
  )
  select r.id, 'released'::text, r.current_stage from released r
  union all
  select distinct u.id, 'not_held'::text, s.current_stage
    from unnest(p_state_ids) u (id)
    left join public.ai_automation_contact_states s on s.id = u.id
   where u.id is not null and u.id not in (select r.id from released r);
end;
$$;
comment on function public.automation_release(text, uuid[], text, timestamptz) is
  'Gives back the contacts p_execution_id still holds before their send began (eligible, generating, ready_to_send → queued, lease ended, reason p_reason in the stage history): claimable again at once, no longer counted in the day''s use. Any other contact is answered not_held and left as it is.';

revoke all on function public.automation_release(text, uuid[], text, timestamptz) from public, anon, authenticated;
grant execute on function public.automation_release(text, uuid[], text, timestamptz) to service_role;
