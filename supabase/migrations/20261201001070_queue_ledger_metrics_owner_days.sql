-- The metrics' default range is the owner's last 7 local days, decided by the database.
-- Re-created: public.queue_metrics, now (p_user_id, p_from, p_to, p_now) with p_from and p_to
-- optional (otherwise as in 20261201000410). The old (uuid, date, date) is dropped, so a call
-- naming p_user_id, p_from and p_to finds exactly one function, as before.
--
-- Why: the metrics webhook (workflows/queue-actions.json) built its default range, without from and
-- to, from n8n's `$today`: the day in n8n's time zone. But a queue day is the owner's local day
-- (user_queue_settings.time_zone, the day queue_prepare prepared the messages for). For an owner in
-- Auckland read by an n8n in UTC, every morning until noon "the last 7 days" ended yesterday, so
-- today's numbers were missing; for an owner in Los Angeles every evening it ended tomorrow.
--
-- Now, a day left null is filled from the clock (p_now, leadflow_private.now() by default) in the
-- owner's time zone (UTC for an owner without queue settings):
--   p_to null     the owner's local day at p_now (today).
--   p_from null   6 days before p_to: with both null, the last 7 local days ending today.
-- Days given are used as they are; the rules on the range are the same (p_from on or before p_to,
-- at most 366 days), checked once the nulls are filled.

drop function if exists public.queue_metrics(uuid, date, date);

create or replace function public.queue_metrics(
  p_user_id uuid,
  p_from date default null,
  p_to date default null,
  p_now timestamptz default leadflow_private.now()
)
returns table (day date, queued integer, sent integer, failed integer, cancelled integer, taken_over integer,
               mean_wait_seconds numeric, mean_processing_seconds numeric)
language plpgsql
stable
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_from date := p_from;
  v_to date := p_to;
  v_zone text;
begin
  if p_user_id is null then
    raise exception 'p_user_id: required, the owner whose metrics to read' using errcode = '22023';
  end if;
  if not p_user_id = any (leadflow_private.queue_known_users(array[p_user_id])) then
    raise exception 'p_user_id: user % does not exist', p_user_id using errcode = 'P0002', hint = 'Use the id of a user of this project (auth.users).';
  end if;
  if v_to is null then
    if p_now is null then
      raise exception 'p_now: required when p_to is left out (today is the owner''s local day at p_now)' using errcode = '22023';
    end if;
    select s.time_zone into v_zone from public.user_queue_settings s where s.user_id = p_user_id;
    v_to := (p_now at time zone coalesce(v_zone, 'UTC'))::date;
  end if;
  v_from := coalesce(v_from, v_to - 6);
  if v_from > v_to or v_to - v_from > 365 then
    raise exception 'p_from, p_to: p_from on or before p_to, at most 366 days (got % to %)', v_from, v_to
      using errcode = '22023', hint = 'Days as YYYY-MM-DD; leave both out for the owner''s last 7 days.';
  end if;
  return query
    select d.day::date, coalesce(m.queued, 0), coalesce(m.sent, 0), coalesce(m.failed, 0), coalesce(m.cancelled, 0),
           coalesce(m.taken_over, 0), m.mean_wait_seconds, m.mean_processing_seconds
      from generate_series(v_from, v_to, interval '1 day') d (day)
      left join (select m.* from public.queue_performance_metrics m
                  where m.user_id = p_user_id and m.day between v_from and v_to) m on m.day = d.day::date
     order by 1;
end;
$$;
comment on function public.queue_metrics(uuid, date, date, timestamptz) is
  'The queue''s metrics per day of a range (queue_performance_metrics, zeros for days without messages); without p_to, up to the owner''s local today at p_now, without p_from, 7 days.';

revoke all on function public.queue_metrics(uuid, date, date, timestamptz) from public, anon, authenticated;
grant execute on function public.queue_metrics(uuid, date, date, timestamptz) to service_role;
