-- Explain and Snapshot kept to one owner when an owner is given (Tag Eligibility's Explain and
-- Snapshot as AI agent's tools always give one; docs/nodes.md, "One owner per tool"). A new last
-- argument, p_user_id (null, the default: as before), to:
--   automation_explain: only rules of that owner are judged (with no rule, that owner's enabled
--     rules; a rule of another owner answers no row, like an unknown rule);
--   automation_snapshot: a rule of another owner answers null, like an unknown rule.
-- Otherwise as in 20261201001140_follow_up_explain_due_and_next_start.sql (automation_explain) and
-- 20261122000220_follow_up_automation_api.sql (automation_snapshot). The signatures change, so the
-- old functions are dropped and the grants given again as they were.
--
-- Why: the node runs with the service role, so as a tool Explain with no rule judged every owner's
-- rules (contact names, Messenger ids, tags), and both read any owner's rule whose ID the model gave.

drop function public.automation_explain(uuid, uuid[], integer, timestamptz, boolean);

create function public.automation_explain(
  p_rule_id uuid default null,
  p_conversation_ids uuid[] default null,
  p_limit integer default 1000,
  p_now timestamptz default leadflow_private.now(),
  p_only_due boolean default false,
  p_user_id uuid default null
)
returns table (
  rule_id uuid,
  rule_name text,
  conversation_id uuid,
  page_id text,
  sender_id text,
  sender_name text,
  matching_tags text[],
  due boolean,
  contact_status text,
  reason text,
  stop_reason text,
  due_at timestamptz,
  current_stage text,
  follow_up_count integer,
  next_follow_up_number integer,
  max_follow_ups integer,
  last_follow_up_at timestamptz,
  last_customer_message_at timestamptz,
  window_closes_at timestamptz,
  executions_last_7_days integer,
  last_execution_at timestamptz
)
language sql
stable
set search_path = ''
as $$
  select e.rule_id, r.name, e.conversation_id, e.page_id, e.sender_id, e.sender_name, e.matching_tags,
         e.reason is null, e.contact_status, e.reason, e.stop_reason, e.due_at, e.current_stage,
         e.follow_up_count, e.follow_up_count + 1, r.max_follow_ups, e.last_follow_up_at,
         e.last_customer_message_at, e.window_closes_at, e.executions_last_7_days, e.last_execution_at
    from public.ai_automation_rules r
   cross join lateral leadflow_private.automation_evaluate(r.id, p_now) e
   where (case when p_rule_id is null then r.enabled else r.id = p_rule_id end)
     and (p_user_id is null or r.user_id = p_user_id)
     and (p_conversation_ids is null or e.conversation_id = any (p_conversation_ids))
     and (not coalesce(p_only_due, false) or e.reason is null)
   order by e.reason is not null, r.id, e.due_at nulls last, e.conversation_id
   limit greatest(1, least(coalesce(p_limit, 1000), 100000))
$$;
comment on function public.automation_explain(uuid, uuid[], integer, timestamptz, boolean, uuid) is
  'Why each tagged contact is or is not due under a rule (or every enabled rule), without claiming anything; due contacts first. With p_only_due, only the due ones (the limit counts those). With p_user_id, only rules of that owner (another owner''s rule: no row, like an unknown one).';

revoke all on function public.automation_explain(uuid, uuid[], integer, timestamptz, boolean, uuid) from public, anon, authenticated;
grant execute on function public.automation_explain(uuid, uuid[], integer, timestamptz, boolean, uuid) to service_role, authenticated;

drop function public.automation_snapshot(uuid, integer, timestamptz);

create function public.automation_snapshot(
  p_rule_id uuid,
  p_contact_limit integer default 200,
  p_now timestamptz default leadflow_private.now(),
  p_user_id uuid default null
)
returns jsonb
language sql
stable
set search_path = ''
as $$
  select jsonb_build_object(
    'rule', to_jsonb(r),
    'generatedAt', p_now,
    'stats', (select to_jsonb(m) from leadflow_private.automation_rule_summary(r.id, p_now) m),
    'stages', coalesce((select jsonb_agg(to_jsonb(st) order by st.stage_order)
                          from leadflow_private.automation_stage_stats(r.id, p_now) st), '[]'::jsonb),
    'eligibleContacts', coalesce((
      select jsonb_agg(to_jsonb(v) order by v.rank, v.due_at nulls last, v.sender_name, v.conversation_id)
        from (
          select case e.contact_status when 'eligible' then 0 when 'processing' then 1 when 'recently_sent' then 2
                                       when 'skipped' then 3 else 4 end as rank,
                 e.rule_id, r.name as rule_name, e.user_id, e.conversation_id, e.page_id, e.sender_id, e.sender_name,
                 e.matching_tags, e.is_being_processed, e.current_stage, e.contact_status, e.reason as status_reason,
                 e.stop_reason, e.due_at, e.follow_up_count, e.last_follow_up_at, e.last_customer_message_at,
                 e.window_closes_at, e.stage_entered_at, e.error_code, e.executions_last_7_days, e.last_execution_at
            from leadflow_private.automation_evaluate(r.id, p_now) e
           order by 1, e.due_at nulls last, e.sender_name, e.conversation_id
           limit greatest(0, coalesce(p_contact_limit, 200))
        ) v), '[]'::jsonb) ,
    'activeContacts', coalesce((
      select jsonb_agg(to_jsonb(a) order by a.stage_entered_at desc, a.state_id)
        from (
          select * from leadflow_private.automation_active_contacts(r.id, p_now) x
           order by x.stage_entered_at desc, x.state_id
           limit greatest(0, coalesce(p_contact_limit, 200))
        ) a), '[]'::jsonb)
  )
  from public.ai_automation_rules r
  where r.id = p_rule_id and (p_user_id is null or r.user_id = p_user_id)
$$;
comment on function public.automation_snapshot(uuid, integer, timestamptz, uuid) is
  'The live monitor for one rule as one JSON document: rule, stats, stages, eligibleContacts, activeContacts. With p_user_id, a rule of another owner is null, like an unknown one.';

revoke all on function public.automation_snapshot(uuid, integer, timestamptz, uuid) from public, anon;
grant execute on function public.automation_snapshot(uuid, integer, timestamptz, uuid) to authenticated, service_role;
