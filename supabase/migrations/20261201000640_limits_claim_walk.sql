-- Limits shared by every n8n worker, part 5: the claim walks past contacts already followed up.
-- Functions: leadflow_private.automation_claim_candidates (new: the claim's walk, one place), and
-- automation_claim, the same but calling it.
--
-- Why: the claim walks the rule's open-window tag links in window order and judges each one until
-- it has the batch. A contact followed up an hour ago stays in that order, first (its window
-- closes soonest), and was judged again by every later claim: the judgement (stops, exclusions,
-- state, hours) for each one. So each claim cost more than the last as a day's sends grew: on 2,000
-- due contacts of one rule, claims of 100 went from 80 ms to 450 ms by the twentieth
-- (bench/workers.ts). The walk now passes over, with one probe of the contact's state row, the
-- contacts whose state alone says "not due" (being processed, at the maximum, inside the interval,
-- failed and not yet retried). The judgement calls those not due in any case (its reasons
-- in_progress, max_follow_ups, interval_not_elapsed, failed), so the claim takes the same contacts
-- in the same order; it only stops judging the ones that cannot be.

create or replace function leadflow_private.automation_claim_candidates(
  p_rule public.ai_automation_rules,
  p_take integer,
  p_used integer,
  p_now timestamptz
)
returns table (conversation_id uuid, state_id uuid)
language plpgsql
stable
set search_path = ''
-- Planned at each call, for the tables as they are then: a plan kept for the session (as the claim
-- once did) was made for the tables of its first call, and a rule's states grow from none to
-- thousands within a day, faster than autovacuum analyzes them; a plan made while they were few
-- scanned them once per link (bench/workers.ts: the twentieth claim of 100 took 450 ms).
set plan_cache_mode = force_custom_plan
as $$
#variable_conflict use_column
begin
  -- Walk the rule's include tags' links whose conversation's 24 h window is open, along
  -- conversation_tags_window_idx (tag, window time), in the claim's order, and stop as soon as
  -- p_take are due (the LIMIT). Passed over before the judgement, one probe each: contacts
  -- carrying an excluded tag (the judgement: excluded_tag) and contacts whose state row says they
  -- cannot be due (see this file's header): a scalar subquery on the state's key (one row at
  -- most), so it stays a probe per link and is never turned into a join over the rule's states. Each remaining one is judged by
  -- automation_judge_contact, the one judgement of "due": nothing is returned that it does not
  -- call due. The judgement is a lateral with LIMIT, never flattened, so the plan stays a nested
  -- loop under the LIMIT over the sorted open-window links.
  if cardinality(p_rule.include_tag_ids) = 1 then
    -- One include tag (most rules): the index hands its links over already in window order.
    return query
      select k.conversation_id, j.state_id
        from (
          select ct.last_customer_message_at, ct.conversation_id
            from public.conversation_tags ct
           where ct.tag_id = p_rule.include_tag_ids[1]
             and ct.last_customer_message_at > p_now - interval '24 hours'
             and not exists (select from public.conversation_tags x
                              where x.conversation_id = ct.conversation_id and x.tag_id = any (p_rule.exclude_tag_ids))
             and (select s.id from public.ai_automation_contact_states s
                              where s.rule_id = p_rule.id and s.conversation_id = ct.conversation_id
                                and (s.current_stage = 'sending'
                                     or (s.current_stage in ('checking', 'eligible', 'generating', 'ready_to_send') and s.locked_until > p_now)
                                     or (s.current_stage = 'failed' and (s.retry_at is null or s.retry_at > p_now))
                                     or coalesce(s.follow_up_count, 0) >= p_rule.max_follow_ups
                                     or s.last_follow_up_at + p_rule.min_hours_between_follow_ups * interval '1 hour' > p_now)) is null
           order by ct.last_customer_message_at, ct.conversation_id
           -- A fence: the passes-over above run before the judgement, whatever the planner
           -- estimates (on a young table it would judge every link first and sort after).
           offset 0
        ) k
       cross join lateral leadflow_private.automation_judge_contact(p_rule.id, k.conversation_id, p_now, p_used) j
       where j.due
       order by k.last_customer_message_at, k.conversation_id
       limit p_take;
  else
    -- Several: their open-window links, each conversation once, sorted (the 24 h window bounds them).
    return query
      select k.conversation_id, j.state_id
        from (
          select distinct ct.last_customer_message_at, ct.conversation_id
            from public.conversation_tags ct
           where ct.tag_id = any (p_rule.include_tag_ids)
             and ct.last_customer_message_at > p_now - interval '24 hours'
             and not exists (select from public.conversation_tags x
                              where x.conversation_id = ct.conversation_id and x.tag_id = any (p_rule.exclude_tag_ids))
             and (select s.id from public.ai_automation_contact_states s
                              where s.rule_id = p_rule.id and s.conversation_id = ct.conversation_id
                                and (s.current_stage = 'sending'
                                     or (s.current_stage in ('checking', 'eligible', 'generating', 'ready_to_send') and s.locked_until > p_now)
                                     or (s.current_stage = 'failed' and (s.retry_at is null or s.retry_at > p_now))
                                     or coalesce(s.follow_up_count, 0) >= p_rule.max_follow_ups
                                     or s.last_follow_up_at + p_rule.min_hours_between_follow_ups * interval '1 hour' > p_now)) is null
           order by ct.last_customer_message_at, ct.conversation_id
        ) k
       cross join lateral leadflow_private.automation_judge_contact(p_rule.id, k.conversation_id, p_now, p_used) j
       where j.due
       order by k.last_customer_message_at, k.conversation_id
       limit p_take;
  end if;
end;
$$;

comment on function leadflow_private.automation_claim_candidates(public.ai_automation_rules, integer, integer, timestamptz) is
  'The claim''s walk: up to p_take contacts of the rule that automation_judge_contact calls due, soonest-closing window first, passing over without judging those excluded or whose state alone says not due.';

revoke all on function leadflow_private.automation_claim_candidates(public.ai_automation_rules, integer, integer, timestamptz) from public, anon;
-- The claims call it as their caller (service_role: the claims are the service's).
grant execute on function leadflow_private.automation_claim_candidates(public.ai_automation_rules, integer, integer, timestamptz) to service_role;

create or replace function public.automation_claim(
  p_rule_id uuid default null,
  p_limit integer default 50,
  p_execution_id text default null,
  p_lease_seconds integer default 600,
  p_now timestamptz default leadflow_private.now()
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
  messages jsonb,
  last_customer_message_at timestamptz,
  window_closes_at timestamptz,
  lease_expires_at timestamptz,
  execution_id text,
  rule jsonb
)
language plpgsql
volatile
set search_path = ''
-- Plan each statement once per session and keep it: planning the candidate walk (with the
-- judgement inlined) costs more than running it, and its plan (a nested loop under the LIMIT,
-- index probes per contact) does not depend on the parameters' values.
set plan_cache_mode = force_generic_plan
as $$
#variable_conflict use_column
declare
  v_rule public.ai_automation_rules;
  v_rule_json jsonb;
  v_remaining integer := p_limit;
  v_used integer;
  v_take integer;
  v_candidates uuid[];
  v_without_state uuid[];
  v_claimed integer;
begin
  if p_execution_id is null or length(btrim(p_execution_id)) = 0 then
    raise exception 'p_execution_id is required: the claim records who holds each contact'
      using errcode = '22023', hint = 'Pass the n8n execution id (or any unique id of this run).';
  end if;
  if p_limit is null or p_limit not between 1 and 10000 then
    raise exception 'p_limit must be between 1 and 10000 (got %)', p_limit using errcode = '22023';
  end if;
  if p_lease_seconds is null or p_lease_seconds not between 5 and 86400 then
    raise exception 'p_lease_seconds must be between 5 and 86400 (got %)', p_lease_seconds using errcode = '22023';
  end if;
  if p_rule_id is not null and not exists (select from public.ai_automation_rules r where r.id = p_rule_id) then
    raise exception 'automation rule % does not exist', p_rule_id
      using errcode = 'P0002', hint = 'Check the rule id (ai_automation_rules.id).';
  end if;

  perform public.automation_reap(p_now, p_rule_id);

  for v_rule in
    select r.* from public.ai_automation_rules r
     where r.enabled and (p_rule_id is null or r.id = p_rule_id)
     order by r.id
     for no key update
  loop
    exit when v_remaining <= 0;
    continue when not leadflow_private.automation_in_active_hours(
      v_rule.active_hours_start, v_rule.active_hours_end, v_rule.active_days, v_rule.time_zone, p_now);
    -- Counted once, under the rule's lock, and handed to the judgement (see automation_judge_contact).
    v_used := leadflow_private.automation_rule_usage(v_rule.id, v_rule.time_zone, p_now);
    v_take := least(v_remaining, v_rule.daily_limit - v_used);
    continue when v_take <= 0;

    -- The due contacts, soonest-closing window first (automation_claim_candidates).
    select array_agg(w.conversation_id order by w.ord), array_agg(w.conversation_id order by w.ord) filter (where w.state_id is null)
      into v_candidates, v_without_state
      from leadflow_private.automation_claim_candidates(v_rule, v_take, v_used, p_now) with ordinality w (conversation_id, state_id, ord);
    continue when v_candidates is null;

    -- Contacts seen for the first time under this rule get their state row (queued, "tagged").
    -- Only those the judgement found without one; another execution may create it meanwhile.
    if v_without_state is not null then
      insert into public.ai_automation_contact_states as s
        (user_id, rule_id, conversation_id, current_stage, stage_entered_at, stage_detail, execution_id)
      select v_rule.user_id, v_rule.id, c, 'queued', p_now, jsonb_build_object('reason', 'tagged'), p_execution_id
        from unnest(v_without_state) c
      on conflict (rule_id, conversation_id) do nothing;
    end if;

    v_rule_json := jsonb_build_object(
      'id', v_rule.id,
      'name', v_rule.name,
      'page_id', v_rule.page_id,
      'instructions', v_rule.instructions,
      'model', v_rule.model,
      'language', v_rule.language,
      'context_message_count', v_rule.context_message_count,
      'max_follow_ups', v_rule.max_follow_ups,
      'min_hours_between_follow_ups', v_rule.min_hours_between_follow_ups,
      'stop_on_reply', v_rule.stop_on_reply,
      'daily_limit', v_rule.daily_limit,
      'time_zone', v_rule.time_zone
    );

    -- One write per contact: X → eligible, which the stage trigger records as X → checking →
    -- eligible (see automation_transition_allowed). The same statement returns what the next nodes
    -- need from the rows it wrote (no second read of the states), with each contact's tags
    -- gathered for the whole batch at once.
    return query
      with taken as (
        select s.id from public.ai_automation_contact_states s
         where s.rule_id = v_rule.id
           and s.conversation_id = any (v_candidates)
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
         where ct.conversation_id = any (v_candidates)
         group by ct.conversation_id
      )
      select k.id, k.rule_id, k.user_id, k.conversation_id, c.page_id, c.sender_id, c.sender_name,
             k.claimed_follow_up_number,
             coalesce(tg.names, '{}'::text[]),
             (select coalesce(jsonb_agg(jsonb_build_object('direction', m.direction, 'text', m.text, 'sent_at', m.sent_at)
                                        order by m.sent_at, m.id), '[]'::jsonb)
                from (select mm.id, mm.direction, mm.text, mm.sent_at from public.messenger_messages mm
                       where mm.conversation_id = c.id
                       order by mm.sent_at desc limit v_rule.context_message_count) m),
             c.last_customer_message_at,
             c.last_customer_message_at + interval '24 hours',
             k.locked_until,
             p_execution_id,
             v_rule_json
        from claimed k
        join public.messenger_conversations c on c.id = k.conversation_id
        left join candidate_tags tg on tg.conversation_id = k.conversation_id
       order by c.last_customer_message_at, c.id;
    get diagnostics v_claimed = row_count;

    v_remaining := v_remaining - v_claimed;
  end loop;
end;
$$;

comment on function public.automation_claim(uuid, integer, text, integer, timestamptz) is
  'Atomically claims up to p_limit due contacts (one rule or every enabled rule) for an execution, within daily limits; returns what the AI and send steps need.';

