-- CRM pipelines: pipeline_assign's cost no longer grows with the tables it writes.
-- Re-created: pipeline_assign, leadflow_private.pipeline_write_places, leadflow_private.pipeline_fire.
--
-- Why: these functions run with plan_cache_mode = force_generic_plan (20261201000310's header): a
-- connection plans each statement once, at its first call, and keeps the plan. A plan made while a
-- table was small (a new project, or any table that was near empty when that connection first ran
-- the function) could put the table on the outside of a join with the batch: a statement then read
-- the whole table, or all of its index, once per call, or compared every row of it with every
-- item. Measured (one owner, 20,000 conversations, calls of 1,000 contacts entering the pipeline,
-- the tables analysed while empty, one connection): the 1st call 246 ms, the 20th 4,338 ms, of
-- which 1,176 ms deleting left places (none), 802 ms updating existing places (none) and 2,155 ms
-- in the tags' statement (a hashed scan of every tag link, and a removal of none joined to all of
-- them). Through the Data API (whose pool opens connections as it needs them) the same happened
-- in a fresh stack without any analyse: 252 ms for the 3rd call, 658 ms for the 24th. Now the same
-- 20 calls on one connection take 184-200 ms each.
--
-- Now every statement reaches a table from the batch, by key, in a way the planner cannot turn
-- around, so each plan is linear in the batch whatever the table looked like when it was made:
--   - a lookup of one row per item is a LATERAL subquery with LIMIT 1 (not pulled up into a join,
--     so always an index probe per item, never a scan of the table);
--   - a delete is by an array of keys (`id = any (...)`, per tag or rule for the tag links and
--     follow-up stops: a level names few of them);
--   - places are written by one INSERT … ON CONFLICT (id) DO UPDATE driven by the writes (a new
--     place is inserted, an existing one updated), instead of an UPDATE joined to the writes and
--     an INSERT;
--   - the automations' counters are updated with their ids as an array of keys as well;
--   - and since a tie between indexes (on a table planned as empty, every index costs the same, so
--     a lookup could pick one whose key it does not lead, e.g. the board's index for a place) is
--     only settled by planning again, a connection plans again when a table it probes has doubled
--     in size (pipeline_plan_for_sizes, below).
-- Nothing else changes: the same rows, values, results and errors.
-- =============================================================================================
-- leadflow_private.pipeline_plan_for_sizes(): plans made again when a table they probe has doubled
-- =============================================================================================
-- The size of each table the batch's statements probe by key, in classes that double (up to 8 kB,
-- up to 16 kB, ...), is remembered for the connection (leadflow.pipeline_plan_sizes). When a class
-- changes, the connection's cached plans are dropped (DISCARD PLANS) and the next statements are
-- planned for the tables as they are now. So a plan is never used on a table more than twice the
-- size it was planned for: from empty to 1 GB, a connection plans again about 17 times, instead
-- of planning every call (plan_cache_mode = force_custom_plan: 360-380 ms a call of 1,000 contacts
-- against 184-200 ms, measured side by side) or keeping plans made for empty tables.
create or replace function leadflow_private.pipeline_plan_for_sizes()
returns void
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_sizes text := concat_ws(',',
    floor(log(2, greatest(pg_relation_size('public.pipeline_contacts'), 8192) / 8192.0)),
    floor(log(2, greatest(pg_relation_size('public.conversation_tags'), 8192) / 8192.0)),
    floor(log(2, greatest(pg_relation_size('public.ai_automation_stops'), 8192) / 8192.0)),
    floor(log(2, greatest(pg_relation_size('public.messenger_conversations'), 8192) / 8192.0)));
begin
  if v_sizes is distinct from current_setting('leadflow.pipeline_plan_sizes', true) then
    discard plans;
    perform set_config('leadflow.pipeline_plan_sizes', v_sizes, false);
  end if;
end;
$$;
comment on function leadflow_private.pipeline_plan_for_sizes() is
  'Drops the connection''s cached plans when a table the pipeline functions probe has doubled in size since they were planned.';
revoke all on function leadflow_private.pipeline_plan_for_sizes() from public, anon, authenticated;
grant execute on function leadflow_private.pipeline_plan_for_sizes() to service_role;


