-- Follow-up claims: automation_claim answers at once when no rule it reaches may take a contact now.
-- Re-created: public.automation_claim (otherwise as in 20261201001420_follow_up_claim_rule_locked_last.sql).
--
-- Why: since 20261201001420, automation_claim is automation_claim_explained's contacts as rows. The
-- explained claim, finding nothing to take (every rule switched off, outside its active hours, or
-- with its day's limit used), judges every open-window contact of its rules to say why, and
-- automation_claim threw that summary away: on the benchmark's data (100,000 conversations, 1,158
-- due), a claim with the day's limit used took 82 ms where it took 1.3 ms before 20261201001420. A
-- caller that runs it every minute (pg_cron, a script) paid that all day once the limit was used.
--
-- Now automation_claim first asks whether any rule it reaches could take a contact: enabled, inside
-- its active hours, its day's use (automation_rule_usage) below its daily limit: exactly the rules
-- the explained claim gives a share above 0 (its v_take). When none can, it does what the
-- explained claim does first and nothing else (automation_claim_start: the arguments checked, the
-- size check, expired leases reaped) and answers no rows, as the explained claim would have. When
-- one can, it calls the explained claim as before, which counts again under the rule's lock: the
-- check is only a shortcut past a walk whose answer is known, never a decision to claim.

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
as $$
#variable_conflict use_column
declare
  v_answer json;
  v_contacts json;
  v_rules jsonb;
begin
  -- No rule it reaches may take a contact now: the explained claim would walk only to explain.
  if not exists (
    select from public.ai_automation_rules r
     where r.enabled and (p_rule_id is null or r.id = p_rule_id)
       and leadflow_private.automation_in_active_hours(r.active_hours_start, r.active_hours_end, r.active_days, r.time_zone, p_now)
       and leadflow_private.automation_rule_usage(r.id, r.time_zone, p_now) < r.daily_limit
  ) then
    perform leadflow_private.automation_claim_start(p_rule_id, p_limit, p_execution_id, p_lease_seconds, p_now);
    return;
  end if;

  v_answer := public.automation_claim_explained(p_rule_id, p_limit, p_execution_id, p_lease_seconds, p_now, null);
  -- Each read once: every `->` on a json value parses the whole document again.
  v_contacts := v_answer -> 'contacts';
  v_rules := (v_answer -> 'claimedRules')::jsonb;
  -- In the claim's order; each row with its rule's settings (claimedRules).
  return query
    select t.state_id, t.rule_id, t.user_id, t.conversation_id, t.page_id, t.recipient_id, t.sender_name,
           t.follow_up_number, t.tags, t.messages::jsonb, t.last_customer_message_at, t.window_closes_at,
           t.lease_expires_at, t.execution_id, v_rules -> t.rule_id::text
      from rows from (json_to_recordset(v_contacts) as (
             state_id uuid, rule_id uuid, user_id uuid, conversation_id uuid, page_id text, recipient_id text,
             sender_name text, follow_up_number integer, tags text[], messages json, last_customer_message_at timestamptz,
             window_closes_at timestamptz, lease_expires_at timestamptz, execution_id text))
           with ordinality as t (state_id, rule_id, user_id, conversation_id, page_id, recipient_id, sender_name,
                                 follow_up_number, tags, messages, last_customer_message_at, window_closes_at,
                                 lease_expires_at, execution_id, n)
     order by t.n;
end;
$$;

comment on function public.automation_claim(uuid, integer, text, integer, timestamptz) is
  'Atomically claims up to p_limit due contacts (one rule or every enabled rule) for an execution, within daily limits; returns what the AI and send steps need. The contacts of automation_claim_explained, one row each with its rule''s settings; no rows at once when no rule may take a contact now.';
