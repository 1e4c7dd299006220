-- CRM pipelines: pipeline_assign and its automations make ~4,000 fewer system calls per 1,000 contacts.
-- Re-created: pipeline_assign, leadflow_private.pipeline_fire. New: leadflow_private.pipeline_new_id.
--
-- Why: issue 11 asks for 10,000 analysed contacts (6 stages, 5 automations) placed in at most 1 s in
-- the database. A call of 1,000 contacts entering the pipeline gives ~2,900 new rows an id of their
-- own: 1,000 places, ~1,450 automation runs, ~450 outbox items. Each came from gen_random_uuid(),
-- and each gen_random_uuid() makes a system call (OpenSSL's random generator checks the process id
-- every time: strace on the backend counted ~2,250 getpid per call). On the loaded test machine a
-- gen_random_uuid() cost 6–17 µs against 2–3 µs for building an id from text (100,000 of each,
-- timed in one session), so the ids alone were 15–50 ms of a ~250 ms call.
--
-- Now: each call (and each level of automations) draws one random uuid, and its new rows' ids are
-- its first 74 random bits (version 4 and variant bits included) followed by a 48-bit number unique
-- within the call: still RFC 4122 version 4 in form, unique (a repeat needs two calls drawing the
-- same 74 random bits, and even then the primary key refuses it rather than mixing rows up), and one
-- system call per call instead of one per row. Ids drawn in one call are close to each other, so a
-- call's new rows also land next to each other in their primary key's index.
--
-- The key checks: every place written is checked against its conversation and its stage, every tag
-- link against its conversation and its tag (a query per row each, run by the foreign keys). On a
-- small table the planner checks by scanning the table, and every scan asks the kernel for the
-- table's size (an lseek): with one pipeline of 6 stages, the ~1,000 checks of the places against
-- pipeline_stages per call were ~1,000 system calls (~3,400 with the tags; strace). A key check is
-- planned once per connection, with the settings in force where it first runs; pipeline_assign now
-- runs (and so plans what it calls, the key checks of the rows it writes included) without
-- sequential or bitmap heap scans: every lookup it makes is by a key or an index, so the plans are
-- the same or index scans where a small table was scanned (the key checks: an index probe, no
-- system call). strace on the backend during a call of 1,000 contacts entering the pipeline:
-- ~4,500 system calls before (~2,250 getpid, ~2,000 lseek on pipeline_stages and tags), ~500 now.
-- Measured (the same call alternated with the version of 20261201000330, 15 times each, each in a
-- rolled-back transaction on the same data, backend CPU time from /proc/self/schedstat, load
-- average ~8 on 2 cores): median 310 ms before, 294 ms now.
--
-- Nothing else changes: the same rows, values, results and errors as 20261201000330.

-- =============================================================================================
-- leadflow_private.pipeline_new_id(p_prefix, p_n) → uuid
-- =============================================================================================
-- p_prefix: the first 24 characters of a random uuid's text ('xxxxxxxx-xxxx-4xxx-yxxx-'); p_n: a
-- number from 0 to 2^48 - 1, unique among the ids made with that prefix. Inlinable (SQL, immutable,
-- no SET): no function call per row.
create or replace function leadflow_private.pipeline_new_id(p_prefix text, p_n bigint)
returns uuid
language sql
immutable
parallel safe
as $$
  select (p_prefix || lpad(to_hex(p_n), 12, '0'))::uuid
$$;
comment on function leadflow_private.pipeline_new_id(text, bigint) is
  'An id for a new row: a random uuid''s first 24 characters (drawn once per call) and a number unique within the call, 12 hex digits.';
revoke all on function leadflow_private.pipeline_new_id(text, bigint) from public, anon, authenticated;
grant execute on function leadflow_private.pipeline_new_id(text, bigint) to service_role;

