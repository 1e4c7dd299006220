-- Follow-up: failed contacts sent again on the owner's word. New: public.automation_requeue.
--
-- Why: a follow-up that failed for good never came back by itself, and nothing let the owner bring
-- it back:
-- - a generation refused (an unknown model, a reply cut at the token limit, a blocked prompt) stays
--   `failed` without a retry time, even after the owner fixed the rule;
-- - a send whose outcome is unknown (`send_uncertain`: the sender died mid-send, a timeout after the
--   request left) stays `failed` with its duplicate guard `uncertain`, so that it is never sent
--   twice; Facebook Send's error told the owner to "requeue those not delivered", and there was no
--   way to, short of editing rows by hand.
--
-- automation_requeue(p_rule_id, p_conversation_ids, p_uncertain, p_now) makes the rule's failed
-- contacts (all of them, or those of p_conversation_ids) due again at p_now, as a retry whose time
-- came: the state stays `failed` with retry_at = p_now (the judgement's `failed` reason ends there;
-- the claim takes a failed contact like any other), its error kept, stage_detail saying who requeued
-- it and when. Nothing else changes: follow-up count, interval, window, stops, daily limit and
-- active hours still decide when the next claim takes it.
-- A send that failed for good (Facebook refused it) keeps its duplicate guard `failed`, which would
-- make the next begin of the same follow-up number a `duplicate`: requeued, that guard is released
-- (status `released`, as a skipped or retried send's is); nothing was delivered.
-- A `send_uncertain` contact may have received its message. p_uncertain decides:
-- - 'leave' (the default): left as it is, answered `uncertain_left`;
-- - 'requeue': the owner has checked it was not delivered: its guard row for that follow-up is
--   released (status `released`, as a skipped send's is), so the next claim may send that follow-up
--   number again, and the release no longer counts toward the day's limit.
-- Answers one JSON array (never cut by the Data API's max rows, whatever the rule's size), one
-- object per failed contact of the rule (or per conversation asked): {conversation_id, state_id,
-- outcome, stage, error_code, released_guard}, outcome one of requeued | uncertain_left |
-- not_failed (`stage` says where it is) | not_found (no state under the rule: never claimed). One transaction; the states
-- are locked (FOR UPDATE) so a claim taking a due retry at the same time either goes first (the
-- contact is then `not_failed`) or waits.

create or replace function public.automation_requeue(
  p_rule_id uuid,
  p_conversation_ids uuid[] default null,
  p_uncertain text default 'leave',
  p_now timestamptz default leadflow_private.now()
)
returns json
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_answer json;
begin
  if p_rule_id is null then
    raise exception 'p_rule_id is required: the rule whose failed contacts are requeued' using errcode = '22023';
  end if;
  if p_uncertain is null or p_uncertain not in ('leave', 'requeue') then
    raise exception 'p_uncertain must be leave or requeue (got %)', coalesce(p_uncertain, 'null')
      using errcode = '22023',
            hint = 'leave: contacts whose send may have been delivered stay as they are; requeue: you checked they were not delivered.';
  end if;
  if p_conversation_ids is not null and cardinality(p_conversation_ids) not between 1 and 1000 then
    raise exception 'p_conversation_ids must hold 1 to 1000 ids, or be null for every failed contact of the rule (got %)', cardinality(p_conversation_ids)
      using errcode = '22023';
  end if;
  if not exists (select from public.ai_automation_rules r where r.id = p_rule_id) then
    raise exception 'automation rule % does not exist', p_rule_id
      using errcode = 'P0002', hint = 'Check the rule id (ai_automation_rules.id).';
  end if;

  with asked as (
    select distinct c as conversation_id from unnest(p_conversation_ids) c
  ),
  failed as (
    -- The rule's failed contacts (those asked, or all), locked: a claim taking a due retry waits.
    select s.id, s.conversation_id, s.error_code, s.claimed_follow_up_number,
           s.error_code = 'send_uncertain' as uncertain
      from public.ai_automation_contact_states s
     where s.rule_id = p_rule_id
       and s.current_stage = 'failed'
       and (p_conversation_ids is null or s.conversation_id in (select a.conversation_id from asked a))
     order by s.id
       for update
  ),
  released as (
    update public.ai_automation_executions e
       set status = 'released',
           finished_at = coalesce(e.finished_at, p_now)
      from failed f
     where e.rule_id = p_rule_id and e.conversation_id = f.conversation_id
       and e.follow_up_number = f.claimed_follow_up_number
       and (e.status = 'failed' or (e.status = 'uncertain' and p_uncertain = 'requeue'))
    returning f.id
  ),
  requeued as (
    update public.ai_automation_contact_states s
       set retry_at = p_now,
           stage_detail = coalesce(s.stage_detail, '{}'::jsonb)
                          || jsonb_build_object('requeued_at', p_now, 'requeued_error_code', s.error_code),
           updated_at = now()
      from failed f
     where s.id = f.id
       and (not f.uncertain or p_uncertain = 'requeue')
    returning s.id
  ),
  answered as (
    select f.conversation_id, f.id as state_id,
           case when f.id in (select r.id from requeued r) then 'requeued' else 'uncertain_left' end as outcome,
           null::text as stage, f.error_code, f.id in (select x.id from released x) as released_guard
      from failed f
    union all
    -- Asked for, and not failed: its stage says where it is; no state at all: never claimed.
    select a.conversation_id, s.id, case when s.id is null then 'not_found' else 'not_failed' end,
           s.current_stage, s.error_code, false
      from asked a
      left join public.ai_automation_contact_states s on s.rule_id = p_rule_id and s.conversation_id = a.conversation_id
     where not exists (select from failed f where f.conversation_id = a.conversation_id)
  )
  select coalesce(json_agg(json_build_object(
           'conversation_id', x.conversation_id, 'state_id', x.state_id, 'outcome', x.outcome, 'stage', x.stage,
           'error_code', x.error_code, 'released_guard', x.released_guard)
         order by x.conversation_id), '[]'::json)
    into v_answer
    from answered x;
  return v_answer;
end;
$$;

comment on function public.automation_requeue(uuid, uuid[], text, timestamptz) is
  'Makes a rule''s failed follow-up contacts (all, or those of p_conversation_ids) due again now; send_uncertain ones only with p_uncertain = requeue (their duplicate guard released). One JSON array, an object per contact: requeued, uncertain_left, not_failed, not_found.';

revoke all on function public.automation_requeue(uuid, uuid[], text, timestamptz) from public, anon, authenticated;
grant execute on function public.automation_requeue(uuid, uuid[], text, timestamptz) to service_role;
