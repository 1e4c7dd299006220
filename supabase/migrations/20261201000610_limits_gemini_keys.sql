-- Limits shared by every n8n worker and instance, part 2: Gemini keys' rests and their turns.
-- Tables: leadflow_private.limit_gemini_keys, leadflow_private.limit_gemini_rings.
-- Functions: limit_take_gemini_keys, limit_rest_gemini_key.
--
-- Why: a Gemini key that answered 429 must rest (its quota is spent until Google's RetryInfo, or
-- until midnight Pacific for a daily quota) and keys are taken in turn. Kept in one process's memory,
-- every other worker keeps calling the throttled key, and each worker starts its own turn at the
-- first key, so the first keys carry more than their share. Here, every worker and n8n instance
-- takes its turns from one cursor per list of keys, and a rest one worker records holds for all.
--
-- Keys are never stored. A key is known only by its id: the hex SHA-256 of
-- 'leadflow:gemini-key:' || key, computed by the node (nodes/shared/gemini/keyRing.ts). Not an
-- HMAC with a salt of this installation: Gemini keys are long random strings (about 200 bits), so
-- no dictionary can reverse the hash and a salt protects nothing; every worker and every n8n
-- instance must compute the same id without sharing a secret; and a salt kept in this same
-- database would be readable by whoever can read the ids. The prefix keeps the id from matching a
-- plain SHA-256 of the key anyone else may keep.
--
-- Safe behind Supabase's transaction pooler (port 6543): one transaction per call, row locks only.

create table leadflow_private.limit_gemini_keys (
  key_id text primary key
    constraint limit_gemini_keys_key_id_check check (key_id ~ '^[0-9a-f]{64}$'),
  -- No turn goes to the key before this.
  rested_until timestamptz not null,
  rest_reason text not null
    constraint limit_gemini_keys_rest_reason_check check (rest_reason in ('throttled', 'daily_quota', 'refused')),
  rested_at timestamptz not null,
  rests bigint not null default 1,
  updated_at timestamptz not null default now()
);
comment on table leadflow_private.limit_gemini_keys is
  'Gemini keys that rest after Google throttled (429) or refused them, by key id (a hash; never the key), shared by every n8n worker.';

