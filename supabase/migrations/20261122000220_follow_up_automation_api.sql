-- Follow-up automation, part 3 of 3: the API the n8n nodes call, one `supabase.rpc` per batch.
-- Functions:
--   automation_reap             expired leases: not yet sending → queued; sending → failed send_uncertain
--   automation_claim            atomically claim up to N due contacts (queued → checking → eligible, lease)
--   automation_explain          the same judgement, without claiming, per contact with its reason
--   automation_snapshot         the live monitor for one rule, as one JSON document
--   automation_timeline         one contact's stage events
--   automation_mark_generating  eligible → generating, for a batch
--   automation_record_generation generating → ready_to_send (message) or failed (reason), for a batch
--   automation_begin_send       duplicate guard + stop / window re-check + ready_to_send → sending, for a batch
--   automation_record_send      sending → sent (→ completed) / skipped / failed / uncertain, for a batch
-- Every batch function takes all of a node's items at once: n items = one round trip.
--
-- Security: every function here is SECURITY INVOKER. The pipeline's functions (claim, reap, the
-- transitions) are granted to service_role only, the role n8n's credential uses; it owns the
-- writes, and no definer rights are needed, so a bug here cannot lend anyone more than they
-- already have. explain, snapshot and timeline are also granted to authenticated: they only read,
-- and row level security shows a signed-in user their own rules and contacts only. anon gets none.
-- Each function takes p_now (default leadflow_private.now(), the clock every judgement of time reads)
-- so tests can fix the clock; production passes nothing.

-- =============================================================================================
-- automation_reap(p_now, p_rule_id) → (requeued, send_uncertain)
-- =============================================================================================
-- Leases that ran out mean the execution holding them died or stalled. Contacts not yet at the
-- send step go back to queued (claimable again; the generated text, if any, is dropped). Contacts
-- left in sending may or may not have received the message: they become failed with error_code
-- send_uncertain, retry_at null, and their guard row becomes uncertain, so they are never resent
-- automatically (a duplicate message to a lead is worse than a missed one). Rows another
-- transaction holds are skipped, not waited for. Runs at the start of every claim.
-- plpgsql rather than sql: PostgreSQL 17 plans a SQL function's query on every call (~5 ms for
-- this one), plpgsql keeps the plan for the session; the claim runs this on every call.
create or replace function public.automation_reap(p_now timestamptz default leadflow_private.now(), p_rule_id uuid default null)
returns table (requeued integer, send_uncertain integer)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
begin
  -- Nothing expired (the usual case): one probe of the lease index, no writes.
  if not exists (select from public.ai_automation_contact_states s
                  where s.current_stage in ('checking', 'eligible', 'generating', 'ready_to_send', 'sending')
                    and s.locked_until <= p_now
                    and (p_rule_id is null or s.rule_id = p_rule_id)) then
    return query select 0, 0;
    return;
  end if;
  return query
  with expired_held as (
    select s.id from public.ai_automation_contact_states s
     where s.current_stage in ('checking', 'eligible', 'generating', 'ready_to_send')
       and s.locked_until <= p_now
       and (p_rule_id is null or s.rule_id = p_rule_id)
     for update skip locked
  ),
  requeued as (
    update public.ai_automation_contact_states s
       set current_stage = 'queued',
           stage_entered_at = p_now,
           stage_detail = jsonb_build_object('reason', 'lease_expired', 'held_by', s.locked_by, 'lease_until', s.locked_until),
           locked_by = null,
           locked_until = null,
           generated_message = null,
           updated_at = now()
      from expired_held x
     where s.id = x.id
    returning s.id
  ),
  expired_sending as (
    select s.id from public.ai_automation_contact_states s
     where s.current_stage = 'sending'
       and s.locked_until <= p_now
       and (p_rule_id is null or s.rule_id = p_rule_id)
     for update skip locked
  ),
  uncertain as (
    update public.ai_automation_contact_states s
       set current_stage = 'failed',
           stage_entered_at = p_now,
           stage_detail = jsonb_build_object('reason', 'send_uncertain', 'held_by', s.locked_by, 'lease_until', s.locked_until),
           error_code = 'send_uncertain',
           error_message = 'The sender stopped while the message was being sent; it may or may not have been delivered, so it is not resent automatically.',
           retry_at = null,
           locked_by = null,
           locked_until = null,
           updated_at = now()
      from expired_sending x
     where s.id = x.id
    returning s.attempt_id
  ),
  ledger as (
    update public.ai_automation_executions e
       set status = 'uncertain', finished_at = p_now, error_code = 'send_uncertain'
     where e.id in (select u.attempt_id from uncertain u) and e.status = 'sending'
    returning e.id
  )
  select (select count(*) from requeued)::integer,
         (select count(*) from uncertain)::integer;
