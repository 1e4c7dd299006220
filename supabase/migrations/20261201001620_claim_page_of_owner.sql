-- The follow-up claim passes over a contact on a Page another owner connected, and the console
-- refuses such a Page for a rule.
-- Re-created: public.automation_claim_explained (otherwise as in
-- 20261201001430_follow_up_claim_rule_key_share.sql) and public.console_rule_write (otherwise as in
-- 20261201001410_console_rule_write_create_key.sql); same signatures, so their grants stay.
--
-- Why: since 20261201001600 a signed-in user can no longer put a conversation or a rule on a Page
-- messenger_pages connects to another owner, but rows row level security never saw still can be
-- there: rows written before …1600, or before the Page's owner connected it, and rows written with
-- the service role (console_rule_write with p_user_id wrote any page_id). The claim compared a
-- contact's owner with its rule's owner, never with its Page's: owner A's rule with contacts on
-- owner B's Page P was claimed by P's send run (automation_claim_explained with p_page_id P, as
-- tag-monitor-send.json calls it with B's Page credential), and B's Page sent a message generated
-- from A's instructions to A's contacts.
--
-- Now:
--   * automation_claim_explained (and so automation_claim, which calls it) never claims a contact
--     whose page_id messenger_pages connects to an owner other than its rule's. It is counted in
--     notClaimed as page_of_another_owner: among the contacts the walk judges, before the
--     judgement's reasons, and among those passed over on their state, after in_progress. Those
--     outside the window or carrying an excluded tag are counted as before (nothing can be claimed
--     there anyway). A Page nobody connected is claimed as before (an owner's app may create
--     contacts before n8n connects the Page). The contact, its state and its rule are left as they
--     are: Explain and the monitor judge it as before (they are the judgement's, which does not
--     read messenger_pages); the owner moves or deletes it.
--     Cost: once per rule, whether its contacts may be on another owner's Page: they are all on
--     one Page when the rule has one or p_page_id is given (the shipped workflow), and that Page is
--     probed once; with neither (a rule for every Page claimed for every Page), only when another
--     owner has connected a Page at all. Only then, or when that one Page is another owner's, is
--     each judged contact's Page probed (messenger_pages' primary key), in the walk's cursor: no
--     other statement, no other row read. Measured on `npm run bench -- claim`'s data (100,000
--     conversations, 1,158 due, a rule for every Page), before and after alternating in one
--     database (medians; 2 cores shared with other work, load 3 to 16): a claim of 100 0.97x (one
--     owner), 0.86x with another owner's Page connected (every judged contact probed; fastest calls
--     0.99x); a claim of every due contact 0.84x and 0.94x (fastest calls 1.09x): no difference
--     beyond the noise.
--   * console_rule_write refuses a save that sets page_id to a Page messenger_pages connects to
--     another owner than the rule's (a create for p_user_id, or a change of page_id): saved false,
--     error.field page_id, the Page and the owner in the message, what to do in the hint; nothing
--     written (the preview, p_save false, is refused the same). A change that does not send page_id
--     stays possible on a rule already on such a Page (to switch it off, rename it, or move it with
--     page_id), as the claim passes its contacts over anyway. console_rule_prompt, which saves
--     through console_rule_write in a rolled-back call, is refused the same. No other service-role
--     function writes a page_id for an owner it is given: messenger_record_events and
--     messenger_sync_begin already answer page_of_another_owner.

