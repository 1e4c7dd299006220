-- Take Lead's stop holds: a take makes its conversation's stop for every rule one that lasts until
-- deleted, also where a person had taken the conversation over from the Page inbox.
-- Re-created: public.queue_take_lead (otherwise as in 20261201002000_queue_take_not_to_message_stops_follow_ups.sql;
-- same arguments, answer, grants and comment).
--
-- Why (review Z): a person answering from the Page inbox writes a stop for every rule (rule_id
-- null, human_takeover) with last_human_message_at, which a rule with resume_after_takeover_hours
-- lifts that many hours later (leadflow_private.automation_stop_of). The take inserted its own stop
-- `on conflict (conversation_id, rule_id) do nothing`, so on such a conversation it wrote nothing:
-- the stop stayed liftable, the answer said stopped_rules 0 and, for a do_not_contact lead, "its
-- Messenger follow-ups are stopped for every rule", and two hours later the rule claimed the person
-- who opted out. An ordinary take did the same since the inbox takeover exists.
--
-- Now the take upserts the stop: a liftable one gets last_human_message_at null and the take's note
-- (it lasts until deleted, as the answer says); any other stop for every rule (a take's, a manual
-- one, an automation's) already lasts until deleted and is left as it is. stopped_rules counts the
-- enabled rules of the conversation's Page that no stop held until deleted before the take: a
-- liftable stop does not count for a rule that resumes after a takeover. The Page-inbox path
-- (messenger_record_events) moves last_human_message_at of a liftable stop only, so it never makes
-- the take's stop liftable again. A take's default note (no p_reason) for a lead whose status is
-- kept says it was not taken over.

create or replace function public.queue_take_lead(
  p_lead_id uuid,
  p_actor_id uuid default null,
  p_reason text default null,
  p_now timestamptz default leadflow_private.now(),
  p_user_id uuid default null
)
returns table (lead_id uuid, user_id uuid, status text, already_taken boolean, cancelled jsonb, stopped_rules integer, sending jsonb,
               status_kept boolean, explanation text)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_lead record;
  v_take_over uuid := gen_random_uuid();
  v_detail jsonb;
  v_changed integer := 0;
  v_rules integer := 0;
  v_cancelled jsonb;
  v_sending jsonb;
  v_note text;
  v_keep boolean;
  v_explanation text;
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
  if p_actor_id is not null and not p_actor_id = any (leadflow_private.queue_known_users(array[p_actor_id])) then
    raise exception 'p_actor_id: user % does not exist', p_actor_id
      using errcode = '22023', hint = 'Pass the id of the person taking the lead over (auth.users), or leave it out.';
  end if;
  -- A lead nobody may message (opted out, declined, unreachable) keeps its status: made
  -- human_controlled, then given back (set to new), it would be queued and messaged again. The rest
  -- of the take (cancel what waits, stop the follow-ups) is done all the same.
  v_keep := v_lead.status in ('do_not_contact', 'not_interested', 'invalid');
  if v_keep then
    v_explanation := format('Lead %s is %s (%s): its status is kept, not made human_controlled, so giving it back can never queue it again; %s',
      p_lead_id, v_lead.status,
      case v_lead.status
        when 'do_not_contact' then 'opted out: never to be contacted'
        when 'not_interested' then 'it declined'
        else 'it cannot be reached: WhatsApp gave its message up as undeliverable, or its details are wrong'
      end,
      case when v_lead.conversation_id is not null
        then 'its Messenger follow-ups are stopped for every rule (delete the stop to resume them).'
        else 'it has no Messenger conversation, so there are no follow-ups to stop.'
      end);
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
  if not v_keep then
    update public.leads l
       set status = 'human_controlled', taken_over_at = p_now, taken_over_by = p_actor_id, updated_at = p_now
     where l.id = p_lead_id and l.status <> 'human_controlled';
    get diagnostics v_changed = row_count;
  end if;

  if v_lead.conversation_id is not null then
    -- The rules this take stops: the enabled rules of the conversation's Page that no stop held
    -- until deleted (a Page-inbox takeover, last_human_message_at set, ends for a rule with
    -- resume_after_takeover_hours: automation_stop_of), so they are counted and stopped now.
    select count(*) into v_rules
      from public.ai_automation_rules r
      join public.messenger_conversations c on c.id = v_lead.conversation_id
     where r.user_id = v_lead.user_id and r.enabled and (r.page_id is null or r.page_id = c.page_id)
       and not exists (select from public.ai_automation_stops s
                        where s.conversation_id = v_lead.conversation_id and (s.rule_id is null or s.rule_id = r.id)
                          and (s.last_human_message_at is null or r.resume_after_takeover_hours is null));
    -- The stop for every rule holds until deleted: a Page-inbox takeover's stop there becomes the
    -- take's (no last_human_message_at, the take's note); any other stop for every rule already holds.
    insert into public.ai_automation_stops as st (user_id, conversation_id, rule_id, reason, note)
    values (v_lead.user_id, v_lead.conversation_id, null, 'human_takeover',
            coalesce(v_note, case when v_keep then 'follow-ups stopped for lead ' || p_lead_id || ' (' || v_lead.status || ', not taken over)'
                                  else 'lead taken over (' || p_lead_id || ')' end))
    on conflict (conversation_id, rule_id) do update
       set last_human_message_at = null, note = excluded.note
     where st.last_human_message_at is not null;
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

  return query select p_lead_id, v_lead.user_id, case when v_keep then v_lead.status else 'human_controlled'::text end,
                      not v_keep and v_changed = 0, v_cancelled, v_rules, v_sending, v_keep, v_explanation;
end;
$$;
comment on function public.queue_take_lead(uuid, uuid, text, timestamptz, uuid) is
  'A person takes a lead over in one transaction: its waiting messages and backlog item cancelled, the lead human_controlled, its follow-ups stopped; a message whose send began is left to its worker''s Complete and listed in sending; harmless twice. A do_not_contact, not_interested or invalid lead keeps its status (status_kept, explanation) and is otherwise handled the same: its follow-ups stopped, what waits cancelled.';
revoke all on function public.queue_take_lead(uuid, uuid, text, timestamptz, uuid) from public, anon, authenticated;
grant execute on function public.queue_take_lead(uuid, uuid, text, timestamptz, uuid) to service_role;