create table leadflow_private.limit_gemini_rings (
  -- The hex SHA-256 of the credential's key ids in their order.
  ring_id text primary key
    constraint limit_gemini_rings_ring_id_check check (ring_id ~ '^[0-9a-f]{64}$'),
  -- Where the next turn starts looking (0-based position in the credential's list).
  next_index integer not null default 0 constraint limit_gemini_rings_next_index_check check (next_index >= 0),
  turns bigint not null default 0,
  updated_at timestamptz not null default now()
);
comment on table leadflow_private.limit_gemini_rings is
  'The round-robin turn of each list of Gemini keys (a credential), shared by every n8n worker.';

revoke all on leadflow_private.limit_gemini_keys, leadflow_private.limit_gemini_rings from public, anon, authenticated, service_role;

create or replace function leadflow_private.limit_check_key_ids(p_key_ids text[])
returns void
language plpgsql
immutable
set search_path = ''
as $$
declare
  v_bad integer;
begin
  if p_key_ids is null or cardinality(p_key_ids) not between 1 and 100 then
    raise exception 'p_key_ids must list 1 to 100 key ids (got %)', coalesce(cardinality(p_key_ids)::text, 'null')
      using errcode = '22023', hint = 'Pass the ids of the credential''s keys, in its order.';
  end if;
  select k.i - 1 into v_bad from unnest(p_key_ids) with ordinality as k (id, i)
   where k.id is null or k.id !~ '^[0-9a-f]{64}$' order by k.i limit 1;
  if found then
    raise exception 'p_key_ids[%] must be a key id: 64 lowercase hex digits, the SHA-256 of the key (never the key itself)', v_bad
      using errcode = '22023', hint = 'nodes/shared/gemini/keyRing.ts keyIdOf computes it.';
  end if;
  select min(k.i) - 1 into v_bad from unnest(p_key_ids) with ordinality as k (id, i)
   group by k.id having count(*) > 1 order by 1 limit 1;
  if found then
    raise exception 'p_key_ids[%] is listed twice', v_bad using errcode = '22023', hint = 'List each key once.';
  end if;
end;
$$;

-- =============================================================================================
-- limit_take_gemini_keys(p_key_ids, p_count, p_now) → one row: (key_indexes, wait_ms, rest_reason)
-- =============================================================================================
-- The next p_count turns of a list of keys (a credential's, in its order): `key_indexes` holds the
-- position (0-based) in p_key_ids of the key each turn goes to, in turn order, skipping keys that
-- rest, continuing from where the last turn of any worker ended. When every key rests,
-- `key_indexes` is empty, `wait_ms` says when the first is back and `rest_reason` why they rest
-- (`refused` when every resting key was refused, `daily_quota` when a daily quota and no passing
-- throttle holds them, else `throttled`). Locks the list's row for this statement only.
create or replace function public.limit_take_gemini_keys(
  p_key_ids text[],
  p_count integer default 1,
  p_now timestamptz default leadflow_private.now()
)
returns table (key_indexes integer[], wait_ms double precision, rest_reason text)
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
                  else 'throttled' end
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

  return query select v_turns, null::double precision, null::text;
end;
$$;
comment on function public.limit_take_gemini_keys(text[], integer, timestamptz) is
  'The next turns of a list of Gemini keys (by id), shared by every worker: round robin, skipping resting keys; when all rest, how long and why.';

-- =============================================================================================
-- limit_rest_gemini_key(p_key_id, p_rest_ms, p_reason, p_now) → (rested_until, rest_reason)
-- =============================================================================================
-- Google throttled (429) or refused a key: no worker gets a turn with it before p_now + p_rest_ms
-- (a longer rest already running is kept, with its reason).
create or replace function public.limit_rest_gemini_key(
  p_key_id text,
  p_rest_ms integer,
  p_reason text,
  p_now timestamptz default leadflow_private.now()
)
returns table (rested_until timestamptz, rest_reason text)
language plpgsql
volatile
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_until timestamptz;
begin
  if p_key_id is null or p_key_id !~ '^[0-9a-f]{64}$' then
    raise exception 'p_key_id must be a key id: 64 lowercase hex digits, the SHA-256 of the key (never the key itself)'
      using errcode = '22023', hint = 'nodes/shared/gemini/keyRing.ts keyIdOf computes it.';
  end if;
  if p_rest_ms is null or p_rest_ms not between 1 and 172800000 then
    raise exception 'p_rest_ms must be between 1 and 172800000 milliseconds (got %)', coalesce(p_rest_ms::text, 'null')
      using errcode = '22023', hint = 'Pass how long the key rests, in milliseconds (at most two days).';
  end if;
  if p_reason is null or p_reason not in ('throttled', 'daily_quota', 'refused') then
    raise exception 'p_reason must be throttled, daily_quota or refused (got %)', coalesce(p_reason, 'null')
      using errcode = '22023';
  end if;
  if p_now is null then
    raise exception 'p_now must not be null' using errcode = '22023', hint = 'Leave it out: it defaults to the database''s clock.';
  end if;
  v_until := p_now + make_interval(secs => p_rest_ms / 1000.0);

  return query
  insert into leadflow_private.limit_gemini_keys as g (key_id, rested_until, rest_reason, rested_at, updated_at)
  values (p_key_id, v_until, p_reason, p_now, p_now)
  on conflict (key_id) do update
     set rested_until = greatest(g.rested_until, v_until),
         rest_reason = case when g.rested_until > v_until then g.rest_reason else p_reason end,
         rested_at = case when g.rested_until > v_until then g.rested_at else p_now end,
         rests = g.rests + 1,
         updated_at = p_now
  returning g.rested_until, g.rest_reason;
end;
$$;
comment on function public.limit_rest_gemini_key(text, integer, text, timestamptz) is
  'Rests a Gemini key (by id) for every worker after Google throttled or refused it; a longer rest running is kept.';

revoke all on function
  leadflow_private.limit_check_key_ids(text[]),
  public.limit_take_gemini_keys(text[], integer, timestamptz),
  public.limit_rest_gemini_key(text, integer, text, timestamptz)
from public, anon, authenticated;

grant execute on function
  public.limit_take_gemini_keys(text[], integer, timestamptz),
  public.limit_rest_gemini_key(text, integer, text, timestamptz)
to service_role;
