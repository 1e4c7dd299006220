-- Limits shared by every n8n worker and instance, part 3: a claim no longer holds back the other
-- workers' sends.
-- Function: automation_claim, the same but for the lock it takes on the rule's row.
--
-- Why: automation_claim locks the rule's row so that two claims of one rule take turns and its
-- daily-limit count cannot race. It took it FOR UPDATE, which also conflicts with the FOR KEY SHARE
-- lock every insert into a table referencing the rule takes for its foreign key: the contact states,
-- the send ledger (automation_begin_send) and the send counts. So while one worker claimed, every
-- other worker's begin_send, record_send and stop for that rule waited for the claim to end
-- (bench/workers.ts saw 4 executions of one rule spend a third of their database time waiting on
-- those locks). FOR NO KEY UPDATE is what an update that changes no key takes: claims of one rule
-- still take turns (it conflicts with itself), the rule's row cannot change under a claim, and
-- the inserts' FOR KEY SHARE no longer waits.

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

    -- The due contacts, soonest-closing window first: walk the rule's include tags' links whose
    -- conversation's 24 h window is open, along conversation_tags_window_idx (tag, window time),
    -- in the claim's order, and stop as soon as v_take are due (the LIMIT). Each one is judged by
    -- automation_judge_contact, the one judgement of "due" (index probes on the contact's key:
    -- owner, page, tags under tag_match, exclusions, stops, state, window): nothing is claimed
    -- that it does not call due. Contacts carrying an excluded tag are passed over before the
    -- judgement, which would call them excluded_tag: one probe instead of all of the judgement's,
    -- and on a rule that excludes a common tag they can be half the links walked (10 % of a claim
    -- in bench/claim.ts). A contact carrying two include tags is walked once (the DISTINCT). The
    -- judgement is a lateral with LIMIT, never flattened, so the plan stays a nested loop under
    -- the LIMIT over the sorted open-window links: its cost follows the batch and the rule's
    -- open-window links, not the owner's contacts (bench/claim.ts prints it).
    if cardinality(v_rule.include_tag_ids) = 1 then
      -- One include tag (most rules): the index hands its links over already in window order, so
      -- the walk reads only as many as it judges.
      select array_agg(w.conversation_id), array_agg(w.conversation_id) filter (where w.state_id is null)
        into v_candidates, v_without_state
        from (
          select ct.conversation_id, j.state_id
            from public.conversation_tags ct
           cross join lateral leadflow_private.automation_judge_contact(v_rule.id, ct.conversation_id, p_now, v_used) j
           where ct.tag_id = v_rule.include_tag_ids[1]
             and ct.last_customer_message_at > p_now - interval '24 hours'
             and not exists (select from public.conversation_tags x
                              where x.conversation_id = ct.conversation_id and x.tag_id = any (v_rule.exclude_tag_ids))
             and j.due
           order by ct.last_customer_message_at, ct.conversation_id
           limit v_take
        ) w;
    else
      -- Several: their open-window links, each conversation once, sorted (a few thousand at most:
      -- the 24 h window bounds them).
      select array_agg(w.conversation_id), array_agg(w.conversation_id) filter (where w.state_id is null)
        into v_candidates, v_without_state
        from (
          select k.conversation_id, j.state_id
            from (
              select distinct ct.last_customer_message_at, ct.conversation_id
                from public.conversation_tags ct
               where ct.tag_id = any (v_rule.include_tag_ids)
                 and ct.last_customer_message_at > p_now - interval '24 hours'
                 and not exists (select from public.conversation_tags x
                                  where x.conversation_id = ct.conversation_id and x.tag_id = any (v_rule.exclude_tag_ids))
               order by ct.last_customer_message_at, ct.conversation_id
            ) k
           cross join lateral leadflow_private.automation_judge_contact(v_rule.id, k.conversation_id, p_now, v_used) j
           where j.due
           order by k.last_customer_message_at, k.conversation_id
           limit v_take
        ) w;
    end if;
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
