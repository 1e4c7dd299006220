-- CRM pipelines: a waiting webhook / notify action goes out as its automation says now, stops when
-- the automation is switched off or the owner cancels it, gives up after 10 attempts, and the
-- every-owner sweep takes each owner's items in turn. New: status `cancelled` of pipeline_outbox,
-- leadflow_private.pipeline_outbox_max_attempts(), public.pipeline_cancel_outbox. Re-created:
-- public.pipeline_claim_outbox (otherwise as in 20261201001210), public.pipeline_complete_outbox
-- (otherwise as in 20261201001470; same signatures and results, so their grants stay).
--
-- Why: the action was copied into the item's payload when the automation fired, and the claim never
-- read the automation again. After a receiver's 404 the owner fixed the URL (or rotated a leaked
-- token) and switched the automation off: every retry still went to the old URL, also after it was
-- switched off, with no end to the retries (a tenth attempt and on), and the owner, who may only
-- read the outbox, could not stop it. And the sweep of every owner took the due items oldest first
-- whoever's they were: one owner's backlog of 1,200 held back another's item queued a minute later
-- for three sweeps of 500 (30 minutes at the shipped 15), 10,000 for about five hours.
--
-- Now the claim reads each item's automation, by key, as it hands the item out:
--   switched off (is_active false): not handed out; the item is `cancelled`, its last_error
--     `automation_inactive: …`. Switching an automation off stops its waiting actions, as ManyChat
--     and GoHighLevel stop a workflow's pending steps when it is turned off; switching it on again
--     does not bring them back;
--   its action at the item's index is still of the item's kind: handed out with that action, the
--     current one (payload.action is replaced, so the item records what went out);
--   gone, or of another type (the actions were edited since): not handed out; `cancelled`,
--     `action_changed: …`. What the owner queued is not the automation's any more: guessing which
--     of the new actions it became could send a notification to a webhook's receiver;
--   handed out 10 times already (pipeline_outbox_max_attempts) and due again because its lease
--     ran out without a report: `failed` for good, last_error `gave up after 10 attempts: …` with
--     the last error (or that no report came).
-- A report of failed with retry_after_seconds at the 10th attempt fails the item for good instead
-- (answered `failed`, its error kept). pipeline_cancel_outbox(p_user_id, p_outbox_ids) cancels an
-- owner's waiting items (pending, or claimed whose lease ran out); one claimed under a live lease is
-- being delivered now and is answered `held` (its holder's report decides; a retry may be cancelled
-- then). A holder reporting an item cancelled under it is answered `cancelled`, nothing written.
--
-- The every-owner sweep (no p_outbox_ids, p_conversation_ids or p_user_id) ranks the due items per
-- owner (1st of every owner, then 2nd, … each owner's in (available_at, id) order): it walks the
-- owners with waiting items by pipeline_outbox_owner_idx (one probe each) and takes at most
-- p_limit due items of each by the same index, locked as they are read (FOR UPDATE SKIP LOCKED: a
-- sweep running at the same time skips them and takes the next ones, so the lock cannot wait for
-- the ranking), then ranks them into the limit; those read but not ranked in stay as they were,
-- their locks ending with the call. It reads, per owner, at most p_limit items, never the whole
-- backlog: at most p_limit × the owners with due items.

alter table public.pipeline_outbox
  drop constraint pipeline_outbox_status_check,
  add constraint pipeline_outbox_status_check check (status in ('pending', 'claimed', 'delivered', 'failed', 'cancelled')),
  drop constraint pipeline_outbox_done_has_time,
  add constraint pipeline_outbox_done_has_time check ((status in ('delivered', 'failed', 'cancelled')) = (completed_at is not null));

create or replace function leadflow_private.pipeline_outbox_max_attempts()
returns integer
language sql
immutable
set search_path = ''
as $$ select 10 $$;
comment on function leadflow_private.pipeline_outbox_max_attempts() is
  'How many times an outbox item is handed out at most: a retry asked at that attempt, or a lease that ran out then, fails it for good.';
revoke all on function leadflow_private.pipeline_outbox_max_attempts() from public, anon, authenticated;
grant execute on function leadflow_private.pipeline_outbox_max_attempts() to service_role;

create or replace function public.pipeline_claim_outbox(
  p_execution_id text,
  p_limit integer default 50,
  p_lease_seconds integer default 300,
  p_now timestamptz default leadflow_private.now(),
  p_conversation_ids uuid[] default null,
  p_user_id uuid default null,
  p_outbox_ids uuid[] default null
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
  c_max_attempts constant integer := leadflow_private.pipeline_outbox_max_attempts();
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

  if p_outbox_ids is not null then
    -- Exactly these items (what a call of pipeline_assign / pipeline_move queued), by key, the due
    -- ones in (available_at, id) order; of those contacts and that owner too, when given.
    v_ids := array(
      select o.id from public.pipeline_outbox o
       where o.id = any (p_outbox_ids)
         and o.status in ('pending', 'claimed') and o.available_at <= p_now
         and (p_conversation_ids is null or o.conversation_id = any (p_conversation_ids))
         and (p_user_id is null or o.user_id = p_user_id)
       order by o.available_at, o.id
       limit p_limit
         for update skip locked
    );
  elsif p_conversation_ids is not null then
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
    -- Every owner's, in turn: the owners with waiting items (one probe of pipeline_outbox_owner_idx
    -- each, in user_id order), at most p_limit due items of each (the same index, in order, locked
    -- as read, skipping those another claim holds: a sweep running at the same time takes the next
    -- ones), ranked 1st of each owner, 2nd of each, … (ties by available_at, id). Those read but not
    -- ranked into the limit stay as they were; their locks end with the call.
    v_ids := array(
      with recursive owners (user_id) as (
        (select o.user_id from public.pipeline_outbox o
          where o.status in ('pending', 'claimed')
          order by o.user_id
          limit 1)
        union all
        select n.user_id
          from owners w
         cross join lateral (
           select o.user_id from public.pipeline_outbox o
            where o.status in ('pending', 'claimed') and o.user_id > w.user_id
            order by o.user_id
            limit 1
         ) n
      ),
      due as (
        select d.id, d.available_at, row_number() over (partition by w.user_id order by d.available_at, d.id) as turn
          from owners w
         cross join lateral (
           select o.id, o.available_at from public.pipeline_outbox o
            where o.user_id = w.user_id and o.status in ('pending', 'claimed') and o.available_at <= p_now
            order by o.available_at, o.id
            limit p_limit
              for update skip locked
         ) d
      )
      select d.id from due d
       order by d.turn, d.available_at, d.id
       limit p_limit
    );
  end if;

  return query
    with judged as materialized (
      -- Each item's automation, by key: whether it is on, and its action at the item's index now.
      select o.id,
             case
               when a.id is null then 'cancelled'
               when not a.is_active then 'cancelled'
               when a.action is null or a.action ->> 'type' is distinct from o.kind then 'cancelled'
               when o.attempts >= c_max_attempts then 'failed'
               else 'claimed'
             end as status,
             case
               when a.id is null then 'automation_deleted: the automation was deleted before this action was delivered'
               when not a.is_active then 'automation_inactive: the automation was switched off before this action was delivered'
               when a.action is null or a.action ->> 'type' is distinct from o.kind then
                 'action_changed: the automation''s action ' || (o.action_index + 1) || ' is '
                 || coalesce('now ' || (a.action ->> 'type'), 'gone') || ', no longer this ' || o.kind
               when o.attempts >= c_max_attempts then
                 left('gave up after ' || o.attempts || ' attempts: ' || coalesce(o.last_error, 'the last lease ran out without a report'), 2000)
             end as reason,
             a.action
        from public.pipeline_outbox o
        left join lateral (
          select a.id, a.is_active, a.actions -> o.action_index as action
            from public.pipeline_automations a where a.id = o.automation_id limit 1
        ) a on true
       where o.id = any (v_ids)
    ),
    claimed as (
      update public.pipeline_outbox o
         set status = j.status,
             claimed_by = case when j.status = 'claimed' then p_execution_id else o.claimed_by end,
             claimed_at = case when j.status = 'claimed' then p_now else o.claimed_at end,
             available_at = case when j.status = 'claimed' then p_now + make_interval(secs => p_lease_seconds) else o.available_at end,
             attempts = case when j.status = 'claimed' then o.attempts + 1 else o.attempts end,
             completed_at = case when j.status = 'claimed' then null else p_now end,
             last_error = coalesce(j.reason, o.last_error),
             -- The action as the automation says now (what is handed out, recorded with the item).
             payload = case when j.status = 'claimed' then jsonb_set(o.payload, '{action}', j.action) else o.payload end
        from judged j
       where o.id = j.id
      returning o.id, o.status, o.kind, o.payload, o.attempts, o.available_at, o.run_id, o.automation_id, o.conversation_id, o.created_at
    )
    select c.id, c.kind, c.payload, c.attempts, c.available_at, c.run_id, c.automation_id, c.conversation_id, c.created_at
      from claimed c
     where c.status = 'claimed'
     order by c.created_at, c.id;
end;
$$;
comment on function public.pipeline_claim_outbox(text, integer, integer, timestamptz, uuid[], uuid, uuid[]) is
  'Hands out due webhook / notify actions with a lease (FOR UPDATE SKIP LOCKED), each with its automation''s current action; an item of a switched-off automation, or whose action changed type or is gone, is cancelled, one handed out 10 times failed; only p_outbox_ids, p_conversation_ids, p_user_id when given, else every owner''s in turn.';

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
  c_max_attempts constant integer := leadflow_private.pipeline_outbox_max_attempts();
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
    -- Each item by its key, in id order (items is sorted by id), locked as it is read. A retry asked
    -- at the last attempt is a failure for good (retry stays null).
    held as materialized (
      select i.id, i.outcome, i.error,
             case when o.attempts >= c_max_attempts then null else i.retry_after_seconds end as retry_after_seconds,
             o.status, o.claimed_by, o.last_error
        from items i
       cross join lateral (
         select o.status, o.claimed_by, o.last_error, o.attempts from public.pipeline_outbox o where o.id = i.id limit 1 for update of o
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
    -- still this execution's last: nobody claimed it since) gets the first answer; an item
    -- cancelled under its holder, cancelled; another report of an item it completed,
    -- already_completed; anything else lease_lost (or not_found). The rows are the locked ones read
    -- above; nothing is written for them.
    select i.id,
           case
             when h.id is null then 'not_found'
             when h.claimed_by is distinct from p_execution_id then 'lease_lost'
             when h.status = 'cancelled' then 'cancelled'
             when h.status = 'delivered' and h.outcome = 'delivered' then 'delivered'
             when h.status = 'failed' and h.outcome = 'failed' and (h.retry_after_seconds is null)
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
  'Batch: what became of claimed webhook / notify items: delivered, failed, or failed to retry later (failed for good at the 10th attempt); only their holder may say. The same report again from the holder gets the first answer, nothing written; another report of an item it completed is already_completed; an item cancelled under its holder, cancelled.';

create function public.pipeline_cancel_outbox(
  p_user_id uuid,
  p_outbox_ids uuid[],
  p_now timestamptz default leadflow_private.now()
)
returns table (outbox_id uuid, outcome text)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
begin
  if p_user_id is null then
    raise exception 'p_user_id is required: only the owner''s own waiting actions are cancelled'
      using errcode = '22023', hint = 'Pass the owner''s user id (auth.users).';
  end if;
  if p_outbox_ids is null or cardinality(p_outbox_ids) not between 1 and 1000 then
    raise exception 'p_outbox_ids: give from 1 to 1000 outbox item ids (got %)', coalesce(cardinality(p_outbox_ids), 0)
      using errcode = '22023', hint = 'Pass the outbox_id of each waiting action to cancel (pipeline_outbox.id).';
  end if;

  return query
    with items as materialized (
      select distinct i.id from unnest(p_outbox_ids) i (id) where i.id is not null order by i.id
    ),
    -- Each of the owner's items by its key, in id order, locked as it is read (a claim running now
    -- either took it first, and it is held, or waits and then finds it cancelled).
    held as materialized (
      select i.id, o.status, o.available_at
        from items i
       cross join lateral (
         select o.status, o.available_at from public.pipeline_outbox o
          where o.id = i.id and o.user_id = p_user_id limit 1 for update of o
       ) o
    ),
    done as (
      update public.pipeline_outbox o
         set status = 'cancelled', completed_at = p_now,
             last_error = 'cancelled: by the owner before it was delivered'
        from held h
       where o.id = h.id
         and (h.status = 'pending' or (h.status = 'claimed' and h.available_at <= p_now))
      returning o.id
    )
    select d.id, 'cancelled'::text from done d
    union all
    select i.id,
           case when h.id is null then 'not_found'
                when h.status = 'claimed' then 'held'
                else 'already_completed' end
      from items i
      left join held h on h.id = i.id
     where i.id not in (select d.id from done d)
    order by 1;
end;
$$;
comment on function public.pipeline_cancel_outbox(uuid, uuid[], timestamptz) is
  'Batch: an owner cancels waiting webhook / notify actions (pending, or claimed whose lease ran out): never handed out again. held: being delivered now (a live lease); already_completed; not_found (no such item of this owner).';
revoke all on function public.pipeline_cancel_outbox(uuid, uuid[], timestamptz) from public, anon, authenticated;
grant execute on function public.pipeline_cancel_outbox(uuid, uuid[], timestamptz) to service_role;
