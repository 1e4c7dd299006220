-- CRM pipelines: Assign and Move hand out exactly the webhook / notify actions their own call
-- queued. Re-created: leadflow_private.pipeline_fire (otherwise as in 20261201000840),
-- public.pipeline_assign (otherwise as in 20261201001200), public.pipeline_move (otherwise as in
-- 20261201001200), public.pipeline_claim_outbox (otherwise as in 20261201000890).
--
-- Why: after a call, the node claimed the due outbox items of every conversation the call changed
-- (p_conversation_ids), whoever had queued them: another run's pending items (left for its Claim
-- Automations sweep, Hand Out Automations being off there), a retry whose time had come, a crashed
-- run's items whose lease ran out. They left on this node's Automations output, and in at-most-once
-- mode were marked delivered there, so the workflow they were meant for never saw them.
--
-- Now pipeline_fire returns, beside the runs per contact, the outbox items it queued per contact
-- (it made their ids: no read); pipeline_assign and pipeline_move answer them in a new column,
-- outbox_ids (empty when none; a new column, so both are dropped and created again), and
-- pipeline_claim_outbox takes p_outbox_ids: exactly those items, by key, the due ones that are still
-- pending or claimed (p_conversation_ids and p_user_id, when also given, narrow them further). The
-- claim by contacts stays as it was, for callers that mean it. The old six-argument claim is dropped
-- (an overload would make the Data API's choice ambiguous).

create or replace function leadflow_private.pipeline_fire(
  p_changes leadflow_private.pipeline_change[],
  p_now timestamptz
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  c_max_depth constant integer := 5;
  v_level leadflow_private.pipeline_change[] := p_changes;
  v_depth integer := 0;
  v_actions leadflow_private.pipeline_action[];
  v_kinds text[];
  v_results jsonb;
  v_more jsonb;
  v_writes leadflow_private.pipeline_place_write[];
  v_next leadflow_private.pipeline_change[];
  v_fired_contacts uuid[] := '{}';
  v_fired_automations uuid[] := '{}';
  -- The outbox items this call queued, with their contacts, in the order they were made.
  v_outbox_contacts uuid[] := '{}';
  v_outbox_ids uuid[] := '{}';
  v_run_prefix text;
  v_item_prefix text;
  v_convs uuid[];
  v_keys uuid[];
  v_key uuid;
begin
  while coalesce(cardinality(v_level), 0) > 0 loop
    -- This level's ids: one random draw each for its runs and its outbox items.
    v_run_prefix := left(gen_random_uuid()::text, 24);
    v_item_prefix := left(gen_random_uuid()::text, 24);
    -- The firings of this level, each action a row numbered in the order the actions run (seq:
    -- contact, automation created_at and id, action index; what follows orders by seq, never by the
    -- array's order). Only webhook / notify actions get an outbox item id.
    v_actions := array(
      with automations as materialized (
        select a.id, a.name, a.pipeline_id, a.trigger_type, a.actions, a.created_at,
               (a.trigger_conditions ->> 'from_stage_id')::uuid as from_stage_id,
               (a.trigger_conditions ->> 'to_stage_id')::uuid as to_stage_id,
               (a.trigger_conditions ->> 'stage_id')::uuid as stage_id,
               a.trigger_conditions ->> 'from_status' as from_status,
               a.trigger_conditions ->> 'to_status' as to_status,
               (a.trigger_conditions ->> 'threshold')::integer as threshold,
               a.trigger_conditions ->> 'direction' as direction
          from public.pipeline_automations a
         where a.is_active
           and a.pipeline_id = any (array(select distinct c.pipeline_id from unnest(v_level) c))
      ),
      firings as materialized (
        select leadflow_private.pipeline_new_id(v_run_prefix, row_number() over ()) as run_id, a.id as automation_id, a.name as automation_name, a.trigger_type,
               a.actions, a.created_at, c.*
          from unnest(v_level) c
          join automations a on a.pipeline_id = c.pipeline_id
         where case a.trigger_type
           when 'STAGE_CHANGED' then (c.entered or c.from_stage_id <> c.to_stage_id)
                                     and (a.from_stage_id is null or a.from_stage_id = c.from_stage_id)
                                     and (a.to_stage_id is null or a.to_stage_id = c.to_stage_id)
           when 'ENTERED_PIPELINE' then c.entered and (a.stage_id is null or a.stage_id = c.to_stage_id)
           when 'STATUS_CHANGED' then not c.entered and c.from_status is distinct from c.to_status
                                      and (a.from_status is null or a.from_status = c.from_status)
                                      and (a.to_status is null or a.to_status = c.to_status)
           when 'SCORE_CROSSED' then not c.entered and c.from_score is not null and c.to_score is not null
                                     and case a.direction
                                           when 'up' then c.from_score < a.threshold and c.to_score >= a.threshold
                                           else c.from_score >= a.threshold and c.to_score < a.threshold
                                         end
           else false
         end
      ),
      numbered as (
        select row_number() over (order by f.conversation_id, f.created_at, f.automation_id, e.n) as seq,
               f.*, (e.n - 1)::integer as action_index, e.action ->> 'type' as action_type, e.action
          from firings f
         cross join lateral jsonb_array_elements(f.actions) with ordinality e (action, n)
      )
      select row(n.seq, n.run_id, case when n.action_type in ('webhook', 'notify') then leadflow_private.pipeline_new_id(v_item_prefix, n.seq) end,
                 n.automation_id, n.automation_name, n.user_id, n.conversation_id, n.pipeline_id, n.trigger_type,
                 n.from_stage_id, n.to_stage_id, n.from_score, n.to_score, n.from_status, n.to_status, n.depth,
                 n.action_index, n.action_type, n.action
             )::leadflow_private.pipeline_action
        from numbered n
    );
    exit when cardinality(v_actions) = 0;

    if v_depth >= c_max_depth then
      insert into public.pipeline_automation_runs (
        id, user_id, automation_id, conversation_id, pipeline_id, trigger_type, from_stage_id, to_stage_id,
        from_score, to_score, from_status, to_status, depth, status, results, fired_at
      )
      select a.run_id, a.user_id, a.automation_id, a.conversation_id, a.pipeline_id, a.trigger_type,
             a.from_stage_id, a.to_stage_id, a.from_score, a.to_score, a.from_status, a.to_status, a.depth,
             'depth_limit', '[]'::jsonb, p_now
        from unnest(v_actions) a
       where a.action_index = 0;
      exit;
    end if;

    v_kinds := array(select distinct a.action_type from unnest(v_actions) a);
    v_results := '{}';
    v_next := '{}';

    -- Each kind of action below reads what it acts on by key, once per action, before writing,
    -- and computes every result from that (no statement joins the batch's sets to each other:
    -- linear in the batch). "Decides": the last action of this level on the same target.

    -- Tags: per contact and tag, the last add / remove decides.
    if v_kinds && '{add_tag,remove_tag}'::text[] then
      with acts as materialized (
        select x.seq, x.user_id, x.conversation_id, x.action_type, x.action_index, t.tag_id,
               row_number() over (partition by x.conversation_id, t.tag_id order by x.seq desc) = 1 as decides,
               tg.found is not null as tag_exists,
               ct.found is not null as tagged
          from unnest(v_actions) x
         cross join lateral (select (x.action ->> 'tag_id')::uuid as tag_id) t
          left join lateral (select true as found from public.tags tg where tg.id = t.tag_id and tg.user_id = x.user_id limit 1) tg on true
          left join lateral (
            select true as found from public.conversation_tags ct where ct.conversation_id = x.conversation_id and ct.tag_id = t.tag_id limit 1
          ) ct on true
         where x.action_type in ('add_tag', 'remove_tag')
      ),
      added as (
        insert into public.conversation_tags (conversation_id, tag_id, user_id)
        select a.conversation_id, a.tag_id, a.user_id from acts a
         where a.decides and a.action_type = 'add_tag' and a.tag_exists and not a.tagged
        on conflict do nothing
      )
      select jsonb_object_agg(a.seq::text, case when r.reason is null
               then jsonb_build_object('index', a.action_index, 'type', a.action_type, 'tag_id', a.tag_id, 'status', r.status)
               else jsonb_build_object('index', a.action_index, 'type', a.action_type, 'tag_id', a.tag_id, 'status', r.status, 'reason', r.reason)
             end),
             array_agg(a.conversation_id) filter (where a.decides and a.action_type = 'remove_tag' and a.tagged),
             array_agg(a.tag_id) filter (where a.decides and a.action_type = 'remove_tag' and a.tagged)
        into v_more, v_convs, v_keys
        from acts a
       cross join lateral (
         select case when not a.decides then 'overridden' when not a.tag_exists then 'failed'
                     when a.action_type = 'add_tag' and a.tagged then 'unchanged' when a.action_type = 'add_tag' then 'applied'
                     when a.tagged then 'applied' else 'unchanged' end as status,
                case when not a.decides then null when not a.tag_exists then 'tag_not_found'
                     when a.action_type = 'add_tag' and a.tagged then 'already_tagged' when a.action_type = 'add_tag' then null
                     when a.tagged then null else 'not_tagged' end as reason
       ) r;
      v_results := v_results || coalesce(v_more, '{}');
      -- The removals, one statement per tag (a level names few): each link by its key.
      for v_key in select distinct u from unnest(v_keys) u loop
        delete from public.conversation_tags ct
         where ct.tag_id = v_key
           and ct.conversation_id = any (array(select r.c from unnest(v_convs, v_keys) r (c, t) where r.t = v_key));
      end loop;
    end if;

    -- Follow-up stops: per contact and rule (none: every rule), the last stop / resume decides. A
    -- stop is a `manual` stop row naming the automation; a resume deletes the rule's stop row (no
    -- rule: every stop row of the contact, whatever its reason).
    if v_kinds && '{stop_follow_up,resume_follow_up}'::text[] then
      with acts as materialized (
        select x.seq, x.user_id, x.conversation_id, x.action_type, x.action_index, x.automation_id, x.automation_name,
               r.rule_id,
               row_number() over (partition by x.conversation_id, r.rule_id order by x.seq desc) = 1 as decides,
               r.rule_id is null or ar.found is not null as rule_exists,
               st.found is not null as stopped
          from unnest(v_actions) x
         cross join lateral (select (x.action ->> 'rule_id')::uuid as rule_id) r
          left join lateral (
            select true as found from public.ai_automation_rules ar where ar.id = r.rule_id and ar.user_id = x.user_id limit 1
          ) ar on true
          left join lateral (
            select true as found from public.ai_automation_stops s
             where s.conversation_id = x.conversation_id
               and (case when r.rule_id is null then x.action_type = 'resume_follow_up' or s.rule_id is null
                         else s.rule_id = r.rule_id end)
             limit 1
          ) st on true
         where x.action_type in ('stop_follow_up', 'resume_follow_up')
      ),
      stopped as (
        insert into public.ai_automation_stops (user_id, conversation_id, rule_id, reason, note)
        select a.user_id, a.conversation_id, a.rule_id, 'manual',
               'pipeline automation "' || a.automation_name || '" (' || a.automation_id || ')'
          from acts a
         where a.decides and a.action_type = 'stop_follow_up' and a.rule_exists and not a.stopped
        on conflict (conversation_id, rule_id) do nothing
      )
      select jsonb_object_agg(a.seq::text, case when r.reason is null
               then jsonb_build_object('index', a.action_index, 'type', a.action_type, 'rule_id', a.rule_id, 'status', r.status)
               else jsonb_build_object('index', a.action_index, 'type', a.action_type, 'rule_id', a.rule_id, 'status', r.status, 'reason', r.reason)
             end),
             array_agg(a.conversation_id) filter (where a.decides and a.action_type = 'resume_follow_up' and a.rule_exists and a.stopped),
             array_agg(a.rule_id) filter (where a.decides and a.action_type = 'resume_follow_up' and a.rule_exists and a.stopped)
        into v_more, v_convs, v_keys
        from acts a
       cross join lateral (
         select case when not a.decides then 'overridden' when not a.rule_exists then 'failed'
                     when a.action_type = 'stop_follow_up' and a.stopped then 'unchanged' when a.action_type = 'stop_follow_up' then 'applied'
                     when a.stopped then 'applied' else 'unchanged' end as status,
                case when not a.decides then null when not a.rule_exists then 'rule_not_found'
                     when a.action_type = 'stop_follow_up' and a.stopped then 'already_stopped' when a.action_type = 'stop_follow_up' then null
                     when a.stopped then null else 'not_stopped' end as reason
       ) r;
      v_results := v_results || coalesce(v_more, '{}');
      -- The resumes by key: every stop row of the contacts resumed for all rules, then one statement
      -- per rule resumed on its own.
      if cardinality(v_convs) > 0 then
        delete from public.ai_automation_stops s
         where s.conversation_id = any (array(select r.c from unnest(v_convs, v_keys) r (c, k) where r.k is null));
        for v_key in select distinct u from unnest(v_keys) u where u is not null loop
          delete from public.ai_automation_stops s
           where s.rule_id = v_key
             and s.conversation_id = any (array(select r.c from unnest(v_convs, v_keys) r (c, k) where r.k = v_key));
        end loop;
      end if;
    end if;

    -- Webhooks and notifications: an outbox item each (written with the runs, below).
    if v_kinds && '{webhook,notify}'::text[] then
      select jsonb_object_agg(x.seq::text, jsonb_build_object('index', x.action_index, 'type', x.action_type, 'status', 'queued',
                                                              'outbox_id', x.item_id))
        into v_more
        from unnest(v_actions) x
       where x.action_type in ('webhook', 'notify');
      v_results := v_results || coalesce(v_more, '{}');
    end if;

    -- Statuses: per place, the last set_lead_status decides.
    if v_kinds && '{set_lead_status}'::text[] then
      with acts as materialized (
        select x.*,
               row_number() over (partition by x.conversation_id, x.pipeline_id order by x.seq desc) = 1 as decides,
               p.id as place_id, p.stage_id as cur_stage_id, p.lead_score as cur_score, p.lead_status as cur_status
          from unnest(v_actions) x
          left join lateral (
            select p.id, p.stage_id, p.lead_score, p.lead_status from public.pipeline_contacts p
             where p.conversation_id = x.conversation_id and p.pipeline_id = x.pipeline_id limit 1
          ) p on true
         where x.action_type = 'set_lead_status'
      )
      select
        jsonb_object_agg(a.seq::text, jsonb_build_object('index', a.action_index, 'type', a.action_type, 'lead_status', a.action ->> 'status') || case
                    when not a.decides then '{"status": "overridden"}'::jsonb
                    when a.place_id is null then '{"status": "failed", "reason": "not_in_pipeline"}'::jsonb
                    when a.cur_status = a.action ->> 'status' then '{"status": "unchanged", "reason": "same_status"}'::jsonb
                    else '{"status": "applied"}'::jsonb
                  end),
        array_agg(row(a.seq, a.user_id, a.conversation_id, a.pipeline_id, a.place_id, false, a.cur_stage_id, a.cur_score, a.cur_status,
                      a.cur_stage_id, a.cur_score, a.action ->> 'status', null, null, null, null, 'STAGE_CHANGED', false,
                      'automation', null, a.automation_id, a.run_id,
                      'Lead status set by automation "' || a.automation_name || '"', null,
                      jsonb_build_object('action_index', a.action_index), v_depth + 1)::leadflow_private.pipeline_place_write)
          filter (where a.decides and a.place_id is not null and a.cur_status <> a.action ->> 'status')
        into v_more, v_writes
        from acts a;
      v_results := v_results || coalesce(v_more, '{}');
      v_next := leadflow_private.pipeline_write_places(v_writes, p_now);
    end if;

    -- Moves: per contact, the last move decides. The source is the place in the automation's
    -- pipeline; a stage of another pipeline takes the contact there: its place here is left, and its
    -- score, status and analysis go with it (unless it already has a place there, which moves).
    if v_kinds && '{move_to_stage,move_to_pipeline}'::text[] then
      with acts as materialized (
        select x.*,
               row_number() over (partition by x.conversation_id order by x.seq desc) = 1 as decides,
               t.id as stage_id, t.pipeline_id as stage_pipeline_id,
               src.id as src_id, src.stage_id as src_stage_id, src.lead_score as src_score, src.lead_status as src_status,
               case when src.analysed_at is not null then jsonb_build_object(
                 'summary', src.analysis_summary, 'confidence', src.analysis_confidence, 'reasoning', src.analysis_reasoning,
                 'recommended_stage', src.analysis_recommended_stage, 'model', src.analysis_model,
                 'is_fallback', src.analysis_is_fallback, 'last_message_at', src.analysis_last_message_at,
                 'analysed_at', src.analysed_at) end as src_analysis,
               dst.id as dst_id, dst.stage_id as dst_stage_id, dst.lead_score as dst_score, dst.lead_status as dst_status
          from unnest(v_actions) x
          left join lateral (
            select s.id, s.pipeline_id from public.pipeline_stages s
             where x.action_type = 'move_to_stage' and s.id = (x.action ->> 'stage_id')::uuid and s.user_id = x.user_id
            union all
            select d.id, d.pipeline_id from (
              select s.id, s.pipeline_id from public.pipeline_stages s
               where x.action_type = 'move_to_pipeline' and s.pipeline_id = (x.action ->> 'pipeline_id')::uuid and s.user_id = x.user_id
               order by s.is_default desc, s.stage_order
               limit 1
            ) d
          ) t on true
          left join lateral (
            select src.* from public.pipeline_contacts src
             where src.conversation_id = x.conversation_id and src.pipeline_id = x.pipeline_id limit 1
          ) src on true
          left join lateral (
            select dst.id, dst.stage_id, dst.lead_score, dst.lead_status from public.pipeline_contacts dst
             where dst.conversation_id = x.conversation_id and dst.pipeline_id = t.pipeline_id limit 1
          ) dst on true
         where x.action_type in ('move_to_stage', 'move_to_pipeline')
      ),
      planned as (
        select a.*,
               a.stage_pipeline_id = a.pipeline_id as same_pipeline,
               a.stage_pipeline_id <> a.pipeline_id and a.src_id is not null as leaves,
               case
                 when not a.decides then 'overridden'
                 when a.stage_id is null then 'failed'
                 when a.stage_pipeline_id = a.pipeline_id and a.src_stage_id = a.stage_id then 'unchanged'
                 when a.stage_pipeline_id <> a.pipeline_id and a.src_id is null and a.dst_stage_id = a.stage_id then 'unchanged'
                 else 'applied'
               end as status
          from acts a
      )
      select
        jsonb_object_agg(p.seq::text, jsonb_build_object('index', p.action_index, 'type', p.action_type) || case p.status
                    when 'overridden' then '{"status": "overridden"}'::jsonb
                    when 'failed' then jsonb_build_object('status', 'failed', 'reason',
                      case when p.action_type = 'move_to_stage' then 'stage_not_found' else 'pipeline_not_found_or_empty' end)
                    else jsonb_build_object('status', p.status, 'pipeline_id', p.stage_pipeline_id, 'stage_id', p.stage_id)
                         || case when p.leaves and p.status = 'applied' then jsonb_build_object('left_pipeline_id', p.pipeline_id)
                                 else '{}'::jsonb end
                  end),
        array_agg(row(p.seq, p.user_id, p.conversation_id, p.stage_pipeline_id,
                      coalesce(case when p.same_pipeline then p.src_id else p.dst_id end, gen_random_uuid()),
                      case when p.same_pipeline then p.src_id is null else p.dst_id is null end,
                      case when p.same_pipeline then p.src_stage_id else p.dst_stage_id end,
                      case when p.same_pipeline then p.src_score else p.dst_score end,
                      case when p.same_pipeline then p.src_status else p.dst_status end,
                      p.stage_id,
                      case when p.same_pipeline then p.src_score when p.dst_id is not null then p.dst_score else p.src_score end,
                      case when p.same_pipeline then coalesce(p.src_status, 'NEW') when p.dst_id is not null then p.dst_status
                           else coalesce(p.src_status, 'NEW') end,
                      case when not p.same_pipeline and p.dst_id is null then p.src_analysis end,
                      case when p.leaves then p.src_id end,
                      case when p.leaves then p.pipeline_id end,
                      case when p.leaves then p.src_stage_id end,
                      'STAGE_CHANGED', false, 'automation', null, p.automation_id, p.run_id,
                      'Moved by automation "' || p.automation_name || '"', null,
                      jsonb_build_object('action_index', p.action_index), v_depth + 1)::leadflow_private.pipeline_place_write)
          filter (where p.status = 'applied')
        into v_more, v_writes
        from planned p;
      v_results := v_results || coalesce(v_more, '{}');
      v_next := v_next || leadflow_private.pipeline_write_places(v_writes, p_now);
    end if;

    -- The runs of this level with every action's result, in action order, and an AUTOMATION_FIRED
    -- activity each, in the order the automations fired. One window over a run's actions collects
    -- their results.
    with fired as materialized (
      select x.seq, x.run_id, x.user_id, x.automation_id, x.automation_name, x.conversation_id, x.pipeline_id, x.trigger_type,
             x.from_stage_id, x.to_stage_id, x.from_score, x.to_score, x.from_status, x.to_status, x.depth, x.action_index,
             jsonb_agg(v_results -> x.seq::text) over (partition by x.run_id order by x.action_index
                                                       rows between unbounded preceding and unbounded following) as results
        from unnest(v_actions) x
    ),
    runs as (
      insert into public.pipeline_automation_runs (
        id, user_id, automation_id, conversation_id, pipeline_id, trigger_type, from_stage_id, to_stage_id,
        from_score, to_score, from_status, to_status, depth, status, results, fired_at
      )
      select f.run_id, f.user_id, f.automation_id, f.conversation_id, f.pipeline_id, f.trigger_type, f.from_stage_id,
             f.to_stage_id, f.from_score, f.to_score, f.from_status, f.to_status, f.depth, 'completed', f.results, p_now
        from fired f
       where f.action_index = 0
    )
    insert into public.contact_activities (
      user_id, conversation_id, pipeline_id, type, title, description, from_stage_id, to_stage_id,
      actor, actor_id, automation_id, run_id, depth, metadata, occurred_at
    )
    select f.user_id, f.conversation_id, f.pipeline_id, 'AUTOMATION_FIRED', 'Automation "' || f.automation_name || '" fired', null,
           f.from_stage_id, f.to_stage_id, 'automation', null, f.automation_id, f.run_id, f.depth,
           jsonb_build_object('trigger_type', f.trigger_type, 'results', f.results), p_now
      from fired f
     where f.action_index = 0
     order by f.seq;

    -- The outbox items, with what they are about: the contact (read by key, per item), the
    -- pipeline and stages (their names, read once for the level).
    if v_kinds && '{webhook,notify}'::text[] then
      with names as materialized (
        select (select jsonb_object_agg(p.id, p.name) from public.pipelines p
                 where p.id = any (array(select distinct x.pipeline_id from unnest(v_actions) x
                                          where x.action_type in ('webhook', 'notify')))) as pipelines,
               coalesce((select jsonb_object_agg(s.id, s.name) from public.pipeline_stages s
                          where s.id = any (array(select distinct u.id from unnest(v_actions) x
                                                   cross join lateral unnest(array[x.from_stage_id, x.to_stage_id]) u (id)
                                                  where x.action_type in ('webhook', 'notify') and u.id is not null))), '{}') as stages
      )
      insert into public.pipeline_outbox (id, user_id, run_id, automation_id, conversation_id, action_index, kind, payload, available_at)
      select a.item_id, a.user_id, a.run_id, a.automation_id, a.conversation_id, a.action_index, a.action_type,
             jsonb_build_object(
               'action', a.action,
               'automation', jsonb_build_object('id', a.automation_id, 'name', a.automation_name),
               'contact', jsonb_build_object('conversation_id', c.id, 'page_id', c.page_id, 'sender_id', c.sender_id,
                                             'sender_name', c.sender_name),
               'pipeline', jsonb_build_object('id', a.pipeline_id, 'name', nm.pipelines ->> a.pipeline_id::text),
               'change', jsonb_build_object(
                 'trigger_type', a.trigger_type, 'depth', a.depth,
                 'from_stage', case when nm.stages ? a.from_stage_id::text
                                    then jsonb_build_object('id', a.from_stage_id, 'name', nm.stages ->> a.from_stage_id::text) end,
                 'to_stage', case when nm.stages ? a.to_stage_id::text
                                  then jsonb_build_object('id', a.to_stage_id, 'name', nm.stages ->> a.to_stage_id::text) end,
                 'from_score', a.from_score, 'to_score', a.to_score, 'from_status', a.from_status, 'to_status', a.to_status),
               'occurred_at', p_now),
             p_now
        from unnest(v_actions) a
       cross join names nm
       cross join lateral (
         select c.id, c.page_id, c.sender_id, c.sender_name from public.messenger_conversations c where c.id = a.conversation_id limit 1
       ) c
       where a.action_type in ('webhook', 'notify');

      select v_outbox_contacts || array_agg(a.conversation_id order by a.seq), v_outbox_ids || array_agg(a.item_id order by a.seq)
        into v_outbox_contacts, v_outbox_ids
        from unnest(v_actions) a
       where a.action_type in ('webhook', 'notify');
    end if;

    select v_fired_contacts || array_agg(a.conversation_id), v_fired_automations || array_agg(a.automation_id)
      into v_fired_contacts, v_fired_automations
      from unnest(v_actions) a
     where a.action_index = 0;

    v_level := v_next;
    v_depth := v_depth + 1;
  end loop;

  -- Each automation's counters, once, its row locked in id order.
  if cardinality(v_fired_automations) > 0 then
    perform from public.pipeline_automations a
     where a.id = any (array(select distinct u from unnest(v_fired_automations) u))
     order by a.id
       for no key update;
    update public.pipeline_automations a
       set times_triggered = a.times_triggered + k.n,
           last_triggered_at = greatest(a.last_triggered_at, p_now)
      from (select u as id, count(*) as n from unnest(v_fired_automations) u group by u) k
     where a.id = k.id
       and a.id = any (array(select distinct u from unnest(v_fired_automations) u));
  end if;

  -- runs: the runs per contact; outbox: the outbox items queued per contact (their ids).
  return jsonb_build_object(
    'runs', coalesce((select jsonb_object_agg(k.conversation_id, k.runs)
                        from (select u as conversation_id, count(*) as runs from unnest(v_fired_contacts) u group by u) k),
                     '{}'::jsonb),
    'outbox', coalesce((select jsonb_object_agg(k.conversation_id, k.ids)
                          from (select o.conversation_id, jsonb_agg(o.id order by o.n) as ids
                                  from unnest(v_outbox_contacts, v_outbox_ids) with ordinality o (conversation_id, id, n)
                                 group by o.conversation_id) k),
                       '{}'::jsonb));
end;
$$;
comment on function leadflow_private.pipeline_fire(leadflow_private.pipeline_change[], timestamptz) is
  'The automation engine: fires the active automations matching each change, runs their actions level by level to the depth limit, records runs and outbox items; returns {runs: {contact: n}, outbox: {contact: [outbox ids]}}.';

drop function public.pipeline_assign(jsonb, timestamptz);

create function public.pipeline_assign(
  p_items jsonb,
  p_now timestamptz default leadflow_private.now()
)
returns table (
  item_index integer,
  conversation_id uuid,
  outcome text,
  reason text,
  priority text,
  pipeline_id uuid,
  stage_id uuid,
  stage_name text,
  from_stage_id uuid,
  from_stage_name text,
  proposed_stage_id uuid,
  proposed_stage_name text,
  lead_score integer,
  lead_status text,
  automations_fired integer,
  outbox_ids uuid[]
)
language plpgsql
volatile
set search_path = ''
set plan_cache_mode = force_generic_plan
set enable_seqscan = off
set enable_bitmapscan = off
as $$
#variable_conflict use_column
declare
  v_bad record;
  v_problem text;
  v_checked boolean;
  v_items leadflow_private.pipeline_assign_item[];
  v_ids uuid[];
  v_locked integer;
  v_outcomes leadflow_private.pipeline_outcome[];
  v_writes leadflow_private.pipeline_place_write[];
  v_changes leadflow_private.pipeline_change[];
  v_fired jsonb;
  -- The new places' ids: one random draw for the call.
  v_place_prefix text := left(gen_random_uuid()::text, 24);
begin
  perform leadflow_private.pipeline_plan_for_sizes();
  if jsonb_typeof(p_items) is distinct from 'array' then
    raise exception 'p_items: must be a JSON array of analysed contacts (got %)', coalesce(jsonb_typeof(p_items), 'null')
      using errcode = '22023';
  end if;
  if jsonb_array_length(p_items) > 1000 then
    raise exception 'p_items: at most 1000 contacts per call (got %)', jsonb_array_length(p_items)
      using errcode = '22023', hint = 'Split the batch: the Data API answers at most 1000 rows (max-rows), one per item.';
  end if;

  -- The batch's checks at once: the per-item check below (which names the first problem by its
  -- position and field) runs only when one of these fails. Each is as strict as the per-item check
  -- it stands for; the texts are checked as one string per kind (one regular expression for the
  -- batch instead of one per item and field), each value first known to be a string without a
  -- comma, so the joined ids and instants split back into exactly the values.
  select coalesce(bool_and(coalesce(
           jsonb_typeof(e.item) = 'object'
           and e.item - '{conversation_id,lead_score,lead_status,recommended_stage,summary,confidence,reasoning,model,is_fallback,last_message_at,pipeline_id,update_mode}'::text[] = '{}'::jsonb
           and jsonb_typeof(x.conversation_id) = 'string' and strpos(x.conversation_id #>> '{}', ',') = 0
           and jsonb_typeof(x.lead_score) = 'number'
           and (x.lead_score #>> '{}')::numeric between 0 and 100
           and (x.lead_score #>> '{}')::numeric = trunc((x.lead_score #>> '{}')::numeric)
           and (x.lead_status is null or x.lead_status = 'null'
                or (jsonb_typeof(x.lead_status) = 'string' and upper(btrim(x.lead_status #>> '{}')) = any (leadflow_private.pipeline_lead_statuses())))
           and (x.recommended_stage is null or x.recommended_stage = 'null'
                or (jsonb_typeof(x.recommended_stage) = 'string' and length(x.recommended_stage #>> '{}') <= 200))
           and (x.summary is null or x.summary = 'null' or (jsonb_typeof(x.summary) = 'string' and length(x.summary #>> '{}') <= 10000))
           and (x.reasoning is null or x.reasoning = 'null' or (jsonb_typeof(x.reasoning) = 'string' and length(x.reasoning #>> '{}') <= 10000))
           and (x.confidence is null or x.confidence = 'null'
                or (jsonb_typeof(x.confidence) = 'number' and (x.confidence #>> '{}')::numeric between 0 and 100))
           and (x.model is null or x.model = 'null' or (jsonb_typeof(x.model) = 'string' and length(x.model #>> '{}') between 1 and 200))
           and (x.is_fallback is null or jsonb_typeof(x.is_fallback) in ('null', 'boolean'))
           and (x.last_message_at is null or x.last_message_at = 'null'
                or (jsonb_typeof(x.last_message_at) = 'string' and strpos(x.last_message_at #>> '{}', ',') = 0))
           and (x.pipeline_id is null or x.pipeline_id = 'null'
                or (jsonb_typeof(x.pipeline_id) = 'string' and strpos(x.pipeline_id #>> '{}', ',') = 0))
           and (x.update_mode is null or x.update_mode = 'null' or (x.update_mode #>> '{}') in ('SKIP_EXISTING', 'UPDATE_EXISTING')),
           false)), true)
         and coalesce(string_agg(x.conversation_id #>> '{}', ',') ~ '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(,[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})*$', true)
         and coalesce(string_agg(x.pipeline_id #>> '{}', ',') ~ '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(,[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})*$', true)
         and coalesce(string_agg(x.last_message_at #>> '{}', ',') ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(Z|z|[+-][0-9]{2}(:?[0-9]{2})?)(,[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(Z|z|[+-][0-9]{2}(:?[0-9]{2})?))*$', true)
         and coalesce(leadflow_private.is_valid_text(string_agg(concat(x.recommended_stage #>> '{}', x.model #>> '{}'), ''), 'line'), true)
         and coalesce(leadflow_private.is_valid_text(string_agg(concat(x.summary #>> '{}', x.reasoning #>> '{}'), ''), 'multiline'), true)
    into v_checked
    from jsonb_array_elements(p_items) e (item)
   -- Each field read once.
   cross join lateral (
     select e.item -> 'conversation_id' as conversation_id, e.item -> 'lead_score' as lead_score, e.item -> 'lead_status' as lead_status,
            e.item -> 'recommended_stage' as recommended_stage, e.item -> 'summary' as summary, e.item -> 'confidence' as confidence,
            e.item -> 'reasoning' as reasoning, e.item -> 'model' as model, e.item -> 'is_fallback' as is_fallback,
            e.item -> 'last_message_at' as last_message_at, e.item -> 'pipeline_id' as pipeline_id, e.item -> 'update_mode' as update_mode
     offset 0
   ) x;

  -- One pass: the first problem (by position), and every valid item parsed. A time the batch's
  -- pattern lets through but no calendar has (2026-02-30, 24:30) fails the parse: then the pass
  -- runs again with the check item by item, which names it.
  loop
    begin
      select (array_agg('p_items[' || (e.n - 1) || ']' || p.problem order by e.n) filter (where p.problem is not null))[1],
             array_agg(row((e.n - 1)::integer, (e.item ->> 'conversation_id')::uuid, (e.item ->> 'pipeline_id')::uuid, e.item ->> 'update_mode',
                           (e.item ->> 'lead_score')::numeric::integer, upper(btrim(e.item ->> 'lead_status')), e.item ->> 'recommended_stage',
                           e.item ->> 'summary', (e.item ->> 'confidence')::numeric, e.item ->> 'reasoning', e.item ->> 'model',
                           coalesce((e.item ->> 'is_fallback')::boolean, false), (e.item ->> 'last_message_at')::timestamptz
                       )::leadflow_private.pipeline_assign_item)
               filter (where p.problem is null)
        into v_problem, v_items
        from jsonb_array_elements(p_items) with ordinality e (item, n)
       cross join lateral (select case when v_checked then null else leadflow_private.pipeline_assign_item_problem(e.item) end as problem offset 0) p;
      exit;
    exception when datetime_field_overflow or invalid_datetime_format then
      if not v_checked then
        raise;
      end if;
      v_checked := false;
    end;
  end loop;
  if v_problem is not null then
    raise exception '%', v_problem using errcode = '22023';
  end if;
  if coalesce(cardinality(v_items), 0) = 0 then
    return;
  end if;

  select min(i.item_index) as first_index, max(i.item_index) as second_index, i.conversation_id into v_bad
    from unnest(v_items) i
   group by i.conversation_id
  having count(*) > 1
   limit 1;
  if found then
    raise exception 'p_items[%].conversation_id: conversation % is listed twice (also p_items[%])',
      v_bad.second_index, v_bad.conversation_id, v_bad.first_index using errcode = '22023';
  end if;

  -- The contacts' lock (see 20261201000310's header), then everything is read under it.
  v_ids := array(select i.conversation_id from unnest(v_items) i);
  select count(*) into v_locked
    from (select c.id from public.messenger_conversations c where c.id = any (v_ids) order by c.id for no key update) l;
  if v_locked < cardinality(v_ids) then
    select i.item_index, i.conversation_id into v_bad
      from unnest(v_items) i
     where not exists (select from public.messenger_conversations c where c.id = i.conversation_id limit 1)
     order by i.item_index
     limit 1;
    raise exception 'p_items[%].conversation_id: conversation % does not exist', v_bad.item_index, v_bad.conversation_id
      using errcode = 'P0002', hint = 'Use ids from messenger_conversations.';
  end if;

  select i.item_index, i.pipeline_id into v_bad
    from unnest(v_items) i
   cross join lateral (select c.user_id from public.messenger_conversations c where c.id = i.conversation_id limit 1) c
    left join lateral (select true as found from public.pipelines p where p.id = i.pipeline_id and p.user_id = c.user_id limit 1) pl on true
   where i.pipeline_id is not null
     and pl.found is null
   order by i.item_index
   limit 1;
  if found then
    raise exception 'p_items[%].pipeline_id: pipeline % does not exist (for this conversation''s owner)', v_bad.item_index, v_bad.pipeline_id
      using errcode = 'P0002', hint = 'Use ids from pipelines, of the conversation''s owner.';
  end if;

  -- The target pipelines' stages, locked (FOR KEY SHARE: a stage's delete waits for this call, an
  -- edit of its name or range does not) in id order, in one statement, before anything reads them.
  -- A delete that began first ends first: this call then sees the stage gone and never chooses it.
  -- One that comes later waits, and then finds the contacts placed in it (its trigger refuses it).
  perform from (
    select s.id from public.pipeline_stages s
     where s.pipeline_id = any (array(
             select distinct coalesce(i.pipeline_id, ps.pipeline_id)
               from unnest(v_items) i
              cross join lateral (select c.user_id, c.page_id from public.messenger_conversations c where c.id = i.conversation_id limit 1) c
               left join lateral (
                 select ps.pipeline_id from public.pipeline_page_settings ps
                  where i.pipeline_id is null and ps.user_id = c.user_id and ps.page_id = c.page_id and ps.enabled limit 1
               ) ps on true))
     order by s.id
       for key share
  ) l;

  -- Each contact's pipeline, proposed stage (with the priority that chose it) and current place.
  with targets as materialized (
    select i.*, c.user_id,
           coalesce(i.pipeline_id, case when ps.enabled then ps.pipeline_id end) as target_pipeline_id,
           coalesce(i.update_mode, ps.update_mode, 'SKIP_EXISTING') as mode
      from unnest(v_items) i
     cross join lateral (select c.user_id, c.page_id from public.messenger_conversations c where c.id = i.conversation_id limit 1) c
      left join lateral (
        select ps.enabled, ps.pipeline_id, ps.update_mode from public.pipeline_page_settings ps
         where ps.user_id = c.user_id and ps.page_id = c.page_id limit 1
      ) ps on true
  ),
  stage_map as materialized (
    select leadflow_private.pipeline_stage_map(
             array(select distinct t.target_pipeline_id from targets t where t.target_pipeline_id is not null)) as m
  ),
  -- The first priority that names a stage: status, score range, recommendation, closest range,
  -- default / first stage (each entry says its rank).
  chosen as materialized (
    select t.*,
           coalesce(case when t.lead_status is not null then sm.m #> array[t.target_pipeline_id::text, 'st', t.lead_status] end,
                    sm.m #> array[t.target_pipeline_id::text, 'rg', t.lead_score::text],
                    case when t.recommended_stage is not null
                         then sm.m #> array[t.target_pipeline_id::text, 'nm', lower(btrim(t.recommended_stage))] end,
                    sm.m #> array[t.target_pipeline_id::text, 'cl', t.lead_score::text],
                    sm.m #> array[t.target_pipeline_id::text, 'fb']) as best,
           p.id as place_id, p.stage_id as cur_stage_id, p.lead_score as cur_score, p.lead_status as cur_status,
           coalesce(p.analysis_is_fallback, false) as cur_fallback, p.analysis_last_message_at as cur_last_message_at,
           sm.m #> array[t.target_pipeline_id::text, 'id', p.stage_id::text] as cur,
           lf.found is not null as left_target,
           el.pipeline_id as other_pipeline_id, el.stage_id as other_stage_id, el.stage_name as other_stage_name,
           el.lead_score as other_score, el.lead_status as other_status
      from targets t
     cross join stage_map sm
      left join lateral (
        select p.id, p.stage_id, p.lead_score, p.lead_status, p.analysis_is_fallback, p.analysis_last_message_at from public.pipeline_contacts p
         where p.conversation_id = t.conversation_id and p.pipeline_id = t.target_pipeline_id limit 1
      ) p on true
      -- Not in the target pipeline: whether it was moved out of it (its history's leave record,
      -- looked up only then), and where it is now (its latest place, if it has one).
      left join lateral (
        select true as found from public.contact_activities a
         where p.id is null and t.target_pipeline_id is not null
           and a.conversation_id = t.conversation_id and a.pipeline_id = t.target_pipeline_id
           and a.type = 'STAGE_CHANGED' and a.to_stage_id is null
         limit 1
      ) lf on true
      left join lateral (
        select o.pipeline_id, o.stage_id, st.name as stage_name, o.lead_score, o.lead_status
          from public.pipeline_contacts o
          join public.pipeline_stages st on st.id = o.stage_id
         where lf.found and o.conversation_id = t.conversation_id
         order by o.stage_entered_at desc, o.id
         limit 1
      ) el on true
  ),
  decided as (
    select c.*, (c.best ->> 'id')::uuid as best_id, c.best ->> 'name' as best_name, (c.best ->> 'order')::integer as best_order,
           (c.best ->> 'rank')::integer as priority_rank,
           c.cur ->> 'name' as cur_name, (c.cur ->> 'order')::integer as cur_order, (c.cur ->> 'min')::integer as cur_min
      from chosen c
  ),
  judged as materialized (
    select d.*, j.outcome, j.reason,
           case d.priority_rank when 1 then 'status' when 2 then 'score_range' when 3 then 'ai_recommendation'
                                when 4 then 'closest_score' when 5 then 'default_stage' when 6 then 'first_stage' end as priority,
           case when j.outcome in ('assigned', 'moved') then d.best_id else d.cur_stage_id end as final_stage_id,
           case when j.outcome in ('assigned', 'moved') then d.best_name else d.cur_name end as final_stage_name,
           -- Whether the analysis is written (placed, moved, or kept with its score and status).
           j.outcome <> 'skipped' and coalesce(j.reason not in ('skip_existing', 'fallback_analysis', 'stale_analysis'), true) as writes
      from decided d
     cross join lateral (
       select case
                when d.target_pipeline_id is null then 'skipped'
                when d.place_id is null and d.left_target then 'skipped'
                when d.place_id is null then 'assigned'
                when d.cur_last_message_at > d.last_message_at then 'kept'
                when d.is_fallback then 'kept'
                when d.mode = 'SKIP_EXISTING' and not d.cur_fallback then 'kept'
                when d.best_id = d.cur_stage_id then 'kept'
                when d.best_order < d.cur_order and d.cur_min is not null and d.lead_score >= d.cur_min then 'kept'
                else 'moved'
              end as outcome,
              case
                when d.target_pipeline_id is null then 'auto_assign_off'
                when d.place_id is null and d.left_target then 'left_pipeline'
                when d.place_id is null then null
                when d.cur_last_message_at > d.last_message_at then 'stale_analysis'
                when d.is_fallback then 'fallback_analysis'
                when d.mode = 'SKIP_EXISTING' and not d.cur_fallback then 'skip_existing'
                when d.best_id = d.cur_stage_id then 'same_stage'
                when d.best_order < d.cur_order and d.cur_min is not null and d.lead_score >= d.cur_min then 'downgrade_protected'
              end as reason
       offset 0
     ) j
  )
  select
    array_agg(row(j.item_index, j.conversation_id, j.outcome, j.reason,
                  case when j.writes then j.priority end,
                  -- left_pipeline: where the contact is now (its latest place elsewhere), if anywhere.
                  coalesce(j.other_pipeline_id, j.target_pipeline_id),
                  coalesce(j.other_stage_id, j.final_stage_id), coalesce(j.other_stage_name, j.final_stage_name),
                  coalesce(j.other_stage_id, j.cur_stage_id), coalesce(j.other_stage_name, j.cur_name),
                  case when j.reason = 'downgrade_protected' then j.best_id end,
                  case when j.reason = 'downgrade_protected' then j.best_name end,
                  null::uuid,
                  case when j.writes then j.lead_score else coalesce(j.other_score, j.cur_score) end,
                  case when j.writes then coalesce(j.lead_status, j.cur_status, 'NEW') else coalesce(j.other_status, j.cur_status) end
              )::leadflow_private.pipeline_outcome),
    array_agg(row(j.item_index, j.user_id, j.conversation_id, j.target_pipeline_id,
                  coalesce(j.place_id, leadflow_private.pipeline_new_id(v_place_prefix, j.item_index)), j.place_id is null,
                  j.cur_stage_id, j.cur_score, j.cur_status,
                  j.final_stage_id, j.lead_score, coalesce(j.lead_status, j.cur_status, 'NEW'),
                  jsonb_build_object('summary', j.summary, 'confidence', j.confidence, 'reasoning', j.reasoning,
                                     'recommended_stage', j.recommended_stage, 'model', j.model,
                                     'is_fallback', j.is_fallback, 'last_message_at', j.last_message_at, 'analysed_at', p_now),
                  null, null, null, 'STAGE_CHANGED', true, 'ai', j.model, null, null,
                  case j.outcome when 'assigned' then 'AI auto-assigned to pipeline' when 'moved' then 'AI moved to stage'
                                 else 'AI analysis (stage kept)' end,
                  j.reasoning,
                  jsonb_strip_nulls(jsonb_build_object(
                    'confidence', j.confidence, 'recommendation', j.recommended_stage, 'lead_score', j.lead_score,
                    'lead_status', coalesce(j.lead_status, j.cur_status, 'NEW'), 'priority', j.priority,
                    'is_fallback', j.is_fallback, 'model', j.model, 'outcome', j.outcome, 'reason', j.reason,
                    'proposed_stage_id', case when j.reason = 'downgrade_protected' then j.best_id end)),
                  0
              )::leadflow_private.pipeline_place_write)
      filter (where j.writes)
    into v_outcomes, v_writes
    from judged j;

  select o.item_index, o.pipeline_id into v_bad
    from unnest(v_outcomes) o
   where o.pipeline_id is not null and o.stage_id is null and o.outcome <> 'skipped'
   order by o.item_index
   limit 1;
  if found then
    raise exception 'p_items[%]: pipeline % has no stages', v_bad.item_index, v_bad.pipeline_id
      using errcode = 'P0002', hint = 'Add stages to the pipeline (pipeline_stages) first.';
  end if;

  v_changes := leadflow_private.pipeline_write_places(v_writes, p_now);
  v_fired := leadflow_private.pipeline_fire(v_changes, p_now);

  return query
    select o.item_index, o.conversation_id, o.outcome, o.reason, o.priority, o.pipeline_id, o.stage_id, o.stage_name,
           o.from_stage_id, o.from_stage_name, o.proposed_stage_id, o.proposed_stage_name, o.lead_score, o.lead_status,
           coalesce((v_fired #>> array['runs', o.conversation_id::text])::integer, 0),
           -- The webhook / notify actions this call queued for the contact (pipeline_claim_outbox's p_outbox_ids).
           array(select x::uuid from jsonb_array_elements_text(v_fired #> array['outbox', o.conversation_id::text]) x)
      from unnest(v_outcomes) o
     order by o.item_index;
end;
$$;
comment on function public.pipeline_assign(jsonb, timestamptz) is
  'Batch: places analysed contacts in their pipeline by the seed''s priorities (status, score range, AI recommendation, closest score, default / first stage), with downgrade protection and the update modes; logs and fires automations. One row per item: assigned | moved | kept (skip_existing, same_stage, downgrade_protected, fallback_analysis, stale_analysis) | skipped (auto_assign_off, left_pipeline), with the outbox items it queued.';
revoke all on function public.pipeline_assign(jsonb, timestamptz) from public, anon, authenticated;
grant execute on function public.pipeline_assign(jsonb, timestamptz) to service_role;

drop function public.pipeline_move(jsonb, timestamptz);

create function public.pipeline_move(
  p_items jsonb,
  p_now timestamptz default leadflow_private.now()
)
returns table (
  item_index integer,
  conversation_id uuid,
  outcome text,
  reason text,
  pipeline_id uuid,
  stage_id uuid,
  stage_name text,
  from_stage_id uuid,
  from_stage_name text,
  left_pipeline_id uuid,
  automations_fired integer,
  outbox_ids uuid[]
)
language plpgsql
volatile
set search_path = ''
set plan_cache_mode = force_generic_plan
set enable_seqscan = off
set enable_bitmapscan = off
as $$
#variable_conflict use_column
declare
  v_bad record;
  v_problem text;
  v_ids uuid[];
  v_locked integer;
  v_outcomes leadflow_private.pipeline_outcome[];
  v_writes leadflow_private.pipeline_place_write[];
  v_changes leadflow_private.pipeline_change[];
  v_fired jsonb;
begin
  if jsonb_typeof(p_items) is distinct from 'array' then
    raise exception 'p_items: must be a JSON array of moves (got %)', coalesce(jsonb_typeof(p_items), 'null') using errcode = '22023';
  end if;
  if jsonb_array_length(p_items) > 1000 then
    raise exception 'p_items: at most 1000 moves per call (got %)', jsonb_array_length(p_items)
      using errcode = '22023', hint = 'Split the batch: the Data API answers at most 1000 rows (max-rows), one per item.';
  end if;
  if jsonb_array_length(p_items) = 0 then
    return;
  end if;

  select e.n - 1 as idx, p.problem into v_bad
    from jsonb_array_elements(p_items) with ordinality e (item, n)
   cross join lateral (select leadflow_private.pipeline_move_item_problem(e.item) as problem) p
   where p.problem is not null
   order by e.n
   limit 1;
  if found then
    raise exception 'p_items[%]%', v_bad.idx, v_bad.problem using errcode = '22023';
  end if;

  select min(e.n) - 1 as first_index, max(e.n) - 1 as second_index, e.item ->> 'conversation_id' as conversation_id into v_bad
    from jsonb_array_elements(p_items) with ordinality e (item, n)
   group by e.item ->> 'conversation_id'
  having count(*) > 1
   limit 1;
  if found then
    raise exception 'p_items[%].conversation_id: conversation % is listed twice (also p_items[%])',
      v_bad.second_index, v_bad.conversation_id, v_bad.first_index using errcode = '22023';
  end if;

  v_ids := array(select (e.item ->> 'conversation_id')::uuid from jsonb_array_elements(p_items) e (item));
  select count(*) into v_locked
    from (select c.id from public.messenger_conversations c where c.id = any (v_ids) order by c.id for no key update) l;
  if v_locked < cardinality(v_ids) then
    select e.n - 1 as idx, e.item ->> 'conversation_id' as conversation_id into v_bad
      from jsonb_array_elements(p_items) with ordinality e (item, n)
     where not exists (select from public.messenger_conversations c where c.id = (e.item ->> 'conversation_id')::uuid)
     order by e.n
     limit 1;
    raise exception 'p_items[%].conversation_id: conversation % does not exist', v_bad.idx, v_bad.conversation_id
      using errcode = 'P0002', hint = 'Use ids from messenger_conversations.';
  end if;

  -- The stages a move may go to, locked (FOR KEY SHARE, in id order, one statement) before they are
  -- read: every stage of the pipelines named, of the stages named by id, and of the pipelines the
  -- contacts are in (a stage by name in the contact's only pipeline). A delete of one of them that
  -- began first ends first (this call then sees it gone: the item's stage does not exist); one that
  -- comes later waits and then finds the contacts placed in it.
  perform from (
    select s.id from public.pipeline_stages s
     where s.pipeline_id = any (array(
             select (e.item ->> 'pipeline_id')::uuid from jsonb_array_elements(p_items) e (item)
             union
             select st.pipeline_id from public.pipeline_stages st
              where st.id = any (array(select (e.item ->> 'stage_id')::uuid from jsonb_array_elements(p_items) e (item)))
             union
             select pc.pipeline_id from public.pipeline_contacts pc where pc.conversation_id = any (v_ids)))
     order by s.id
       for key share
  ) l;

  -- Each move's target stage and the contact's places, read under the lock; the first problem, if
  -- any, fails the call before anything is written.
  with items as materialized (
    select (e.n - 1)::integer as item_index, (e.item ->> 'conversation_id')::uuid as conversation_id,
           (e.item ->> 'stage_id')::uuid as stage_id, btrim(e.item ->> 'stage_name') as stage_name,
           (e.item ->> 'pipeline_id')::uuid as pipeline_id, (e.item ->> 'from_pipeline_id')::uuid as from_pipeline_id,
           e.item ->> 'reason' as reason, coalesce(e.item ->> 'actor', 'user') as actor, e.item ->> 'actor_id' as actor_id,
           c.user_id
      from jsonb_array_elements(p_items) with ordinality e (item, n)
     cross join lateral (
       select c.user_id from public.messenger_conversations c where c.id = (e.item ->> 'conversation_id')::uuid limit 1
     ) c
  ),
  planned as materialized (
    select i.*, s.id as target_stage_id, s.name as target_stage_name, s.pipeline_id as target_pipeline_id,
           places.n as place_count, places.only_pipeline_id,
           dst.id as dst_id, dst.stage_id as dst_stage_id, dst_stage.name as dst_stage_name, dst.lead_score as dst_score,
           dst.lead_status as dst_status,
           src.id as src_id, src.stage_id as src_stage_id, src_stage.name as src_stage_name, src.lead_score as src_score,
           src.lead_status as src_status,
           case when src.analysed_at is not null then jsonb_build_object(
             'summary', src.analysis_summary, 'confidence', src.analysis_confidence, 'reasoning', src.analysis_reasoning,
             'recommended_stage', src.analysis_recommended_stage, 'model', src.analysis_model,
             'is_fallback', src.analysis_is_fallback, 'last_message_at', src.analysis_last_message_at,
             'analysed_at', src.analysed_at) end as src_analysis
      from items i
     cross join lateral (
       select count(*)::integer as n, min(pc.pipeline_id::text)::uuid as only_pipeline_id
         from public.pipeline_contacts pc where pc.conversation_id = i.conversation_id
     ) places
      left join lateral (
        select st.id, st.name, st.pipeline_id from public.pipeline_stages st
         where st.user_id = i.user_id
           and case when i.stage_id is not null
                    then st.id = i.stage_id and (i.pipeline_id is null or st.pipeline_id = i.pipeline_id)
                    else st.pipeline_id = coalesce(i.pipeline_id, case when places.n = 1 then places.only_pipeline_id end)
                         and lower(btrim(st.name)) = lower(i.stage_name) end
         limit 1
      ) s on true
      left join lateral (
        select dst.id, dst.stage_id, dst.lead_score, dst.lead_status from public.pipeline_contacts dst
         where dst.conversation_id = i.conversation_id and dst.pipeline_id = s.pipeline_id limit 1
      ) dst on true
      left join lateral (select st.name from public.pipeline_stages st where st.id = dst.stage_id limit 1) dst_stage on true
      -- The place left behind (from_pipeline_id), whether or not the contact is in the target already.
      left join lateral (
        select src.* from public.pipeline_contacts src
         where src.conversation_id = i.conversation_id and src.pipeline_id = i.from_pipeline_id and i.from_pipeline_id <> s.pipeline_id
         limit 1
      ) src on true
      left join lateral (select st.name from public.pipeline_stages st where st.id = src.stage_id limit 1) src_stage on true
  ),
  judged as materialized (
    select p.*,
           case when p.dst_id is not null and p.dst_stage_id = p.target_stage_id and p.src_id is null then 'kept'
                when p.dst_id is null and p.src_id is null then 'assigned'
                else 'moved' end as outcome,
           case
             when p.pipeline_id is not null and not exists (select from public.pipelines pl where pl.id = p.pipeline_id and pl.user_id = p.user_id)
               then '.pipeline_id: pipeline ' || p.pipeline_id || ' does not exist (for this conversation''s owner)'
             when p.stage_id is not null and p.target_stage_id is null
               then '.stage_id: stage ' || p.stage_id || ' does not exist (for this conversation''s owner'
                    || case when p.pipeline_id is not null then ', in pipeline ' || p.pipeline_id else '' end || ')'
             when p.stage_id is null and p.pipeline_id is null and p.place_count <> 1
               then '.pipeline_id: required with stage_name, the contact is in ' || p.place_count || ' pipelines'
             when p.stage_id is null and p.target_stage_id is null
               then '.stage_name: no stage named "' || p.stage_name || '" in pipeline ' || coalesce(p.pipeline_id, p.only_pipeline_id)
             when p.from_pipeline_id is not null
                  and not exists (select from public.pipeline_contacts fp where fp.conversation_id = p.conversation_id and fp.pipeline_id = p.from_pipeline_id)
               then '.from_pipeline_id: the contact is not in pipeline ' || p.from_pipeline_id
           end as problem
      from planned p
  )
  select
    (array_agg('p_items[' || j.item_index || ']' || j.problem order by j.item_index) filter (where j.problem is not null))[1],
    array_agg(row(j.item_index, j.conversation_id, j.outcome, case when j.outcome = 'kept' then 'same_stage' end, null,
                  j.target_pipeline_id, j.target_stage_id, j.target_stage_name,
                  coalesce(j.dst_stage_id, j.src_stage_id), coalesce(j.dst_stage_name, j.src_stage_name),
                  null, null, case when j.src_id is not null then j.from_pipeline_id end,
                  coalesce(j.dst_score, j.src_score), coalesce(j.dst_status, j.src_status, 'NEW')
              )::leadflow_private.pipeline_outcome order by j.item_index),
    array_agg(row(j.item_index, j.user_id, j.conversation_id, j.target_pipeline_id,
                  coalesce(j.dst_id, gen_random_uuid()), j.dst_id is null,
                  j.dst_stage_id, j.dst_score, j.dst_status,
                  j.target_stage_id,
                  case when j.dst_id is not null then j.dst_score else j.src_score end,
                  coalesce(j.dst_status, j.src_status, 'NEW'),
                  case when j.dst_id is null then j.src_analysis end,
                  j.src_id, case when j.src_id is not null then j.from_pipeline_id end, j.src_stage_id,
                  'MANUAL_MOVE', false, j.actor, j.actor_id, null, null,
                  case when j.actor = 'ai' then 'Moved by an AI agent' else 'Moved manually' end,
                  j.reason,
                  jsonb_strip_nulls(jsonb_build_object('stage_name', j.target_stage_name)),
                  0
              )::leadflow_private.pipeline_place_write order by j.item_index)
      filter (where j.outcome <> 'kept')
    into v_problem, v_outcomes, v_writes
    from judged j;
  if v_problem is not null then
    raise exception '%', v_problem using errcode = 'P0002';
  end if;
  v_changes := leadflow_private.pipeline_write_places(v_writes, p_now);
  v_fired := leadflow_private.pipeline_fire(v_changes, p_now);

  return query
    select o.item_index, o.conversation_id, o.outcome, o.reason, o.pipeline_id, o.stage_id, o.stage_name,
           o.from_stage_id, o.from_stage_name, o.left_pipeline_id, coalesce((v_fired #>> array['runs', o.conversation_id::text])::integer, 0),
           -- The webhook / notify actions this call queued for the contact (pipeline_claim_outbox's p_outbox_ids).
           array(select x::uuid from jsonb_array_elements_text(v_fired #> array['outbox', o.conversation_id::text]) x)
      from unnest(v_outcomes) o
     order by o.item_index;
end;
$$;
comment on function public.pipeline_move(jsonb, timestamptz) is
  'Batch: manual moves (the user''s app, an AI agent) to a stage by id or name, within a pipeline, into one, or from one to another; logged as MANUAL_MOVE; fires automations; each row with the outbox items it queued.';
revoke all on function public.pipeline_move(jsonb, timestamptz) from public, anon, authenticated;
grant execute on function public.pipeline_move(jsonb, timestamptz) to service_role;

drop function public.pipeline_claim_outbox(text, integer, integer, timestamptz, uuid[], uuid);

create function public.pipeline_claim_outbox(
  p_execution_id text,
  p_limit integer default 50,
  p_lease_seconds integer default 300,
  p_now timestamptz default leadflow_private.now(),
  p_conversation_ids uuid[] default null,
  p_user_id uuid default null,
  p_outbox_ids uuid[] default null
)
returns table (
  outbox_id uuid,
  kind text,
  payload jsonb,
  attempt integer,
  lease_expires_at timestamptz,
  run_id uuid,
  automation_id uuid,
  conversation_id uuid,
  created_at timestamptz
)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_ids uuid[];
begin
  perform leadflow_private.plans_follow_sizes('leadflow.outbox_plan_sizes', 'public.pipeline_outbox');
  if p_execution_id is null or length(btrim(p_execution_id)) = 0 then
    raise exception 'p_execution_id is required: the claim records who holds each item'
      using errcode = '22023', hint = 'Pass the n8n execution id (or any unique id of this run).';
  end if;
  if p_limit is null or p_limit not between 1 and 1000 then
    raise exception 'p_limit must be between 1 and 1000 (got %)', p_limit using errcode = '22023';
  end if;
  if p_lease_seconds is null or p_lease_seconds not between 5 and 86400 then
    raise exception 'p_lease_seconds must be between 5 and 86400 (got %)', p_lease_seconds using errcode = '22023';
  end if;

  if p_outbox_ids is not null then
    -- Exactly these items (what a call of pipeline_assign / pipeline_move queued), by key, the due
    -- ones in (available_at, id) order; of those contacts and that owner too, when given.
    v_ids := array(
      select o.id from public.pipeline_outbox o
       where o.id = any (p_outbox_ids)
         and o.status in ('pending', 'claimed') and o.available_at <= p_now
         and (p_conversation_ids is null or o.conversation_id = any (p_conversation_ids))
         and (p_user_id is null or o.user_id = p_user_id)
       order by o.available_at, o.id
       limit p_limit
         for update skip locked
    );
  elsif p_conversation_ids is not null then
    -- The contacts' items first (by pipeline_outbox_contact_idx), then the due ones in order: a
    -- walk of the due items in order, keeping the contacts', would read every due item before them.
    v_ids := array(
      select o.id from public.pipeline_outbox o
       where o.id = any (array(
               select c.id from public.pipeline_outbox c
                where c.conversation_id = any (p_conversation_ids) and c.status in ('pending', 'claimed')))
         and o.status in ('pending', 'claimed') and o.available_at <= p_now
         and (p_user_id is null or o.user_id = p_user_id)
       order by o.available_at, o.id
       limit p_limit
         for update skip locked
    );
  elsif p_user_id is not null then
    -- The owner's waiting items first (by pipeline_outbox_owner_idx: nothing else in the inner
    -- query, so no other index can answer it), then the due ones taken in order by key.
    v_ids := array(
      select o.id from public.pipeline_outbox o
       where o.id = any (array(
               select c.id from public.pipeline_outbox c
                where c.user_id = p_user_id and c.status in ('pending', 'claimed')))
         and o.status in ('pending', 'claimed') and o.available_at <= p_now
         and o.user_id = p_user_id
       order by o.available_at, o.id
       limit p_limit
         for update skip locked
    );
  else
    v_ids := array(
      select o.id from public.pipeline_outbox o
       where o.status in ('pending', 'claimed') and o.available_at <= p_now
       order by o.available_at, o.id
       limit p_limit
         for update skip locked
    );
  end if;

  return query
    with claimed as (
      update public.pipeline_outbox o
         set status = 'claimed',
             claimed_by = p_execution_id,
             claimed_at = p_now,
             available_at = p_now + make_interval(secs => p_lease_seconds),
             attempts = o.attempts + 1
       where o.id = any (v_ids)
      returning o.id, o.kind, o.payload, o.attempts, o.available_at, o.run_id, o.automation_id, o.conversation_id, o.created_at
    )
    select c.id, c.kind, c.payload, c.attempts, c.available_at, c.run_id, c.automation_id, c.conversation_id, c.created_at
      from claimed c
     order by c.created_at, c.id;
end;
$$;
comment on function public.pipeline_claim_outbox(text, integer, integer, timestamptz, uuid[], uuid, uuid[]) is
  'Hands out due webhook / notify actions with a lease (FOR UPDATE SKIP LOCKED); only p_outbox_ids (what one call queued), only those of p_conversation_ids, and of p_user_id, when given.';
revoke all on function public.pipeline_claim_outbox(text, integer, integer, timestamptz, uuid[], uuid, uuid[]) from public, anon, authenticated;
grant execute on function public.pipeline_claim_outbox(text, integer, integer, timestamptz, uuid[], uuid, uuid[]) to service_role;
