-- Limits shared by every n8n worker and instance, part 4: send slots 10 % further apart than the
-- rate, not 5 %.
-- Function: limit_take_send_slots, the same but for its spacing.
--
-- Why: slots 1.05 / rate apart keep any one-second window within the rate as long as every call
-- reaches Facebook at most 50 ms after its slot. Measured at the Graph simulator in real n8n queue
-- mode (test/e2e/queue-mode.e2e.test.ts, two workers and a main instance on a 2-core machine under
-- load), calls left up to 60 ms late often enough for a second to hold one more than the rate.
-- 1.1 / rate allows 100 ms: 20 ms for the start (the node gives up a slot it could not start
-- within that) and 80 ms for the way out. It costs a Page a tenth of its rate: 1,000 messages at
-- 300 a second take 3.7 s instead of 3.5.

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
  v_spacing := make_interval(secs => 1.1 / p_per_second::double precision);

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
  'Takes a Page''s next send slots within 250 ms (shared by every worker): when each may start, 1.1 / rate s apart, none before a pause ends.';
