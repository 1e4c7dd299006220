-- Takes back 20261201002900_follow_up_claim_not_own_run_again.sql: the claim's guard against the
-- contacts an earlier Claim of the same holder took, and the count that left them out of notClaimed.
-- Re-created exactly as before it: leadflow_private.automation_claim_take as in
-- 20261201002020_follow_up_claim_take_follows_updated_rows.sql and public.automation_claim_explained
-- as in 20261201002820_follow_up_claim_several_pages_refused.sql (function text, comments and grants
-- copied byte for byte; same signatures).
--
-- Why: the guard was built for the follow-up workflow's schedule claiming twice in one run (a first
-- batch of 50, then the rest). Its reviews the same day found the two claims made the webhook's run
-- slower (two IF nodes evaluated per item), broke the workflow when a user deleted the second claim,
-- and gained no time on the whole run (the first message left 0.1 s sooner, the run ended as
-- before); the workflow went back to one claim. Without it every Claim has its own holder again
-- (a random part per Claim), so the guard would match nothing, while it skipped, uncounted, a
-- contact the same execution had given back and one last claimed by an execution whose id a
-- restored n8n database repeats.

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

create or replace function public.automation_claim_explained(
  p_rule_id uuid default null,
  p_limit integer default 50,
  p_execution_id text default null,
  p_lease_seconds integer default 600,
  p_now timestamptz default leadflow_private.now(),
  p_page_id text default null
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
  -- k_owner: the rule's owner when a judged contact may be on a Page another owner connected (then
  -- j.other_owner says whether it is), null when none can be (no Page probed).
  c_one_tag cursor (k_rule uuid, k_tag uuid, k_exclude uuid[], k_used integer, k_max integer, k_min_hours numeric, k_owner uuid) for
    select ct.conversation_id, p.state_reason, j.state_id, j.due, j.reason, j.other_owner
      from public.conversation_tags ct
     cross join lateral (
       select (select leadflow_private.automation_state_reason(p_now, s.current_stage, s.locked_until, s.retry_at, s.follow_up_count,
                                                              s.last_follow_up_at, k_max, k_min_hours)
                 from public.ai_automation_contact_states s
                where s.rule_id = k_rule and s.conversation_id = ct.conversation_id) as state_reason
       -- Read once per link: without the fence the planner copies the subquery into each test of
       -- p.state_reason below, one more probe of the states each.
       offset 0
     ) p
     left join lateral (
       select jj.conversation_id, jj.page_id, jj.state_id, jj.due, jj.reason,
              case when k_owner is null then false
                   else exists (select from public.messenger_pages mp where mp.page_id = jj.page_id and mp.user_id <> k_owner) end as other_owner
         from leadflow_private.automation_judge_contact(k_rule, ct.conversation_id, p_now, k_used) jj
        where p.state_reason is null
     ) j on true
     where ct.tag_id = k_tag
       and (p.state_reason is not null or j.conversation_id is not null)
       -- Judged (j): kept when of the Page asked for. Passed over on their state (no j): their Page
       -- is checked where they are counted.
       and (p_page_id is null or j.page_id = p_page_id or j.conversation_id is null)
       and ct.last_customer_message_at > p_now - interval '24 hours'
       and not exists (select from public.conversation_tags x
                        where x.conversation_id = ct.conversation_id and x.tag_id = any (k_exclude))
     order by ct.last_customer_message_at, ct.conversation_id;
  c_tags cursor (k_rule uuid, k_tags uuid[], k_exclude uuid[], k_used integer, k_max integer, k_min_hours numeric, k_owner uuid) for
    select k.conversation_id, p.state_reason, j.state_id, j.due, j.reason, j.other_owner
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
       select (select leadflow_private.automation_state_reason(p_now, s.current_stage, s.locked_until, s.retry_at, s.follow_up_count,
                                                              s.last_follow_up_at, k_max, k_min_hours)
                 from public.ai_automation_contact_states s
                where s.rule_id = k_rule and s.conversation_id = k.conversation_id) as state_reason
       -- Read once per link: without the fence the planner copies the subquery into each test of
       -- p.state_reason below, one more probe of the states each.
       offset 0
     ) p
     left join lateral (
       select jj.conversation_id, jj.page_id, jj.state_id, jj.due, jj.reason,
              case when k_owner is null then false
                   else exists (select from public.messenger_pages mp where mp.page_id = jj.page_id and mp.user_id <> k_owner) end as other_owner
         from leadflow_private.automation_judge_contact(k_rule, k.conversation_id, p_now, k_used) jj
        where p.state_reason is null
     ) j on true
     where (p.state_reason is not null or j.conversation_id is not null)
       and (p_page_id is null or j.page_id = p_page_id or j.conversation_id is null)
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
  v_rule_json jsonb;
  v_claimed_rules jsonb := '{}';
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
  v_pessimistic boolean;
  v_retry boolean;
  v_pending uuid[];
  v_pending_new boolean[];
  v_hold record;
  v_held uuid[];
  v_busy integer;
  v_check_owner uuid;
  v_pages text[];
  v_page_count integer;