create or replace function leadflow_private.pipeline_write_places(
  p_writes leadflow_private.pipeline_place_write[],
  p_now timestamptz
)
returns leadflow_private.pipeline_change[]
language plpgsql
volatile
security definer
set search_path = ''
as $$
begin
  if coalesce(cardinality(p_writes), 0) = 0 then
    return '{}';
  end if;
  -- pipeline_move comes here without pipeline_assign's check (its own statements follow suit on its
  -- next call).
  perform leadflow_private.pipeline_plan_for_sizes();

  -- Left places, by key: an index probe per id whatever the table's size looked like when the
  -- statement was planned.
  delete from public.pipeline_contacts p
   where p.id = any (array(select w.leave_place_id from unnest(p_writes) w where w.leave_place_id is not null));

  -- New and existing places in one statement driven by the writes: each write probes the primary
  -- key (a new place is inserted, an existing one updated), so there is no join order to choose. An
  -- existing place keeps its analysis when the write carries none (an analysis always carries
  -- analysed_at, so excluded.analysed_at is null exactly when it has none).
  insert into public.pipeline_contacts as p (
    id, user_id, conversation_id, pipeline_id, stage_id, lead_score, lead_status, stage_entered_at,
    analysis_summary, analysis_confidence, analysis_reasoning, analysis_recommended_stage, analysis_model,
    analysis_is_fallback, analysis_last_message_at, analysed_at
  )
  select w.place_id, w.user_id, w.conversation_id, w.pipeline_id, w.stage_id, w.lead_score, w.lead_status, p_now,
         w.analysis ->> 'summary', (w.analysis ->> 'confidence')::numeric, w.analysis ->> 'reasoning',
         w.analysis ->> 'recommended_stage', w.analysis ->> 'model', (w.analysis ->> 'is_fallback')::boolean,
         (w.analysis ->> 'last_message_at')::timestamptz, (w.analysis ->> 'analysed_at')::timestamptz
    from unnest(p_writes) w
  on conflict (id) do update
     set stage_id = excluded.stage_id,
         stage_entered_at = case when excluded.stage_id <> p.stage_id then p_now else p.stage_entered_at end,
         lead_score = excluded.lead_score,
         lead_status = excluded.lead_status,
         analysis_summary = case when excluded.analysed_at is null then p.analysis_summary else excluded.analysis_summary end,
         analysis_confidence = case when excluded.analysed_at is null then p.analysis_confidence else excluded.analysis_confidence end,
         analysis_reasoning = case when excluded.analysed_at is null then p.analysis_reasoning else excluded.analysis_reasoning end,
         analysis_recommended_stage = case when excluded.analysed_at is null then p.analysis_recommended_stage
                                           else excluded.analysis_recommended_stage end,
         analysis_model = case when excluded.analysed_at is null then p.analysis_model else excluded.analysis_model end,
         analysis_is_fallback = case when excluded.analysed_at is null then p.analysis_is_fallback else excluded.analysis_is_fallback end,
         analysis_last_message_at = case when excluded.analysed_at is null then p.analysis_last_message_at
                                         else excluded.analysis_last_message_at end,
         analysed_at = coalesce(excluded.analysed_at, p.analysed_at),
         updated_at = now();

  insert into public.contact_activities (
    user_id, conversation_id, pipeline_id, type, title, description, from_stage_id, to_stage_id,
    actor, actor_id, automation_id, run_id, depth, metadata, occurred_at
  )
  select w.user_id, w.conversation_id, k.pipeline_id, k.type, k.title, k.description, k.from_stage_id, k.to_stage_id,
         w.actor, w.actor_id, w.automation_id, w.run_id, w.depth, k.metadata, p_now
    from unnest(p_writes) w
   cross join lateral (
     select w.leave_pipeline_id as pipeline_id, 'STAGE_CHANGED' as type, 'Moved to another pipeline' as title,
            w.description, w.leave_stage_id as from_stage_id, null::uuid as to_stage_id,
            coalesce(w.metadata, '{}'::jsonb) || jsonb_build_object('to_pipeline_id', w.pipeline_id, 'to_stage_id', w.stage_id) as metadata
      where w.leave_place_id is not null
     union all
     select w.pipeline_id, w.stage_activity, w.title, w.description, w.old_stage_id, w.stage_id,
            coalesce(w.metadata, '{}'::jsonb)
              || case when w.leave_place_id is not null then jsonb_build_object('from_pipeline_id', w.leave_pipeline_id) else '{}'::jsonb end
      where w.is_new or w.stage_id <> w.old_stage_id
     union all
     select w.pipeline_id, 'ANALYSED', w.title, w.description, w.stage_id, w.stage_id, coalesce(w.metadata, '{}'::jsonb)
      where w.analysed and not w.is_new and w.stage_id = w.old_stage_id
     union all
     select w.pipeline_id, 'SCORE_CHANGED', 'Lead score ' || coalesce(w.old_score::text, 'none') || ' → ' || coalesce(w.lead_score::text, 'none'),
            null, null, null, jsonb_build_object('from', w.old_score, 'to', w.lead_score)
      where not w.is_new and w.lead_score is distinct from w.old_score
     union all
     select w.pipeline_id, 'STATUS_CHANGED', 'Lead status ' || w.old_status || ' → ' || w.lead_status,
            null, null, null, jsonb_build_object('from', w.old_status, 'to', w.lead_status)
      where not w.is_new and w.lead_status is distinct from w.old_status
   ) k;

  return array(
    select row(w.user_id, w.conversation_id, w.pipeline_id, w.place_id, w.is_new, w.old_stage_id, w.stage_id,
               w.old_score, w.lead_score, w.old_status, w.lead_status, w.depth)::leadflow_private.pipeline_change
      from unnest(p_writes) w
     where w.is_new or w.stage_id <> w.old_stage_id
        or w.lead_score is distinct from w.old_score or w.lead_status is distinct from w.old_status
     order by w.seq
  );
end;
$$;
comment on function leadflow_private.pipeline_write_places(leadflow_private.pipeline_place_write[], timestamptz) is
  'Writes places (new, moved, left, re-scored) and their history in one go; returns the changes for the automations.';


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
  perform leadflow_private.pipeline_plan_for_sizes();
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
           sm.m #> array[t.target_pipeline_id::text, 'id', p.stage_id::text] as cur
      from targets t
     cross join stage_map sm
      left join lateral (
        select p.id, p.stage_id, p.lead_score, p.lead_status from public.pipeline_contacts p
         where p.conversation_id = t.conversation_id and p.pipeline_id = t.target_pipeline_id limit 1
      ) p on true
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


