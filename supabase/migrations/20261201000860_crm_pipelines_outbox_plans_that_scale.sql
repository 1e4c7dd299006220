-- CRM pipelines: the outbox's claim and report follow the table's size as well (see 20261201000840).
-- Re-created: pipeline_claim_outbox (the size check first; otherwise as in 20261201000350),
-- pipeline_complete_outbox (the size check first, and each reported item read and locked by key;
-- otherwise as in 20261201000310).
--
-- Why: checked like pipeline_assign and messenger_record (one connection that used them on a small
-- outbox, another that grew it to ~9,000 pending items of 20,000 contacts, both connections then
-- claiming and reporting 50), pipeline_complete_outbox on the old connection read 18,198 rows and
-- index entries to report 50 items (the outbox joined to the reports the wrong way round, as planned
-- on a small table); on a new connection 200. The claim read 18,198 against 9,151.
--
-- Now both start with leadflow_private.plans_follow_sizes on pipeline_outbox, and the report reads
-- each item by its key in a LATERAL lookup (never reordered), locking them in id order as before.

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

create or replace function public.pipeline_complete_outbox(
  p_execution_id text,
  p_items jsonb,
  p_now timestamptz default leadflow_private.now()
)
returns table (outbox_id uuid, outcome text)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_bad record;
begin
  perform leadflow_private.plans_follow_sizes('leadflow.outbox_plan_sizes', 'public.pipeline_outbox');
  if jsonb_typeof(p_items) is distinct from 'array' then
    raise exception 'p_items: must be a JSON array of delivery reports (got %)', coalesce(jsonb_typeof(p_items), 'null') using errcode = '22023';
  end if;
  select e.n - 1 as idx, p.problem into v_bad
    from jsonb_array_elements(p_items) with ordinality e (item, n)
   cross join lateral (
     select case
       when jsonb_typeof(e.item) is distinct from 'object' then ': must be an object'
       when not leadflow_private.pipeline_is_uuid(e.item -> 'outbox_id') then '.outbox_id: required, an outbox item id (uuid)'
       when (e.item ->> 'outcome') is null or (e.item ->> 'outcome') not in ('delivered', 'failed') then
         '.outcome: required, delivered or failed (got ' || coalesce((e.item -> 'outcome')::text, 'nothing') || ')'
       when not leadflow_private.pipeline_is_null(e.item -> 'retry_after_seconds')
            and (jsonb_typeof(e.item -> 'retry_after_seconds') <> 'number'
                 or (e.item ->> 'retry_after_seconds')::numeric not between 0 and 604800) then
         '.retry_after_seconds: must be a number of seconds from 0 to 604800'
       when not leadflow_private.pipeline_is_null(e.item -> 'error')
            and (jsonb_typeof(e.item -> 'error') <> 'string' or length(e.item ->> 'error') > 2000
                 or not leadflow_private.is_valid_text(e.item ->> 'error', 'multiline')) then
         '.error: must be a text of at most 2000 characters without control characters'
     end as problem
   ) p
   where p.problem is not null
   order by e.n
   limit 1;
  if found then
    raise exception 'p_items[%]%', v_bad.idx, v_bad.problem using errcode = '22023';
  end if;

  return query
    with items as materialized (
      select distinct on ((e.item ->> 'outbox_id')::uuid) (e.item ->> 'outbox_id')::uuid as id, e.item ->> 'outcome' as outcome,
             e.item ->> 'error' as error, (e.item ->> 'retry_after_seconds')::numeric as retry_after_seconds
        from jsonb_array_elements(p_items) with ordinality e (item, n)
       order by (e.item ->> 'outbox_id')::uuid, e.n desc
    ),
    -- Each item by its key, in id order (items is sorted by id), locked as it is read.
    held as materialized (
      select i.*, o.status, o.claimed_by
        from items i
       cross join lateral (
         select o.status, o.claimed_by from public.pipeline_outbox o where o.id = i.id limit 1 for update of o
       ) o
    ),
    done as (
      update public.pipeline_outbox o
         set status = case when h.outcome = 'delivered' then 'delivered'
                           when h.retry_after_seconds is not null then 'pending' else 'failed' end,
             available_at = case when h.outcome = 'failed' and h.retry_after_seconds is not null
                                 then p_now + make_interval(secs => h.retry_after_seconds::double precision) else o.available_at end,
             completed_at = case when h.outcome = 'failed' and h.retry_after_seconds is not null then null else p_now end,
             claimed_by = case when h.outcome = 'failed' and h.retry_after_seconds is not null then null else o.claimed_by end,
             last_error = case when h.outcome = 'failed' then coalesce(h.error, 'failed') else o.last_error end
        from held h
       where o.id = h.id and h.status = 'claimed' and h.claimed_by = p_execution_id
      returning o.id, case when o.status = 'pending' then 'retrying' else o.status end as outcome
    )
    select d.id, d.outcome from done d
    union all
    select i.id, case when exists (select from held h where h.id = i.id) then 'lease_lost' else 'not_found' end
      from items i
     where i.id not in (select d.id from done d)
    order by 1;
end;
$$;
comment on function public.pipeline_complete_outbox(text, jsonb, timestamptz) is
  'Batch: what became of claimed webhook / notify items: delivered, failed, or failed to retry later; only their holder may say.';
