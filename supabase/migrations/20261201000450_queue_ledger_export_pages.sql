-- The export's pages known ahead, so they can be asked for at the same time (issue 12, "Export of
-- 100,000 rows ≤ 3 s, streamed, memory flat").
-- New: public.queue_export_pages, leadflow_private.queue_export_refuse.
--
-- queue_export's pages are keyset pages: each starts after the last item id of the one before, so
-- a reader waits for page n before it can ask for page n + 1, and 100 pages of 1,000 rows cost 100
-- round trips one after the other (the database, the Data API and the network each idle while the
-- others work). queue_export_pages answers, in one call, where every page starts and ends: the
-- item id after which each begins and its last item id (every p_rows-th id of the owner's messages
-- of those days and statuses, in item_id order, read from the (user_id, day, id) index). A reader
-- may then ask for a few pages at once, each queue_export(p_after = its start) cut at its end; the
-- last page has no end. Pages stay correct when the queue changes meanwhile: a page that reaches
-- past its end is cut there, and one whose end was not reached (rows added) goes on from its last
-- row, so every row is read once.
create or replace function leadflow_private.queue_export_refuse(p_user_id uuid, p_from date, p_to date, p_statuses text[], p_limit integer, p_limit_name text)
returns void
language plpgsql
stable
set search_path = ''
as $$
declare
  v_bad record;
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
    raise exception '%: must be between 1 and 1000 (got %)', p_limit_name, p_limit
      using errcode = '22023', hint = 'The Data API answers at most 1000 rows: page with p_after.';
  end if;
  if not p_user_id = any (leadflow_private.queue_known_users(array[p_user_id])) then
    raise exception 'p_user_id: user % does not exist', p_user_id using errcode = 'P0002', hint = 'Use the id of a user of this project (auth.users).';
  end if;
end;
$$;
revoke all on function leadflow_private.queue_export_refuse(uuid, date, date, text[], integer, text) from public, anon, authenticated;
grant execute on function leadflow_private.queue_export_refuse(uuid, date, date, text[], integer, text) to service_role;

-- =============================================================================================
-- queue_export_pages(p_user_id, p_from, p_to, p_statuses, p_rows) → where each page starts and ends
-- =============================================================================================
-- One row per page of p_rows (1–1,000) of queue_export(p_user_id, p_from, p_to, p_statuses), in
-- order: page (from 1), after_item_id (queue_export's p_after for it; null for the first) and
-- last_item_id (its last row; null for the last page, which runs to the end). No messages: one
-- page, both null. At most 1,000 rows (the Data API's limit): a reader goes on from the last
-- page's last_item_id when it is not null.
create or replace function public.queue_export_pages(
  p_user_id uuid,
  p_from date,
  p_to date,
  p_statuses text[] default null,
  p_rows integer default 1000
)
returns table (page integer, after_item_id uuid, last_item_id uuid)
language plpgsql
stable
set search_path = ''
set work_mem = '32MB'
as $$
#variable_conflict use_column
begin
  perform leadflow_private.queue_export_refuse(p_user_id, p_from, p_to, p_statuses, p_rows, 'p_rows');
  return query
    with ends as (
      select k.id, (k.rn / p_rows)::integer as page
        from (select q.id, row_number() over (order by q.id) as rn
                from public.whatsapp_message_queue q
               where q.user_id = p_user_id and q.day between p_from and p_to
                 and (p_statuses is null or q.status = any (p_statuses))) k
       where k.rn % p_rows = 0
    )
    select 1, null::uuid, (select e.id from ends e where e.page = 1)
    union all
    select e.page + 1, e.id, n.id from ends e left join ends n on n.page = e.page + 1
    order by 1
    limit 1000;
end;
$$;
comment on function public.queue_export_pages(uuid, date, date, text[], integer) is
  'Where each page of queue_export starts and ends (after_item_id, last_item_id), so that pages can be asked for at the same time.';
revoke all on function public.queue_export_pages(uuid, date, date, text[], integer) from public, anon, authenticated;
grant execute on function public.queue_export_pages(uuid, date, date, text[], integer) to service_role;
