-- Limits shared by every n8n worker and instance, part 5: a take's slots may start a lead later.
-- Function: limit_take_send_slots, the same with p_lead_ms (default 0: as before).
--
-- Why: a worker places each slot at most 60 ms after its database instant while its clock measure
-- is consistent with clocks in step (nodes/FacebookSend/transport/sendSlots.ts), so that a slow
-- answer (a loaded machine, a project far away) no longer pushes its slots late enough to come
-- closer than the spacing to another worker's. But an answer that reaches the worker more than
-- 80 ms after the database's now (60 of placement, 20 to start) then brings slots whose time has
-- passed, given up as soon as they arrive: a worker that slow sent nothing. With p_lead_ms the
-- worker asks for slots that start no sooner than that much after now (its last round trip less
-- the 60 ms), so they are still ahead when the answer arrives. The horizon (250 ms) counts from
-- now plus the lead: a take holds no more of the Page's slots than before.

drop function if exists public.limit_take_send_slots(text, integer, numeric, text, timestamptz);

create function public.limit_take_send_slots(
  p_page_id text,
  p_count integer,
  p_per_second numeric,
  p_graph_url text default 'https://graph.facebook.com',
  p_now timestamptz default leadflow_private.now(),
  p_lead_ms double precision default 0
)
returns table (starts_in_ms double precision[], database_now timestamptz, next_in_ms double precision, paused_until timestamptz)
language plpgsql
volatile
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  -- How far ahead slots are handed out (from now plus the lead).
  c_horizon constant interval := interval '250 milliseconds';
  v_spacing interval;
  v_from timestamptz;
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
  if p_lead_ms is null or p_lead_ms < 0 or p_lead_ms > 2000 or p_lead_ms = 'NaN'::double precision then
    raise exception 'p_lead_ms must be between 0 and 2000 ms (got %)', coalesce(p_lead_ms::text, 'null')
      using errcode = '22023', hint = 'Pass how much later than now the first slot may start, or leave it out (0).';
  end if;
  v_spacing := make_interval(secs => 1.1 / p_per_second::double precision);
  v_from := p_now + make_interval(secs => p_lead_ms / 1000);

  -- The Page's row, created on first use and locked for this statement.
  insert into leadflow_private.limit_send_rates as r (graph_url, page_id, next_slot_at, updated_at)
  values (p_graph_url, p_page_id, p_now, p_now)
  on conflict (graph_url, page_id) do update set updated_at = p_now
  returning greatest(r.next_slot_at, v_from, coalesce(r.paused_until, p_now)), r.paused_until into v_first, v_paused;

  -- The slots that start before now + the lead + the horizon: 0 when the first free one is beyond it.
  v_fits := case when v_first >= v_from + c_horizon then 0
                 else least(p_count, floor(extract(epoch from (v_from + c_horizon - v_first)) / extract(epoch from v_spacing))::integer + 1) end;
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
comment on function public.limit_take_send_slots(text, integer, numeric, text, timestamptz, double precision) is
  'Takes a Page''s next send slots within 250 ms of now plus p_lead_ms (shared by every worker): when each may start, 1.1 / rate s apart, none before a pause ends.';

revoke all on function public.limit_take_send_slots(text, integer, numeric, text, timestamptz, double precision) from public, anon, authenticated;
grant execute on function public.limit_take_send_slots(text, integer, numeric, text, timestamptz, double precision) to service_role;
