-- Console monitor: automation_monitor_page may be kept to one owner. A new last argument, p_user_id
-- (null, the default: as before): when given, the rules listed are that owner's only, with or without
-- a rule, and a rule of another owner is not found (null, the node's 404), in the same way as a rule
-- that does not exist.
-- Re-created: public.automation_monitor_page, otherwise as in
-- 20261201002480_console_monitor_page_owner_rules.sql (same comment, security invoker as before). The
-- signature changes, so the old function is dropped and the grants given again as there.
--
-- Why: the Leadflow Console node's Monitor Page with no rule listed every owner's rules (names, Pages,
-- switched on or off), and with a rule any owner's rule; as an AI agent's tool that put another
-- owner's data in the model's context. As a tool the node now requires an owner and passes it here;
-- the console's page (the service role with the console key) still reads every owner's rules without
-- one.

drop function public.automation_monitor_page(uuid, text, text, text, integer, integer, timestamptz, integer);

create function public.automation_monitor_page(
  p_rule_id uuid default null,
  p_status text default null,
  p_reason text default null,
  p_search text default null,
  p_offset integer default 0,
  p_limit integer default 50,
  p_now timestamptz default leadflow_private.now(),
  p_rules_limit integer default null,
  p_user_id uuid default null
)
returns jsonb
language plpgsql
stable
set search_path = ''
as $$
declare
  v_rule public.ai_automation_rules;
  v_rules jsonb;
  v_rules_listed integer;
  v_rules_left_out integer;
  v_search text;
  v_used integer;
  v_other_pages integer;
  v_result jsonb;
begin
  if p_status is not null and p_status not in ('eligible', 'processing', 'recently_sent', 'stopped', 'skipped') then
    raise exception 'p_status must be eligible, processing, recently_sent, stopped or skipped (got %)', p_status
      using errcode = '22023', hint = 'Leave it out for every status.';
  end if;
  if p_reason is not null and p_reason !~ '^[a-z_]{1,64}$' then
    raise exception 'p_reason must be a reason code such as outside_window (got %)', left(p_reason, 80)
      using errcode = '22023', hint = 'Use a key of stats.skipped_by_reason, or leave it out.';
  end if;
  if p_offset is null or p_offset < 0 or p_offset > 1000000 then
    raise exception 'p_offset must be between 0 and 1000000 (got %)', coalesce(p_offset::text, 'null')
      using errcode = '22023', hint = 'Start at 0 and add p_limit for each next page.';
  end if;
  if p_limit is null or p_limit not between 1 and 500 then
    raise exception 'p_limit must be between 1 and 500 contacts (got %)', coalesce(p_limit::text, 'null')
      using errcode = '22023', hint = 'Ask for a page of at most 500 contacts.';
  end if;
  if p_search is not null and length(p_search) > 200 then
    raise exception 'p_search must be at most 200 characters (got %)', length(p_search)
      using errcode = '22023', hint = 'Search by a part of the contact''s name or Messenger id.';
  end if;

  if p_rules_limit is not null and p_rules_limit not between 1 and 1000 then
    raise exception 'p_rules_limit must be between 1 and 1000 rules (got %)', p_rules_limit
      using errcode = '22023', hint = 'Leave it out for every rule, or ask for at most 1000.';
  end if;

  -- The rule first: the rules listed are its owner's. With p_user_id, only a rule of that owner (one
  -- of another owner's is not found: null, as an unknown rule) and only that owner's rules; without
  -- both, every rule (the service role's picker).
  if p_rule_id is not null then
    select * into v_rule from public.ai_automation_rules r where r.id = p_rule_id and (p_user_id is null or r.user_id = p_user_id);
    if not found then
      return null;
    end if;
  end if;

  -- At most p_rules_limit of them, in name order (ai_automation_rules_owner_idx for one owner): only
  -- what is shown is read; the rest counted only when the list is full.
  select coalesce(jsonb_agg(jsonb_build_object('id', l.id, 'name', l.name, 'enabled', l.enabled, 'page_id', l.page_id)
                            order by l.name, l.id), '[]'::jsonb),
         count(*)::integer
    into v_rules, v_rules_listed
    from (select r.id, r.name, r.enabled, r.page_id
            from public.ai_automation_rules r
           where (p_rule_id is null or r.user_id = v_rule.user_id)
             and (p_user_id is null or r.user_id = p_user_id)
           order by r.name, r.id
           limit p_rules_limit) l;
  if p_rules_limit is not null then
    v_rules_left_out := 0;
    if v_rules_listed = p_rules_limit then
      select count(*)::integer - p_rules_limit into v_rules_left_out
        from public.ai_automation_rules r
       where (p_rule_id is null or r.user_id = v_rule.user_id)
         and (p_user_id is null or r.user_id = p_user_id);
    end if;
  end if;

  if p_rule_id is null then
    return jsonb_build_object('rules', v_rules, 'rule', null, 'generatedAt', p_now)
           || case when p_rules_limit is null then '{}'::jsonb else jsonb_build_object('rulesLeftOut', v_rules_left_out) end;
  end if;

  v_used := leadflow_private.automation_rule_usage(v_rule.id, v_rule.time_zone, p_now);

  -- The search matches a part of the name or the Messenger id, its wildcards taken literally.
  v_search := case when nullif(btrim(p_search), '') is null then null
                   else '%' || replace(replace(replace(btrim(p_search), '\', '\\'), '%', '\%'), '_', '\_') || '%' end;

  -- Only what the totals, the filters and the order need is judged for every contact (the judgement
  -- is inlined, so the tag names and execution counts are not computed for them); the page's rows
  -- are judged again in full below, 50 contacts instead of 10,000.
  with judged as materialized (
    select case e.contact_status when 'eligible' then 0 when 'processing' then 1 when 'recently_sent' then 2
                                 when 'skipped' then 3 else 4 end as rank,
           e.conversation_id, e.sender_id, e.sender_name, e.contact_status, e.reason, e.due_at
      from leadflow_private.automation_evaluate(v_rule.id, p_now) e
  ),
  counts as (
    select count(*)::integer as total,
           (count(*) filter (where j.contact_status = 'eligible'))::integer as eligible,
           (count(*) filter (where j.contact_status = 'processing'))::integer as processing,
           (count(*) filter (where j.contact_status = 'recently_sent'))::integer as recently_sent,
           (count(*) filter (where j.contact_status = 'stopped'))::integer as stopped,
           (count(*) filter (where j.contact_status = 'skipped'))::integer as skipped,
           (count(*) filter (where j.reason = 'failed'))::integer as failed
      from judged j
  ),
  by_reason as (
    select coalesce(jsonb_object_agg(g.reason, g.n), '{}'::jsonb) as by_reason
      from (select j.reason, count(*)::integer as n from judged j
             where j.reason is not null and j.reason <> 'in_progress' group by j.reason) g
  ),
  matching as (
    select j.* from judged j
     where (p_status is null or j.contact_status = p_status)
       and (p_reason is null or j.reason = p_reason)
       and (v_search is null or j.sender_name ilike v_search or j.sender_id ilike v_search)
  ),
  page as (
    select m.rank, d.*, st.retry_at
      from (select * from matching
             order by rank, due_at nulls last, sender_name, conversation_id
             offset p_offset limit p_limit) m
     cross join lateral leadflow_private.automation_judge_contact(v_rule.id, m.conversation_id, p_now, v_used) d
      -- The row's retry time, from its state (none before any run): by primary key, one per row of the page.
      left join public.ai_automation_contact_states st on st.id = d.state_id
  ),
  stages as (
    select
      (count(*) filter (where h.current_stage = 'queued'))::integer as queued,
      (count(*) filter (where h.current_stage = 'checking'))::integer as checking,
      (count(*) filter (where h.current_stage = 'generating'))::integer as generating,
      (count(*) filter (where h.current_stage = 'ready_to_send'))::integer as ready_to_send,
      (count(*) filter (where h.current_stage = 'sending'))::integer as sending,
      (count(*) filter (where h.current_stage = 'sent'))::integer as sent,
      (count(*) filter (where h.current_stage = 'completed'))::integer as completed,
      (count(*) filter (where h.current_stage = 'failed'))::integer as failed,
      (count(*) filter (where h.current_stage = 'skipped'))::integer as skipped
    from public.ai_automation_contact_states h
    where h.rule_id = v_rule.id
  )
  select jsonb_build_object(
    'rules', v_rules,
    'rule', jsonb_build_object('id', v_rule.id, 'name', v_rule.name, 'enabled', v_rule.enabled, 'page_id', v_rule.page_id,
                               'daily_limit', v_rule.daily_limit, 'max_follow_ups', v_rule.max_follow_ups,
                               'time_zone', v_rule.time_zone),
    'generatedAt', p_now,
    -- Beside stats (which stay automation_snapshot's): a rule of one Page's tagged contacts on the
    -- owner's other Pages, counted below only when none on its Page carries the tags.
    'taggedOnOtherPages', null,
    -- The same fields as automation_snapshot's stats (automation_rule_summary's row).
    'stats', jsonb_build_object(
      'rule_id', v_rule.id,
      'user_id', v_rule.user_id,
      'rule_name', v_rule.name,
      'enabled', v_rule.enabled,
      'total_with_tags', c.total,
      'eligible_count', c.eligible,
      'active_count', c.processing,
      'recently_sent_count', c.recently_sent,
      'stopped_count', c.stopped,
      'skipped_count', c.skipped,
      'failed_count', c.failed,
      'skipped_by_reason', br.by_reason,
      'sent_today_count', (select count(*)::integer from public.ai_automation_executions x
                            where x.rule_id = v_rule.id and x.status = 'sent'
                              and x.attempted_at >= leadflow_private.automation_limit_day_start(v_rule.time_zone, v_rule.active_hours_start,
                                                                                          v_rule.active_hours_end, p_now, 0)),
      'used_today', v_used,
      'sent_last_24h_count', (select count(*)::integer from public.ai_automation_executions x
                               where x.rule_id = v_rule.id and x.status = 'sent' and x.attempted_at > p_now - interval '24 hours'),
      'daily_limit', v_rule.daily_limit,
      'in_active_hours', leadflow_private.automation_in_active_hours(v_rule.active_hours_start, v_rule.active_hours_end,
                                                                     v_rule.active_days, v_rule.time_zone, p_now),
      'next_active_at', leadflow_private.automation_next_active_start(v_rule.active_hours_start, v_rule.active_hours_end,
                                                                      v_rule.active_days, v_rule.time_zone, p_now),
      'queued_count', s.queued,
      'checking_count', s.checking,
      'generating_count', s.generating,
      'ready_to_send_count', s.ready_to_send,
      'sending_count', s.sending,
      'sent_count', s.sent,
      'completed_count', s.completed,
      'stage_failed_count', s.failed,
      'stage_skipped_count', s.skipped
    ),
    'stages', coalesce((select jsonb_agg(to_jsonb(st) order by st.stage_order)
                          from leadflow_private.automation_stage_stats(v_rule.id, p_now) st), '[]'::jsonb),
    'contacts', jsonb_build_object(
      'total', (select count(*)::integer from matching),
      'offset', p_offset,
      'limit', p_limit,
      'rows', coalesce((
        select jsonb_agg(jsonb_build_object(
                 'conversation_id', p.conversation_id, 'page_id', p.page_id, 'sender_id', p.sender_id,
                 'sender_name', p.sender_name, 'matching_tags', p.matching_tags, 'is_being_processed', p.is_being_processed,
                 'current_stage', p.current_stage, 'contact_status', p.contact_status, 'status_reason', p.reason,
                 'stop_reason', p.stop_reason, 'due_at', p.due_at, 'follow_up_count', p.follow_up_count,
                 'last_follow_up_at', p.last_follow_up_at, 'last_customer_message_at', p.last_customer_message_at,
                 'window_closes_at', p.window_closes_at, 'stage_entered_at', p.stage_entered_at, 'error_code', p.error_code,
                 'retry_at', p.retry_at)
               order by p.rank, p.due_at nulls last, p.sender_name, p.conversation_id)
          from page p), '[]'::jsonb)
    ),
    'activeContacts', coalesce((
      select jsonb_agg(to_jsonb(a) order by a.stage_entered_at desc, a.state_id)
        from (select x.state_id, x.conversation_id, x.sender_id, x.sender_name, x.current_stage, x.stage_entered_at,
                     x.seconds_in_stage, x.is_in_flight, x.follow_up_count, x.max_follow_ups, x.claimed_follow_up_number,
                     x.generated_message, x.generation_ms, x.generation_model, x.error_code, x.error_message,
                     x.skip_reason, x.retry_at
                from leadflow_private.automation_active_contacts(v_rule.id, p_now) x
               order by x.stage_entered_at desc, x.state_id
               limit p_limit) a), '[]'::jsonb)
  )
  into v_result
  from counts c cross join by_reason br cross join stages s;

  -- A rule of one Page whose Page has no contact carrying its tags: the owner's conversations on
  -- their other Pages that carry them as it asks (any of them, or all), every other judgement aside:
  -- where the tagged contacts wait. One set-based count over the rule's tags
  -- (conversation_tags_tag_idx), made only then, so a poll of a rule with contacts costs nothing more;
  -- null otherwise (a rule of every Page counts them all already).
  if v_rule.page_id is not null and (v_result -> 'stats' ->> 'total_with_tags')::integer = 0 then
    select count(*)::integer into v_other_pages
      from (select ct.conversation_id, count(*)::integer as n
              from public.conversation_tags ct
             where ct.tag_id = any (v_rule.include_tag_ids)
             group by ct.conversation_id) t
      join public.messenger_conversations c
        on c.id = t.conversation_id and c.user_id = v_rule.user_id and c.page_id is distinct from v_rule.page_id
     where v_rule.tag_match = 'any'
        or t.n = (select count(distinct w.tag_id) from unnest(v_rule.include_tag_ids) w (tag_id));
    v_result := v_result || jsonb_build_object('taggedOnOtherPages', v_other_pages);
  end if;

  if p_rules_limit is not null then
    v_result := v_result || jsonb_build_object('rulesLeftOut', v_rules_left_out);
  end if;

  return v_result;
end;
$$;
comment on function public.automation_monitor_page(uuid, text, text, text, integer, integer, timestamptz, integer, uuid) is
  'The console''s monitor of one rule in one call: totals, stages, one page of tagged contacts (filtered by status, reason, search), recent active contacts, and the rules.';

revoke all on function public.automation_monitor_page(uuid, text, text, text, integer, integer, timestamptz, integer, uuid) from public, anon;
grant execute on function public.automation_monitor_page(uuid, text, text, text, integer, integer, timestamptz, integer, uuid)
  to authenticated, service_role;
