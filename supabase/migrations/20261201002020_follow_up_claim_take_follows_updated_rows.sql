-- The follow-up claim's take claims a contact whose state another transaction updated while the
-- take ran: it updates the rows it locked by their id again, not by their ctid.
-- Re-created: leadflow_private.automation_claim_take, as in 20261201001870_follow_up_claim_faster.sql
-- but for the join of its update to the rows its FOR UPDATE SKIP LOCKED step locked: by id (as in
-- 20261201000980_follow_up_claim_one_write.sql), no longer by ctid. Same signature, comment and grants.
-- The rest of …1870 (the hold in one statement, one state read per walked link) stays as it is.
--
-- Why: …1870 had the update find each locked row by its ctid (a TID scan). In READ COMMITTED, the
-- take's statement reads with the snapshot taken when it started. When another transaction updates a
-- due contact's state and commits after that (the owner pressing Requeue, automation_requeue, sets
-- retry_at of a failed contact) but before the take locks the row, FOR UPDATE follows the row to its
-- new version, locks it and answers the new version's ctid; the update then looks for that ctid in
-- its snapshot, where the new version is invisible, and updates nothing. The contact was locked but
-- not claimed: it stayed failed, the claim counted it in_progress (and said no_more_due) though
-- nobody held it, and only a later run claimed it.
-- Joined by id, the update finds the row's version its snapshot sees, and Postgres follows it to the
-- version now committed (EvalPlanQual: the row is re-read and the update's conditions checked again),
-- which the take has locked, so it claims it. The cost is a primary-key lookup per row taken instead
-- of a TID scan (measured in the commit message). Proven by
-- test/db/follow-up/claim-take-concurrent-update.test.ts.
--
-- No other statement of …1870, nor of any migration, finds rows by ctid.

create or replace function leadflow_private.automation_claim_take(
  p_rule public.ai_automation_rules,
  p_candidates uuid[],
  p_without_state uuid[],
  p_execution_id text,
  p_lease_seconds integer,
  p_now timestamptz
)
returns table (
  state_id uuid,
  rule_id uuid,
  user_id uuid,
  conversation_id uuid,
  page_id text,
  recipient_id text,
  sender_name text,
  follow_up_number integer,
  tags text[],
  messages json,
  last_customer_message_at timestamptz,
  window_closes_at timestamptz,
  lease_expires_at timestamptz,
  execution_id text,
  rule jsonb
)
language plpgsql
volatile
set search_path = ''
-- As the claims that call it: each statement planned once per session (they are lookups by key).
set plan_cache_mode = force_generic_plan
as $$
#variable_conflict use_column
declare
  v_rule_json jsonb;
begin
  -- Contacts seen for the first time under this rule get their state row (queued, "tagged").
  -- Only those the walk found without one; another execution may create it meanwhile.
  if cardinality(p_without_state) > 0 then
    insert into public.ai_automation_contact_states as s
      (user_id, rule_id, conversation_id, current_stage, stage_entered_at, stage_detail, execution_id)
    select p_rule.user_id, p_rule.id, c, 'queued', p_now, jsonb_build_object('reason', 'tagged'), p_execution_id
      from unnest(p_without_state) c
    on conflict (rule_id, conversation_id) do nothing;
  end if;

  v_rule_json := jsonb_build_object(
    'id', p_rule.id,
    'name', p_rule.name,
    'page_id', p_rule.page_id,
    'instructions', p_rule.instructions,
    'model', p_rule.model,
    'language', p_rule.language,
    'context_message_count', p_rule.context_message_count,
    'max_follow_ups', p_rule.max_follow_ups,
    'min_hours_between_follow_ups', p_rule.min_hours_between_follow_ups,
    'stop_on_reply', p_rule.stop_on_reply,
    'daily_limit', p_rule.daily_limit,
    'time_zone', p_rule.time_zone
  );

  -- One write per contact: X → eligible, which the stage trigger records as X → checking →
  -- eligible (see automation_transition_allowed); a contact another execution holds or took
  -- meanwhile is skipped (SKIP LOCKED, then its stage). The same statement returns what the next
  -- nodes need from the rows it wrote (no second read of the states), with each contact's tags
  -- gathered for the whole batch at once, soonest-closing window first. The update finds each
  -- row taken by its id, not its ctid: a row another transaction updated after this statement
  -- began is locked at its new version, which a lookup by id follows and a ctid from the lock
  -- does not (it is invisible to the statement's snapshot): see this migration's header.
  return query
    with taken as (
      select s.id from public.ai_automation_contact_states s
       where s.rule_id = p_rule.id
         and s.conversation_id = any (p_candidates)
         and s.current_stage in ('queued', 'sent', 'skipped', 'failed', 'completed')
       for update skip locked
    ),
    claimed as (
      update public.ai_automation_contact_states s
         set current_stage = 'eligible',
             stage_entered_at = p_now,
             stage_detail = jsonb_build_object('follow_up_number', s.follow_up_count + 1),
             execution_id = p_execution_id,
             locked_by = p_execution_id,
             locked_until = p_now + make_interval(secs => p_lease_seconds),
             claimed_at = p_now,
             claimed_follow_up_number = s.follow_up_count + 1,
             generated_message = null,
             generated_at = null,
             generation_ms = null,
             generation_model = null,
             generation_usage = null,
             attempt_id = null,
             error_code = null,
             error_message = null,
             retry_at = null,
             skip_reason = null,
             updated_at = now()
        from taken t
       where s.id = t.id
      returning s.id, s.rule_id, s.user_id, s.conversation_id, s.claimed_follow_up_number, s.locked_until
    ),
    candidate_tags as (
      select ct.conversation_id, array_agg(t.name order by t.name) as names
        from public.conversation_tags ct
        join public.tags t on t.id = ct.tag_id
       where ct.conversation_id = any (p_candidates)
       group by ct.conversation_id
    )
    select k.id, k.rule_id, k.user_id, k.conversation_id, c.page_id, c.sender_id, c.sender_name,
           k.claimed_follow_up_number,
           coalesce(tg.names, '{}'::text[]),
           (select coalesce(json_agg(json_build_object('direction', m.direction, 'text', m.text, 'sent_at', m.sent_at)
                                     order by m.sent_at, m.id), '[]'::json)
              from (select mm.id, mm.direction, mm.text, mm.sent_at from public.messenger_messages mm
                     where mm.conversation_id = c.id
                     order by mm.sent_at desc limit p_rule.context_message_count) m),
           c.last_customer_message_at,
           c.last_customer_message_at + interval '24 hours',
           k.locked_until,
           p_execution_id,
           v_rule_json
      from claimed k
      join public.messenger_conversations c on c.id = k.conversation_id
      left join candidate_tags tg on tg.conversation_id = k.conversation_id
     order by c.last_customer_message_at, c.id;
end;
$$;

comment on function leadflow_private.automation_claim_take(public.ai_automation_rules, uuid[], uuid[], text, integer, timestamptz) is
  'The claims'' write: the candidates the walk found (their states made where missing) claimed for an execution under a lease, one row each with what the next nodes need, soonest-closing window first.';

revoke all on function leadflow_private.automation_claim_take(public.ai_automation_rules, uuid[], uuid[], text, integer, timestamptz) from public, anon, authenticated;
-- The claims call it as their caller (service_role: the claims are the service's).
grant execute on function leadflow_private.automation_claim_take(public.ai_automation_rules, uuid[], uuid[], text, integer, timestamptz) to service_role;
