-- Campaign sessions and their leads: the pairing written once, as the view
-- leadflow_private.campaign_session_leads, read by the functions that find a session's lead where
-- speed allows. A refactor: no change of behaviour.
-- New: the view leadflow_private.campaign_session_leads (user_id, session_info_id, lead_id, held).
-- Re-created, otherwise as in 20261201001570 (their latest definitions: no later migration
-- re-creates them): public.record_session_objective, leadflow_private.session_info_mark_contacted
-- and public.queue_add_leads_from_crm. Same signatures and results; their comments and grants stay
-- (create or replace keeps them), and so does the trigger calling session_info_mark_contacted.
-- Left as in 20261201001570, the pairing still written there by hand (why: under Speed, below):
-- public.queue_complete, leadflow_private.leads_mark_campaign_session_contacted,
-- leadflow_private.leads_mark_campaign_session_contacted_on_insert and
-- public.create_campaign_sessions.
--
-- Why: 20261201001570 made a campaign session's lead the owner's lead holding it
-- (leads.campaign_session_id), else the owner's lead with the session's phone, and a lead's
-- sessions the one it holds and every session of the owner with its phone that no lead holds. It
-- wrote that rule by hand, as joins and subqueries, in seven functions, each its own way (a
-- coalesce of two lookups, a lateral union, two exists): a change to the rule had to be made
-- identically in seven places, and one made in six would pair a session with one lead in one
-- function and with another lead, or none, in the next. Now the rule is the view, read by the
-- session's id in record_session_objective and session_info_mark_contacted (the lead they lock
-- and move) and queue_add_leads_from_crm (a session with a lead is never skipped); the view's
-- comment names the four places that keep it by hand, so a change to the rule finds them.
--
-- The view is a UNION ALL of its two branches (the lead holding the session; else, for a session
-- no lead holds, the owner's lead with its phone), so the planner inlines it and pushes a
-- session's id into each branch: index lookups only (the primary keys, leads (user_id,
-- campaign_session_id) and (user_id, phone), both unique, session_info_owner_phone_idx (user_id,
-- phone_e164)), checked with EXPLAIN in each function (queue_add_leads_from_crm's page of at most
-- 1,000 sessions probes them per session, where the plan of 20261201001570's two exists read the
-- whole leads table into a hash). A UNION ALL of joins is not flattened into a caller's join:
-- joined as a table, or read by an EXISTS the planner turns into a semi or anti join, it would be
-- computed whole. So it is read with the id as a value (a variable, an InitPlan) or from a
-- correlated subquery kept apart with OFFSET 0 (queue_add_leads_from_crm's exists).
--
-- Unchanged, each checked: the held pairing wins over the phone (a session a lead holds is that
-- lead's even when another lead has its phone: the second branch takes only sessions no lead
-- holds; test/db/campaign-sessions-lead-by-phone.test.ts now covers it, and passes on
-- 20261201001570 too); a session has at most one lead; the lock order (the lead FOR NO KEY UPDATE
-- before the session, in record_session_objective and session_info_mark_contacted).
--
-- The view is in leadflow_private, which the Data API does not expose, granted to service_role
-- only (queue_add_leads_from_crm runs as its caller, service_role; the other two are security
-- definer), and security_invoker: even a role granted it would read only the leads and sessions
-- row level security shows it.
--
-- Speed, and the four left by hand. queue_complete and create_campaign_sessions are hot (issue 12),
-- and both were measured with the view, against 20261201001570, side by side on one connection,
-- alternating, in rolled-back transactions (a machine shared with other work, load average 11-16):
--   * queue_complete and the leads' two triggers (bench queue-claim --compare, 20,000 messages,
--     5 rounds): 517 items/s against 620, and 2,574 items per second of Postgres CPU against
--     2,972: 1.15 times the CPU per message, the same ledger rows. They go from a lead to its
--     sessions; the view can only do that by reading the lead again by its primary key, once per
--     branch, where they use the lead row they hold (campaign_session_id, phone). The one form as
--     fast takes the lead's columns as arguments: a second statement of the rule, not one.
--   * create_campaign_sessions (a 10,000-task launch whose phones, three in four, have a lead):
--     its replay 4.16 s against 3.19 s (every one of 5 rounds slower), a launch after the lease
--     12.5 s against 8.8 s; its first launch, which reads no pairing, 7.0 s against 6.2 s, the
--     noise. The view's exact pairing costs four index probes per session where the launch asks
--     only whether the session has a lead (held, or a lead with its phone), which 20261201001570
--     answers with two lookups, or one hash of the owner's leads.
-- Both above the 1.05 allowed, so those four keep their pairing by hand, unchanged.

