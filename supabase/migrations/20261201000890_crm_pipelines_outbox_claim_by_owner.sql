-- CRM pipelines: an owner's claim of the outbox finds that owner's items by its index, whatever the
-- statistics say. Re-created: pipeline_claim_outbox (otherwise as in 20261201000870).
--
-- Why: 20261201000870 walked pipeline_outbox_owner_idx in (user_id, available_at, id) order for a
-- claim by owner. pipeline_outbox_available_idx gives the same order once user_id is fixed, and on
-- a table without statistics yet (a new project, before autovacuum's first analyse) the planner
-- took either, by its statistics of available_at: the clean-clone CI's database walked every due
-- item (306 index entries for an owner's 3 items), the development database the owner's (6).
--
-- Now the owner's waiting items are found first by a query with nothing but the owner and the
-- status in it (only pipeline_outbox_owner_idx answers it by key; the available_at index would
-- have to be read whole), then the due ones taken by key in (available_at, id) order, as the claim
-- by contacts does since 870. A claim reads its owner's waiting items, not every owner's.

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

  if p_conversation_ids is not null then
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
comment on function public.pipeline_claim_outbox(text, integer, integer, timestamptz, uuid[], uuid) is
  'Hands out due webhook / notify actions with a lease (FOR UPDATE SKIP LOCKED); only those of p_conversation_ids, and of p_user_id, when given.';
revoke all on function public.pipeline_claim_outbox(text, integer, integer, timestamptz, uuid[], uuid) from public, anon, authenticated;
grant execute on function public.pipeline_claim_outbox(text, integer, integer, timestamptz, uuid[], uuid) to service_role;
