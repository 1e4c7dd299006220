-- CRM pipelines / follow-up: an automation's add_tag no longer runs the tag links' settle step
-- (issue 11: Assign of 10,000 contacts with 5 automations, ~15,000 links).
-- Re-created: trigger conversation_tags_settle_window (after insert, for each statement, as in
-- 20261201002310_follow_up_window_copy_and_due_in_hours.sql, the function unchanged from
-- 20261201002751_follow_up_tag_links_settle_as_inserted.sql) with a WHEN clause: it runs unless the
-- transaction-local setting leadflow.tag_links_held is 'on'. leadflow_private.pipeline_fire
-- (20261201002830_follow_up_tag_links_copy_on_insert.sql's body, grants; its comment says the
-- contract below) sets that setting to 'on' just before add_tag's insert and back to '' just after
-- it, beside the two leadflow.tag_copy_given lines (kept).
--
-- Why it is safe: the settle step locks the new links' conversations FOR SHARE in id order, then
-- sets a link whose copy differs from its conversation's last_customer_message_at: it is the
-- guarantee of the copy under a message recorded at the same time (a link whose time was read
-- before the message committed). add_tag's insert needs none of it. pipeline_fire is called only by
-- public.pipeline_assign (20261201002160) and public.pipeline_move (20261201002640, its hint
-- replaced by 20261201002680), the newest definitions of the only functions calling it; each locks
-- every item's conversation FOR NO KEY UPDATE, in id order, as its first read, and pipeline_fire
-- acts only on those conversations (every change and every action of every level is one of the
-- items' contacts: a move keeps its contact). So when add_tag's insert reads a conversation's
-- time (a later statement: it sees every message committed before the lock was granted), this
-- transaction has held the conversation since before, and every writer of last_customer_message_at
-- (an UPDATE of the conversation: FOR NO KEY UPDATE at least) waits for this commit; its rewrite of
-- the copies then sees the new links. The FOR SHARE lock would be taken on rows already held more
-- strongly, and the comparison would find nothing to set: ~15,000 row locks, a join and the
-- transition table's scan, per Assign of 10,000 (bench/assign.ts's world: the step's own time was
-- 60-75 ms of pipeline_assign's 1,960-2,460 ms, 3.0-3.1 %, three runs on a loaded machine; the
-- backends' CPU, old and new alternating, 8 and 6 pairs: new/old median 0.995 and 0.980 two
-- calls at a time, 0.960 and 0.967 one at a time).
-- Not reused: leadflow.tag_copy_given. The docs promise that the settle step still sets the stored
-- copy right for any writer that sets tag_copy_given itself (its row trigger is skipped, the settle
-- step is not). A writer that sets tag_links_held itself takes on the lock the settle step would
-- have taken; docs/follow-up.md says so. Any other writer, and add_tag in a function that does
-- not hold the conversations, keeps the settle step.
-- A later CREATE OR REPLACE of pipeline_fire must keep the four set_config lines, and a new caller
-- of pipeline_fire must lock its contacts' conversations FOR NO KEY UPDATE first (in id order).
-- Test: test/db/pipelines/add-tag-held.test.ts (a message recorded while an Assign whose automation
-- adds a tag is open, and the other way round: the link ends with the committed time; add_tag's
-- links are never updated and the settle step is not called; with the caller's lock taken out the
-- first case ends with the old time), test/db/follow-up/tag-window-copy*.test.ts.

drop trigger if exists conversation_tags_settle_window on public.conversation_tags;
create trigger conversation_tags_settle_window
  after insert on public.conversation_tags
  referencing new table as new_links
  for each statement
  when (current_setting('leadflow.tag_links_held', true) is distinct from 'on')
  execute function leadflow_private.conversation_tags_settle_window();

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
  -- The places a level's moves left (deleted).
  v_left uuid[];
  v_fired_contacts uuid[] := '{}';
  v_fired_automations uuid[] := '{}';
  -- The outbox items this call queued, with their contacts, in the order they were made.
  v_outbox_contacts uuid[] := '{}';
  v_outbox_ids uuid[] := '{}';
  -- The call's ids: one random draw each for its runs and its outbox items; level d numbers from
  -- d * 2^40, so the ids follow the firing order across levels (pipeline_new_id: up to 2^48 - 1).
  v_run_prefix text := left(gen_random_uuid()::text, 24);
  v_item_prefix text := left(gen_random_uuid()::text, 24);
  v_id_base bigint;
  v_convs uuid[];
  v_keys uuid[];
  v_key uuid;
  -- The follow-up stops a level leaves standing: owner, contact, rule (null: every rule), note.
  v_stop_users uuid[];
  v_stop_convs uuid[];
  v_stop_rules uuid[];
  v_stop_notes text[];
