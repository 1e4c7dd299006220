-- CRM pipelines: an outbox report sent again by its holder (its answer lost) answers as the first time.
-- Re-created: public.pipeline_complete_outbox (otherwise as in 20261201000860; same signature and
-- result, so its grants stay).
--
-- Why: the Auto Assign Stage node's Complete Automations is retried by n8n (Retry On Fail, a
-- network cut) after a call that committed but whose answer was lost. The repeat found its items
-- no longer claimed and answered lease_lost for every one: delivered, then lease_lost, from the
-- same holder. The data was right (nothing applied twice), but lease_lost says the lease ran out
-- and another execution took the item, so it will be delivered again: nobody had taken it, and it
-- was delivered. A workflow alerting on lease_lost, or counting it as a duplicate to come, was
-- wrong.
--
-- Now an item not applied is looked at once more, on the row the report locked (its latest
-- version, also when the repeat waited for the first call's lock). Held last by p_execution_id:
--   the same report again (the item delivered and delivered reported; failed for good and failed
--   reported without retry_after_seconds, with the same error; back to pending for a retry and
--   failed reported with retry_after_seconds, with the same error): the first answer again,
--   delivered, failed or retrying, and nothing is written (the retry's time stays the first
--   report's, whatever delay the repeat gives);
--   another report of an item already delivered or failed for good (delivered after failed, failed
--   after delivered, a retry asked after either, another error): already_completed, and nothing is
--   written. The first report stands: a delivered item never becomes failed, nor a failed one
--   delivered, behind the caller's back, and the answer says its report was not applied (neither
--   lease_lost, which promises a delivery to come, nor the first report's outcome, which would
--   read as this one's);
--   another report of an item it gave back for a retry: lease_lost, as before (the item is no
--   longer this execution's and is handed out again when its time comes).
-- An item held by another execution since (its lease ran out and it was claimed again, whatever
-- became of it) is lease_lost, as before; an unknown one not_found.
--
-- To know who gave an item back for a retry, the report now leaves claimed_by as it was (the
-- holder) instead of clearing it: a pending item's claimed_by names the execution that held it
-- last, until the next claim sets its own. Nothing reads claimed_by of a pending item (the claim
-- only overwrites it; pipeline_outbox_claimed_has_holder concerns claimed items).

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
      select i.*, o.status, o.claimed_by, o.last_error
        from items i
       cross join lateral (
         select o.status, o.claimed_by, o.last_error from public.pipeline_outbox o where o.id = i.id limit 1 for update of o
       ) o
    ),
    done as (
      update public.pipeline_outbox o
         set status = case when h.outcome = 'delivered' then 'delivered'
                           when h.retry_after_seconds is not null then 'pending' else 'failed' end,
             available_at = case when h.outcome = 'failed' and h.retry_after_seconds is not null
                                 then p_now + make_interval(secs => h.retry_after_seconds::double precision) else o.available_at end,
             completed_at = case when h.outcome = 'failed' and h.retry_after_seconds is not null then null else p_now end,
             -- claimed_by stays, also for a retry: a repeat of this report is known by it (below).
             last_error = case when h.outcome = 'failed' then coalesce(h.error, 'failed') else o.last_error end
        from held h
       where o.id = h.id and h.status = 'claimed' and h.claimed_by = p_execution_id
      returning o.id, case when o.status = 'pending' then 'retrying' else o.status end as outcome
    )
    select d.id, d.outcome from done d
    union all
    -- Not applied: this execution's own report sent again (the item as that report left it, and
    -- still this execution's last: nobody claimed it since) gets the first answer; another report
    -- of an item it completed, already_completed; anything else lease_lost (or not_found). The
    -- rows are the locked ones read above; nothing is written for them.
    select i.id,
           case
             when h.id is null then 'not_found'
             when h.claimed_by is distinct from p_execution_id then 'lease_lost'
             when h.status = 'delivered' and h.outcome = 'delivered' then 'delivered'
             when h.status = 'failed' and h.outcome = 'failed' and h.retry_after_seconds is null
                  and h.last_error = coalesce(h.error, 'failed') then 'failed'
             when h.status = 'pending' and h.outcome = 'failed' and h.retry_after_seconds is not null
                  and h.last_error = coalesce(h.error, 'failed') then 'retrying'
             when h.status in ('delivered', 'failed') then 'already_completed'
             else 'lease_lost'
           end
      from items i
      left join held h on h.id = i.id
     where i.id not in (select d.id from done d)
    order by 1;
end;
$$;
comment on function public.pipeline_complete_outbox(text, jsonb, timestamptz) is
  'Batch: what became of claimed webhook / notify items: delivered, failed, or failed to retry later; only their holder may say. The same report again from the holder (its answer lost) gets the first answer, nothing written; another report of an item it completed is already_completed, the first one kept.';