-- =============================================================================================
-- automation_claim_explained: as in 20261201001430, a contact on another owner's Page passed over
-- =============================================================================================
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
  v_pending_new uuid[];
  v_held uuid[];
  v_busy integer;
  v_check_owner uuid;
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
      raise exception 'automation rule % sends as Page %, not as p_page_id %', p_rule_id, v_reason, p_page_id
        using errcode = '22023',
              hint = 'Leave the rule empty (every rule of this Page), pick a rule of this Page, or set the Page ID to the rule''s Page.';
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
          if w.state_id is null then
            v_pending_new := v_pending_new || w.conversation_id;
          end if;
          if v_found + cardinality(v_pending) = v_take then
            v_held := leadflow_private.automation_claim_hold(v_rule, v_pending, p_now);
            v_busy := v_busy + cardinality(v_pending) - cardinality(v_held);
            v_candidates := v_candidates || v_held;
            v_without_state := v_without_state || array(select c from unnest(v_held) c where c = any (v_pending_new));
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
        v_held := leadflow_private.automation_claim_hold(v_rule, v_pending, p_now);
        v_busy := v_busy + cardinality(v_pending) - cardinality(v_held);
        v_candidates := v_candidates || v_held;
        v_without_state := v_without_state || array(select c from unnest(v_held) c where c = any (v_pending_new));
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
  'automation_claim (the same contacts, as JSON, their rules'' settings once per rule in claimedRules) plus a summary of why nothing, or fewer than p_limit, was claimed: the tagged contacts not taken counted by the judgement''s reason, and each rule''s status. With p_page_id, only the contacts of that Page, for the rules of that Page or of every Page. Claims of one rule run side by side; the rule''s row is locked only to count the day''s use at the end. A contact on a Page messenger_pages connects to another owner than the rule''s is never claimed (page_of_another_owner).';

revoke all on function public.automation_claim_explained(uuid, integer, text, integer, timestamptz, text) from public, anon, authenticated;
grant execute on function public.automation_claim_explained(uuid, integer, text, integer, timestamptz, text) to service_role;

-- =============================================================================================
-- console_rule_write: as in 20261201001410, a page_id of another owner's Page refused
-- =============================================================================================
create or replace function public.console_rule_write(
  p_rule_id uuid default null,
  p_user_id uuid default null,
  p_settings jsonb default '{}'::jsonb,
  p_save boolean default true,
  p_now timestamptz default leadflow_private.now(),
  p_create_key uuid default null
)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
  c_columns constant text[] := array['name', 'enabled', 'page_id', 'include_tag_ids', 'tag_match', 'exclude_tag_ids',
    'active_hours_start', 'active_hours_end', 'time_zone', 'active_days', 'daily_limit', 'max_follow_ups',
    'min_hours_between_follow_ups', 'stop_on_reply', 'instructions', 'model', 'language', 'context_message_count',
    'resume_after_takeover_hours'];
  v_keys text[];
  v_key text;
  v_list text;
  v_row public.ai_automation_rules;
  v_repeat boolean := false;
  v_asked jsonb;
  v_explain jsonb;
  v_message text;
  v_hint text;
  v_constraint text;
  v_column text;
  v_field text;
