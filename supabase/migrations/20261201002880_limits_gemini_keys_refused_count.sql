-- limit_take_gemini_keys also says how many of the resting keys Google refused (refused_keys).
--
-- Why: when every key of a credential rests, the function answered one reason for all of them:
-- `refused` only when every resting key was refused, else `throttled` / `daily_quota`. A credential
-- with one invalid key and one throttled key therefore failed each item `quota` ("every key is
-- throttled"), and its advice said there was nothing to fix: the owner was never told a key is
-- invalid. With the count, the node says how many keys were refused and how many rest for their
-- quota, and tells the owner to fix or remove the refused ones (nodes/shared/gemini/call.ts).
--
-- Same function as 20261201000610_limits_gemini_keys.sql otherwise (turns, rests, the answer when
-- a key is free: refused_keys is null then, like wait_ms and rest_reason). Keys are still never
-- stored: the count is read from the rests recorded by key id (a hash). A node from before this
-- version reads the three columns it knows and ignores the fourth.
--
-- The answer's columns change, so the function is dropped and created again (create or replace
-- cannot change a function's result columns), in this migration's one transaction.

drop function public.limit_take_gemini_keys(text[], integer, timestamptz);

-- =============================================================================================
-- limit_take_gemini_keys(p_key_ids, p_count, p_now) → one row: (key_indexes, wait_ms, rest_reason, refused_keys)
-- =============================================================================================
-- The next p_count turns of a list of keys (a credential's, in its order): `key_indexes` holds the
-- position (0-based) in p_key_ids of the key each turn goes to, in turn order, skipping keys that
-- rest, continuing from where the last turn of any worker ended. When every key rests,
-- `key_indexes` is empty, `wait_ms` says when the first is back, `rest_reason` why they rest
-- (`refused` when every resting key was refused, `daily_quota` when a daily quota and no passing
-- throttle holds them, else `throttled`) and `refused_keys` how many of them rest because Google
-- refused them (0 to all). Locks the list's row for this statement only.
create function public.limit_take_gemini_keys(
  p_key_ids text[],
  p_count integer default 1,
  p_now timestamptz default leadflow_private.now()
)
returns table (key_indexes integer[], wait_ms double precision, rest_reason text, refused_keys integer)
language plpgsql
volatile
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_ring text;
  v_size integer := cardinality(p_key_ids);
  v_start integer;
  v_free integer[];
  v_from integer;
  v_turns integer[];
begin
  perform leadflow_private.limit_check_key_ids(p_key_ids);
  if p_count is null or p_count not between 1 and 1000 then
    raise exception 'p_count must be between 1 and 1000 turns (got %)', coalesce(p_count::text, 'null')
      using errcode = '22023', hint = 'Ask for as many turns as calls are about to start.';
  end if;
  if p_now is null then
    raise exception 'p_now must not be null' using errcode = '22023', hint = 'Leave it out: it defaults to the database''s clock.';
  end if;
  v_ring := encode(sha256(convert_to(array_to_string(p_key_ids, ','), 'UTF8')), 'hex');

  -- The list's row, created on first use and locked for this statement.
  insert into leadflow_private.limit_gemini_rings as r (ring_id, updated_at) values (v_ring, p_now)
  on conflict (ring_id) do update set updated_at = p_now
  returning r.next_index % v_size into v_start;

  -- The keys not resting now, by position.
  select coalesce(array_agg(k.i - 1 order by k.i), '{}') into v_free
    from unnest(p_key_ids) with ordinality as k (id, i)
   where not exists (select from leadflow_private.limit_gemini_keys g where g.key_id = k.id and g.rested_until > p_now);

  if cardinality(v_free) = 0 then
    return query
      select '{}'::integer[],
             extract(epoch from (min(g.rested_until) - p_now))::double precision * 1000,
             case when bool_and(g.rest_reason = 'refused') then 'refused'
                  when bool_or(g.rest_reason = 'daily_quota') and not bool_or(g.rest_reason = 'throttled') then 'daily_quota'
                  else 'throttled' end,
             (count(*) filter (where g.rest_reason = 'refused'))::integer
        from leadflow_private.limit_gemini_keys g
       where g.key_id = any (p_key_ids) and g.rested_until > p_now;
    return;
  end if;

  -- Round robin over the free keys from the first at or after the cursor.
  v_from := coalesce((select min(f.i) from unnest(v_free) with ordinality as f (position, i) where f.position >= v_start), 1);
  select array_agg(v_free[((v_from - 1 + t) % cardinality(v_free)) + 1] order by t) into v_turns
    from generate_series(0, p_count - 1) as t;

  update leadflow_private.limit_gemini_rings r
     set next_index = (v_turns[p_count] + 1) % v_size, turns = r.turns + p_count
   where r.ring_id = v_ring;

  return query select v_turns, null::double precision, null::text, null::integer;
end;
$$;
comment on function public.limit_take_gemini_keys(text[], integer, timestamptz) is
  'The next turns of a list of Gemini keys (by id), shared by every worker: round robin, skipping resting keys; when all rest, how long, why, and how many were refused.';

revoke all on function public.limit_take_gemini_keys(text[], integer, timestamptz) from public, anon, authenticated;
grant execute on function public.limit_take_gemini_keys(text[], integer, timestamptz) to service_role;
