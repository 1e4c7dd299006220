-- Add Leads from a campaign's sessions (queue_add_leads_from_crm, p_campaign_id) no longer stalls
-- right after a big launch.
-- Re-created (create or replace, same signature, so its grants stay; comment re-stated):
--   public.queue_add_leads_from_crm (otherwise as in 20261201002380_campaign_queue_names_blank_rule.sql):
--     the page of the campaign's sessions is picked first (a materialized CTE: the campaign's
--     sessions of the owner in id order, p_after, p_limit), and only then is each one's name looked
--     up in the phone book (numbers) when the session has none, by its key (owner, phone): one index
--     lookup per session of the page.
--
-- Why: the page was one join, session_info left join numbers on the owner and the phone, with the
-- owner a constant on both sides. Right after a launch of 100,000 sessions for an owner the
-- statistics did not know yet (autoanalyze had not run, or ran before the launch), the planner
-- expected one session and one number of that owner, and chose a nested loop whose inner side read
-- every number of the owner (numbers_pkey by user_id alone, the phone as a filter) for each session:
-- 100,000 x 100,000 rows, past the 60 s statement timeout, even for a page of 50. With fresh
-- statistics the same call took well under a second. The lookup is now a subquery per session whose
-- only plan is numbers_pkey on (user_id, phone_e164), whatever the statistics say, and it runs for
-- the page's sessions only (test/db/queue/add-leads-from-campaign-stale-statistics.test.ts).

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
                 case when not leadflow_private.is_blank(c.sender_name) and length(btrim(c.sender_name)) between 1 and 200 and leadflow_private.is_valid_text(c.sender_name, 'line')
                      then btrim(c.sender_name) end,
                 null, c.id, null, 'crm_tag', null)::leadflow_private.queue_new_lead
        from public.conversation_tags ct
        join public.messenger_conversations c on c.id = ct.conversation_id
       where ct.tag_id = p_tag_id and c.user_id = p_user_id and (p_after is null or c.id > p_after)
       order by c.id
       limit p_limit);
  else
    -- A page of the campaign's sessions, each an item (its phone, its name, itself). One whose
    -- outreach started and that has no lead is skipped by queue_add_lead_rows, the rule Add Leads
    -- from items shares (migration 20261201001730). The page first, then the phone book's name of a
    -- session without one, by its key: a plan that does not depend on the tables' statistics
    -- (migration 20261201002440).
    v_items := array(
      with page as materialized (
        select s.id, s.phone_e164, s.display_name
          from public.session_info s
         where s.campaign_id = p_campaign_id and s.user_id = p_user_id and (p_after is null or s.id > p_after)
         order by s.id
         limit p_limit
      ),
      named as materialized (
        select g.id, g.phone_e164,
               coalesce(g.display_name,
                        (select n.contact_name from public.numbers n where n.user_id = p_user_id and n.phone_e164 = g.phone_e164)) as name
          from page g
      )
      select row((row_number() over (order by g.id) - 1)::integer, p_user_id,
                 case when not leadflow_private.is_blank(g.name) and length(btrim(g.name)) between 1 and 200
                       and leadflow_private.is_valid_text(g.name, 'line')
                      then btrim(g.name) end,
                 g.phone_e164, null, g.id, 'campaign', null)::leadflow_private.queue_new_lead
        from named g
       order by g.id);
  end if;
  if cardinality(v_items) = 0 then
    return;
  end if;

  -- One answer in from_id order: the leads added or found, and the sessions skipped (no lead:
  -- outcome skipped, the session's name and phone, and why). A session found as the lead of its
  -- phone that holds another session (a phone shared by two campaigns: a lead holds one session)
  -- says so: existing, reason phone_holds_other_session; that lead is this session's lead all the
  -- same (its answers, its outreach's first contact and the queue's send follow it).
  perform leadflow_private.queue_set_actor('automation', null, 'added');
  return query
    select coalesce(i.conversation_id, i.campaign_session_id), r.lead_id, r.outcome, r.status, r.source,
           r.name, r.phone, r.conversation_id, r.campaign_session_id,
           coalesce(r.reason,
                    case when i.campaign_session_id is not null and r.campaign_session_id <> i.campaign_session_id
                         then 'phone_holds_other_session' end)
      from leadflow_private.queue_add_lead_rows(v_items, p_now) r
      join unnest(v_items) i on i.item_index = r.item_index
     order by r.item_index;
  perform leadflow_private.queue_set_actor(null);
end;
$$;
comment on function public.queue_add_leads_from_crm(uuid, uuid, uuid, timestamptz, uuid, integer) is
  'Adds leads from the conversations carrying a tag or the sessions of a campaign, page by page (from_id, p_after), deduplicated like queue_add_leads (an existing lead takes the name, conversation or session it lacks); each row the stored lead. A session whose outreach started (contacted, rejected or another objective recorded), or whose phone has a session no lead holds whose outreach started, and that has no lead (none holds it, none has its phone) is skipped: outcome skipped, with its reason (the rule queue_add_leads shares). A session whose phone''s lead holds another session is found existing, reason phone_holds_other_session.';