-- =============================================================================================
-- leadflow_private.campaign_session_leads: the pairing of a campaign session and its lead, once
-- =============================================================================================
create view leadflow_private.campaign_session_leads
  with (security_invoker = true)
as
  -- The lead holding the session (leads.campaign_session_id, unique per owner; the composite
  -- foreign key keeps the session its lead's owner's).
  select h.user_id, h.campaign_session_id as session_info_id, h.id as lead_id, true as held
    from public.leads h
   where h.campaign_session_id is not null
  union all
  -- Else the owner's lead with the session's phone (unique per owner and phone).
  select s.user_id, s.id, p.id, false
    from public.session_info s
    join public.leads p on p.user_id = s.user_id and p.phone = s.phone_e164
   where not exists (select from public.leads o where o.user_id = s.user_id and o.campaign_session_id = s.id);

comment on view leadflow_private.campaign_session_leads is
  'A campaign session''s Queue Ledger lead, one row per session that has one: the owner''s lead holding it (held), else the owner''s lead whose phone is the session''s phone_e164. Read the other way, a lead''s sessions: the one it holds and every session of the owner with its phone that no lead holds. The definition of that pairing, read by record_session_objective, session_info_mark_contacted and queue_add_leads_from_crm. Written by hand, for speed, where it is hot: queue_complete and the leads'' two contacted triggers (leads_mark_campaign_session_contacted, _on_insert: a lead''s sessions from the lead''s own columns) and create_campaign_sessions (a session with a lead: held, or a lead with its phone); a change to the rule is made there too (migration 20261201001630 says why). Read it for given sessions (an id as a value, or a correlated subquery kept apart with OFFSET 0): joined as a table it is planned over every row. Used only inside those functions (security definer, or executable by service_role only); not granted to anon or authenticated, and security_invoker, so a reader sees only the leads and sessions row level security lets it read.';

revoke all on leadflow_private.campaign_session_leads from public, anon, authenticated;
grant select on leadflow_private.campaign_session_leads to service_role;

-- =============================================================================================
-- public.record_session_objective: the session's lead from campaign_session_leads
-- =============================================================================================
create or replace function public.record_session_objective(
  p_owner uuid,
  p_session_id text,
  p_objective text,
  p_value jsonb default 'true'::jsonb,
  p_source text default 'other',
  p_occurred_at timestamptz default null,
  p_event_key text default null
)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_session public.session_info%rowtype;
  -- An SQL null (what the Data API passes for a JSON null) is the JSON null: never true.
  v_value jsonb := coalesce(p_value, 'null'::jsonb);
  v_recorded boolean;
  v_first jsonb;
  v_old_status text;
  v_lead uuid;
