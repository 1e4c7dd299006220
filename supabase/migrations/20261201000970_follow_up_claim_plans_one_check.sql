-- Follow-up claims: their size check is the project's one, leadflow_private.plans_follow_sizes.
-- Re-created: leadflow_private.follow_up_plan_for_sizes (now a call of plans_follow_sizes, same
-- tables, same setting) and leadflow_private.pipeline_plan_for_sizes (as in 20261201000850).
-- Dropped: leadflow_private.plan_for_sizes.
--
-- Why: 20261201000950 wrote the size check again as plan_for_sizes(key, tables), the same
-- statements as plans_follow_sizes(setting, variadic tables) of 20261201000850, which messenger_record,
-- the pipeline outbox and pipeline_plan_for_sizes already call. One check, one place: the claims
-- now go through plans_follow_sizes as well, and plan_for_sizes is gone. Nothing else changes: the
-- same tables, the same setting (leadflow.follow_up_plan_sizes), the same plans dropped.

create or replace function leadflow_private.follow_up_plan_for_sizes()
returns void
language sql
volatile
set search_path = ''
as $$
  select leadflow_private.plans_follow_sizes('leadflow.follow_up_plan_sizes',
    'public.conversation_tags', 'public.ai_automation_contact_states', 'public.ai_automation_stops',
    'public.ai_automation_executions', 'public.messenger_conversations', 'public.ai_automation_rule_send_counts',
    'public.messenger_messages')
$$;

create or replace function leadflow_private.pipeline_plan_for_sizes()
returns void
language sql
volatile
set search_path = ''
as $$
  select leadflow_private.plans_follow_sizes('leadflow.pipeline_plan_sizes',
    'public.pipeline_contacts', 'public.conversation_tags', 'public.ai_automation_stops', 'public.messenger_conversations')
$$;

drop function leadflow_private.plan_for_sizes(text, regclass[]);