-- =============================================================================================
-- leadflow_private.pipeline_fire(p_changes, p_now): as in 20261201000330; run and outbox ids from
-- pipeline_new_id, one random draw per level for each
-- =============================================================================================
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
  v_run_prefix text;
  v_item_prefix text;
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
               exists (select from public.tags tg where tg.id = t.tag_id and tg.user_id = x.user_id) as tag_exists,
               exists (select from public.conversation_tags ct where ct.conversation_id = x.conversation_id and ct.tag_id = t.tag_id) as tagged
          from unnest(v_actions) x
         cross join lateral (select (x.action ->> 'tag_id')::uuid as tag_id) t
         where x.action_type in ('add_tag', 'remove_tag')
      ),
      added as (
        insert into public.conversation_tags (conversation_id, tag_id, user_id)
        select a.conversation_id, a.tag_id, a.user_id from acts a
         where a.decides and a.action_type = 'add_tag' and a.tag_exists and not a.tagged
        on conflict do nothing
      ),
      removed as (
        delete from public.conversation_tags ct
         using acts a
         where a.decides and a.action_type = 'remove_tag' and a.tagged
           and ct.conversation_id = a.conversation_id and ct.tag_id = a.tag_id
      )
      select jsonb_object_agg(a.seq::text, case when r.reason is null
               then jsonb_build_object('index', a.action_index, 'type', a.action_type, 'tag_id', a.tag_id, 'status', r.status)
               else jsonb_build_object('index', a.action_index, 'type', a.action_type, 'tag_id', a.tag_id, 'status', r.status, 'reason', r.reason)
             end)
        into v_more
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
    end if;

    -- Follow-up stops: per contact and rule (none: every rule), the last stop / resume decides. A
    -- stop is a `manual` stop row naming the automation; a resume deletes the rule's stop row (no
    -- rule: every stop row of the contact, whatever its reason).
    if v_kinds && '{stop_follow_up,resume_follow_up}'::text[] then
      with acts as materialized (
        select x.seq, x.user_id, x.conversation_id, x.action_type, x.action_index, x.automation_id, x.automation_name,
               r.rule_id,
               row_number() over (partition by x.conversation_id, r.rule_id order by x.seq desc) = 1 as decides,
               r.rule_id is null or exists (select from public.ai_automation_rules ar where ar.id = r.rule_id and ar.user_id = x.user_id) as rule_exists,
               exists (
                 select from public.ai_automation_stops s
                  where s.conversation_id = x.conversation_id
                    and (case when r.rule_id is null then x.action_type = 'resume_follow_up' or s.rule_id is null
                              else s.rule_id = r.rule_id end)
               ) as stopped
          from unnest(v_actions) x
         cross join lateral (select (x.action ->> 'rule_id')::uuid as rule_id) r
         where x.action_type in ('stop_follow_up', 'resume_follow_up')
      ),
      stopped as (
        insert into public.ai_automation_stops (user_id, conversation_id, rule_id, reason, note)
        select a.user_id, a.conversation_id, a.rule_id, 'manual',
               'pipeline automation "' || a.automation_name || '" (' || a.automation_id || ')'
          from acts a
         where a.decides and a.action_type = 'stop_follow_up' and a.rule_exists and not a.stopped
        on conflict (conversation_id, rule_id) do nothing
      ),
      resumed as (
        delete from public.ai_automation_stops s
         using acts a
         where a.decides and a.action_type = 'resume_follow_up' and a.rule_exists and a.stopped
           and s.conversation_id = a.conversation_id and (a.rule_id is null or s.rule_id = a.rule_id)
      )
      select jsonb_object_agg(a.seq::text, case when r.reason is null
               then jsonb_build_object('index', a.action_index, 'type', a.action_type, 'rule_id', a.rule_id, 'status', r.status)
               else jsonb_build_object('index', a.action_index, 'type', a.action_type, 'rule_id', a.rule_id, 'status', r.status, 'reason', r.reason)
             end)
        into v_more
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
          left join public.pipeline_contacts p on p.conversation_id = x.conversation_id and p.pipeline_id = x.pipeline_id
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
          left join public.pipeline_contacts src on src.conversation_id = x.conversation_id and src.pipeline_id = x.pipeline_id
          left join public.pipeline_contacts dst on dst.conversation_id = x.conversation_id and dst.pipeline_id = t.pipeline_id
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
        join public.messenger_conversations c on c.id = a.conversation_id
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
     where a.id = k.id;
  end if;

  return coalesce((select jsonb_object_agg(k.conversation_id, k.runs)
                      from (select u as conversation_id, count(*) as runs from unnest(v_fired_contacts) u group by u) k),
                  '{}'::jsonb);
