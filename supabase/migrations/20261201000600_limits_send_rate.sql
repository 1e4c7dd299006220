-- Limits shared by every n8n worker and instance, part 1: a Facebook Page's send rate.
-- Table: leadflow_private.limit_send_rates. Functions: limit_take_send_slots, limit_pause_sends.
--
-- Why: n8n in queue mode runs executions on several worker processes, often on several machines.
-- A rate kept in one process's memory lets each of them send at the Page's full rate, so three
-- workers send three times as fast as Meta allows; and a throttle (Graph codes 4, 17, 32, 613) seen
-- by one worker must hold back the others too. So the Page's rate lives here, in one row per Page,
-- and every sender takes its start times from it.
--
-- The model is a token bucket of one (GCRA): slots follow each other `spacing` apart, none is handed
-- out before the database's now, none before a pause ends, and a Page idle for a while gets no burst
-- of saved-up slots (Meta's flooding throttle punishes bursts). A caller takes several slots at once
-- (one call per batch of slots, not per message; only slots starting within the next 250 ms) and
-- executes them itself: the node starts each call at its slot's time and gives up a slot it could
-- not start soon enough after it (a stalled process never fires missed slots together).
--
-- Spacing: 1.05 / rate seconds, not 1 / rate. A start can come a little after its slot (the answer's
-- travel time back to the node, timers, the request's way to Facebook); with slots 5 % further apart,
-- any window of one second holds at most `rate` starts even when each of them is up to 50 ms late.
-- For 300 messages a second that is 3.5 ms between slots instead of 3.33.
--
-- Safe behind Supabase's transaction pooler (port 6543): one statement's row lock per call, nothing
-- kept in the session (no advisory lock, no prepared statement, no setting).

create table leadflow_private.limit_send_rates (
  graph_url text not null
    constraint limit_send_rates_graph_url_check check (length(graph_url) between 1 and 500 and leadflow_private.is_valid_text(graph_url, 'token')),
  page_id text not null
    constraint limit_send_rates_page_id_check check (page_id ~ '^[0-9]{1,32}$'),
  -- The next slot not handed out yet (a slot before now is never handed out).
  next_slot_at timestamptz not null,
  -- Facebook throttled the Page: no slot before this.
  paused_until timestamptz,
  pause_reason text
    constraint limit_send_rates_pause_reason_check check (pause_reason is null or (length(pause_reason) <= 500 and leadflow_private.is_valid_text(pause_reason, 'line'))),
  paused_at timestamptz,
  slots_taken bigint not null default 0,
  updated_at timestamptz not null default now(),
  primary key (graph_url, page_id)
);
comment on table leadflow_private.limit_send_rates is
  'One row per Facebook Page (and Graph URL): the next free send slot and a pause after a throttle, shared by every n8n worker.';
revoke all on leadflow_private.limit_send_rates from public, anon, authenticated, service_role;

create or replace function leadflow_private.limit_check_page(p_page_id text, p_graph_url text)
returns void
language plpgsql
immutable
set search_path = ''
as $$
begin
  if p_page_id is null or p_page_id !~ '^[0-9]{1,32}$' then
    raise exception 'p_page_id must be a Facebook Page id (digits only, at most 32; got %)', coalesce(p_page_id, 'null')
      using errcode = '22023', hint = 'Pass the Page id of the Facebook Page credential.';
  end if;
  if p_graph_url is null or length(p_graph_url) not between 1 and 500 or not leadflow_private.is_valid_text(p_graph_url, 'token') then
    raise exception 'p_graph_url must be the Graph API base URL (1 to 500 characters, no spaces)'
      using errcode = '22023', hint = 'Pass the base URL the Page''s calls go to, e.g. https://graph.facebook.com.';
  end if;
end;
$$;

-- =============================================================================================
-- limit_take_send_slots(p_page_id, p_count, p_per_second, p_graph_url, p_now)
--   → one row: (starts_in_ms, database_now, next_in_ms, paused_until)
-- =============================================================================================
-- Takes up to p_count of the Page's next slots at p_per_second and answers when each may start:
-- `starts_in_ms`, milliseconds after `database_now` (p_now), ascending. Only slots starting within
-- the next 250 ms are handed out, so that no taker ever holds slots far ahead: a pause recorded now
-- holds back every sender within that quarter of a second. When none fits (other workers took the
-- next ones), `starts_in_ms` is empty and `next_in_ms` says when the next free slot starts: ask
-- again 250 ms before it. `paused_until` is set while a pause runs (then every slot starts after
-- it). Locks the Page's row for this statement only: callers for the same Page take turns of a few
-- microseconds, other Pages never wait.
create or replace function public.limit_take_send_slots(
  p_page_id text,
  p_count integer,
  p_per_second numeric,
  p_graph_url text default 'https://graph.facebook.com',
  p_now timestamptz default leadflow_private.now()
)
returns table (starts_in_ms double precision[], database_now timestamptz, next_in_ms double precision, paused_until timestamptz)
language plpgsql
volatile
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  -- How far ahead slots are handed out.
  c_horizon constant interval := interval '250 milliseconds';
  v_spacing interval;
  v_first timestamptz;
  v_paused timestamptz;
  v_fits integer;
  v_next timestamptz;
begin
  perform leadflow_private.limit_check_page(p_page_id, p_graph_url);
  if p_count is null or p_count not between 1 and 1000 then
    raise exception 'p_count must be between 1 and 1000 slots (got %)', coalesce(p_count::text, 'null')
      using errcode = '22023', hint = 'Take the slots of a batch in parts of at most 1000.';
  end if;
  if p_per_second is null or p_per_second <= 0 or p_per_second > 10000 then
    raise exception 'p_per_second must be above 0 and at most 10000 messages a second (got %)', coalesce(p_per_second::text, 'null')
      using errcode = '22023', hint = 'Pass the node''s Messages per Second (Meta allows about 300 for text).';
  end if;
  if p_now is null then
    raise exception 'p_now must not be null' using errcode = '22023', hint = 'Leave it out: it defaults to the database''s clock.';
  end if;
  v_spacing := make_interval(secs => 1.05 / p_per_second::double precision);

  -- The Page's row, created on first use and locked for this statement.
  insert into leadflow_private.limit_send_rates as r (graph_url, page_id, next_slot_at, updated_at)
  values (p_graph_url, p_page_id, p_now, p_now)
  on conflict (graph_url, page_id) do update set updated_at = p_now
  returning greatest(r.next_slot_at, p_now, coalesce(r.paused_until, p_now)), r.paused_until into v_first, v_paused;

  -- The slots that start before now + the horizon: 0 when the first free one is beyond it.
  v_fits := case when v_first >= p_now + c_horizon then 0
                 else least(p_count, floor(extract(epoch from (p_now + c_horizon - v_first)) / extract(epoch from v_spacing))::integer + 1) end;
  v_next := v_first + v_fits * v_spacing;
  if v_fits > 0 then
    update leadflow_private.limit_send_rates r
       set next_slot_at = v_next, slots_taken = r.slots_taken + v_fits
     where r.graph_url = p_graph_url and r.page_id = p_page_id;
  end if;

  return query
    select coalesce(array_agg(extract(epoch from (v_first + k * v_spacing - p_now))::double precision * 1000 order by k), '{}'),
           p_now,
           extract(epoch from (v_next - p_now))::double precision * 1000,
           case when v_paused > p_now then v_paused end
      from generate_series(0, v_fits - 1) as k;
end;
$$;
comment on function public.limit_take_send_slots(text, integer, numeric, text, timestamptz) is
  'Takes a Page''s next send slots within 250 ms (shared by every worker): when each may start, 1.05 / rate s apart, none before a pause ends.';

-- =============================================================================================
-- limit_pause_sends(p_page_id, p_pause_ms, p_reason, p_graph_url, p_now) → (paused_until, paused_for_ms)
-- =============================================================================================
-- Facebook throttled the Page: no slot is handed out before p_now + p_pause_ms, to any worker (a
-- longer pause already running is kept). Slots handed out before the pause are the takers' own:
-- none starts more than 250 ms after it was handed out, so every sender stops within that.
create or replace function public.limit_pause_sends(
  p_page_id text,
  p_pause_ms integer,
  p_reason text default null,
  p_graph_url text default 'https://graph.facebook.com',
  p_now timestamptz default leadflow_private.now()
)
returns table (paused_until timestamptz, paused_for_ms double precision)
language plpgsql
volatile
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_until timestamptz;
begin
  perform leadflow_private.limit_check_page(p_page_id, p_graph_url);
  if p_pause_ms is null or p_pause_ms not between 1 and 86400000 then
    raise exception 'p_pause_ms must be between 1 and 86400000 milliseconds (got %)', coalesce(p_pause_ms::text, 'null')
      using errcode = '22023', hint = 'Pass how long Facebook asked the Page to wait, in milliseconds.';
  end if;
  if p_reason is not null and (length(p_reason) > 500 or not leadflow_private.is_valid_text(p_reason, 'line')) then
    raise exception 'p_reason must be one line of at most 500 characters'
      using errcode = '22023', hint = 'Pass the Graph error, e.g. "Graph 613: Calls to this api have exceeded the rate limit."';
  end if;
  if p_now is null then
    raise exception 'p_now must not be null' using errcode = '22023', hint = 'Leave it out: it defaults to the database''s clock.';
  end if;
  v_until := p_now + make_interval(secs => p_pause_ms / 1000.0);

  insert into leadflow_private.limit_send_rates as r (graph_url, page_id, next_slot_at, paused_until, pause_reason, paused_at, updated_at)
  values (p_graph_url, p_page_id, v_until, v_until, p_reason, p_now, p_now)
  on conflict (graph_url, page_id) do update
     set paused_until = greatest(coalesce(r.paused_until, v_until), v_until),
         pause_reason = case when r.paused_until > v_until then r.pause_reason else p_reason end,
         paused_at = case when r.paused_until > v_until then r.paused_at else p_now end,
         next_slot_at = greatest(r.next_slot_at, coalesce(r.paused_until, v_until), v_until),
         updated_at = p_now
  returning r.paused_until into v_until;

  return query select v_until, extract(epoch from (v_until - p_now))::double precision * 1000;
end;
$$;
comment on function public.limit_pause_sends(text, integer, text, text, timestamptz) is
  'Facebook throttled a Page: no send slot is handed out to any worker before the pause ends.';

revoke all on function
  leadflow_private.limit_check_page(text, text),
  public.limit_take_send_slots(text, integer, numeric, text, timestamptz),
  public.limit_pause_sends(text, integer, text, text, timestamptz)
from public, anon, authenticated;

grant execute on function
  public.limit_take_send_slots(text, integer, numeric, text, timestamptz),
  public.limit_pause_sends(text, integer, text, text, timestamptz)
to service_role;