begin
  -- The Page asked for: a Facebook Page id (as messenger_conversations.page_id), or null for every Page.
  if p_page_id is not null and p_page_id !~ '^[0-9]{1,32}$' then
    raise exception 'p_page_id must be a Facebook Page id (1 to 32 digits), or null for every Page'
      using errcode = '22023',
            hint = 'Set the Claim''s Page ID to the Page ID of the Facebook credential that sends, or leave it empty.';
  end if;
  -- A rule asked for by id that sends as another Page: none of its contacts may be claimed here.
  if p_page_id is not null and p_rule_id is not null then
    select r.page_id into v_reason from public.ai_automation_rules r
     where r.id = p_rule_id and r.page_id is not null and r.page_id <> p_page_id;
    if found then
      -- The DETAIL is the refusal for machines (the message is for people): which argument, why, and
      -- the rule's Page.
      raise exception 'automation rule % sends as Page %, not as p_page_id %', p_rule_id, v_reason, p_page_id
        using errcode = '22023',
              detail = json_build_object('field', 'p_rule_id', 'reason', 'rule_of_another_page', 'rule_page_id', v_reason)::text,
              hint = 'Leave the rule empty (every rule of this Page), pick a rule of this Page, or set the Page ID to the rule''s Page.';
    end if;
  end if;

  -- No Page asked for, while the rules this claim goes through send as more than one Page: one
  -- workflow sends as one Page (its Facebook credential), so the other Pages' contacts would be
  -- claimed, generated and then failed for good at the send (page_mismatch). Refused, nothing claimed.
  -- The DETAIL is the refusal for machines (the message is for people): which argument, why, and
  -- the Pages (at most 20 of them; page_count says how many).
  if p_page_id is null then
    select count(*)::integer, (array_agg(s.page_id order by s.page_id))[1:20]
      into v_page_count, v_pages
      from (
        select r.page_id
          from public.ai_automation_rules r
         where r.enabled and (p_rule_id is null or r.id = p_rule_id) and r.page_id is not null
        union
        select mp.page_id
          from public.ai_automation_rules r
          join public.messenger_pages mp on mp.user_id = r.user_id
         where r.enabled and (p_rule_id is null or r.id = p_rule_id) and r.page_id is null
      ) s;
    if v_page_count > 1 then
      raise exception 'Page ID is empty, but the rules this claim goes through send as % Pages (%): one workflow sends as the one Page of its Facebook credential, so the other Pages'' contacts would be claimed, generated and then failed for good (page_mismatch). Nothing was claimed.',
          v_page_count, array_to_string(v_pages, ', ') || case when v_page_count > 20 then ', …' else '' end
        using errcode = '22023',
              detail = json_build_object('field', 'p_page_id', 'reason', 'several_pages', 'page_ids', to_json(v_pages), 'page_count', v_page_count)::text,
              hint = 'Set Claim Due Contacts'' Page ID to the Page ID of this workflow''s Facebook credential, and import one copy of the workflow per Page credential, each with its own Page ID (README, Using it, step 4).';
    end if;
  end if;

  -- The arguments checked, the plans made for the tables as they are, expired leases reaped.
  perform leadflow_private.automation_claim_start(p_rule_id, p_limit, p_execution_id, p_lease_seconds, p_now);

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
       and (p_page_id is null or r.page_id is null or r.page_id = p_page_id)
     order by r.id
  loop
    exit when v_remaining <= 0;
    -- First without the rule's lock: walk, hold the candidates' conversations, write, and only then
    -- lock the rule's row to count the day's use with them (automation_claim_within_limit). Should
    -- that count pass the daily limit, or the rule have changed since it was read, the write is
    -- rolled back and the rule claimed again the way it always was: its row locked first, counted,
    -- walked and written under the lock (v_pessimistic).
    v_pessimistic := false;
    <<attempt>>
    loop
      -- The rule read again and locked: FOR KEY SHARE, which no other claim's lock and no edit of
      -- the rule's settings waits for, but a delete of the rule does, as it always waited for the
      -- claim (its cascade would otherwise meet this claim's new states: a foreign key error, or a
      -- deadlock at the count). Pessimistic: FOR NO KEY UPDATE, held from here.
      if v_pessimistic then
        select r.* into v_rule from public.ai_automation_rules r
         where r.id = v_rule.id and r.enabled
           and (p_page_id is null or r.page_id is null or r.page_id = p_page_id)
           for no key update;
      else
        select r.* into v_rule from public.ai_automation_rules r
         where r.id = v_rule.id and r.enabled
           and (p_page_id is null or r.page_id is null or r.page_id = p_page_id)
           for key share;
      end if;
      -- Deleted, switched off (or moved to another Page) meanwhile: as if it had been before the call.
      exit attempt when not found;
      v_wanted := v_remaining;
      v_in_hours := leadflow_private.automation_in_active_hours(
        v_rule.active_hours_start, v_rule.active_hours_end, v_rule.active_days, v_rule.time_zone, p_now);
      -- Counted once (under the rule's lock when v_pessimistic; else checked again under it once
      -- written) and handed to the judgement (see automation_judge_contact).
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
      v_pending := '{}';
      v_pending_new := '{}';
      v_busy := 0;

      -- Each judged contact's Page probed in messenger_pages when the rule may reach a Page another
      -- owner connected: its contacts are all on one Page (the rule's, else p_page_id) and that Page
      -- is another owner's, or they may be on any Page (neither is set) and another owner has
      -- connected one. Else no contact is probed.
      v_check_owner := case
        when coalesce(v_rule.page_id, p_page_id) is null then
          case when exists (select from public.messenger_pages mp where mp.user_id <> v_rule.user_id) then v_rule.user_id end
        when exists (select from public.messenger_pages mp
                      where mp.page_id = coalesce(v_rule.page_id, p_page_id) and mp.user_id <> v_rule.user_id)
          then v_rule.user_id
      end;

      -- One walk: the first v_take due contacts are the candidates. When they are all the call still
      -- wants, stop there (automation_claim's LIMIT); otherwise judge to the end, keeping each other
      -- contact's reason, and the due ones beyond this claim's share of the daily limit.
      if cardinality(v_rule.include_tag_ids) = 1 then
        open c_one_tag(v_rule.id, v_rule.include_tag_ids[1], v_rule.exclude_tag_ids, v_used, v_rule.max_follow_ups, v_rule.min_hours_between_follow_ups, v_check_owner);
      else
        open c_tags(v_rule.id, v_rule.include_tag_ids, v_rule.exclude_tag_ids, v_used, v_rule.max_follow_ups, v_rule.min_hours_between_follow_ups, v_check_owner);
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
        elsif w.other_owner then
          -- On a Page another owner connected: that owner's send would carry this rule (see the header).
          v_reasons := v_reasons || 'page_of_another_owner'::text;
        elsif not w.due then
          v_reasons := v_reasons || w.reason;
        elsif v_found + cardinality(v_pending) < v_take then
          -- A candidate. Once there are as many as this claim may take, their conversations are
          -- held (automation_claim_hold): those another claim is taking right now are passed
          -- over (in_progress) and the walk goes on for others.
          v_pending := v_pending || w.conversation_id;
          -- Beside it, whether the walk found it without a state (automation_claim_take makes one).
          v_pending_new := v_pending_new || (w.state_id is null);
          if v_found + cardinality(v_pending) = v_take then
            v_hold := leadflow_private.automation_claim_hold(v_rule, v_pending, v_pending_new, p_now);
            v_held := v_hold.held;
            v_busy := v_busy + cardinality(v_pending) - cardinality(v_held);
            v_candidates := v_candidates || v_held;
            v_without_state := v_without_state || v_hold.held_without_state;
            v_found := cardinality(v_candidates);
            v_pending := '{}';
            v_pending_new := '{}';
            if v_found = v_wanted then
              v_walked_all := false;
              exit;
            end if;
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
      -- The walk ended with fewer candidates than this claim may take: hold those it found.
      if cardinality(v_pending) > 0 then
        v_hold := leadflow_private.automation_claim_hold(v_rule, v_pending, v_pending_new, p_now);
        v_held := v_hold.held;
        v_busy := v_busy + cardinality(v_pending) - cardinality(v_held);
        v_candidates := v_candidates || v_held;
        v_without_state := v_without_state || v_hold.held_without_state;
        v_found := cardinality(v_candidates);
      end if;
      -- Nothing to take because other claims hold every due contact it found: claimed again under
      -- the lock, which waits for the claims counting before it, so that what it answers (and
      -- takes) is what those claims left, not what they held for a moment (one that passed the
      -- limit gives its contacts back).
      if not v_pessimistic and v_busy > 0 and v_found = 0 then
        v_pessimistic := true;
        continue attempt;
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
                       when v_check_owner is not null
                        and exists (select from public.messenger_pages mp where mp.page_id = c.page_id and mp.user_id <> v_rule.user_id)
                         then 'page_of_another_owner'
                       when not c.is_active then 'inactive'
                       when (select so.stop_reason
                               from leadflow_private.automation_stop_of(c.id, v_rule.id, v_rule.resume_after_takeover_hours, p_now) so) is not null
                         then 'stopped'
                       else p.reason
                     end as reason
                from unnest(v_passed, v_passed_reasons) p (conversation_id, reason)
                join public.messenger_conversations c
                  on c.id = p.conversation_id and c.user_id = v_rule.user_id and (v_rule.page_id is null or c.page_id = v_rule.page_id)
                 and (p_page_id is null or c.page_id = p_page_id)
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
             and (p_page_id is null or c.page_id = p_page_id)
            cross join lateral (
              select coalesce((
                select leadflow_private.automation_state_reason(p_now, s.current_stage, s.locked_until, s.retry_at, s.follow_up_count,
                                                                s.last_follow_up_at, v_rule.max_follow_ups, v_rule.min_hours_between_follow_ups) = 'in_progress'
                  from public.ai_automation_contact_states s
                 where s.rule_id = v_rule.id and s.conversation_id = c.id), false) as held
            ) h
           where v_rule.tag_match = 'any'
              or not exists (
                select from unnest(v_rule.include_tag_ids) wanted (tag_id)
                 where not exists (select from public.conversation_tags t
                                    where t.conversation_id = c.id and t.tag_id = wanted.tag_id));
        end if;
        v_closed := leadflow_private.automation_closed_count(v_rule, p_page_id, p_now);
      end if;

      if v_found > 0 then
        -- Their states (new ones made), claimed, as automation_claim claims them (automation_claim_take),
        -- gathered as JSON in the claim's order, without the rule's settings (claimedRules has them).
        -- Without the rule's lock, in a savepoint: the day's use is then counted under the lock with
        -- these contacts in it, and the write rolled back to claim again under the lock should it
        -- pass the limit (another claim took part of it meanwhile) or the rule have changed.
        v_retry := false;
        begin
          select coalesce(json_agg(json_build_object(
                   'state_id', t.state_id,
                   'rule_id', t.rule_id,
                   'user_id', t.user_id,
                   'conversation_id', t.conversation_id,
                   'page_id', t.page_id,
                   'recipient_id', t.recipient_id,
                   'sender_name', t.sender_name,
                   'follow_up_number', t.follow_up_number,
                   'tags', t.tags,
                   'messages', t.messages,
                   'last_customer_message_at', t.last_customer_message_at,
                   'window_closes_at', t.window_closes_at,
                   'lease_expires_at', t.lease_expires_at,
                   'execution_id', t.execution_id
                 ) order by t.n), '[]'::json),
                 count(*)::integer,
                 -- The rule's settings, the same on every row: once per rule, in claimedRules.
                 (array_agg(t.rule))[1]
            into v_batch_json, v_claimed, v_rule_json
            from leadflow_private.automation_claim_take(v_rule, v_candidates, v_without_state, p_execution_id, p_lease_seconds, p_now)
                 with ordinality t (state_id, rule_id, user_id, conversation_id, page_id, recipient_id, sender_name, follow_up_number,
                                    tags, messages, last_customer_message_at, window_closes_at, lease_expires_at, execution_id, rule, n);
          if not v_pessimistic and not leadflow_private.automation_claim_within_limit(v_rule, p_now) then
            raise exception 'claim again under the rule''s lock' using errcode = 'LF409';
          end if;
        exception when sqlstate 'LF409' then
          v_retry := true;
        end;
        if v_retry then
          v_pessimistic := true;
          continue attempt;
        end if;
        v_contacts := v_contacts || v_batch_json;
        if v_claimed > 0 then
          v_claimed_rules := v_claimed_rules || jsonb_build_object(v_rule.id, v_rule_json);
        end if;
      end if;

      -- Due, but past this claim's share of the daily limit: daily_limit_reached. Found due, but
      -- taken by another execution between the judgement and the lock: in_progress.
      for v_reason, v_n in
        select * from (values ('daily_limit_reached', v_due_beyond), ('in_progress', v_found - v_claimed + v_excluded_held + v_busy),
                              ('excluded_tag', v_excluded), ('outside_window', v_closed)) a (reason, n)
         where n > 0
      loop
        v_counts := jsonb_set(v_counts, array[v_reason], to_jsonb(coalesce((v_counts ->> v_reason)::integer, 0) + v_n));
      end loop;
      v_tagged := v_found + v_busy + v_due_beyond + v_judged_not_due + v_passed_count + v_excluded + v_excluded_held
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
      exit attempt;
    end loop attempt;
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
    'claimedRules', v_claimed_rules,
    'summary', jsonb_build_object(
      'requested', p_limit,
      'pageId', p_page_id,
      'claimed', v_total,
      'reason', v_reason,
      'notClaimed', v_not_claimed,
      'rules', v_rules
    )
  );
end;
$$;

comment on function public.automation_claim_explained(uuid, integer, text, integer, timestamptz, text) is
  'automation_claim (the same contacts, as JSON, their rules'' settings once per rule in claimedRules) plus a summary of why nothing, or fewer than p_limit, was claimed: the tagged contacts not taken counted by the judgement''s reason, and each rule''s status. With p_page_id, only the contacts of that Page, for the rules of that Page or of every Page. Claims of one rule run side by side; the rule''s row is locked only to count the day''s use at the end. A contact on a Page messenger_pages connects to another owner than the rule''s is never claimed (page_of_another_owner). Without p_page_id, refused (22023, DETAIL reason several_pages, nothing claimed) when the enabled rules it goes through send as more than one Page.';

revoke all on function public.automation_claim_explained(uuid, integer, text, integer, timestamptz, text) from public, anon, authenticated;
grant execute on function public.automation_claim_explained(uuid, integer, text, integer, timestamptz, text) to service_role;
