-- queue_settle_lead (…2944) re-created with one refusal's advice given in every state it holds for and
-- said as its own sentence; nothing else changes (review RMMF1 F1).
--
-- Why: after an uncertain death and the lead set back to new, Prepare writes the lead a new message.
-- Settling `delivered` then is refused (the last message is no longer the dead one); the refusal told
-- the owner to set the lead contacted (the leads' trigger then cancels the new message before it is
-- sent) only while that message was queued or failed, not once a run had claimed it without beginning
-- its send, which the trigger cancels too: the owner was left without a way to stop a message that
-- may double the first. And the advice sat inside the state, with the rule sentence tacked after it,
-- so it read as if contacted would not help. Now the advice follows the rule sentence for a last
-- message queued, failed, or claimed with its send not begun.
--
-- Everything else as in …2944 (arguments, answer, ledger rows, locks, grants).

create or replace function public.queue_settle_lead(
  p_lead_id uuid,
  p_outcome text,
  p_actor_id uuid default null,
  p_reason text default null,
  p_now timestamptz default leadflow_private.now(),
  p_user_id uuid default null
)
returns table (lead_id uuid, user_id uuid, outcome text, settled boolean, already_settled boolean, refusal text, field text,
               status text, item_id uuid, message_status text, error_code text, explanation text)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_lead record;
  v_message record;
  v_earlier record;
  v_backlog text;
  v_note text;
  v_code text;
  v_state text;
  v_at timestamptz;
  v_advice text;
