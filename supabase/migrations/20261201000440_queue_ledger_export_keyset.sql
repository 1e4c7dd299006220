-- queue_export's pages seek by their key in every plan (issue 12, "Export of 100,000 rows ≤ 3 s").
-- Function replaced: public.queue_export (same arguments, same answer, same order).
--
-- Measured with EXPLAIN (ANALYZE, BUFFERS) on one owner's day of 100,000 messages: the keyset was
-- written `(p_after is null or q.id > p_after)`. PL/pgSQL plans a function's query for its first
-- calls with the arguments' values, where that condition folds to `q.id > '…'` and the
-- (user_id, day, id) index seeks to it (1,010 buffers, 4 ms for a page of 1,000); from the sixth
-- call on a connection it may keep a generic plan, where an OR with a parameter cannot be an index
-- condition: the scan started at the day's first message and filtered out every row of the pages
-- before (page 95: 93,879 rows removed, 95,738 buffers, 1.0 s). The export grew quadratic with the
-- file, an OFFSET in disguise.
--
-- A generic plan also guesses the page's size (a third of the day, not p_limit) and joined the
-- leads by hashing the whole table (a sequential scan of 100,000 leads for each page of 1,000).
-- The function now plans each call's query for its arguments (plan_cache_mode =
-- force_custom_plan, about a millisecond per page): a page of 1,000 is 1,000 lookups of leads by id.
--
-- And the key is a plain range the index seeks to whatever the plan: `q.id >= coalesce(p_after,
-- the nil uuid)` (the least uuid: every id when there is no key), and the key's own row is left out
-- by `q.id <> p_after`. One day (the usual export, p_from = p_to) is one index range scan in the
-- index's order, `order by id limit p_limit` with no sort; a range of days seeks the same way in
-- each day and merges the days' first p_limit rows.
create or replace function public.queue_export(
  p_user_id uuid,
  p_from date,
  p_to date,
  p_statuses text[] default null,
  p_after uuid default null,
  p_limit integer default 1000
)
returns table (item_id uuid, day date, status text, scheduled_for timestamptz, attempts integer, message_id text, last_error text,
               lead_id uuid, lead_name text, phone text, lead_status text, lead_score integer, source text,
               created_at timestamptz, updated_at timestamptz)
language plpgsql
stable
set search_path = ''
set plan_cache_mode = force_custom_plan
as $$
#variable_conflict use_column
declare
  v_bad record;
  v_from uuid := coalesce(p_after, '00000000-0000-0000-0000-000000000000'::uuid);
begin
  if p_user_id is null then
    raise exception 'p_user_id: required, the owner whose queue to export' using errcode = '22023';
  end if;
  if p_from is null or p_to is null or p_from > p_to or p_to - p_from > 365 then
    raise exception 'p_from, p_to: required, p_from on or before p_to, at most 366 days (got % to %)', p_from, p_to
      using errcode = '22023', hint = 'Days as YYYY-MM-DD, e.g. p_from = p_to = tomorrow for one day.';
  end if;
  select s.n, s.status into v_bad from unnest(p_statuses) with ordinality s (status, n)
   where s.status is null or not s.status = any (leadflow_private.queue_item_statuses()) order by s.n limit 1;
  if found then
    raise exception 'p_statuses[%]: % is not a queue status; they are queued, claimed, sent, failed, cancelled, dead', v_bad.n - 1,
      coalesce(v_bad.status, 'null') using errcode = '22023';
  end if;
  if p_limit is null or p_limit not between 1 and 1000 then
    raise exception 'p_limit: must be between 1 and 1000 (got %)', p_limit
      using errcode = '22023', hint = 'The Data API answers at most 1000 rows: page with p_after.';
  end if;
  if not p_user_id = any (leadflow_private.queue_known_users(array[p_user_id])) then
    raise exception 'p_user_id: user % does not exist', p_user_id using errcode = 'P0002', hint = 'Use the id of a user of this project (auth.users).';
  end if;

  if p_from = p_to then
    -- One day: the (user_id, day, id) index from the key on, in its order.
    return query
      select q.id, q.day, q.status, q.scheduled_for, q.attempts, q.message_id,
             case when q.last_error is not null then coalesce((q.last_error ->> 'code') || ': ', '') || (q.last_error ->> 'message') end,
             l.id, l.name, l.phone, l.status, l.lead_score, l.source, q.created_at, q.updated_at
        from (select q.* from public.whatsapp_message_queue q
               where q.user_id = p_user_id and q.day = p_from and q.id >= v_from and q.id is distinct from p_after
                 and (p_statuses is null or q.status = any (p_statuses))
               order by q.id
               limit p_limit) q
        join public.leads l on l.id = q.lead_id
       order by q.id;
  else
    -- Each day's first p_limit rows after the key, by the same index, then the first p_limit of them all.
    return query
      select q.id, q.day, q.status, q.scheduled_for, q.attempts, q.message_id,
             case when q.last_error is not null then coalesce((q.last_error ->> 'code') || ': ', '') || (q.last_error ->> 'message') end,
             l.id, l.name, l.phone, l.status, l.lead_score, l.source, q.created_at, q.updated_at
        from generate_series(p_from, p_to, interval '1 day') d (day)
       cross join lateral (
         select q.* from public.whatsapp_message_queue q
          where q.user_id = p_user_id and q.day = d.day::date and q.id >= v_from and q.id is distinct from p_after
            and (p_statuses is null or q.status = any (p_statuses))
          order by q.id
          limit p_limit
       ) q
        join public.leads l on l.id = q.lead_id
       order by q.id
       limit p_limit;
  end if;
end;
$$;
comment on function public.queue_export(uuid, date, date, text[], uuid, integer) is
  'A page of an owner''s WhatsApp queue for a range of days, with each message''s lead, in item_id order (keyset: p_after).';