begin
  if p_settings is null or jsonb_typeof(p_settings) <> 'object' then
    return jsonb_build_object('saved', false, 'error', jsonb_build_object('field', null,
      'message', 'the settings must be a JSON object of the rule''s columns', 'hint', 'Send e.g. {"name": "…", "daily_limit": 50}.'));
  end if;
  if p_rule_id is null and p_user_id is null then
    return jsonb_build_object('saved', false, 'error', jsonb_build_object('field', 'user_id',
      'message', 'a new rule needs its owner', 'hint', 'Pass the owner''s user id (the user_id of their tags).'));
  end if;
  select coalesce(array_agg(k order by k), '{}') into v_keys from jsonb_object_keys(p_settings) k;
  -- Each setting alone, so a value of the wrong type is refused naming its column.
  foreach v_key in array v_keys loop
    if not v_key = any (c_columns) then
      return jsonb_build_object('saved', false, 'error', jsonb_build_object('field', v_key,
        'message', format('%s is not a setting of a rule', v_key), 'hint', 'Use the columns of ai_automation_rules: ' || array_to_string(c_columns, ', ') || '.'));
    end if;
    begin
      perform jsonb_populate_record(null::public.ai_automation_rules, jsonb_build_object(v_key, p_settings -> v_key));
    exception when data_exception then
      get stacked diagnostics v_message = message_text;
      return jsonb_build_object('saved', false, 'error', jsonb_build_object('field', v_key, 'message', v_message, 'hint', null));
    end;
  end loop;
  select string_agg(format('%I', k), ', ') into v_list from unnest(v_keys) k;

  begin
    if p_rule_id is null and p_save and p_create_key is not null then
      -- A create with a key: the rule the key already made, else a new one carrying the key. A
      -- concurrent create with the key makes this insert wait for it and insert nothing; the rule
      -- it wrote is then read (a new statement, so its committed row is seen).
      select * into v_row from public.ai_automation_rules r where r.user_id = p_user_id and r.create_key = p_create_key;
      if v_row.id is null then
        execute format('insert into public.ai_automation_rules (user_id, create_key%s) select $2, $3%s from jsonb_populate_record(null::public.ai_automation_rules, $1) '
                       'on conflict (user_id, create_key) do nothing returning *',
                       coalesce(', ' || v_list, ''), coalesce(', ' || v_list, ''))
           into v_row using p_settings, p_user_id, p_create_key;
        if v_row.id is null then
          select * into v_row from public.ai_automation_rules r where r.user_id = p_user_id and r.create_key = p_create_key;
          v_repeat := true;
        end if;
      else
        v_repeat := true;
      end if;
      if v_repeat and v_row.id is null then
        -- The rule the concurrent create made is gone already (deleted in between).
        return jsonb_build_object('saved', false, 'error', jsonb_build_object('field', 'create_key',
          'message', 'the rule this key created was deleted while this save ran', 'hint', 'Save again to create the rule anew (the key is free again).'));
      end if;
      if v_repeat then
        -- The same save again, if every setting it sends has the value the rule has: each value as
        -- the column would store it (jsonb_populate_record over the rule), compared as JSON.
        v_asked := to_jsonb(jsonb_populate_record(v_row, p_settings));
        select c.name into v_key
          from unnest(c_columns) with ordinality c(name, n)
         where p_settings ? c.name and (v_asked -> c.name) is distinct from (to_jsonb(v_row) -> c.name)
         order by c.n
         limit 1;
        if v_key is not null then
          return jsonb_build_object('saved', false, 'repeat', true, 'rule', to_jsonb(v_row), 'error', jsonb_build_object('field', v_key,
            'message', format('the rule this key created (%s) has %s %s; this save asks for %s: nothing was changed',
                              v_row.id, v_key, coalesce(to_jsonb(v_row) ->> v_key, 'null'), coalesce(v_asked ->> v_key, 'null')),
            'hint', format('A key creates one rule: change that rule by its id (ruleId %s), or send a new key for another rule.', v_row.id)));
        end if;
      end if;
    elsif p_rule_id is null then
      execute format('insert into public.ai_automation_rules (user_id%s) select $2%s from jsonb_populate_record(null::public.ai_automation_rules, $1) returning *',
                     coalesce(', ' || v_list, ''), coalesce(', ' || v_list, ''))
         into v_row using p_settings, p_user_id;
    elsif v_list is null then
      select * into v_row from public.ai_automation_rules r where r.id = p_rule_id;
    else
      execute format('update public.ai_automation_rules set (%s) = (select %s from jsonb_populate_record(null::public.ai_automation_rules, $1)) where id = $2 returning *',
                     v_list, v_list)
         into v_row using p_settings, p_rule_id;
    end if;
    if v_row.id is null then
      return jsonb_build_object('saved', false, 'error', jsonb_build_object('field', null,
        'message', format('there is no automation rule with id %s', p_rule_id), 'hint', 'Pick a rule from console_rules.'), 'not_found', true);
    end if;
    -- A page_id this save sets to a Page another owner connected: refused, the write rolled back
    -- (the handler below answers the column and the hint). See the header.
    if p_settings ? 'page_id' and v_row.page_id is not null
       and exists (select from public.messenger_pages mp where mp.page_id = v_row.page_id and mp.user_id <> v_row.user_id) then
      raise exception 'Page % is connected to another owner, not to this rule''s owner %', v_row.page_id, v_row.user_id
        using errcode = '23514', column = 'page_id',
              hint = 'Pick a Page this owner connected, or leave page_id empty (null) for every Page of the owner.';
    end if;
    -- The claim's judgement of the rule as written, counted: due now, and not due by reason.
    select jsonb_build_object('tagged', coalesce(sum(x.n), 0),
                              'due', coalesce(sum(x.n) filter (where x.reason is null), 0),
                              'by_reason', coalesce(jsonb_object_agg(x.reason, x.n) filter (where x.reason is not null), '{}'::jsonb))
      into v_explain
      from (select e.reason, count(*) as n from leadflow_private.automation_evaluate(v_row.id, p_now) e group by e.reason) x;
    if not p_save then
      raise exception 'preview only' using errcode = 'LFPRV';
    end if;
  exception
    when sqlstate 'LFPRV' then
      return jsonb_build_object('saved', false, 'explain', v_explain);
    when data_exception or integrity_constraint_violation then
      get stacked diagnostics v_message = message_text, v_hint = pg_exception_hint,
                              v_constraint = constraint_name, v_column = column_name;
      v_field := case
        when nullif(v_column, '') is not null then v_column
        when v_constraint ~ '^ai_automation_rules_.+_check$' then substring(v_constraint from '^ai_automation_rules_(.+)_check$')
        when v_message like 'time zone %' then 'time_zone'
        when v_message like '%both included and excluded%' then 'exclude_tag_ids'
        when v_message like 'tag % does not exist%'
             and (p_settings -> 'exclude_tag_ids') ? substring(v_message from '^tag ([0-9a-f-]{36})') then 'exclude_tag_ids'
        when v_message like 'tag % does not exist%' or v_message like '%tag to include%' or v_message like '%listed twice%' then 'include_tag_ids'
      end;
      -- A check constraint says what it allows: its own definition, in the hint, so the person
      -- reads the bounds next to the field.
      if nullif(v_hint, '') is null and nullif(v_constraint, '') is not null then
        select 'Allowed: ' || regexp_replace(pg_catalog.pg_get_constraintdef(c.oid), '^CHECK ', '') || '.'
          into v_hint
          from pg_catalog.pg_constraint c
         where c.conname = v_constraint and c.conrelid = 'public.ai_automation_rules'::regclass and c.contype = 'c';
      end if;
      return jsonb_build_object('saved', false, 'error', jsonb_build_object('field', v_field, 'message', v_message, 'hint', nullif(v_hint, '')));
  end;
  if v_repeat then
    return jsonb_build_object('saved', true, 'repeat', true, 'rule', to_jsonb(v_row), 'explain', v_explain);
  end if;
  return jsonb_build_object('saved', true, 'rule', to_jsonb(v_row), 'explain', v_explain);
end;
$$;
comment on function public.console_rule_write(uuid, uuid, jsonb, boolean, timestamptz, uuid) is
  'Create (p_rule_id null) or change a follow-up rule from a JSON object of its columns, checked by the table''s own rules; a refusal answers the database''s message and the column, nothing written. p_save false previews: the contacts the rule would judge due, and why not, then rolls back. p_create_key: a create with the key the owner already used answers the rule it created (repeat true), nothing written; refused naming the first setting that differs. A page_id another owner connected is refused (field page_id).';

revoke all on function public.console_rule_write(uuid, uuid, jsonb, boolean, timestamptz, uuid) from public, anon, authenticated;
grant execute on function public.console_rule_write(uuid, uuid, jsonb, boolean, timestamptz, uuid) to service_role;