end;
$$;
comment on function public.automation_reap(timestamptz, uuid) is
  'Expired leases: contacts not yet sending become claimable again; contacts left in sending become failed send_uncertain (never resent).';

-- =============================================================================================
-- automation_claim(p_rule_id, p_limit, p_execution_id, p_lease_seconds, p_now) → claimed contacts
-- =============================================================================================
-- For one rule (p_rule_id) or every enabled rule, claims up to p_limit contacts that
-- automation_judge_contact judges due, soonest-closing Messenger window first. Per rule, in rule-id
-- order: the rule row is locked (FOR UPDATE), so claims of the same rule run one after the other
-- and its daily-limit count cannot race; the contacts' state rows are taken with SKIP LOCKED.
-- Creates missing state rows (queued), moves them queued/sent/skipped/failed/completed → checking
-- → eligible (one write; an event each), and sets the lease (locked_by = p_execution_id, locked_until). Never
-- claims more than the rule's daily limit leaves for today, nor outside its active hours. Non-due
-- contacts are not written: their reasons are computed live (automation_evaluate and the views,
-- by the same automation_judge_contact).
-- Returns one row per claimed contact with what the next nodes need.
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

  perform public.automation_reap(p_now, p_rule_id);

  for v_rule in
    select r.* from public.ai_automation_rules r
     where r.enabled and (p_rule_id is null or r.id = p_rule_id)
     order by r.id
     for update
  loop
    exit when v_remaining <= 0;
    continue when not leadflow_private.automation_in_active_hours(
      v_rule.active_hours_start, v_rule.active_hours_end, v_rule.active_days, v_rule.time_zone, p_now);
    -- Counted once, under the rule's lock, and handed to the judgement (see automation_judge_contact).
    v_used := leadflow_private.automation_rule_usage(v_rule.id, v_rule.time_zone, p_now);
    v_take := least(v_remaining, v_rule.daily_limit - v_used);
    continue when v_take <= 0;

    -- The due contacts, soonest-closing window first: walk the rule's include tags' links whose
    -- conversation's 24 h window is open, along conversation_tags_window_idx (tag, window time),
    -- in the claim's order, and stop as soon as v_take are due (the LIMIT). Each one is judged by
    -- automation_judge_contact, the one judgement of "due" (index probes on the contact's key:
    -- owner, page, tags under tag_match, exclusions, stops, state, window): nothing is claimed
    -- that it does not call due. Contacts carrying an excluded tag are passed over before the
    -- judgement, which would call them excluded_tag: one probe instead of all of the judgement's,
    -- and on a rule that excludes a common tag they can be half the links walked (10 % of a claim
    -- in bench/claim.ts). A contact carrying two include tags is walked once (the DISTINCT). The
    -- judgement is a lateral with LIMIT, never flattened, so the plan stays a nested loop under
    -- the LIMIT over the sorted open-window links: its cost follows the batch and the rule's
    -- open-window links, not the owner's contacts (bench/claim.ts prints it).
    if cardinality(v_rule.include_tag_ids) = 1 then
      -- One include tag (most rules): the index hands its links over already in window order, so
      -- the walk reads only as many as it judges.
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
      -- Several: their open-window links, each conversation once, sorted (a few thousand at most:
      -- the 24 h window bounds them).
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
-- automation_explain(p_rule_id, p_conversation_ids, p_limit, p_now) → one row per contact
-- =============================================================================================
-- The claim's judgement without claiming: every contact carrying the rule's tags (every enabled
-- rule when p_rule_id is null), due ones first, with the reason it is not due and when it will be.
create or replace function public.automation_explain(
  p_rule_id uuid default null,
  p_conversation_ids uuid[] default null,
  p_limit integer default 1000,
  p_now timestamptz default leadflow_private.now()
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
     and (p_conversation_ids is null or e.conversation_id = any (p_conversation_ids))
   order by r.id, e.reason is not null, e.due_at nulls last, e.conversation_id
   limit greatest(1, least(coalesce(p_limit, 1000), 100000))
$$;
comment on function public.automation_explain(uuid, uuid[], integer, timestamptz) is
  'Why each tagged contact is or is not due under a rule (or every enabled rule), without claiming anything.';

-- =============================================================================================
-- automation_snapshot(p_rule_id, p_contact_limit, p_now) → jsonb
-- =============================================================================================
-- The live monitor in one document, the shape seed 000's endpoint returns:
-- { rule, generatedAt, stats (automation_monitor_summary's row), stages (automation_live_stats'
--   rows), eligibleContacts (automation_eligible_contacts' rows), activeContacts
--   (active_automation_contacts' rows) }. Contact lists hold at most p_contact_limit rows; stats
-- count all. Null when the rule does not exist (or the caller may not see it).
create or replace function public.automation_snapshot(
  p_rule_id uuid,
  p_contact_limit integer default 200,
  p_now timestamptz default leadflow_private.now()
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
  where r.id = p_rule_id
$$;
comment on function public.automation_snapshot(uuid, integer, timestamptz) is
  'The live monitor for one rule as one JSON document: rule, stats, stages, eligibleContacts, activeContacts.';

-- =============================================================================================
-- automation_timeline(p_rule_id, p_conversation_id) → the contact's stage events, oldest first
-- =============================================================================================
create or replace function public.automation_timeline(p_rule_id uuid, p_conversation_id uuid)
returns table (
  event_id bigint,
  state_id uuid,
  rule_id uuid,
  conversation_id uuid,
  from_stage text,
  to_stage text,
  occurred_at timestamptz,
  seconds_in_previous_stage numeric,
  execution_id text,
  detail jsonb
)
language sql
stable
set search_path = ''
as $$
  select ev.id, ev.state_id, ev.rule_id, ev.conversation_id, ev.from_stage, ev.to_stage, ev.occurred_at,
         round(extract(epoch from ev.occurred_at - lag(ev.occurred_at) over (order by ev.occurred_at, ev.id))::numeric, 3),
         ev.execution_id, ev.detail
    from public.ai_automation_stage_events ev
   where ev.state_id = (select s.id from public.ai_automation_contact_states s
                         where s.rule_id = p_rule_id and s.conversation_id = p_conversation_id)
   order by ev.occurred_at, ev.id
$$;
comment on function public.automation_timeline(uuid, uuid) is 'One contact''s stage events under a rule, oldest first.';

-- =============================================================================================
-- How the batch functions below stay linear in the batch
-- =============================================================================================
-- A pipeline moves thousands of state rows a minute, so the planner's statistics on
-- current_stage always lag behind: it may believe a stage holds one row when it holds thousands.
-- A join between two derived sets (the batch's items and the rows an UPDATE returned, say) is
-- then planned as a nested loop, n² comparisons: a million for 1,000 contacts, hundreds of
-- milliseconds. So every function here:
--   - reaches the state rows by key only (`s.id = any (ids)`, or a join on `s.id = i.state_id`
--     that locks them), and checks stage and lease on the rows found, never as a way in;
--   - never joins two derived sets: outcomes come from an UPDATE's RETURNING, and the rows it did
--     not return are found with NOT IN over it (a hashed subplan, linear whatever the estimates).

-- =============================================================================================
-- automation_mark_generating(p_execution_id, p_state_ids, p_lease_seconds, p_now)
--   → (state_id, outcome: generating | lease_lost)
-- =============================================================================================
-- eligible → generating for every contact this execution holds; extends the lease so a slow model
-- does not lose it. lease_lost: the contact is not (or no longer) this execution's, or not eligible.
create or replace function public.automation_mark_generating(
  p_execution_id text,
  p_state_ids uuid[],
  p_lease_seconds integer default 600,
  p_now timestamptz default leadflow_private.now()
)
returns table (state_id uuid, outcome text)
language sql
volatile
set search_path = ''
as $$
  with moved as (
    update public.ai_automation_contact_states s
       set current_stage = 'generating',
           stage_entered_at = p_now,
           stage_detail = null,
           execution_id = p_execution_id,
           locked_until = greatest(s.locked_until, p_now + make_interval(secs => p_lease_seconds)),
           updated_at = now()
     where s.id = any (p_state_ids)
       and s.current_stage = 'eligible'
       and s.locked_by = p_execution_id
    returning s.id
  )
  select m.id, 'generating'::text from moved m
  union all
  select distinct u.id, 'lease_lost'::text
    from unnest(p_state_ids) u (id)
   where u.id is not null and u.id not in (select m.id from moved m)
$$;
comment on function public.automation_mark_generating(text, uuid[], integer, timestamptz) is
  'Batch: eligible → generating for contacts the execution holds.';

-- =============================================================================================
-- automation_record_generation(p_execution_id, p_items, p_now)
--   → (state_id, outcome: ready_to_send | failed | lease_lost)
-- =============================================================================================
-- p_items: [{state_id, message, generation_ms, model, usage}] for a generated message, or
-- [{state_id, error_code, error_message, retry_after_seconds}] for a failure (error_code e.g.
-- quota, blocked, timeout, gemini_error). A success whose message is empty or longer than 2,000
-- characters becomes failed invalid_message. A failure with retry_after_seconds is claimable again
-- after that long; without it, it waits for a person. Failures release the lease.
create or replace function public.automation_record_generation(
  p_execution_id text,
  p_items jsonb,
  p_now timestamptz default leadflow_private.now()
)
returns table (state_id uuid, outcome text)
language sql
volatile
set search_path = ''
as $$
  with items as materialized (
    select distinct on (x.state_id) x.*,
           case
             when x.error_code is not null then x.error_code
             when x.message is null or length(btrim(x.message)) = 0 or char_length(x.message) > 2000 then 'invalid_message'
           end as failure
      from jsonb_to_recordset(p_items) as x (
        state_id uuid, message text, generation_ms integer, model text, usage jsonb,
        error_code text, error_message text, retry_after_seconds integer
      )
     where x.state_id is not null
     order by x.state_id
  ),
  -- Locked by key; whether each is generating and this execution's is checked on the locked row.
  held as materialized (
    select i.*, s.current_stage, s.locked_by
      from items i
      join public.ai_automation_contact_states s on s.id = i.state_id
     order by s.id
       for update of s
  ),
  moved as (
    update public.ai_automation_contact_states s
       set current_stage = case when h.failure is null then 'ready_to_send' else 'failed' end,
           stage_entered_at = p_now,
           stage_detail = case when h.failure is null
                               then jsonb_build_object('generation_ms', h.generation_ms, 'model', h.model)
                               else jsonb_build_object('error_code', h.failure) end,
           execution_id = p_execution_id,
           generated_message = case when h.failure is null then h.message end,
           generated_at = p_now,
           generation_ms = h.generation_ms,
           generation_model = h.model,
           generation_usage = h.usage,
           error_code = h.failure,
           error_message = case
             when h.failure is null then null
             when h.error_code is null then 'The model returned an empty message or one longer than 2,000 characters.'
             else h.error_message
           end,
           retry_at = case when h.failure is not null and h.retry_after_seconds is not null
                           then p_now + make_interval(secs => h.retry_after_seconds) end,
           locked_by = case when h.failure is null then s.locked_by end,
           locked_until = case when h.failure is null then s.locked_until end,
           updated_at = now()
      from held h
     where s.id = h.state_id
       and h.current_stage = 'generating'
       and h.locked_by = p_execution_id
    returning s.id, s.current_stage
  )
  select m.id, m.current_stage from moved m
  union all
  select i.state_id, 'lease_lost'::text from items i where i.state_id not in (select m.id from moved m)
$$;
comment on function public.automation_record_generation(text, jsonb, timestamptz) is
  'Batch: generating → ready_to_send (message, time, model, usage) or failed (error code, optional retry).';

-- =============================================================================================
-- automation_begin_send(p_execution_id, p_state_ids, p_lease_seconds, p_now)
--   → (state_id, outcome: send | duplicate | skipped | lease_lost, reason, attempt_id, …)
-- =============================================================================================
-- The last step before the Graph API, per contact (the batch's state rows are locked in id order,
-- so concurrent batches never deadlock):
--   duplicate   the guard for this follow-up number is already taken (reason: the guard's status):
--               do not call the Graph API; nothing changes.
--   lease_lost  not ready_to_send, or held by another execution (reason: the current stage), or
--               no such contact (reason: not_found).
--   skipped     stopped (a stop row, or a customer message since the last follow-up / the claim
--               with stop_on_reply on, which adds a `replied` stop), inactive, or outside_window:
--               ready_to_send → skipped with that reason, lease released.
--   send        the guard row is inserted (status sending; unique on rule × conversation ×
--               follow-up number) and the contact moves to sending with a lease of
--               p_lease_seconds: call the Graph API now, then automation_record_send.
-- If the sender dies after this, the reaper turns the contact into failed send_uncertain.
-- One statement: the guard rows, the stops and the transitions are written together or not at all.
create or replace function public.automation_begin_send(
  p_execution_id text,
  p_state_ids uuid[],
  p_lease_seconds integer default 120,
  p_now timestamptz default leadflow_private.now()
)
returns table (
  state_id uuid,
  outcome text,
  reason text,
  attempt_id uuid,
  follow_up_number integer,
  page_id text,
  recipient_id text,
  message text,
  window_closes_at timestamptz
)
language sql
volatile
set search_path = ''
as $$
  with locked as materialized (
    select s.id, s.user_id, s.rule_id, s.conversation_id, s.current_stage, s.locked_by, s.claimed_at,
           s.claimed_follow_up_number, s.last_follow_up_at, s.generated_message
      from public.ai_automation_contact_states s
     where s.id = any (p_state_ids)
     order by s.id
       for update
  ),
  judged as materialized (
    select l.*, c.page_id, c.sender_id, c.is_active, c.last_customer_message_at,
           g.id as guard_id, g.status as guard_status,
           st.reason as stop_row_reason,
           -- A customer message since the last follow-up (or since the claim) stops the contact.
           st.reason is null and r.stop_on_reply
             and c.last_customer_message_at > greatest(l.last_follow_up_at, l.claimed_at) as replied
      from locked l
      join public.messenger_conversations c on c.id = l.conversation_id
      join public.ai_automation_rules r on r.id = l.rule_id
      left join lateral (
        select e.id, e.status from public.ai_automation_executions e
         where e.rule_id = l.rule_id and e.conversation_id = l.conversation_id
           and e.follow_up_number = l.claimed_follow_up_number and e.status <> 'released'
         limit 1
      ) g on true
      left join lateral (
        select st.reason from public.ai_automation_stops st
         where st.conversation_id = l.conversation_id and (st.rule_id = l.rule_id or st.rule_id is null)
         order by st.rule_id nulls first
         limit 1
      ) st on true
  ),
  decided as materialized (
    select j.*,
           coalesce(j.stop_row_reason, case when j.replied then 'replied' end) as stop_reason,
           case
             when j.guard_id is not null then 'duplicate'
             when j.current_stage <> 'ready_to_send' or j.locked_by is distinct from p_execution_id then 'lease_lost'
             when k.skip_reason is not null then 'skipped'
             else 'send'
           end as outcome,
           k.skip_reason,
           -- The guard row's id, chosen here so the transition below can name it without a join.
           gen_random_uuid() as new_attempt_id
      from judged j
     cross join lateral (
       select case
         when j.stop_row_reason is not null or j.replied then 'stopped'
         when not j.is_active then 'inactive'
         when j.last_customer_message_at is null or j.last_customer_message_at <= p_now - interval '24 hours' then 'outside_window'
       end as skip_reason
     ) k
  ),
  replied_stops as (
    insert into public.ai_automation_stops (user_id, conversation_id, rule_id, reason, note, execution_id)
    select d.user_id, d.conversation_id, d.rule_id, 'replied', 'customer message at ' || d.last_customer_message_at, p_execution_id
      from decided d
     where d.outcome = 'skipped' and d.replied
    on conflict (conversation_id, rule_id) do nothing
  ),
  guards as (
    insert into public.ai_automation_executions
      (id, user_id, rule_id, conversation_id, state_id, follow_up_number, execution_id, status, message, attempted_at)
    select d.new_attempt_id, d.user_id, d.rule_id, d.conversation_id, d.id, d.claimed_follow_up_number, p_execution_id,
           'sending', d.generated_message, p_now
      from decided d
     where d.outcome = 'send'
    on conflict (rule_id, conversation_id, follow_up_number) where status <> 'released' do nothing
    returning state_id
  ),
  moved as (
    update public.ai_automation_contact_states s
       set current_stage = case when d.outcome = 'send' then 'sending' else 'skipped' end,
           stage_entered_at = p_now,
           stage_detail = case when d.outcome = 'send'
             then jsonb_build_object('attempt_id', d.new_attempt_id, 'follow_up_number', d.claimed_follow_up_number)
             else jsonb_build_object('reason', d.skip_reason, 'stop_reason', d.stop_reason) end,
           execution_id = p_execution_id,
           attempt_id = case when d.outcome = 'send' then d.new_attempt_id else s.attempt_id end,
           skip_reason = case when d.outcome = 'send' then s.skip_reason else d.skip_reason end,
           error_message = case when d.outcome = 'send' then s.error_message
                                when d.stop_reason is not null then 'stopped: ' || d.stop_reason end,
           locked_by = case when d.outcome = 'send' then s.locked_by end,
           locked_until = case when d.outcome = 'send' then p_now + make_interval(secs => p_lease_seconds) end,
           updated_at = now()
      from decided d
     where s.id = d.id
       and (d.outcome = 'skipped' or (d.outcome = 'send' and d.id in (select g.state_id from guards g)))
  ),
  -- A guard another execution took between our check and our insert: a duplicate after all.
  settled as (
    select d.*,
           case when d.outcome = 'send' and d.id not in (select g.state_id from guards g) then 'duplicate'
                else d.outcome end as final_outcome
      from decided d
  )
  select t.id,
         t.final_outcome,
         case t.final_outcome
           when 'duplicate' then coalesce(t.guard_status, 'sending')
           when 'lease_lost' then t.current_stage
           when 'skipped' then t.skip_reason
         end,
         case t.final_outcome when 'send' then t.new_attempt_id when 'duplicate' then t.guard_id end,
         t.claimed_follow_up_number,
         t.page_id,
         t.sender_id,
         case when t.final_outcome = 'send' then t.generated_message end,
         t.last_customer_message_at + interval '24 hours'
    from settled t
  union all
  select u.id, 'lease_lost', 'not_found', null, null, null, null, null, null
    from (select distinct u.id from unnest(p_state_ids) u (id)) u
   where u.id is not null and u.id not in (select l.id from locked l)
  order by 1
$$;
comment on function public.automation_begin_send(text, uuid[], integer, timestamptz) is
  'Batch: take the duplicate guard, re-check stop / active / window, and move ready_to_send → sending; per item send | duplicate | skipped | lease_lost.';

-- =============================================================================================
-- automation_record_send(p_execution_id, p_items, p_now)
--   → (state_id, outcome: sent | completed | skipped | failed | uncertain | lease_lost)
-- =============================================================================================
-- p_items: [{state_id, outcome: 'sent', facebook_message_id}]
--        | [{state_id, outcome: 'skipped', reason, error_code, error_message}]
--          reason outside_window (Graph code 10) or unavailable (551: also stops the contact for
--          every rule); the guard is released (Facebook delivered nothing)
--        | [{state_id, outcome: 'failed', error_code, error_message, retry_after_seconds}]
--          with retry_after_seconds (throttled, temporary): the guard is released and the
--          contact is claimable again after that long; without it (permanent, e.g. 100/2018001):
--          the guard is kept (status failed) and the contact waits for a person.
--        | [{state_id, outcome: 'uncertain', error_message}]
--          the request may have reached Facebook but no answer came (a timeout, a 5xx without a
--          Graph error): exactly what the reaper records for a sender that died mid-send. The
--          guard is kept with status uncertain (so the ledger says "maybe delivered", not
--          "failed"), the contact becomes failed send_uncertain with retry_at null: never resent
--          automatically. A later sent report for it is still accepted (see below).
-- sent: follow_up_count + 1, last_follow_up_at, message id; the message is added to the
-- conversation (messenger_messages, outbound); completed when the rule's maximum is reached.
-- A sent report for a contact the reaper already marked send_uncertain is accepted (failed → sent):
-- the truth beats the guess.
-- A malformed item fails the whole call before anything is written.
create or replace function public.automation_record_send(
  p_execution_id text,
  p_items jsonb,
  p_now timestamptz default leadflow_private.now()
)
returns table (state_id uuid, outcome text)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_bad record;
  v_ids uuid[];
  v_outcomes text[];
  v_completed uuid[];
begin
  select x.state_id, x.outcome into v_bad
    from jsonb_to_recordset(p_items) as x (state_id uuid, outcome text)
   where x.state_id is null or x.outcome is null or x.outcome not in ('sent', 'skipped', 'failed', 'uncertain')
   limit 1;
  if found then
    raise exception 'each item needs a state_id and an outcome of sent, skipped, failed or uncertain (got %, %)', v_bad.state_id, v_bad.outcome
      using errcode = '22023';
  end if;

  with items as materialized (
    select distinct on (x.state_id) x.*
      from jsonb_to_recordset(p_items) as x (
        state_id uuid, outcome text, facebook_message_id text, reason text,
        error_code text, error_message text, retry_after_seconds integer
      )
     order by x.state_id
  ),
  -- Locked by key, in id order; whether each may take this report is checked on the locked row.
  locked as materialized (
    select i.*, s.user_id, s.rule_id, s.conversation_id, s.current_stage, s.locked_by, s.attempt_id,
           s.error_code as state_error_code, s.follow_up_count, s.generated_message, r.max_follow_ups
      from items i
      join public.ai_automation_contact_states s on s.id = i.state_id
      join public.ai_automation_rules r on r.id = s.rule_id
     order by s.id
       for update of s
  ),
  reported as materialized (
    select l.* from locked l
     where l.attempt_id is not null
       and ((l.current_stage = 'sending' and l.locked_by = p_execution_id)
            or (l.current_stage = 'failed' and l.state_error_code = 'send_uncertain' and l.outcome = 'sent'))
  ),
  ledger as (
    update public.ai_automation_executions e
       set status = case v.outcome
                      when 'sent' then 'sent'
                      when 'skipped' then 'released'
                      when 'uncertain' then 'uncertain'
                      else case when v.retry_after_seconds is null then 'failed' else 'released' end
                    end,
           facebook_message_id = case when v.outcome = 'sent' then v.facebook_message_id else e.facebook_message_id end,
           finished_at = p_now,
           error_code = case v.outcome
                          when 'sent' then null
                          when 'skipped' then coalesce(v.error_code, v.reason)
                          when 'uncertain' then 'send_uncertain'
                          else v.error_code
                        end,
           error_message = case when v.outcome = 'sent' then null else v.error_message end
      from reported v
     where e.id = v.attempt_id
  ),
  unavailable as (
    insert into public.ai_automation_stops (user_id, conversation_id, rule_id, reason, note, execution_id)
    select distinct on (v.conversation_id) v.user_id, v.conversation_id, null, 'unavailable', v.error_message, p_execution_id
      from reported v
     where v.outcome = 'skipped' and v.reason = 'unavailable'
    on conflict (conversation_id, rule_id) do nothing
  ),
  outbound as (
    insert into public.messenger_messages (user_id, conversation_id, direction, text, facebook_message_id, sent_at)
    select v.user_id, v.conversation_id, 'outbound', v.generated_message, v.facebook_message_id, p_now
      from reported v
     where v.outcome = 'sent'
    on conflict (facebook_message_id) do nothing
  ),
  moved as (
    update public.ai_automation_contact_states s
       set current_stage = case v.outcome when 'sent' then 'sent' when 'skipped' then 'skipped' else 'failed' end,
           stage_entered_at = p_now,
           stage_detail = case v.outcome
             when 'sent' then jsonb_build_object('facebook_message_id', v.facebook_message_id)
             when 'skipped' then jsonb_build_object('reason', coalesce(v.reason, 'skipped'), 'error_code', v.error_code)
             when 'uncertain' then jsonb_build_object('reason', 'send_uncertain', 'detail', v.error_message)
             else jsonb_build_object('error_code', v.error_code, 'retry_after_seconds', v.retry_after_seconds)
           end,
           execution_id = p_execution_id,
           follow_up_count = s.follow_up_count + case when v.outcome = 'sent' then 1 else 0 end,
           last_follow_up_at = case when v.outcome = 'sent' then p_now else s.last_follow_up_at end,
           facebook_message_id = case when v.outcome = 'sent' then v.facebook_message_id else s.facebook_message_id end,
           skip_reason = case when v.outcome = 'skipped' then coalesce(v.reason, 'skipped') else s.skip_reason end,
           error_code = case v.outcome
                          when 'sent' then null
                          when 'skipped' then v.error_code
                          when 'uncertain' then 'send_uncertain'
                          else coalesce(v.error_code, 'send_failed')
                        end,
           error_message = case v.outcome
                             when 'sent' then null
                             when 'uncertain' then coalesce(v.error_message,
                               'No answer from Facebook: the message may or may not have been delivered, so it is not resent automatically.')
                             else v.error_message
                           end,
           retry_at = case v.outcome
                        when 'skipped' then s.retry_at
                        when 'failed' then p_now + make_interval(secs => v.retry_after_seconds)
                      end,
           locked_by = null,
           locked_until = null,
           updated_at = now()
      from reported v
     where s.id = v.state_id
    returning s.id,
              case when v.outcome = 'sent' and v.follow_up_count + 1 >= v.max_follow_ups then 'completed' else v.outcome end
                as outcome
  )
  select coalesce(array_agg(m.id), '{}'), coalesce(array_agg(m.outcome), '{}'),
         coalesce(array_agg(m.id) filter (where m.outcome = 'completed'), '{}')
    into v_ids, v_outcomes, v_completed
    from moved m;

  -- The rule's maximum reached: sent → completed (a second transition, so a second statement).
  update public.ai_automation_contact_states s
     set current_stage = 'completed',
         stage_detail = jsonb_build_object('reason', 'max_follow_ups', 'follow_up_count', s.follow_up_count)
   where s.id = any (v_completed);

  return query
    select u.id, u.outcome from unnest(v_ids, v_outcomes) u (id, outcome)
    union all
    select x.state_id, 'lease_lost'::text
      from (select distinct y.state_id from jsonb_to_recordset(p_items) as y (state_id uuid)) x
     where x.state_id not in (select unnest(v_ids))
    order by 1;
end;
$$;
comment on function public.automation_record_send(text, jsonb, timestamptz) is
  'Batch: sending → sent (→ completed) / skipped (outside_window, unavailable → stop) / failed (retryable or permanent) / uncertain (no answer: guard kept, never resent).';

-- =============================================================================================
-- Privileges
-- =============================================================================================
revoke all on function
  public.automation_reap(timestamptz, uuid),
  public.automation_claim(uuid, integer, text, integer, timestamptz),
  public.automation_explain(uuid, uuid[], integer, timestamptz),
  public.automation_snapshot(uuid, integer, timestamptz),
  public.automation_timeline(uuid, uuid),
  public.automation_mark_generating(text, uuid[], integer, timestamptz),
  public.automation_record_generation(text, jsonb, timestamptz),
  public.automation_begin_send(text, uuid[], integer, timestamptz),
  public.automation_record_send(text, jsonb, timestamptz)
from public, anon, authenticated;

grant execute on function
  public.automation_reap(timestamptz, uuid),
  public.automation_claim(uuid, integer, text, integer, timestamptz),
  public.automation_explain(uuid, uuid[], integer, timestamptz),
  public.automation_snapshot(uuid, integer, timestamptz),
  public.automation_timeline(uuid, uuid),
  public.automation_mark_generating(text, uuid[], integer, timestamptz),
  public.automation_record_generation(text, jsonb, timestamptz),
  public.automation_begin_send(text, uuid[], integer, timestamptz),
  public.automation_record_send(text, jsonb, timestamptz)
to service_role;

grant execute on function
  public.automation_explain(uuid, uuid[], integer, timestamptz),
  public.automation_snapshot(uuid, integer, timestamptz),
  public.automation_timeline(uuid, uuid)
to authenticated;