end;
$$;
comment on function leadflow_private.pipeline_fire(leadflow_private.pipeline_change[], timestamptz) is
  'The automation engine: fires the active automations matching each change, runs their actions level by level to the depth limit, records runs and outbox items.';

-- =============================================================================================
-- pipeline_assign(p_items, p_now): as in 20261201000330; new places' ids from pipeline_new_id, and
-- planned without sequential or bitmap scans (see the header)
-- =============================================================================================
create or replace function public.pipeline_assign(
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
  automations_fired integer
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
  if jsonb_typeof(p_items) is distinct from 'array' then
    raise exception 'p_items: must be a JSON array of analysed contacts (got %)', coalesce(jsonb_typeof(p_items), 'null')
      using errcode = '22023';
  end if;
  if jsonb_array_length(p_items) > 1000 then
    raise exception 'p_items: at most 1000 contacts per call (got %)', jsonb_array_length(p_items)
      using errcode = '22023', hint = 'Split the batch: the Data API answers at most 1000 rows (max-rows), one per item.';
  end if;

  -- One pass: the first problem (by position), and every valid item parsed.
  select (array_agg('p_items[' || (e.n - 1) || ']' || p.problem order by e.n) filter (where p.problem is not null))[1],
         array_agg(row((e.n - 1)::integer, (e.item ->> 'conversation_id')::uuid, (e.item ->> 'pipeline_id')::uuid, e.item ->> 'update_mode',
                       (e.item ->> 'lead_score')::numeric::integer, upper(btrim(e.item ->> 'lead_status')), e.item ->> 'recommended_stage',
                       e.item ->> 'summary', (e.item ->> 'confidence')::numeric, e.item ->> 'reasoning', e.item ->> 'model',
                       coalesce((e.item ->> 'is_fallback')::boolean, false), (e.item ->> 'last_message_at')::timestamptz
                   )::leadflow_private.pipeline_assign_item)
           filter (where p.problem is null)
    into v_problem, v_items
    from jsonb_array_elements(p_items) with ordinality e (item, n)
   cross join lateral (select leadflow_private.pipeline_assign_item_problem(e.item) as problem offset 0) p;
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
     where not exists (select from public.messenger_conversations c where c.id = i.conversation_id)
     order by i.item_index
     limit 1;
    raise exception 'p_items[%].conversation_id: conversation % does not exist', v_bad.item_index, v_bad.conversation_id
      using errcode = 'P0002', hint = 'Use ids from messenger_conversations.';
  end if;

  select i.item_index, i.pipeline_id into v_bad
    from unnest(v_items) i
    join public.messenger_conversations c on c.id = i.conversation_id
   where i.pipeline_id is not null
     and not exists (select from public.pipelines p where p.id = i.pipeline_id and p.user_id = c.user_id)
   order by i.item_index
   limit 1;
  if found then
    raise exception 'p_items[%].pipeline_id: pipeline % does not exist (for this conversation''s owner)', v_bad.item_index, v_bad.pipeline_id
      using errcode = 'P0002', hint = 'Use ids from pipelines, of the conversation''s owner.';
  end if;

  -- Each contact's pipeline, proposed stage (with the priority that chose it) and current place.
  with targets as materialized (
    select i.*, c.user_id,
           coalesce(i.pipeline_id, case when ps.enabled then ps.pipeline_id end) as target_pipeline_id,
           coalesce(i.update_mode, ps.update_mode, 'SKIP_EXISTING') as mode
      from unnest(v_items) i
      join public.messenger_conversations c on c.id = i.conversation_id
      left join public.pipeline_page_settings ps on ps.user_id = c.user_id and ps.page_id = c.page_id
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
           sm.m #> array[t.target_pipeline_id::text, 'id', p.stage_id::text] as cur
      from targets t
     cross join stage_map sm
      left join public.pipeline_contacts p on p.conversation_id = t.conversation_id and p.pipeline_id = t.target_pipeline_id
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
           case when j.outcome in ('assigned', 'moved') then d.best_name else d.cur_name end as final_stage_name
      from decided d
     cross join lateral (
       select case
                when d.target_pipeline_id is null then 'skipped'
                when d.place_id is null then 'assigned'
                when d.mode = 'SKIP_EXISTING' then 'kept'
                when d.best_id = d.cur_stage_id then 'kept'
                when d.best_order < d.cur_order and d.cur_min is not null and d.lead_score >= d.cur_min then 'kept'
                else 'moved'
              end as outcome,
              case
                when d.target_pipeline_id is null then 'auto_assign_off'
                when d.place_id is null then null
                when d.mode = 'SKIP_EXISTING' then 'skip_existing'
                when d.best_id = d.cur_stage_id then 'same_stage'
                when d.best_order < d.cur_order and d.cur_min is not null and d.lead_score >= d.cur_min then 'downgrade_protected'
              end as reason
       offset 0
     ) j
  )
  select
    array_agg(row(j.item_index, j.conversation_id, j.outcome, j.reason,
                  case when j.outcome <> 'skipped' and j.reason is distinct from 'skip_existing' then j.priority end,
                  j.target_pipeline_id, j.final_stage_id, j.final_stage_name,
                  j.cur_stage_id, j.cur_name,
                  case when j.reason = 'downgrade_protected' then j.best_id end,
                  case when j.reason = 'downgrade_protected' then j.best_name end,
                  null::uuid,
                  case when j.outcome = 'skipped' or j.reason = 'skip_existing' then j.cur_score else j.lead_score end,
                  case when j.outcome = 'skipped' or j.reason = 'skip_existing' then j.cur_status
                       else coalesce(j.lead_status, j.cur_status, 'NEW') end
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
      filter (where j.outcome <> 'skipped' and j.reason is distinct from 'skip_existing')
    into v_outcomes, v_writes
    from judged j;

  select o.item_index, o.pipeline_id into v_bad
    from unnest(v_outcomes) o
   where o.pipeline_id is not null and o.stage_id is null
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
           coalesce((v_fired ->> o.conversation_id::text)::integer, 0)
      from unnest(v_outcomes) o
     order by o.item_index;
end;
$$;
comment on function public.pipeline_assign(jsonb, timestamptz) is
  'Batch: places analysed contacts in their pipeline by the seed''s priorities (status, score range, AI recommendation, closest score, default / first stage), with downgrade protection and the update modes; logs and fires automations. One row per item: assigned | moved | kept (skip_existing, same_stage, downgrade_protected) | skipped (auto_assign_off).';


-- =============================================================================================
-- pipeline_move: planned like pipeline_assign
-- =============================================================================================
-- pipeline_move writes places too (and fires the same engine), and whichever of the two checks a
-- key first in a connection plans that check for the connection's life: with the same settings,
-- the places' key checks are index probes whichever runs first. Every lookup pipeline_move makes is
-- by a key or an index as well.
alter function public.pipeline_move(jsonb, timestamptz) set enable_seqscan = off;
alter function public.pipeline_move(jsonb, timestamptz) set enable_bitmapscan = off;
