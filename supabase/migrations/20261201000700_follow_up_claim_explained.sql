-- Follow-up automation: a claim that says why it took nothing, or fewer contacts than asked.
-- Function: automation_claim_explained (new), the claim of automation_claim (20261201000620) plus
-- a summary, in one call: { "contacts": [one row of automation_claim per claimed contact],
-- "summary": { requested, claimed, reason, notClaimed, rules } }.
--
-- Why: three overlapping "trigger now" runs sent the daily limit once, but the two others answered
-- `claimed 0` and nothing else: "another execution holds these contacts", "today's limit is used",
-- "outside active hours" and "nobody is tagged" looked the same. The summary counts the rule's
-- tagged contacts the claim did not take by the judgement's own reason (the codes of
-- automation_explain and the monitor: in_progress, stopped, daily_limit_reached …) and says per
-- rule why it stopped (its status).
--
-- What it costs: nothing more when the claim gets what it was asked for (the walk stops at the
-- LIMIT, as in automation_claim). When a rule gives fewer contacts than the call still wants, the
-- rule's open-window contacts are judged once more, counted by reason (an aggregate: no rows come
-- back), and its tag links outside the 24 h window are counted from the window index without
-- judging them (nothing can be sent to them anyway). bench/claim.ts times both claims side by side.
--
-- automation_claim stays as it was for the callers of its rows; the TagEligibility node calls this.

