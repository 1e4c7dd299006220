-- Take Lead accepts the reason the node accepts: free text (line breaks allowed) of at most 2,000
-- characters. Re-created: public.queue_take_lead (otherwise as in 20261201000410).
--
-- Why: the Queue Ledger node's Take Lead checks the reason as multi-line text of at most 2,000
-- characters, but the function refused anything but one line of 1 to 500. A reason typed in an
-- app's text box (a line break) or a long one passed the node, then the function refused it: the
-- webhook answered 400 and the lead was NOT taken over, so its queued messages kept going out. A
-- take-over must not fail over how its note is written. The reason is kept only as a note: in the
-- ledger row's detail (jsonb, any text) and in ai_automation_stops.note (at most 2,000 characters,
-- no rule on line breaks), so both hold the node's rule safely.
--
-- The rule now, the node's (nodes/shared/valid-input.ts, kind multiline): null, or text of
-- 'multiline' characters (leadflow_private.is_valid_text) that is 1 to 2,000 characters long once
-- the whitespace and line breaks around it are trimmed; the trimmed text is what is kept. Anything
-- else is still refused naming p_reason (22023), before anything is written.

create or replace function public.queue_take_lead(
  p_lead_id uuid,
  p_actor_id uuid default null,
  p_reason text default null,
  p_now timestamptz default leadflow_private.now(),
  p_user_id uuid default null
)
returns table (lead_id uuid, user_id uuid, status text, already_taken boolean, cancelled jsonb, stopped_rules integer)
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
  v_note text;
begin
  if p_lead_id is null then
    raise exception 'p_lead_id: required, the lead to take over' using errcode = '22023';
  end if;
  v_note := btrim(p_reason, E' \t\n\r\u2028\u2029');
  if p_reason is not null and (length(v_note) not between 1 and 2000 or not leadflow_private.is_valid_text(p_reason, 'multiline')) then
    raise exception 'p_reason: must be text of 1 to 2000 characters (line breaks allowed), or null' using errcode = '22023';
  end if;
  select l.user_id, l.conversation_id into v_lead from public.leads l where l.id = p_lead_id and (p_user_id is null or l.user_id = p_user_id);
  if not found then
    raise exception 'p_lead_id: lead % does not exist%', p_lead_id, case when p_user_id is not null then ' for user ' || p_user_id else '' end
      using errcode = 'P0002', hint = 'Use an id from leads (of that owner).';
  end if;
  if p_actor_id is not null and not p_actor_id = any (leadflow_private.queue_known_users(array[p_actor_id])) then
    raise exception 'p_actor_id: user % does not exist', p_actor_id
      using errcode = '22023', hint = 'Pass the id of the person taking the lead over (auth.users), or leave it out.';
  end if;

  v_detail := jsonb_strip_nulls(jsonb_build_object('take_over_id', v_take_over, 'note', v_note));
  perform leadflow_private.queue_set_actor('user', p_actor_id, 'human_takeover', v_detail);
  -- Messages, backlog item, lead: the lock order.
  update public.whatsapp_message_queue q
     set status = 'cancelled', lease_expires_at = null, completed_at = p_now, updated_at = p_now
   where q.lead_id = p_lead_id and q.status in ('queued', 'claimed', 'failed');
  update public.lead_processing_queue p
     set status = 'cancelled', updated_at = p_now
   where p.lead_id = p_lead_id and p.status in ('queued', 'claimed');
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

  return query select p_lead_id, v_lead.user_id, 'human_controlled'::text, v_changed = 0, v_cancelled, v_rules;
end;
$$;
comment on function public.queue_take_lead(uuid, uuid, text, timestamptz, uuid) is
  'A person takes a lead over in one transaction: its waiting messages and backlog item cancelled, the lead human_controlled, its follow-ups stopped; harmless twice.';
