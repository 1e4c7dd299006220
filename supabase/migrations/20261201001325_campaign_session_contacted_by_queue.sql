-- Campaign sessions: a lead the queue contacted marks its campaign session contacted.
-- New: trigger function leadflow_private.leads_mark_campaign_session_contacted and the trigger
-- leads_mark_campaign_session_contacted (after update on public.leads, once per statement).
--
-- Why: session_info.contacted_at was set only by the triggers on chat_history and call_info
-- inserts, and nothing the product ships writes those tables. The Queue Ledger sends a campaign's
-- sessions on WhatsApp (queue_add_leads with campaign_session_id) and queue_complete marks the
-- lead 'contacted', but the session stayed pending: the campaign stats counted nobody contacted,
-- and a replayed launch (create_campaign_sessions) could hand the session to the outreach again
-- after its lease. Now, when a lead that carries a campaign session becomes 'contacted' (from any
-- other status, whoever updates it: queue_complete, the owner's app), its session's contacted_at
-- is set to the lead's updated_at (the send's p_now in queue_complete), or kept when it was
-- earlier; the status follows (session_info_keep_status).
-- Cost on the queue's hot path: one statement per UPDATE of leads, reading the transition tables;
-- a lead without a campaign session (or not newly contacted) is filtered out before the join, and
-- each session is found by its primary key. queue_complete is not re-created.

create or replace function leadflow_private.leads_mark_campaign_session_contacted()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.session_info s
     set contacted_at = least(coalesce(s.contacted_at, n.updated_at), n.updated_at)
    from new_rows n
    join old_rows o on o.id = n.id
   where n.campaign_session_id is not null
     and n.status = 'contacted' and o.status is distinct from 'contacted'
     and s.id = n.campaign_session_id and s.user_id = n.user_id
     and (s.contacted_at is null or s.contacted_at > n.updated_at);
  return null;
end;
$$;

revoke all on function leadflow_private.leads_mark_campaign_session_contacted() from public, anon, authenticated, service_role;

drop trigger if exists leads_mark_campaign_session_contacted on public.leads;
create trigger leads_mark_campaign_session_contacted
  after update on public.leads
  referencing old table as old_rows new table as new_rows
  for each statement execute function leadflow_private.leads_mark_campaign_session_contacted();