create or replace function public.automation_claim_explained(
  p_rule_id uuid default null,
  p_limit integer default 50,
  p_execution_id text default null,
  p_lease_seconds integer default 600,
  p_now timestamptz default leadflow_private.now()
)
returns jsonb
language plpgsql
volatile
set search_path = ''
-- As automation_claim: plan each statement once per session (the walk's plan does not depend on
-- the parameters' values).
set plan_cache_mode = force_generic_plan
as $$
declare
  v_rule public.ai_automation_rules;
  v_rule_json jsonb;
  v_remaining integer := p_limit;
  v_wanted integer;
  v_used integer;
  v_in_hours boolean;
  v_take integer;
  v_candidates uuid[];
  v_without_state uuid[];
  v_found integer;
  v_claimed integer;
  v_total integer := 0;
  v_batch jsonb;
  v_contacts jsonb := '[]';
  v_rules jsonb := '[]';
  v_not_claimed jsonb := '{}';
  v_counts jsonb;
  v_due integer;
  v_closed integer;
  v_judged integer;
  v_status text;
  v_reason text;
  v_statuses text[];
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

  -- The rule asked for is switched off: nothing to claim, and the summary says so.
  if p_rule_id is not null then
    select jsonb_build_object('ruleId', r.id, 'ruleName', r.name, 'status', 'rule_disabled', 'claimed', 0,
                              'notClaimed', '{}'::jsonb, 'dailyLimit', r.daily_limit, 'usedToday', null,
                              'inActiveHours', null, 'nextActiveAt', null)
      into v_batch
      from public.ai_automation_rules r where r.id = p_rule_id and not r.enabled;
    if v_batch is not null then
      v_rules := jsonb_build_array(v_batch);
    end if;
  end if;

  for v_rule in
    select r.* from public.ai_automation_rules r
     where r.enabled and (p_rule_id is null or r.id = p_rule_id)
     order by r.id
     for no key update
  loop
    exit when v_remaining <= 0;
    v_wanted := v_remaining;
    v_in_hours := leadflow_private.automation_in_active_hours(
      v_rule.active_hours_start, v_rule.active_hours_end, v_rule.active_days, v_rule.time_zone, p_now);
    -- Counted once, under the rule's lock, and handed to the judgement (see automation_judge_contact).
    v_used := leadflow_private.automation_rule_usage(v_rule.id, v_rule.time_zone, p_now);
    v_take := case when v_in_hours then greatest(least(v_remaining, v_rule.daily_limit - v_used), 0) else 0 end;
    v_candidates := null;
    v_without_state := null;
    v_claimed := 0;
    v_counts := '{}';
    v_due := 0;
    v_closed := 0;
    v_judged := 0;

    -- The due contacts: the walk of automation_claim (20261201000620 says why it is written so).
    if v_take > 0 then
      if cardinality(v_rule.include_tag_ids) = 1 then
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
    end if;
    v_found := coalesce(cardinality(v_candidates), 0);

    -- Fewer than the call still wants: why. Every open-window contact of the rule judged as the
    -- walk judges it (excluded ones included), counted by reason before anything is claimed (the
    -- due ones are the candidates, or due beyond this claim's share of the daily limit); and the
    -- links outside the 24 h window counted from the index, not judged.
    if v_found < v_wanted then
      select coalesce(jsonb_object_agg(g.reason, g.n) filter (where g.reason is not null), '{}'::jsonb),
             coalesce(sum(g.n) filter (where g.reason is null), 0),
             coalesce(sum(g.n), 0)
        into v_counts, v_due, v_judged
        from (
          select j.reason, count(*)::integer as n
            from (
              select distinct ct.conversation_id
                from public.conversation_tags ct
               where ct.tag_id = any (v_rule.include_tag_ids)
                 and ct.last_customer_message_at > p_now - interval '24 hours'
            ) k
           cross join lateral leadflow_private.automation_judge_contact(v_rule.id, k.conversation_id, p_now, v_used) j
           group by j.reason
        ) g;
      select count(distinct ct.conversation_id)::integer into v_closed
        from public.conversation_tags ct
       where ct.tag_id = any (v_rule.include_tag_ids)
         and (ct.last_customer_message_at is null or ct.last_customer_message_at <= p_now - interval '24 hours');
    end if;

    if v_candidates is not null then
      -- Contacts seen for the first time under this rule get their state row (queued, "tagged").
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

      -- The claim's write, as in automation_claim, its rows gathered as JSON in the claim's order.
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
      select coalesce(jsonb_agg(jsonb_build_object(
               'state_id', k.id,
               'rule_id', k.rule_id,
               'user_id', k.user_id,
               'conversation_id', k.conversation_id,
               'page_id', c.page_id,
               'recipient_id', c.sender_id,
               'sender_name', c.sender_name,
               'follow_up_number', k.claimed_follow_up_number,
               'tags', to_jsonb(coalesce(tg.names, '{}'::text[])),
               'messages', (select coalesce(jsonb_agg(jsonb_build_object('direction', m.direction, 'text', m.text, 'sent_at', m.sent_at)
                                                      order by m.sent_at, m.id), '[]'::jsonb)
                              from (select mm.id, mm.direction, mm.text, mm.sent_at from public.messenger_messages mm
                                     where mm.conversation_id = c.id
                                     order by mm.sent_at desc limit v_rule.context_message_count) m),
               'last_customer_message_at', c.last_customer_message_at,
               'window_closes_at', c.last_customer_message_at + interval '24 hours',
               'lease_expires_at', k.locked_until,
               'execution_id', p_execution_id,
               'rule', v_rule_json
             ) order by c.last_customer_message_at, c.id), '[]'::jsonb),
             count(*)::integer
        into v_batch, v_claimed
        from claimed k
        join public.messenger_conversations c on c.id = k.conversation_id
        left join candidate_tags tg on tg.conversation_id = k.conversation_id;
      v_contacts := v_contacts || v_batch;
    end if;

    -- Due, but past this claim's share of the daily limit: daily_limit_reached. Found due, but
    -- taken by another execution between the judgement and the lock: in_progress.
    if v_due > v_found then
      v_counts := jsonb_set(v_counts, '{daily_limit_reached}',
                            to_jsonb(coalesce((v_counts ->> 'daily_limit_reached')::integer, 0) + v_due - v_found));
    end if;
    if v_found > v_claimed then
      v_counts := jsonb_set(v_counts, '{in_progress}',
                            to_jsonb(coalesce((v_counts ->> 'in_progress')::integer, 0) + v_found - v_claimed));
    end if;
    if v_closed > 0 then
      v_counts := jsonb_set(v_counts, '{outside_window}',
                            to_jsonb(coalesce((v_counts ->> 'outside_window')::integer, 0) + v_closed));
    end if;

    v_status := case
      when v_claimed >= v_wanted then 'filled'
      when v_judged + v_closed = 0 then 'no_tagged_contacts'
      when not v_in_hours then 'outside_active_hours'
      when v_used >= v_rule.daily_limit or (v_take = v_found and v_take < v_wanted and v_due > v_found) then 'daily_limit_reached'
      else 'no_more_due'
    end;

    v_rules := v_rules || jsonb_build_array(jsonb_build_object(
      'ruleId', v_rule.id,
      'ruleName', v_rule.name,
      'status', v_status,
      'claimed', v_claimed,
      'notClaimed', v_counts,
      'dailyLimit', v_rule.daily_limit,
      'usedToday', v_used,
      'inActiveHours', v_in_hours,
      'nextActiveAt', case when not v_in_hours then leadflow_private.automation_next_active_start(
        v_rule.active_hours_start, v_rule.active_hours_end, v_rule.active_days, v_rule.time_zone, p_now) end
    ));
    select coalesce(jsonb_object_agg(k, coalesce((v_not_claimed ->> k)::integer, 0) + coalesce((v_counts ->> k)::integer, 0)), '{}'::jsonb)
      into v_not_claimed
      from (select jsonb_object_keys(v_not_claimed) union select jsonb_object_keys(v_counts)) as keys (k);

    v_total := v_total + v_claimed;
    v_remaining := v_remaining - v_claimed;
  end loop;

  -- One word for the whole call: null when it claimed what it was asked for; no_enabled_rules when
  -- there was no rule to claim for; the rules' status when they agree; else mixed (see rules).
  select array_agg(distinct x ->> 'status') into v_statuses from jsonb_array_elements(v_rules) x;
  v_reason := case
    when v_total >= p_limit then null
    when v_statuses is null then 'no_enabled_rules'
    when cardinality(v_statuses) = 1 then v_statuses[1]
    else 'mixed'
  end;

  return jsonb_build_object(
    'contacts', v_contacts,
    'summary', jsonb_build_object(
      'requested', p_limit,
      'claimed', v_total,
      'reason', v_reason,
      'notClaimed', v_not_claimed,
      'rules', v_rules
    )
  );
end;
$$;

comment on function public.automation_claim_explained(uuid, integer, text, integer, timestamptz) is
  'automation_claim (the same contacts, as JSON) plus a summary of why nothing, or fewer than p_limit, was claimed: the tagged contacts not taken counted by the judgement''s reason, and each rule''s status.';

revoke all on function public.automation_claim_explained(uuid, integer, text, integer, timestamptz) from public, anon, authenticated;
grant execute on function public.automation_claim_explained(uuid, integer, text, integer, timestamptz) to service_role;
