-- The lead queue: four defects a review reproduced on a real stack.
-- Re-created: public.queue_take_lead (otherwise as in 20261201001260_queue_lock_lead_first.sql;
-- same signature, grants and comment, re-stated), leadflow_private.queue_touch_updated_at and the
-- two triggers that call it (leads_touch_updated_at, user_queue_settings_touch_updated_at;
-- otherwise as in 20261201000420_queue_ledger_faster.sql), leadflow_private.queue_add_lead_refusals
-- (otherwise as in 20261201001170_queue_add_leads_fill_and_refusals.sql; same signature and grants)
-- and the view public.queue_performance_metrics (otherwise as in 20261201000400_queue_ledger.sql;
-- same columns, so its grants stay).
--
-- 1. Take Lead turned an opted-out lead into human_controlled. queue_take_lead updated any lead not
--    yet human_controlled: a `do_not_contact`, `not_interested` or `invalid` lead (the console shows
--    the day's cancelled rows with their Take Lead button) became human_controlled, and once given
--    back (its status set to new) Prepare queued it and Claim sent it the first message again.
--    Now such a lead is refused (22023, `p_lead_id: lead … is do_not_contact (…), so it is not taken
--    over`, with a hint saying what to do; the Take Lead webhook answers it 400): nothing is written.
--
-- 2. A lead saved by the owner's app from a row it read earlier dated its change in the past. The
--    touch trigger ran only when the writer left updated_at as it was, so an app saving a whole row
--    it had loaded (supabase-js `update({...row, status})`) wrote the old updated_at back: the
--    ledger row of that change (at = the lead's updated_at) came before the rows that preceded it,
--    and the cancelled message's completed_at (the lead's updated_at) before its created_at. Now,
--    when no queue function writes (the setting leadflow.queue_actor empty: the owner's app, n8n's
--    own writes, SQL by hand), updated_at is always leadflow_private.now(), whatever the writer
--    sends. The queue functions set the actor and updated_at (their p_now) themselves, and the
--    trigger leaves both alone, as before; so does a trigger that moves a lead with an actor set
--    (record_session_objective, the session triggers: leadflow_private.now(), migration
--    20261201001550). The same rule for user_queue_settings (one function, one rule). Inserts are
--    unchanged: an imported lead may carry its own created_at and updated_at.
--
-- 3. A lead paired with a campaign session of another phone. queue_add_lead_rows takes an item's
--    phone before its session's (`coalesce(i.phone, s.phone_e164)`), so {phone P, session S} with S
--    of phone Q made a lead of P holding S: S answered `rejected` moved P's lead to not_interested,
--    while Q's lead (the person who said no, added later by its phone) stayed new and was messaged.
--    Now queue_add_lead_refusals refuses such an item (field `phone`, naming both phones and what
--    to do), like a session that is not the owner's: raised, or answered (p_refused answer / check)
--    and left out of the write. An item without a phone still takes its session's.
--
-- 4. The mean processing time counted the lease run-out of uncertain sends. A message whose worker
--    died after its send began is ended dead (reason send_uncertain) by the next claim after its
--    lease ran out: that row's time since the claim is the lease, not the worker's processing, yet
--    queue_performance_metrics (and so queue_metrics, the metrics webhook and the console) averaged
--    it in. Now mean_processing_seconds leaves out the rows of reason send_uncertain: from claimed to
--    the worker's report (sent, failed or dead), as documented. The failed count is unchanged.

-- =============================================================================================
-- 1. public.queue_take_lead: a lead nobody may message is not taken over
-- =============================================================================================
create or replace function public.queue_take_lead(
  p_lead_id uuid,
  p_actor_id uuid default null,
  p_reason text default null,
  p_now timestamptz default leadflow_private.now(),
  p_user_id uuid default null
)
returns table (lead_id uuid, user_id uuid, status text, already_taken boolean, cancelled jsonb, stopped_rules integer, sending jsonb)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_lead record;
  v_take_over uuid := gen_random_uuid();
  v_detail jsonb;
  v_changed integer;
  v_rules integer := 0;
  v_cancelled jsonb;
  v_sending jsonb;
  v_note text;
begin
  if p_lead_id is null then
    raise exception 'p_lead_id: required, the lead to take over' using errcode = '22023';
  end if;
  v_note := btrim(p_reason, E' \t\n\r\u2028\u2029');
  if p_reason is not null and (length(v_note) not between 1 and 2000 or not leadflow_private.is_valid_text(p_reason, 'multiline')) then
    raise exception 'p_reason: must be text of 1 to 2000 characters (line breaks allowed), or null' using errcode = '22023';
  end if;
  -- The lead first (the lock order: lead, messages, backlog item, as the leads' trigger and
  -- queue_complete take them), held until the end.
  select l.user_id, l.conversation_id, l.status into v_lead from public.leads l where l.id = p_lead_id and (p_user_id is null or l.user_id = p_user_id)
     for no key update;
  if not found then
    raise exception 'p_lead_id: lead % does not exist%', p_lead_id, case when p_user_id is not null then ' for user ' || p_user_id else '' end
      using errcode = 'P0002', hint = 'Use an id from leads (of that owner).';
  end if;
  -- A lead nobody may message (opted out, declined, unreachable) is not taken over: taken, then
  -- given back (set to new), it would be queued and messaged again. Nothing is written.
  if v_lead.status in ('do_not_contact', 'not_interested', 'invalid') then
    raise exception 'p_lead_id: lead % is % (%), so it is not taken over', p_lead_id, v_lead.status,
      case v_lead.status
        when 'do_not_contact' then 'opted out: never to be contacted'
        when 'not_interested' then 'it declined'
        else 'it cannot be reached: WhatsApp gave its message up as undeliverable, or its details are wrong'
      end
      using errcode = '22023',
            hint = case v_lead.status
              when 'invalid' then 'Leave it as it is; once its phone is corrected in your app and its status set to one you may contact (e.g. contacted), take it over.'
              else 'Leave it as it is: nobody may message it. If the person asked to hear from you again, set its status in your app first (e.g. engaged), then take it over.'
            end;
  end if;
  if p_actor_id is not null and not p_actor_id = any (leadflow_private.queue_known_users(array[p_actor_id])) then
    raise exception 'p_actor_id: user % does not exist', p_actor_id
      using errcode = '22023', hint = 'Pass the id of the person taking the lead over (auth.users), or leave it out.';
  end if;

  v_detail := jsonb_strip_nulls(jsonb_build_object('take_over_id', v_take_over, 'note', v_note));
  perform leadflow_private.queue_set_actor('user', p_actor_id, 'human_takeover', v_detail);
  -- Its messages, then its backlog item, then the lead's status. What has not begun sending is
  -- cancelled; a claimed message whose send began (it may be out) and its backlog item are left
  -- to its worker's Complete.
  update public.whatsapp_message_queue q
     set status = 'cancelled', lease_expires_at = null, completed_at = p_now, updated_at = p_now
   where q.lead_id = p_lead_id and q.status in ('queued', 'claimed', 'failed')
     and (q.status <> 'claimed' or q.send_started_at is null);
  update public.lead_processing_queue p
     set status = 'cancelled', updated_at = p_now
   where p.lead_id = p_lead_id and p.status in ('queued', 'claimed')
     and not exists (select from public.whatsapp_message_queue q
                      where q.lead_id = p.lead_id and q.status = 'claimed' and q.send_started_at is not null);
  -- (Its trigger cancels what a concurrent queue_prepare queued meanwhile, with the same detail.)
  update public.leads l
     set status = 'human_controlled', taken_over_at = p_now, taken_over_by = p_actor_id, updated_at = p_now
   where l.id = p_lead_id and l.status <> 'human_controlled';
  get diagnostics v_changed = row_count;

  if v_lead.conversation_id is not null then
    select count(*) into v_rules
      from public.ai_automation_rules r
      join public.messenger_conversations c on c.id = v_lead.conversation_id
     where r.user_id = v_lead.user_id and r.enabled and (r.page_id is null or r.page_id = c.page_id)
       and not exists (select from public.ai_automation_stops s
                        where s.conversation_id = v_lead.conversation_id and (s.rule_id is null or s.rule_id = r.id));
    insert into public.ai_automation_stops (user_id, conversation_id, rule_id, reason, note)
    values (v_lead.user_id, v_lead.conversation_id, null, 'human_takeover', coalesce(v_note, 'lead taken over (' || p_lead_id || ')'))
    on conflict (conversation_id, rule_id) do nothing;
  end if;
  perform leadflow_private.queue_set_actor(null);

  select coalesce(jsonb_agg(jsonb_build_object('queue', g.queue, 'item_id', g.item_id, 'from_status', g.from_status) order by g.id), '[]'::jsonb)
    into v_cancelled
    from public.queue_ledger g
   where g.lead_id = p_lead_id and g.to_status = 'cancelled' and g.detail ->> 'take_over_id' = v_take_over::text;
  -- The lead's messages being sent now: left to their worker, maybe delivered.
  select coalesce(jsonb_agg(jsonb_build_object('item_id', q.id, 'send_started_at', q.send_started_at, 'worker', q.lease_holder)
                            order by q.send_started_at, q.id), '[]'::jsonb)
    into v_sending
    from public.whatsapp_message_queue q
   where q.lead_id = p_lead_id and q.status = 'claimed' and q.send_started_at is not null;

  return query select p_lead_id, v_lead.user_id, 'human_controlled'::text, v_changed = 0, v_cancelled, v_rules, v_sending;
end;
$$;
comment on function public.queue_take_lead(uuid, uuid, text, timestamptz, uuid) is
  'A person takes a lead over in one transaction: its waiting messages and backlog item cancelled, the lead human_controlled, its follow-ups stopped; a message whose send began is left to its worker''s Complete and listed in sending; harmless twice. A do_not_contact, not_interested or invalid lead is refused (22023), nothing written.';
revoke all on function public.queue_take_lead(uuid, uuid, text, timestamptz, uuid) from public, anon, authenticated;
grant execute on function public.queue_take_lead(uuid, uuid, text, timestamptz, uuid) to service_role;

-- =============================================================================================
-- 2. updated_at: the database's now whenever no queue function writes
-- =============================================================================================
create or replace function leadflow_private.queue_touch_updated_at()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  -- (The triggers call it only when no queue function writes; checked again for any other caller.)
  if coalesce(pg_catalog.current_setting('leadflow.queue_actor', true), '') = '' then
    new.updated_at := leadflow_private.now();
  end if;
  return new;
end;
$$;
revoke all on function leadflow_private.queue_touch_updated_at() from public, anon, authenticated, service_role;

-- A WHEN clause is evaluated without calling the function: a queue function's statement (actor set)
-- still calls no PL/pgSQL function per row.
drop trigger if exists leads_touch_updated_at on public.leads;
create trigger leads_touch_updated_at
  before update on public.leads
  for each row when (coalesce(pg_catalog.current_setting('leadflow.queue_actor', true), '') = '')
  execute function leadflow_private.queue_touch_updated_at();
drop trigger if exists user_queue_settings_touch_updated_at on public.user_queue_settings;
create trigger user_queue_settings_touch_updated_at
  before update on public.user_queue_settings
  for each row when (coalesce(pg_catalog.current_setting('leadflow.queue_actor', true), '') = '')
  execute function leadflow_private.queue_touch_updated_at();

-- =============================================================================================
-- 3. leadflow_private.queue_add_lead_refusals: a phone that is not its session's is refused
-- =============================================================================================
-- The items the database refuses, at most one refusal each (owner, then conversation, then session,
-- then a phone other than its session's).
create or replace function leadflow_private.queue_add_lead_refusals(p_items leadflow_private.queue_new_lead[])
returns table (item_index integer, field text, message text, hint text)
language sql
stable
set search_path = ''
as $$
  with known as (
    select unnest(leadflow_private.queue_known_users(array(select distinct i.user_id from unnest(p_items) i))) as user_id
  )
  select i.item_index, r.field, r.message, r.hint
    from unnest(p_items) i
   cross join lateral (
     select x.field, x.message, x.hint
       from (
         select 1, 'user_id', format('user %s does not exist', i.user_id),
                'Use the id of a user of this project (auth.users): the lead''s owner.'
          where not exists (select from known k where k.user_id = i.user_id)
         union all
         select 2, 'conversation_id', format('conversation %s does not exist for user %s', i.conversation_id, i.user_id),
                'Use ids from messenger_conversations of the lead''s owner, or leave conversation_id out.'
          where i.conversation_id is not null
            and not exists (select from public.messenger_conversations c where c.id = i.conversation_id and c.user_id = i.user_id)
         union all
         select 3, 'campaign_session_id', format('campaign session %s does not exist for user %s', i.campaign_session_id, i.user_id),
                'Use ids from session_info of the lead''s owner, or leave campaign_session_id out.'
          where i.campaign_session_id is not null
            and not exists (select from public.session_info s where s.id = i.campaign_session_id and s.user_id = i.user_id)
         union all
         -- The lead holding a session is that session's person: its answer moves the lead.
         select 4, 'phone',
                format('%s is not the phone of its campaign session %s (%s): send that phone or leave phone empty to take it, or leave campaign_session_id out to add this number as a lead of its own',
                       i.phone, i.campaign_session_id, s.phone_e164),
                'Send the campaign session''s phone (or leave phone empty: the session''s is used), or leave campaign_session_id out to add this number as a lead of its own.'
           from public.session_info s
          where i.phone is not null and i.campaign_session_id is not null
            and s.id = i.campaign_session_id and s.user_id = i.user_id and s.phone_e164 <> i.phone
       ) x (rank, field, message, hint)
      order by x.rank
      limit 1
   ) r
   order by i.item_index
$$;
revoke all on function leadflow_private.queue_add_lead_refusals(leadflow_private.queue_new_lead[]) from public, anon, authenticated;
grant execute on function leadflow_private.queue_add_lead_refusals(leadflow_private.queue_new_lead[]) to service_role;

-- =============================================================================================
-- 4. public.queue_performance_metrics: processing time without the lease run-out of uncertain sends
-- =============================================================================================
-- The WhatsApp queue's rows of the ledger, per owner and per day the messages were prepared for:
--   queued                   messages prepared for the day
--   sent                     sent
--   failed                   failed attempts (to failed or dead)
--   cancelled                cancelled (take-overs included)
--   taken_over               cancelled because their lead was taken over
--   mean_wait_seconds        from due (the later of entering queued / failed and scheduled_for) to
--                            claimed, over the claims of queued and failed messages
--   mean_processing_seconds  from claimed to the worker's report (sent, failed or dead); a message a
--                            claim ended dead after its lease ran out with its send begun (reason
--                            send_uncertain) had no report: left out
create or replace view public.queue_performance_metrics
with (security_invoker = true)
as
select g.user_id, g.day,
       count(*) filter (where g.from_status is null)::integer as queued,
       count(*) filter (where g.to_status = 'sent')::integer as sent,
       count(*) filter (where g.from_status = 'claimed' and g.to_status in ('failed', 'dead'))::integer as failed,
       count(*) filter (where g.to_status = 'cancelled')::integer as cancelled,
       count(*) filter (where g.to_status = 'cancelled' and g.reason = 'human_takeover')::integer as taken_over,
       round(avg(extract(epoch from g.at - greatest(g.prev_at, g.prev_scheduled_for)))
               filter (where g.to_status = 'claimed' and g.from_status in ('queued', 'failed')), 3) as mean_wait_seconds,
       round(avg(extract(epoch from g.at - g.prev_at))
               filter (where g.from_status = 'claimed' and g.to_status in ('sent', 'failed', 'dead')
                         and g.reason is distinct from 'send_uncertain'), 3) as mean_processing_seconds
  from (
    select l.user_id, l.day, l.from_status, l.to_status, l.reason, l.at,
           lag(l.at) over w as prev_at, lag(l.scheduled_for) over w as prev_scheduled_for
      from public.queue_ledger l
     where l.day is not null
    window w as (partition by l.user_id, l.day, l.item_id order by l.id)
  ) g
 group by g.user_id, g.day;
comment on view public.queue_performance_metrics is 'Per owner per queue day, from the ledger: messages queued, sent, failed attempts, cancelled, taken over, mean wait and processing time (claimed to the worker''s report; an uncertain send ended by a later claim left out).';