begin
  if p_lead_id is null then
    raise exception 'p_lead_id: required, the lead whose dead message to settle' using errcode = '22023';
  end if;
  if p_outcome is null or p_outcome not in ('delivered', 'send_again') then
    raise exception 'p_outcome: must be delivered (it arrived: the lead becomes contacted) or send_again (the next Prepare sends a new message), got %',
      coalesce('"' || left(p_outcome, 40) || '"', 'nothing')
      using errcode = '22023', hint = 'Give outcome "delivered" or "send_again".';
  end if;
  v_note := btrim(p_reason, E' \t\n\r\u2028\u2029');
  if p_reason is not null and (length(v_note) not between 1 and 2000 or not leadflow_private.is_valid_text(p_reason, 'multiline')) then
    raise exception 'p_reason: must be text of 1 to 2000 characters (line breaks allowed), or null' using errcode = '22023';
  end if;
  -- The lead first, held until the end: a Take Lead, a give-back or another settle waits for it.
  select l.user_id, l.status, l.phone, l.campaign_session_id into v_lead
    from public.leads l where l.id = p_lead_id and (p_user_id is null or l.user_id = p_user_id)
     for no key update;
  if not found then
    raise exception 'p_lead_id: lead % does not exist%', p_lead_id, case when p_user_id is not null then ' for user ' || p_user_id else '' end
      using errcode = 'P0002', hint = 'Use an id from leads (of that owner).';
  end if;
  if p_actor_id is not null and not p_actor_id = any (leadflow_private.queue_known_users(array[p_actor_id])) then
    raise exception 'p_actor_id: user % does not exist', p_actor_id
      using errcode = '22023', hint = 'Pass the id of the person settling the message (auth.users), or leave it out.';
  end if;

  -- Its last message (the one the leads' trigger judges a give-back by), locked.
  select q.id, q.status, q.send_started_at, q.completed_at, q.updated_at, q.last_error ->> 'code' as code into v_message
    from public.whatsapp_message_queue q
   where q.lead_id = p_lead_id
   order by q.day desc, q.created_at desc
   limit 1
     for update;
  if not found or v_message.status <> 'dead' then
    v_state := case
      when v_message.id is null then 'has no WhatsApp message'
      when v_message.status = 'claimed' and v_message.send_started_at is not null
        then format('has its last message being sent now (since %s): its run records what Meta answers; settle it only if it then ends dead', v_message.send_started_at)
      when v_message.status = 'claimed' then 'has its last message claimed by a run, not sent yet'
      when v_message.status in ('queued', 'failed') then format('has its last message waiting to be sent (%s)', v_message.status)
      when v_message.status = 'sent' then 'has its last message sent: Meta accepted it'
      else format('has its last message %s', v_message.status)
    end;
    -- A last message the leads' trigger cancels when the lead is set contacted (queued, failed, or claimed
    -- with its send not begun), written after a message that died uncertain: the owner can still stop it.
    if v_message.id is not null
       and (v_message.status in ('queued', 'failed') or (v_message.status = 'claimed' and v_message.send_started_at is null))
       and exists (select from public.whatsapp_message_queue e
                    where e.id = (select x.id from public.whatsapp_message_queue x where x.lead_id = p_lead_id and x.id <> v_message.id
                                   order by x.day desc, x.created_at desc limit 1)
                      and e.status = 'dead' and e.last_error ->> 'code' = 'uncertain') then
      v_advice := ' It was written after its message before died uncertain (that one may have arrived): if it did, set the lead to contacted in your app, and this new message is cancelled before it is sent.';
    end if;
    return query select p_lead_id, v_lead.user_id, p_outcome, false, false, 'not_settleable'::text, 'lead_id'::text, v_lead.status,
                        v_message.id, v_message.status, v_message.code,
                        format('Lead %s %s: only a lead whose last message ended dead can be settled.%s', p_lead_id, v_state, coalesce(v_advice, ''));
    return;
  end if;
  v_code := v_message.code;

  -- Settled before (this message): the same outcome answers as the first time, the other is refused.
  select g.detail ->> 'outcome' as outcome, g.at into v_earlier
    from public.queue_ledger g
   where g.lead_id = p_lead_id and g.reason = 'dead_message_settled' and g.detail ->> 'item_id' = v_message.id::text
   order by g.id
   limit 1;
  if found then
    if v_earlier.outcome = p_outcome then
      return query select p_lead_id, v_lead.user_id, p_outcome, true, true, null::text, null::text, v_lead.status, v_message.id, v_message.status, v_code,
                          format('Lead %s''s dead message was already settled as %s (%s); nothing changed.', p_lead_id, p_outcome, v_earlier.at);
    else
      return query select p_lead_id, v_lead.user_id, p_outcome, false, false, 'not_settleable'::text, 'outcome'::text, v_lead.status, v_message.id, v_message.status, v_code,
                          format('Lead %s''s dead message was already settled as %s (%s): it cannot be settled as %s too. The lead is %s now.',
                                 p_lead_id, v_earlier.outcome, v_earlier.at, p_outcome, v_lead.status);
    end if;
    return;
  end if;

  if p_outcome = 'delivered' and v_code is distinct from 'uncertain' then
    return query select p_lead_id, v_lead.user_id, p_outcome, false, false, 'not_settleable'::text, 'outcome'::text, v_lead.status, v_message.id, v_message.status, v_code,
                        format('Lead %s''s last message died with error %s: Meta answered, so it was not delivered; only a message dead "uncertain" (it may have gone out) can be settled as delivered.%s',
                               p_lead_id, coalesce(v_code, '(no code)'),
                               case when v_lead.status = 'queued' then ' Use send_again to have a new message sent.' else '' end);
    return;
  end if;
  if v_lead.status not in ('new', 'queued') then
    return query select p_lead_id, v_lead.user_id, p_outcome, false, false, 'not_settleable'::text, 'lead_id'::text, v_lead.status, v_message.id, v_message.status, v_code,
                        format('Lead %s is %s: %s', p_lead_id, v_lead.status,
                          case v_lead.status
                            when 'do_not_contact' then 'the person opted out, so nothing is sent to them again and the lead is not marked contacted.'
                            when 'invalid' then 'WhatsApp gave its message up as undeliverable, or its details are wrong: correct its phone and set it to new to have it queued again.'
                            when 'human_controlled' then 'a person has taken it over. If it arrived, set it to contacted in your app (giving it back, set to new, queues it and sends a new message); to have it sent again, give it back.'
                            else 'it has moved on since its message died, so there is nothing to settle.'
                          end);
    return;
  end if;
  -- Read, not locked: Prepare locks backlog items before their leads (it takes only queued ones), so
  -- waiting here for a queued item while holding the lead deadlocks with it. A dead item changes only
  -- under its lead's lock (the leads' trigger, Complete, Claim's reaper, a settle), held here.
  select p.status into v_backlog from public.lead_processing_queue p
   where p.lead_id = p_lead_id order by p.created_at desc limit 1;
  -- Queued again by the owner's new or a give-back after an uncertain death: it arrived is still
  -- true, and contacted stops the queued item (the leads' trigger cancels it) before Prepare sends again.
  if v_backlog = 'queued' and p_outcome = 'delivered' and v_code = 'uncertain' then
    -- Never wait for Prepare here (it holds the item, then waits for this lead): skip it if held.
    perform from public.lead_processing_queue p where p.lead_id = p_lead_id and p.status = 'queued' for update skip locked;
    if not found then
      return query select p_lead_id, v_lead.user_id, p_outcome, false, false, 'not_settleable'::text, 'lead_id'::text, v_lead.status, v_message.id, v_message.status, v_code,
                          format('Lead %s is being given a new message by Prepare right now, so it can no longer be settled here. If its last message arrived, set the lead to contacted in your app: its new message is then cancelled before it is sent.', p_lead_id);
      return;
    end if;
  elsif v_backlog is distinct from 'dead' then
    return query select p_lead_id, v_lead.user_id, p_outcome, false, false, 'not_settleable'::text, 'lead_id'::text, v_lead.status, v_message.id, v_message.status, v_code,
                        format('Lead %s is %s and its backlog item is %s: %s; %s',
                               p_lead_id, v_lead.status, coalesce(v_backlog, 'missing'),
                               case when v_code = 'uncertain' then 'it was queued again when it was set to new (given back, or by your app) after its message died uncertain'
                                    else format('it was queued again by itself after its message died (error %s, not the lead''s fault)', coalesce(v_code, '(no code)')) end,
                               case when v_lead.status = 'new' then 'the next Prepare sends it a new message.'
                                    else format('Prepare takes only new leads, so none sends it while the lead stays %s: set the lead to new in your app to have a new message sent.', v_lead.status) end);
    return;
  end if;

  perform leadflow_private.queue_set_actor('user', p_actor_id, 'dead_message_settled',
    jsonb_strip_nulls(jsonb_build_object('item_id', v_message.id, 'outcome', p_outcome, 'error_code', v_code, 'note', v_note)));
  if p_outcome = 'send_again' then
    -- The backlog item back in the queue first (dead -> queued), then the lead new (its trigger then
    -- finds nothing more to put back).
    update public.lead_processing_queue p
       set status = 'queued', day = null, lease_holder = null, lease_expires_at = null, scheduled_for = p_now, updated_at = p_now
     where p.lead_id = p_lead_id and p.status = 'dead';
    update public.leads l set status = 'new', updated_at = p_now where l.id = p_lead_id and l.status <> 'new';
  else
    update public.leads l set status = 'contacted', updated_at = p_now where l.id = p_lead_id;
    -- Its campaign sessions contacted as a sent message's are (queue_complete): the one it holds and
    -- those of its phone no other lead holds, at the time the send began, never moved later.
    v_at := least(coalesce(v_message.send_started_at, v_message.completed_at, p_now), p_now);
    update public.session_info s
       set contacted_at = least(coalesce(s.contacted_at, v_at), v_at)
      from (select h.id from public.session_info h
             where h.id = v_lead.campaign_session_id and h.user_id = v_lead.user_id
            union
            select o.id from public.session_info o
             where v_lead.phone is not null and o.user_id = v_lead.user_id and o.phone_e164 = v_lead.phone
               and not exists (select from public.leads x where x.user_id = o.user_id and x.campaign_session_id = o.id)) x
     where s.id = x.id
       and (s.contacted_at is null or s.contacted_at > v_at);
  end if;
  perform leadflow_private.queue_set_actor(null);

  return query select p_lead_id, v_lead.user_id, p_outcome, true, false, null::text, null::text,
                      case when p_outcome = 'delivered' then 'contacted' else 'new' end, v_message.id, v_message.status, v_code,
                      case when p_outcome = 'delivered'
                        then format('Lead %s is contacted: its message (error %s) is taken as delivered.', p_lead_id, coalesce(v_code, '(no code)'))
                        else format('Lead %s is new again: the next Prepare queues a new message for it.%s', p_lead_id,
                               case when v_code = '131050' then ' Its last message was refused because the person stopped marketing messages (131050): send again only if they opted back in.' else '' end)
                      end;
end;
$$;
comment on function public.queue_settle_lead(uuid, text, uuid, text, timestamptz, uuid) is
  'The owner settles a lead whose last WhatsApp message ended dead, in one transaction, the lead locked first: delivered (only a message dead uncertain: the lead becomes contacted, its campaign sessions contacted) or send_again (its backlog item queued again, the lead new: the next Prepare writes a new message). Ledger reason dead_message_settled, actor user. The same outcome again answers already_settled, nothing written; a lead that cannot be settled is answered settled false, refusal not_settleable, field and explanation; an unknown lead (or another owner''s) raises P0002.';
revoke all on function public.queue_settle_lead(uuid, text, uuid, text, timestamptz, uuid) from public, anon, authenticated;
grant execute on function public.queue_settle_lead(uuid, text, uuid, text, timestamptz, uuid) to service_role;