begin
  -- The session's lead first, then the session: the order of queue_complete (the lead, then the
  -- session). The session's lead: leadflow_private.campaign_session_leads (the owner's lead holding
  -- it, else the owner's lead with its phone), read for the session's id.
  select l.id into v_lead
    from public.leads l
   where l.id = (select v.lead_id
                   from leadflow_private.campaign_session_leads v
                  where v.user_id = p_owner
                    and v.session_info_id = (select s.id from public.session_info s
                                              where s.user_id = p_owner and s.session_id = p_session_id))
     for no key update of l;

  select * into v_session from public.session_info s
   where s.user_id = p_owner and s.session_id = p_session_id
   for update;
  if not found then
    return jsonb_build_object('outcome', 'session_not_found');
  end if;
  v_old_status := v_session.status;

  insert into public.session_objective_events (user_id, session_info_id, objective, value, source, event_key, occurred_at)
  values (p_owner, v_session.id, p_objective, v_value, p_source, p_event_key, coalesce(p_occurred_at, now()))
  on conflict (session_info_id, objective, event_key) do nothing;
  v_recorded := found;

  -- The key was seen for this objective: a retry if the value is the same, else refused.
  if not v_recorded then
    select ev.value into v_first
      from public.session_objective_events ev
     where ev.session_info_id = v_session.id and ev.objective = p_objective and ev.event_key = p_event_key;
    if v_first is distinct from v_value then
      return jsonb_build_object(
        'outcome', 'event_key_reused',
        'session', v_session.session_id,
        'objective', p_objective,
        'event_key', p_event_key,
        'recorded_value', v_first
      );
    end if;
  end if;

  -- The latest event of each objective (by when it happened) is the session's value for it, so
  -- reports arriving out of order still leave the right state.
  if v_recorded then
    update public.session_info s
       set objectives = (
             select coalesce(jsonb_object_agg(e.objective, e.value), '{}'::jsonb)
               from (
                 select distinct on (ev.objective) ev.objective, ev.value
                   from public.session_objective_events ev
                  where ev.session_info_id = v_session.id
                  order by ev.objective, ev.occurred_at desc, ev.created_at desc
               ) e
           )
     where s.id = v_session.id
     returning * into v_session;
  end if;

  -- The person answered: the session's lead still waiting for its first message follows (its
  -- waiting message and backlog item are cancelled by leads_follow_status). Only when this report
  -- changed the status, and only a lead still new or queued.
  if v_lead is not null and v_recorded and v_session.status is distinct from v_old_status
     and v_session.status in ('rejected', 'interested', 'started_work') then
    perform leadflow_private.queue_set_actor('automation', null, 'session_' || v_session.status);
    update public.leads l
       set status = case when v_session.status = 'rejected' then 'not_interested' else 'engaged' end,
           updated_at = leadflow_private.now()
     where l.id = v_lead and l.status in ('new', 'queued');
    perform leadflow_private.queue_set_actor(null);
  end if;

  return jsonb_build_object(
    'outcome', 'ok',
    'recorded', v_recorded,
    'session', v_session.session_id,
    'status', v_session.status,
    'objectives', v_session.objectives
  );
end;
$$;

-- =============================================================================================
-- leadflow_private.session_info_mark_contacted: the session's lead from campaign_session_leads
-- =============================================================================================
create or replace function leadflow_private.session_info_mark_contacted()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_at timestamptz;
  v_lead uuid;
  v_actor text[];
