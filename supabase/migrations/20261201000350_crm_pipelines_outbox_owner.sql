-- CRM pipelines: the outbox claim can keep to one owner.
-- Function: pipeline_claim_outbox gains p_user_id (last, default null: every owner's, as before).
--
-- Why: AutoAssignStage's Claim Automations hands out what waits in the outbox whatever change fired
-- it (what a crashed execution left once its lease ran out, a retry whose time came, actions of
-- changes made without handing them out). One n8n often serves several businesses, each with its
-- own workflow and delivery target: with the owner, each sweeps its own; without it, one sweep
-- serves everyone.

drop function if exists public.pipeline_claim_outbox(text, integer, integer, timestamptz, uuid[]);

create or replace function public.pipeline_claim_outbox(
  p_execution_id text,
  p_limit integer default 50,
  p_lease_seconds integer default 300,
  p_now timestamptz default leadflow_private.now(),
  p_conversation_ids uuid[] default null,
  p_user_id uuid default null
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
begin
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
  return query
    with taken as (
      select o.id from public.pipeline_outbox o
       where o.status in ('pending', 'claimed') and o.available_at <= p_now
         and (p_conversation_ids is null or o.conversation_id = any (p_conversation_ids))
         and (p_user_id is null or o.user_id = p_user_id)
       order by o.available_at, o.id
       limit p_limit
         for update skip locked
    ),
    claimed as (
      update public.pipeline_outbox o
         set status = 'claimed',
             claimed_by = p_execution_id,
             claimed_at = p_now,
             available_at = p_now + make_interval(secs => p_lease_seconds),
             attempts = o.attempts + 1
        from taken t
       where o.id = t.id
      returning o.id, o.kind, o.payload, o.attempts, o.available_at, o.run_id, o.automation_id, o.conversation_id, o.created_at
    )
    select c.id, c.kind, c.payload, c.attempts, c.available_at, c.run_id, c.automation_id, c.conversation_id, c.created_at
      from claimed c
     order by c.created_at, c.id;
end;
$$;
comment on function public.pipeline_claim_outbox(text, integer, integer, timestamptz, uuid[], uuid) is
  'Hands out due webhook / notify actions with a lease (FOR UPDATE SKIP LOCKED); only those of p_conversation_ids, and of p_user_id, when given.';
revoke all on function public.pipeline_claim_outbox(text, integer, integer, timestamptz, uuid[], uuid) from public, anon, authenticated;
grant execute on function public.pipeline_claim_outbox(text, integer, integer, timestamptz, uuid[], uuid) to service_role;