begin
  while coalesce(cardinality(v_level), 0) > 0 loop
    -- This level's ids: after the previous levels' (the prefixes are the call's).
    v_id_base := v_depth::bigint * 1099511627776;
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
        select leadflow_private.pipeline_new_id(v_run_prefix, v_id_base + row_number() over ()) as run_id, a.id as automation_id, a.name as automation_name, a.trigger_type,
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
      select row(n.seq, n.run_id, case when n.action_type in ('webhook', 'notify') then leadflow_private.pipeline_new_id(v_item_prefix, v_id_base + n.seq) end,
                 n.automation_id, n.automation_name, n.user_id, n.conversation_id, n.pipeline_id, n.trigger_type,
                 n.from_stage_id, n.to_stage_id, n.from_score, n.to_score, n.from_status, n.to_status, n.depth,
                 n.action_index, n.action_type, n.action, n.actor, n.actor_id, n.reason
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
      -- And the contact's history says so: one AUTOMATION_STOPPED row per automation not run, after
      -- the change that matched it (its depth), in the order they would have fired.
      insert into public.contact_activities (
        user_id, conversation_id, pipeline_id, type, title, description, from_stage_id, to_stage_id,
        actor, actor_id, automation_id, run_id, depth, metadata, occurred_at
      )
      select a.user_id, a.conversation_id, a.pipeline_id, 'AUTOMATION_STOPPED',
             'Automation "' || a.automation_name || '" not run: the chain of automations reached its limit',
             'This change was made by the ' || c_max_depth || 'th automation in a row set off by one change, the most a '
               || 'chain may run, so automations that set each other off (one moves the contact to a stage whose '
               || 'automation moves it back) cannot run for ever. The contact stays where the last automation put it; '
               || 'check the pipeline''s automations if this chain was not meant.',
             a.from_stage_id, a.to_stage_id, 'automation', null, a.automation_id, a.run_id, a.depth,
             jsonb_build_object('trigger_type', a.trigger_type, 'status', 'depth_limit', 'max_depth', c_max_depth), p_now
        from unnest(v_actions) a
       where a.action_index = 0
       order by a.seq;
      exit;
    end if;

    v_kinds := array(select distinct a.action_type from unnest(v_actions) a);
    v_results := '{}';
    v_next := '{}';

    -- Each kind of action below reads what it acts on by key, once per action, before writing,
    -- and computes every result from that (no statement joins the batch's sets to each other:
    -- linear in the batch). "Decides": the last action of this level on the same target (the
    -- follow-up stops instead apply one after another, in order: below).

    -- Tags: per contact and tag, the last add / remove decides.
    if v_kinds && '{add_tag,remove_tag}'::text[] then
      -- add_tag's insert reads each link's time itself (tag_copy_given: no row trigger), and its
      -- contacts are this transaction's, held FOR NO KEY UPDATE by the caller (pipeline_assign,
      -- pipeline_move) since before the insert reads the time (tag_links_held: no settle step).
      perform pg_catalog.set_config('leadflow.tag_copy_given', 'on', true);
      perform pg_catalog.set_config('leadflow.tag_links_held', 'on', true);
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
        -- With the conversation's window time (the copy conversation_tags_settle_window checks).
        insert into public.conversation_tags (conversation_id, tag_id, user_id, last_customer_message_at)
        select a.conversation_id, a.tag_id, a.user_id,
               (select c.last_customer_message_at from public.messenger_conversations c where c.id = a.conversation_id)
          from acts a
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
      perform pg_catalog.set_config('leadflow.tag_copy_given', '', true);
      perform pg_catalog.set_config('leadflow.tag_links_held', '', true);
      v_results := v_results || coalesce(v_more, '{}');
      -- The removals, one statement per tag (a level names few): each link by its key.
      for v_key in select distinct u from unnest(v_keys) u loop
        delete from public.conversation_tags ct
         where ct.tag_id = v_key
           and ct.conversation_id = any (array(select r.c from unnest(v_convs, v_keys) r (c, t) where r.t = v_key));
      end loop;
    end if;

    -- Follow-up stops: a contact's stop / resume actions of this level apply one after another, in
    -- their order (seq: automation created_at and id, action index), as if each ran alone; each
    -- result says what that action did at its turn (a stop made and lifted later in the level is
    -- applied, and so is the resume that lifted it; nothing here is overridden). A stop is a `manual`
    -- stop row naming the automation (no rule: the every-rule row); a resume of a rule lifts that
    -- rule's stop, one of every rule (no rule) lifts every stop the contact has at that point,
    -- whatever its reason. A rule's resume leaves an every-rule stop (a human takeover) alone and
    -- says so (stopped_for_every_rule). A stop that finds its own row liftable (a Page-inbox
    -- takeover: last_human_message_at, which a rule's resume_after_takeover_hours lifts by itself)
    -- makes it last until deleted (last_human_message_at cleared, the automation's note): applied.
    -- What each action finds before it is the last earlier action of the level that touched the
    -- same thing (for a rule: a stop or resume of it, or a resume of every rule; for every rule: an
    -- every-rule stop or resume), else the table (read by key, once per action); for a resume of
    -- every rule, how many stops the contact has: the table's (until a first resume of every rule)
    -- plus the stops made less the stops lifted since the last one. Windows over the level's
    -- follow-up actions compute that, no join of the batch to itself. Then the net writes: the table's
    -- rows lifted (deleted by key: every row of a contact whose first resume of every rule lifted
    -- some, else the rows of the rules resumed), then the stops still standing at the end (inserted,
    -- or a liftable row made to last).
    if v_kinds && '{stop_follow_up,resume_follow_up}'::text[] then
      with acts as materialized (
        select x.seq, x.user_id, x.conversation_id, x.action_type, x.action_index, x.automation_id, x.automation_name,
               r.rule_id,
               x.action_type = 'resume_follow_up' and r.rule_id is null as resume_all,
               r.rule_id is null or ar.found is not null as rule_exists,
               st.own, st.own_liftable, st.every, st.n
          from unnest(v_actions) x
         cross join lateral (select (x.action ->> 'rule_id')::uuid as rule_id) r
          left join lateral (
            select true as found from public.ai_automation_rules ar where ar.id = r.rule_id and ar.user_id = x.user_id limit 1
          ) ar on true
         -- The contact's stop rows (a few: one per rule at most, and the every-rule one): its own
         -- rule's (the every-rule one when it names none) and whether it is liftable, the every-rule
         -- one, how many.
         cross join lateral (
           select coalesce(bool_or(case when r.rule_id is null then s.rule_id is null else s.rule_id = r.rule_id end), false) as own,
                  coalesce(bool_or(case when r.rule_id is null then s.rule_id is null else s.rule_id = r.rule_id end
                                   and s.last_human_message_at is not null), false) as own_liftable,
                  coalesce(bool_or(s.rule_id is null), false) as every,
                  count(*) as n
             from public.ai_automation_stops s
            where s.conversation_id = x.conversation_id
         ) st
         where x.action_type in ('stop_follow_up', 'resume_follow_up')
      ),
      timeline as materialized (
        select a.*,
               -- Earlier actions of the contact: the last resume of every rule, the last every-rule stop,
               -- how many resumes of every rule; of the same rule (every rule: the every-rule stops and
               -- resumes): the last stop, the last resume.
               max(a.seq) filter (where a.resume_all) over w_before as last_resume_all,
               max(a.seq) filter (where a.action_type = 'stop_follow_up' and a.rule_id is null) over w_before as last_stop_every,
               count(*) filter (where a.resume_all) over w_before as resumes_all_before,
               max(a.seq) filter (where a.action_type = 'stop_follow_up') over w_rule_before as last_stop_own,
               max(a.seq) filter (where a.action_type = 'resume_follow_up') over w_rule_before as last_resume_own,
               -- Later ones: resumes of the same rule, resumes of every rule.
               count(*) filter (where a.action_type = 'resume_follow_up') over w_rule_after as resumes_own_after,
               count(*) filter (where a.resume_all) over w_after as resumes_all_after
          from acts a
        window w_before as (partition by a.conversation_id order by a.seq rows between unbounded preceding and 1 preceding),
               w_after as (partition by a.conversation_id order by a.seq rows between 1 following and unbounded following),
               w_rule_before as (partition by a.conversation_id, a.rule_id order by a.seq rows between unbounded preceding and 1 preceding),
               w_rule_after as (partition by a.conversation_id, a.rule_id order by a.seq rows between 1 following and unbounded following)
      ),
      judged as materialized (
        select t.*, w.was_stopped, w.was_stopped_every,
               -- The change in the number of stops this action makes (a resume of every rule: below;
               -- a stop making the table's liftable row last: none).
               case when not t.rule_exists or t.resume_all then 0
                    when w.makes_lasting then 0
                    when t.action_type = 'stop_follow_up' and not w.was_stopped then 1
                    when t.action_type = 'resume_follow_up' and w.was_stopped then -1
                    else 0 end as delta
          from timeline t
         cross join lateral (
           select
             -- Stopped for its own rule (every rule when it names none) just before it; for a stop,
             -- until deleted (the table's liftable row does not count: the stop makes it last).
             case when coalesce(t.last_stop_own, t.last_resume_own, t.last_resume_all) is null
                    then t.own and not (t.action_type = 'stop_follow_up' and t.own_liftable)
                  else coalesce(t.last_stop_own > greatest(coalesce(t.last_resume_own, 0), coalesce(t.last_resume_all, 0)), false)
             end as was_stopped,
             -- Stopped for every rule just before it.
             case when coalesce(t.last_stop_every, t.last_resume_all) is null then t.every
                  else coalesce(t.last_stop_every > coalesce(t.last_resume_all, 0), false)
             end as was_stopped_every,
             -- A stop that finds the table's own row liftable, nothing earlier in the level on it.
             t.action_type = 'stop_follow_up' and t.own_liftable
               and coalesce(t.last_stop_own, t.last_resume_own, t.last_resume_all) is null as makes_lasting
         ) w
      ),
      counted as (
        select j.*,
               -- A resume of every rule: the stops the contact has just before it.
               case when j.resumes_all_before = 0 then j.n else 0 end
               + coalesce(sum(j.delta) over (partition by j.conversation_id, j.resumes_all_before order by j.seq
                                             rows between unbounded preceding and 1 preceding), 0) as stops_before
          from judged j
      )
      select jsonb_object_agg(c.seq::text, case when r.reason is null
               then jsonb_build_object('index', c.action_index, 'type', c.action_type, 'rule_id', c.rule_id, 'status', r.status)
               else jsonb_build_object('index', c.action_index, 'type', c.action_type, 'rule_id', c.rule_id, 'status', r.status, 'reason', r.reason)
             end),
             -- The table's rows lifted: by the contact's first resume of every rule (all of them), or
             -- by a resume of their rule before it.
             array_agg(c.conversation_id) filter (where r.status = 'applied' and c.action_type = 'resume_follow_up' and c.resumes_all_before = 0
                                                    and case when c.resume_all then c.n > 0 else c.own end),
             array_agg(c.rule_id) filter (where r.status = 'applied' and c.action_type = 'resume_follow_up' and c.resumes_all_before = 0
                                            and case when c.resume_all then c.n > 0 else c.own end),
             -- The stops standing at the end: made, and lifted by no later resume.
             array_agg(c.user_id) filter (where r.status = 'applied' and c.action_type = 'stop_follow_up' and c.resumes_own_after = 0 and c.resumes_all_after = 0),
             array_agg(c.conversation_id) filter (where r.status = 'applied' and c.action_type = 'stop_follow_up' and c.resumes_own_after = 0 and c.resumes_all_after = 0),
             array_agg(c.rule_id) filter (where r.status = 'applied' and c.action_type = 'stop_follow_up' and c.resumes_own_after = 0 and c.resumes_all_after = 0),
             array_agg('pipeline automation "' || c.automation_name || '" (' || c.automation_id || ')')
               filter (where r.status = 'applied' and c.action_type = 'stop_follow_up' and c.resumes_own_after = 0 and c.resumes_all_after = 0)
        into v_more, v_convs, v_keys, v_stop_users, v_stop_convs, v_stop_rules, v_stop_notes
        from counted c
       cross join lateral (
         select case when not c.rule_exists then 'failed'
                     when c.action_type = 'stop_follow_up' and c.was_stopped then 'unchanged'
                     when c.action_type = 'stop_follow_up' then 'applied'
                     when c.resume_all and c.stops_before > 0 then 'applied'
                     when not c.resume_all and c.was_stopped then 'applied'
                     else 'unchanged' end as status,
                case when not c.rule_exists then 'rule_not_found'
                     when c.action_type = 'stop_follow_up' and c.was_stopped then 'already_stopped'
                     when c.action_type = 'stop_follow_up' then null
                     when c.resume_all and c.stops_before > 0 then null
                     when c.resume_all then 'not_stopped'
                     when c.was_stopped then null
                     when c.was_stopped_every then 'stopped_for_every_rule'
                     else 'not_stopped' end as reason
       ) r;
      v_results := v_results || coalesce(v_more, '{}');
      -- The rows lifted, by key: every stop row of the contacts resumed for all rules, then one
      -- statement per rule resumed on its own (a level names few).
      if cardinality(v_convs) > 0 then
        delete from public.ai_automation_stops s
         where s.conversation_id = any (array(select r.c from unnest(v_convs, v_keys) r (c, k) where r.k is null));
        for v_key in select distinct u from unnest(v_keys) u where u is not null loop
          delete from public.ai_automation_stops s
           where s.rule_id = v_key
             and s.conversation_id = any (array(select r.c from unnest(v_convs, v_keys) r (c, k) where r.k = v_key));
        end loop;
      end if;
      -- Then the stops standing at the end (one per contact and rule at most): a liftable row there
      -- (a Page-inbox takeover) is made to last, with the automation's note, its reason kept; a stop
      -- that lasts already is left as it is.
      if cardinality(v_stop_convs) > 0 then
        insert into public.ai_automation_stops as st (user_id, conversation_id, rule_id, reason, note)
        select s.u, s.c, s.k, 'manual', s.note
          from unnest(v_stop_users, v_stop_convs, v_stop_rules, v_stop_notes) s (u, c, k, note)
        on conflict (conversation_id, rule_id) do update
           set last_human_message_at = null, note = excluded.note
         where st.last_human_message_at is not null;
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
      -- The stages these moves may go to, locked (FOR KEY SHARE: a stage's delete waits for this
      -- call, an edit of its name or range does not) in id order, in one statement, before they are
      -- read: the stages named by move_to_stage and every stage of the pipelines named by
      -- move_to_pipeline. A delete that began first ends first: this level then does not see the
      -- stage. One that comes later waits, and then finds the contact placed in it.
      perform from (
        select s.id from public.pipeline_stages s
         where s.id = any (array(
                 select (x.action ->> 'stage_id')::uuid from unnest(v_actions) x where x.action_type = 'move_to_stage'
                 union
                 select st.id from public.pipeline_stages st
                  where st.pipeline_id = any (array(
                          select (x.action ->> 'pipeline_id')::uuid from unnest(v_actions) x where x.action_type = 'move_to_pipeline'))))
         order by s.id
           for key share
      ) l;

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
                 -- A move within the pipeline needs the contact's place there: never a new placement.
                 when a.stage_pipeline_id = a.pipeline_id and a.src_id is null then 'failed'
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
                      case when p.stage_id is not null then 'not_in_pipeline'
                           when p.action_type = 'move_to_stage' then 'stage_not_found' else 'pipeline_not_found_or_empty' end)
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
      -- The places these moves left are gone: their changes (a status set before the move) fire
      -- nothing at the next level.
      v_left := array(select w.leave_place_id from unnest(v_writes) w where w.leave_place_id is not null);
      if cardinality(v_left) > 0 then
        v_next := array(select c from unnest(v_next) c where c.place_id <> all (v_left));
      end if;
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
               'outbox_id', a.item_id,
               'user_id', a.user_id,
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
                 'from_score', a.from_score, 'to_score', a.to_score, 'from_status', a.from_status, 'to_status', a.to_status,
                 'actor', a.actor, 'actor_id', a.actor_id, 'reason', a.reason),
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
  'The automation engine: fires the active automations matching each change, runs their actions level by level to the depth limit, records runs and outbox items; returns {runs: {contact: n}, outbox: {contact: [outbox ids]}}. Its caller holds every changed contact''s conversation FOR NO KEY UPDATE (pipeline_assign, pipeline_move lock them first, in id order): add_tag''s links skip the settle step on that lock.';
revoke all on function leadflow_private.pipeline_fire(leadflow_private.pipeline_change[], timestamptz) from public, anon, authenticated;
grant execute on function leadflow_private.pipeline_fire(leadflow_private.pipeline_change[], timestamptz) to service_role;