begin
  if new.direction <> 'outbound' then
    return null;
  end if;
  -- Two tables, two column names; each branch is planned only when it runs.
  if tg_table_name = 'call_info' then
    v_at := new.started_at;
  else
    v_at := new.sent_at;
  end if;

  -- The session's lead, when still waiting for its first message, locked before the session:
  -- leadflow_private.campaign_session_leads (the owner's lead holding the session, else the owner's
  -- lead with the session's phone), read for the session's id.
  select l.id into v_lead
    from public.leads l
   where l.id = (select v.lead_id
                   from leadflow_private.campaign_session_leads v
                  where v.user_id = new.user_id and v.session_info_id = new.session_info_id)
     and l.status in ('new', 'queued')
     for no key update of l;

  -- The first outbound message or call marks the session contacted, whoever writes it.
  update public.session_info s
     set contacted_at = least(coalesce(s.contacted_at, v_at), v_at)
   where s.id = new.session_info_id
     and (s.contacted_at is null or s.contacted_at > v_at);

  if v_lead is not null then
    v_actor := array[pg_catalog.current_setting('leadflow.queue_actor', true),
                     pg_catalog.current_setting('leadflow.queue_actor_id', true),
                     pg_catalog.current_setting('leadflow.queue_reason', true),
                     pg_catalog.current_setting('leadflow.queue_detail', true)];
    perform leadflow_private.queue_set_actor('automation', null, 'session_contacted');
    -- updated_at set here: the leads' touch trigger leaves it to writers that set an actor. The
    -- lead's ledger row, and its message's cancellation, are at the move, now.
    update public.leads l
       set status = 'contacted', updated_at = leadflow_private.now()
     where l.id = v_lead and l.status in ('new', 'queued');
    perform pg_catalog.set_config('leadflow.queue_actor', coalesce(v_actor[1], ''), true),
            pg_catalog.set_config('leadflow.queue_actor_id', coalesce(v_actor[2], ''), true),
            pg_catalog.set_config('leadflow.queue_reason', coalesce(v_actor[3], ''), true),
            pg_catalog.set_config('leadflow.queue_detail', coalesce(v_actor[4], ''), true);
  end if;
  return null;
end;
$$;

-- =============================================================================================
-- public.queue_add_leads_from_crm: a session with a lead, from campaign_session_leads
-- =============================================================================================
create or replace function public.queue_add_leads_from_crm(
  p_user_id uuid,
  p_tag_id uuid default null,
  p_campaign_id uuid default null,
  p_now timestamptz default leadflow_private.now(),
  p_after uuid default null,
  p_limit integer default 1000
)
returns table (from_id uuid, lead_id uuid, outcome text, status text, source text, name text, phone text,
               conversation_id uuid, campaign_session_id uuid, reason text)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_items leadflow_private.queue_new_lead[];
  v_skipped jsonb := '[]';
begin
  if p_user_id is null then
    raise exception 'p_user_id: required, the owner whose CRM the leads come from' using errcode = '22023';
  end if;
  if (p_tag_id is null) = (p_campaign_id is null) then
    raise exception 'p_tag_id, p_campaign_id: give exactly one (got %)', case when p_tag_id is null then 'neither' else 'both' end
      using errcode = '22023', hint = 'p_tag_id: the conversations carrying a tag; p_campaign_id: the sessions of a campaign.';
  end if;
  if p_limit is null or p_limit not between 1 and 1000 then
    raise exception 'p_limit: must be between 1 and 1000 (got %)', p_limit
      using errcode = '22023', hint = 'The Data API answers at most 1000 rows: page with p_after.';
  end if;
  if not p_user_id = any (leadflow_private.queue_known_users(array[p_user_id])) then
    raise exception 'p_user_id: user % does not exist', p_user_id using errcode = 'P0002', hint = 'Use the id of a user of this project (auth.users).';
  end if;
  if p_tag_id is not null and not exists (select from public.tags t where t.id = p_tag_id and t.user_id = p_user_id) then
    raise exception 'p_tag_id: tag % does not exist for user %', p_tag_id, p_user_id
      using errcode = 'P0002', hint = 'Use an id from tags of the same owner.';
  end if;
  if p_campaign_id is not null and not exists (select from public.campaign_info c where c.id = p_campaign_id and c.user_id = p_user_id) then
    raise exception 'p_campaign_id: campaign % does not exist for user %', p_campaign_id, p_user_id
      using errcode = 'P0002', hint = 'Use an id from campaign_info of the same owner.';
  end if;

  if p_tag_id is not null then
    v_items := array(
      select row((row_number() over (order by c.id) - 1)::integer, p_user_id,
                 case when length(btrim(c.sender_name)) between 1 and 200 and leadflow_private.is_valid_text(c.sender_name, 'line')
                      then btrim(c.sender_name) end,
                 null, c.id, null, 'crm_tag', null)::leadflow_private.queue_new_lead
        from public.conversation_tags ct
        join public.messenger_conversations c on c.id = ct.conversation_id
       where ct.tag_id = p_tag_id and c.user_id = p_user_id and (p_after is null or c.id > p_after)
       order by c.id
       limit p_limit);
  else
    -- A page of the campaign's sessions. One whose outreach started (contacted, or an objective
    -- recorded: create_campaign_sessions' rule) is skipped, with the reason, unless it has a lead
    -- already (then that lead is found, existing, as before): leadflow_private.campaign_session_leads
    -- (the owner's lead holding it, or the owner's lead with its phone).
    with page as materialized (
      select (row_number() over (order by s.id) - 1)::integer as idx, s.id, s.phone_e164,
             case when length(btrim(coalesce(s.display_name, n.contact_name))) between 1 and 200
                   and leadflow_private.is_valid_text(coalesce(s.display_name, n.contact_name), 'line')
                  then btrim(coalesce(s.display_name, n.contact_name)) end as name,
             case when exists (select from leadflow_private.campaign_session_leads v
                                where v.user_id = s.user_id and v.session_info_id = s.id offset 0) then null
                  when s.status <> 'pending' then 'session_' || s.status
                  when s.contacted_at is not null then 'session_contacted'
                  when s.objectives <> '{}'::jsonb then 'session_objective_recorded'
             end as skip
        from public.session_info s
        left join public.numbers n on n.user_id = s.user_id and n.phone_e164 = s.phone_e164
       where s.campaign_id = p_campaign_id and s.user_id = p_user_id and (p_after is null or s.id > p_after)
       order by s.id
       limit p_limit
    )
    select coalesce(array_agg(row(p.idx, p_user_id, p.name, p.phone_e164, null, p.id, 'campaign', null)::leadflow_private.queue_new_lead
                              order by p.idx) filter (where p.skip is null), '{}'),
           coalesce(jsonb_agg(jsonb_build_object('from_id', p.id, 'name', p.name, 'phone', p.phone_e164, 'reason', p.skip)
                              order by p.idx) filter (where p.skip is not null), '[]')
      into v_items, v_skipped
      from page p;
  end if;
  if cardinality(v_items) = 0 and jsonb_array_length(v_skipped) = 0 then
    return;
  end if;

  -- One answer in from_id order: the leads added or found, and the sessions skipped (no lead:
  -- outcome skipped, the session's name and phone, and why). A session found as the lead of its
  -- phone that holds another session (a phone shared by two campaigns: a lead holds one session)
  -- says so: existing, reason phone_holds_other_session; that lead is this session's lead all the
  -- same (its answers, its outreach's first contact and the queue's send follow it).
  if cardinality(v_items) > 0 then
    perform leadflow_private.queue_set_actor('automation', null, 'added');
  end if;
  return query
    select x.from_id, x.lead_id, x.outcome, x.status, x.source, x.name, x.phone, x.conversation_id, x.campaign_session_id, x.reason
      from (
        select coalesce(i.conversation_id, i.campaign_session_id) as from_id, r.lead_id, r.outcome, r.status, r.source,
               r.name, r.phone, r.conversation_id, r.campaign_session_id,
               case when i.campaign_session_id is not null and r.campaign_session_id <> i.campaign_session_id
                    then 'phone_holds_other_session' end as reason
          from leadflow_private.queue_add_lead_rows(v_items, p_now) r
          join unnest(v_items) i on i.item_index = r.item_index
         where cardinality(v_items) > 0
        union all
        select (k ->> 'from_id')::uuid, null::uuid, 'skipped', null::text, null::text,
               k ->> 'name', k ->> 'phone', null::uuid, (k ->> 'from_id')::uuid, k ->> 'reason'
          from jsonb_array_elements(v_skipped) k
      ) x
     order by x.from_id;
  if cardinality(v_items) > 0 then
    perform leadflow_private.queue_set_actor(null);
  end if;
end;
$$;
