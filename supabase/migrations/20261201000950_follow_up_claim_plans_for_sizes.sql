-- Follow-up claims: plans that follow the tables as they grow, as pipeline_assign's do since
-- 20261201000840.
-- New: leadflow_private.plan_for_sizes(key, tables) (the size check of 20261201000840, for any set
-- of tables) and leadflow_private.follow_up_plan_for_sizes(). Re-created: pipeline_plan_for_sizes
-- (now a call of plan_for_sizes, same tables, same setting), automation_claim_candidates (plans
-- kept), automation_claim and automation_claim_explained (otherwise as in 20261201000640 and
-- 20261201000720: the size check first).
--
-- Why: automation_claim_explained, what the Tag Eligibility node's Claim calls, and automation_claim run
-- with plan_cache_mode = force_generic_plan: a connection plans each statement at its first call
-- and keeps the plan. A connection that first claimed while the rule had no contact state yet (a
-- new project, a new rule: PostgREST keeps its connections) kept plans that read every state row
-- for each tag link the walk passes over. Measured (test/db/plans-that-scale.test.ts: 3,000 tagged
-- contacts, the connection's first claims made on empty states, then 2,900 contacts followed up
-- through other connections): the next claim of 10 through automation_claim_explained read
-- 29,564,090 state rows and took 2,052 ms; automation_claim, planned at each call, 14,520 index
-- entries and 16 ms. Only an analyze of the table makes the connection plan again, and
-- autovacuum's comes a minute or more after a burst of sends or an import of contacts.
-- Now both claims first compare the size classes of the tables they probe by key (pages, in classes
-- that double) with those their connection planned for, and drop the connection's plans when one
-- has changed: the next statements are planned for the tables as they are. A plan is never used on
-- a table more than twice the size it was planned for. automation_claim_candidates, planned at each
-- call so far for this reason alone, now keeps its plans too: a claim of 100 among 100,000
-- conversations (bench/claim.ts's data) took 22.7 ms planned at each call and 15.2 ms with its plans
-- kept (medians of 21, alternating in one run).
-- Nothing else changes: the same contacts, rows, results and errors.

-- =============================================================================================
-- leadflow_private.plan_for_sizes(key, tables): the connection plans again when a table doubled
-- =============================================================================================
-- The size of each table, in classes that double (up to 8 kB, up to 16 kB, ...), is remembered for
-- the connection under leadflow.<key>_plan_sizes. When a class changes, the connection's cached
-- plans are dropped (DISCARD PLANS: every function's, so each key's check stays right) and the
-- next statements are planned for the tables as they are now.
create or replace function leadflow_private.plan_for_sizes(p_key text, p_tables regclass[])
returns void
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_setting text := 'leadflow.' || p_key || '_plan_sizes';
  v_sizes text := (select string_agg(floor(log(2, greatest(pg_relation_size(t.rel), 8192) / 8192.0))::text, ',' order by t.n)
                     from unnest(p_tables) with ordinality t (rel, n));
begin
  if v_sizes is distinct from current_setting(v_setting, true) then
    discard plans;
    perform set_config(v_setting, v_sizes, false);
  end if;
end;
$$;
comment on function leadflow_private.plan_for_sizes(text, regclass[]) is
  'Drops the connection''s cached plans when one of the tables has doubled in size since the last check under this key.';
revoke all on function leadflow_private.plan_for_sizes(text, regclass[]) from public, anon, authenticated;
grant execute on function leadflow_private.plan_for_sizes(text, regclass[]) to service_role;

create or replace function leadflow_private.pipeline_plan_for_sizes()
returns void
language sql
volatile
set search_path = ''
as $$
  select leadflow_private.plan_for_sizes('pipeline', array['public.pipeline_contacts', 'public.conversation_tags',
    'public.ai_automation_stops', 'public.messenger_conversations']::regclass[]);
$$;

-- The tables the claims reach by key: the walk (tag links, states, stops, past sends,
-- conversations), the day's usage (send counts) and what a claim returns (messages).
create or replace function leadflow_private.follow_up_plan_for_sizes()
returns void
language sql
volatile
set search_path = ''
as $$
  select leadflow_private.plan_for_sizes('follow_up', array['public.conversation_tags', 'public.ai_automation_contact_states',
    'public.ai_automation_stops', 'public.ai_automation_executions', 'public.messenger_conversations',
    'public.ai_automation_rule_send_counts', 'public.messenger_messages']::regclass[]);
$$;
comment on function leadflow_private.follow_up_plan_for_sizes() is
  'Drops the connection''s cached plans when a table the follow-up claims probe has doubled in size since they were planned.';
revoke all on function leadflow_private.follow_up_plan_for_sizes() from public, anon, authenticated;
grant execute on function leadflow_private.follow_up_plan_for_sizes() to service_role;

-- =============================================================================================
-- automation_claim_candidates: as in 20261201000640, its plans kept
-- =============================================================================================
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
-- Planned once per connection and kept, like the claim's other statements (planned at each call,
-- the planning cost a third of a claim of 100); automation_claim makes the connection plan again
-- when a table the walk probes has doubled in size (leadflow_private.plan_for_sizes).
set plan_cache_mode = force_generic_plan
as $$
#variable_conflict use_column
begin
  -- Walk the rule's include tags' links whose conversation's 24 h window is open, along
  -- conversation_tags_window_idx (tag, window time), in the claim's order, and stop as soon as
  -- p_take are due (the LIMIT). Passed over before the judgement, one probe each: contacts
  -- carrying an excluded tag (the judgement: excluded_tag) and contacts whose state row says they
  -- cannot be due (see 20261201000640's header): a scalar subquery on the state's key (one row at
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

-- =============================================================================================
-- automation_claim: as in 20261201000640, the size check first
-- =============================================================================================
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

  -- Plans made for the tables as they are now, once one has doubled since they were made.
  perform leadflow_private.follow_up_plan_for_sizes();

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

-- =============================================================================================
-- automation_claim_explained: as in 20261201000720, the size check first
-- =============================================================================================
create or replace function public.automation_claim_explained(
  p_rule_id uuid default null,
  p_limit integer default 50,
  p_execution_id text default null,
  p_lease_seconds integer default 600,
  p_now timestamptz default leadflow_private.now()
)
returns json
language plpgsql
volatile
set search_path = ''
-- As automation_claim: plan each statement once per session (planning the walk with the judgement
-- inlined costs more than running it: planned at each call, a claim of 100 took 1.4x as long).
set plan_cache_mode = force_generic_plan
as $$
declare
  -- The walk, without the LIMIT and without the due filter: every judged contact, in order.
  -- Each link either passed over with its state's reason (p.state_reason), or judged (j).
  c_one_tag cursor (k_rule uuid, k_tag uuid, k_exclude uuid[], k_used integer, k_max integer, k_min_hours numeric) for
    select ct.conversation_id, p.state_reason, j.state_id, j.due, j.reason
      from public.conversation_tags ct
     cross join lateral (
       select (select case
                 when s.current_stage = 'sending'
                   or (s.current_stage in ('checking', 'eligible', 'generating', 'ready_to_send') and s.locked_until > p_now) then 'in_progress'
                 when s.current_stage = 'failed' and (s.retry_at is null or s.retry_at > p_now) then 'failed'
                 when coalesce(s.follow_up_count, 0) >= k_max then 'max_follow_ups'
                 when s.last_follow_up_at + k_min_hours * interval '1 hour' > p_now then 'interval_not_elapsed'
               end
          from public.ai_automation_contact_states s
         where s.rule_id = k_rule and s.conversation_id = ct.conversation_id) as state_reason
     ) p
     left join lateral (
       select jj.conversation_id, jj.state_id, jj.due, jj.reason
         from leadflow_private.automation_judge_contact(k_rule, ct.conversation_id, p_now, k_used) jj
        where p.state_reason is null
     ) j on true
     where ct.tag_id = k_tag
       and (p.state_reason is not null or j.conversation_id is not null)
       and ct.last_customer_message_at > p_now - interval '24 hours'
       and not exists (select from public.conversation_tags x
                        where x.conversation_id = ct.conversation_id and x.tag_id = any (k_exclude))
     order by ct.last_customer_message_at, ct.conversation_id;
  c_tags cursor (k_rule uuid, k_tags uuid[], k_exclude uuid[], k_used integer, k_max integer, k_min_hours numeric) for
    select k.conversation_id, p.state_reason, j.state_id, j.due, j.reason
      from (
        select distinct ct.last_customer_message_at, ct.conversation_id
          from public.conversation_tags ct
         where ct.tag_id = any (k_tags)
           and ct.last_customer_message_at > p_now - interval '24 hours'
           and not exists (select from public.conversation_tags x
                            where x.conversation_id = ct.conversation_id and x.tag_id = any (k_exclude))
         order by ct.last_customer_message_at, ct.conversation_id
      ) k
     cross join lateral (
       select (select case
                 when s.current_stage = 'sending'
                   or (s.current_stage in ('checking', 'eligible', 'generating', 'ready_to_send') and s.locked_until > p_now) then 'in_progress'
                 when s.current_stage = 'failed' and (s.retry_at is null or s.retry_at > p_now) then 'failed'
                 when coalesce(s.follow_up_count, 0) >= k_max then 'max_follow_ups'
                 when s.last_follow_up_at + k_min_hours * interval '1 hour' > p_now then 'interval_not_elapsed'
               end
          from public.ai_automation_contact_states s
         where s.rule_id = k_rule and s.conversation_id = k.conversation_id) as state_reason
     ) p
     left join lateral (
       select jj.conversation_id, jj.state_id, jj.due, jj.reason
         from leadflow_private.automation_judge_contact(k_rule, k.conversation_id, p_now, k_used) jj
        where p.state_reason is null
     ) j on true
     where p.state_reason is not null or j.conversation_id is not null
     order by k.last_customer_message_at, k.conversation_id;
  w record;
  v_walked_all boolean;
  v_reasons text[];
  v_passed uuid[];
  v_passed_reasons text[];
  v_due_beyond integer;
  v_excluded integer;
  v_excluded_held integer;
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
  v_batch_json json;
  v_contacts json[] := '{}';
  v_rules jsonb := '[]';
  v_not_claimed jsonb := '{}';
  v_counts jsonb;
  v_closed integer;
  v_tagged integer;
  v_passed_count integer;
  v_judged_not_due integer;
  v_status text;
  v_reason text;
  v_n integer;
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

  -- Plans made for the tables as they are now, once one has doubled since they were made.
  perform leadflow_private.follow_up_plan_for_sizes();

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
    v_candidates := '{}';
    v_without_state := '{}';
    v_found := 0;
    v_claimed := 0;
    v_counts := '{}';
    v_reasons := '{}';
    v_passed := '{}';
    v_passed_reasons := '{}';
    v_due_beyond := 0;
    v_walked_all := true;
    v_excluded := 0;
    v_excluded_held := 0;
    v_passed_count := 0;
    v_judged_not_due := 0;
    v_closed := 0;

    -- One walk: the first v_take due contacts are the candidates. When they are all the call still
    -- wants, stop there (automation_claim's LIMIT); otherwise judge to the end, keeping each other
    -- contact's reason, and the due ones beyond this claim's share of the daily limit.
    if cardinality(v_rule.include_tag_ids) = 1 then
      open c_one_tag(v_rule.id, v_rule.include_tag_ids[1], v_rule.exclude_tag_ids, v_used, v_rule.max_follow_ups, v_rule.min_hours_between_follow_ups);
    else
      open c_tags(v_rule.id, v_rule.include_tag_ids, v_rule.exclude_tag_ids, v_used, v_rule.max_follow_ups, v_rule.min_hours_between_follow_ups);
    end if;
    loop
      if cardinality(v_rule.include_tag_ids) = 1 then
        fetch c_one_tag into w;
      else
        fetch c_tags into w;
      end if;
      exit when not found;
      if w.state_reason is not null then
        v_passed := v_passed || w.conversation_id;
        v_passed_reasons := v_passed_reasons || w.state_reason;
      elsif not w.due then
        v_reasons := v_reasons || w.reason;
      elsif v_found < v_take then
        v_found := v_found + 1;
        v_candidates := v_candidates || w.conversation_id;
        if w.state_id is null then
          v_without_state := v_without_state || w.conversation_id;
        end if;
        if v_found = v_wanted then
          v_walked_all := false;
          exit;
        end if;
      else
        v_due_beyond := v_due_beyond + 1;
      end if;
    end loop;
    if cardinality(v_rule.include_tag_ids) = 1 then
      close c_one_tag;
    else
      close c_tags;
    end if;

    -- Fewer than the call still wants: why. The reasons the walk kept, the contacts it passed over
    -- for an excluded tag (see the header), and the links outside the 24 h window counted from the
    -- index, not judged.
    if v_walked_all then
      select coalesce(jsonb_object_agg(g.reason, g.n), '{}'::jsonb)
        into v_counts
        from (select r as reason, count(*)::integer as n from unnest(v_reasons) r group by r) g;
      v_judged_not_due := cardinality(v_reasons);
      -- Those passed over on their state, as the judgement would call them (see 20261201000720's header).
      if cardinality(v_passed) > 0 then
        v_reasons := '{}';
        select coalesce(array_agg(x.reason), '{}') into v_reasons
          from (
            select case
                     when p.reason = 'in_progress' then 'in_progress'
                     when not c.is_active then 'inactive'
                     when (select so.stop_reason
                             from leadflow_private.automation_stop_of(c.id, v_rule.id, v_rule.resume_after_takeover_hours, p_now) so) is not null
                       then 'stopped'
                     else p.reason
                   end as reason
              from unnest(v_passed, v_passed_reasons) p (conversation_id, reason)
              join public.messenger_conversations c
                on c.id = p.conversation_id and c.user_id = v_rule.user_id and (v_rule.page_id is null or c.page_id = v_rule.page_id)
             where exists (select from public.conversation_tags t
                            where t.conversation_id = c.id and t.tag_id = any (v_rule.include_tag_ids))
               and (v_rule.tag_match = 'any'
                    or not exists (
                      select from unnest(v_rule.include_tag_ids) wanted (tag_id)
                       where not exists (select from public.conversation_tags t
                                          where t.conversation_id = c.id and t.tag_id = wanted.tag_id)))
          ) x;
        for v_reason, v_n in select r, count(*)::integer from unnest(v_reasons) r group by r loop
          v_counts := jsonb_set(v_counts, array[v_reason], to_jsonb(coalesce((v_counts ->> v_reason)::integer, 0) + v_n));
        end loop;
        v_passed_count := cardinality(v_reasons);
      end if;
      if cardinality(v_rule.exclude_tag_ids) > 0 then
        select count(*) filter (where h.held), count(*) filter (where not h.held)
          into v_excluded_held, v_excluded
          from (
            select distinct ct.conversation_id
              from public.conversation_tags ct
             where ct.tag_id = any (v_rule.include_tag_ids)
               and ct.last_customer_message_at > p_now - interval '24 hours'
               and exists (select from public.conversation_tags x
                            where x.conversation_id = ct.conversation_id and x.tag_id = any (v_rule.exclude_tag_ids))
          ) k
          join public.messenger_conversations c
            on c.id = k.conversation_id and c.user_id = v_rule.user_id and (v_rule.page_id is null or c.page_id = v_rule.page_id)
          cross join lateral (
            select coalesce((
              select s.current_stage = 'sending'
                     or (s.current_stage in ('checking', 'eligible', 'generating', 'ready_to_send') and s.locked_until > p_now)
                from public.ai_automation_contact_states s
               where s.rule_id = v_rule.id and s.conversation_id = c.id), false) as held
          ) h
         where v_rule.tag_match = 'any'
            or not exists (
              select from unnest(v_rule.include_tag_ids) wanted (tag_id)
               where not exists (select from public.conversation_tags t
                                  where t.conversation_id = c.id and t.tag_id = wanted.tag_id));
      end if;
      select count(distinct ct.conversation_id)::integer into v_closed
        from public.conversation_tags ct
       where ct.tag_id = any (v_rule.include_tag_ids)
         and (ct.last_customer_message_at is null or ct.last_customer_message_at <= p_now - interval '24 hours');
    end if;

    if v_found > 0 then
      -- Contacts seen for the first time under this rule get their state row (queued, "tagged").
      if cardinality(v_without_state) > 0 then
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
      select coalesce(json_agg(json_build_object(
               'state_id', k.id,
               'rule_id', k.rule_id,
               'user_id', k.user_id,
               'conversation_id', k.conversation_id,
               'page_id', c.page_id,
               'recipient_id', c.sender_id,
               'sender_name', c.sender_name,
               'follow_up_number', k.claimed_follow_up_number,
               'tags', coalesce(tg.names, '{}'::text[]),
               'messages', (select coalesce(json_agg(json_build_object('direction', m.direction, 'text', m.text, 'sent_at', m.sent_at)
                                                     order by m.sent_at, m.id), '[]'::json)
                              from (select mm.id, mm.direction, mm.text, mm.sent_at from public.messenger_messages mm
                                     where mm.conversation_id = c.id
                                     order by mm.sent_at desc limit v_rule.context_message_count) m),
               'last_customer_message_at', c.last_customer_message_at,
               'window_closes_at', c.last_customer_message_at + interval '24 hours',
               'lease_expires_at', k.locked_until,
               'execution_id', p_execution_id,
               'rule', v_rule_json
             ) order by c.last_customer_message_at, c.id), '[]'::json),
             count(*)::integer
        into v_batch_json, v_claimed
        from claimed k
        join public.messenger_conversations c on c.id = k.conversation_id
        left join candidate_tags tg on tg.conversation_id = k.conversation_id;
      v_contacts := v_contacts || v_batch_json;
    end if;

    -- Due, but past this claim's share of the daily limit: daily_limit_reached. Found due, but
    -- taken by another execution between the judgement and the lock: in_progress.
    for v_reason, v_n in
      select * from (values ('daily_limit_reached', v_due_beyond), ('in_progress', v_found - v_claimed + v_excluded_held),
                            ('excluded_tag', v_excluded), ('outside_window', v_closed)) a (reason, n)
       where n > 0
    loop
      v_counts := jsonb_set(v_counts, array[v_reason], to_jsonb(coalesce((v_counts ->> v_reason)::integer, 0) + v_n));
    end loop;
    v_tagged := v_found + v_due_beyond + v_judged_not_due + v_passed_count + v_excluded + v_excluded_held
      + coalesce((v_counts ->> 'outside_window')::integer, 0);

    v_status := case
      when v_claimed >= v_wanted then 'filled'
      when v_tagged = 0 then 'no_tagged_contacts'
      when not v_in_hours then 'outside_active_hours'
      when v_used >= v_rule.daily_limit or v_due_beyond > 0 then 'daily_limit_reached'
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

  -- One rule's contacts are sent as built; several rules' are put in one array.
  return json_build_object(
    'contacts', case cardinality(v_contacts)
                  when 0 then '[]'::json
                  when 1 then v_contacts[1]
                  else (select json_agg(e.value order by b.n, e.i)
                          from unnest(v_contacts) with ordinality b (batch, n)
                         cross join lateral json_array_elements(b.batch) with ordinality e (value, i))
                end,
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
