-- The Leadflow console, part 4: the prompt a rule would send for one real contact, and its Pages.
-- Functions: console_rule_prompt (new), console_rules (replaced: adds the owners' Pages),
--            leadflow_private.follow_up_context_messages (new).
--
-- Why: the Rules form edits a rule's instructions, language and context size without showing what
-- the AI would be sent. console_rule_prompt answers, for one of the rule's tagged contacts (by
-- default the first due one, in the claim's order), what the claim hands GenerateFollowUp for that
-- contact with the UNSAVED settings: the contact's name, its follow-up number and the last
-- context_message_count messages, with the rule's instructions, model and language. The node then
-- builds the prompt with GenerateFollowUp's own code. The settings are judged by console_rule_write
-- (the table's own checks) inside a subtransaction that is rolled back, as its preview does, so a
-- refused setting is answered as data naming the column and nothing stays written.
-- The Page control of the form needs the owner's Facebook Pages: console_rules now lists them
-- (messenger_pages with their names, and the Pages of the owner's conversations).

-- =============================================================================================
-- follow_up_context_messages(p_conversation_id, p_count) → json: the claim's `messages`
-- =============================================================================================
-- The last p_count messages of a conversation, oldest first, as automation_claim and
-- automation_claim_explained put them in each claimed row's `messages` (the same query: the newest
-- p_count by sent_at, then ordered by sent_at, id). test/workflows/leadflow-console-rules.test.ts
-- proves the preview equal to what GenerateFollowUp sent Gemini after a real claim.
create or replace function leadflow_private.follow_up_context_messages(p_conversation_id uuid, p_count integer)
returns json
language sql
stable
set search_path = ''
as $$
  select coalesce(json_agg(json_build_object('direction', m.direction, 'text', m.text, 'sent_at', m.sent_at)
                           order by m.sent_at, m.id), '[]'::json)
    from (select mm.id, mm.direction, mm.text, mm.sent_at from public.messenger_messages mm
           where mm.conversation_id = p_conversation_id
           order by mm.sent_at desc limit p_count) m
$$;
comment on function leadflow_private.follow_up_context_messages(uuid, integer) is
  'The last p_count messages of a conversation, oldest first, as the claim gives GenerateFollowUp in each row''s messages.';
revoke all on function leadflow_private.follow_up_context_messages(uuid, integer) from public, anon, authenticated;
grant execute on function leadflow_private.follow_up_context_messages(uuid, integer) to service_role;

-- =============================================================================================
-- console_rule_prompt(p_rule_id, p_user_id, p_settings, p_conversation_id, p_contact_limit, p_now)
-- =============================================================================================
-- p_rule_id / p_user_id / p_settings: as console_rule_write (an existing rule with changed
-- settings, or a new rule of p_user_id). p_conversation_id: the contact to show (one of the
-- rule's tagged contacts); null: the first due one, else the first tagged one.
-- Answers { tagged, contacts: [{ conversation_id, sender_name, due, reason }] (the first
-- p_contact_limit, due first), contact: { conversation_id, sender_name, follow_up_number, due,
-- reason, messages } or null (nobody tagged), rule: { id, instructions, model, language,
-- context_message_count } } or, refused, { saved: false, error: { field, message, hint } }.
-- Nothing stays written.
create or replace function public.console_rule_prompt(
  p_rule_id uuid default null,
  p_user_id uuid default null,
  p_settings jsonb default '{}'::jsonb,
  p_conversation_id uuid default null,
  p_contact_limit integer default 100,
  p_now timestamptz default leadflow_private.now()
)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_write jsonb;
  v_rule jsonb;
  v_rule_id uuid;
  v_tagged integer;
  v_contacts jsonb;
  v_all jsonb;
  v_chosen jsonb;
  v_answer jsonb;
begin
  if p_contact_limit is null or p_contact_limit not between 1 and 1000 then
    raise exception 'p_contact_limit must be between 1 and 1000, got %', coalesce(p_contact_limit::text, 'null')
      using errcode = '22023', hint = 'Ask for 1 to 1000 contacts to pick from.';
  end if;
  begin
    v_write := public.console_rule_write(p_rule_id, p_user_id, p_settings, true, p_now);
    if not coalesce((v_write ->> 'saved')::boolean, false) then
      v_answer := v_write;
      raise exception 'refused' using errcode = 'LFPRV';
    end if;
    v_rule := v_write -> 'rule';
    v_rule_id := (v_rule ->> 'id')::uuid;

    -- The claim's judgement, once, in the claim's order (due first, then who wrote first).
    select coalesce(jsonb_agg(jsonb_build_object('conversation_id', e.conversation_id, 'sender_name', e.sender_name,
                                                 'follow_up_count', e.follow_up_count, 'due', e.due, 'reason', e.reason)
                              order by e.due desc, e.last_customer_message_at nulls last, e.conversation_id), '[]'::jsonb)
      into v_all
      from leadflow_private.automation_evaluate(v_rule_id, p_now) e;
    v_tagged := jsonb_array_length(v_all);
    select coalesce(jsonb_agg(x.c - 'follow_up_count' order by x.o), '[]'::jsonb) into v_contacts
      from jsonb_array_elements(v_all) with ordinality x (c, o)
     where x.o <= p_contact_limit;
    select x.c into v_chosen
      from jsonb_array_elements(v_all) with ordinality x (c, o)
     where p_conversation_id is null or (x.c ->> 'conversation_id')::uuid = p_conversation_id
     order by x.o limit 1;
    if p_conversation_id is not null and v_chosen is null then
      -- Raised, not returned: the subtransaction (the settings written) must roll back.
      v_answer := jsonb_build_object('saved', false, 'error', jsonb_build_object('field', 'conversation_id',
        'message', format('contact %s does not carry this rule''s tags', p_conversation_id),
        'hint', 'Pick one of the rule''s tagged contacts (contacts in this answer).'));
      raise exception 'refused' using errcode = 'LFPRV';
    end if;

    v_answer := jsonb_build_object(
      'tagged', v_tagged,
      'contacts', v_contacts,
      'contact', case when v_chosen is null then null else (v_chosen - 'follow_up_count') || jsonb_build_object(
        'follow_up_number', coalesce((v_chosen ->> 'follow_up_count')::integer, 0) + 1,
        'messages', leadflow_private.follow_up_context_messages((v_chosen ->> 'conversation_id')::uuid,
                                                                (v_rule ->> 'context_message_count')::integer)
      ) end,
      'rule', jsonb_build_object(
        'id', case when p_rule_id is null then null else v_rule -> 'id' end,
        'instructions', v_rule -> 'instructions',
        'model', v_rule -> 'model',
        'language', v_rule -> 'language',
        'context_message_count', v_rule -> 'context_message_count'
      )
    );
    raise exception 'preview only' using errcode = 'LFPRV';
  exception
    when sqlstate 'LFPRV' then
      return v_answer;
  end;
end;
$$;
comment on function public.console_rule_prompt(uuid, uuid, jsonb, uuid, integer, timestamptz) is
  'What GenerateFollowUp would be given for one of a rule''s tagged contacts (default: the first due) with unsaved settings: the contact''s name, follow-up number and last context_message_count messages, the rule''s instructions, model and language. Judged by console_rule_write and rolled back: nothing written.';

-- =============================================================================================
-- console_rules(p_user_id) → jsonb: as before, plus pages
-- =============================================================================================
create or replace function public.console_rules(p_user_id uuid default null)
returns jsonb
language sql
stable
set search_path = ''
as $$
  select jsonb_build_object(
    'rules', coalesce((
      select jsonb_agg(to_jsonb(r) || jsonb_build_object(
               'include_tags', (select coalesce(jsonb_agg(jsonb_build_object('id', t.id, 'name', t.name) order by lower(t.name), t.id), '[]'::jsonb)
                                  from public.tags t where t.id = any (r.include_tag_ids)),
               'exclude_tags', (select coalesce(jsonb_agg(jsonb_build_object('id', t.id, 'name', t.name) order by lower(t.name), t.id), '[]'::jsonb)
                                  from public.tags t where t.id = any (r.exclude_tag_ids)))
             order by r.name, r.id)
        from public.ai_automation_rules r
       where p_user_id is null or r.user_id = p_user_id), '[]'::jsonb),
    'tags', coalesce((
      select jsonb_agg(jsonb_build_object('id', t.id, 'name', t.name, 'user_id', t.user_id) order by lower(t.name), t.id)
        from public.tags t
       where p_user_id is null or t.user_id = p_user_id), '[]'::jsonb),
    'owners', coalesce((
      select jsonb_agg(o.user_id order by o.user_id)
        from (select t.user_id from public.tags t union select r.user_id from public.ai_automation_rules r) o
       where p_user_id is null or o.user_id = p_user_id), '[]'::jsonb),
    -- The owners' Facebook Pages: connected ones with their names, and those their conversations
    -- (and rules) are on.
    'pages', coalesce((
      select jsonb_agg(jsonb_build_object('page_id', p.page_id, 'name', p.name, 'user_id', p.user_id) order by p.user_id, p.name nulls last, p.page_id)
        from (select u.page_id, u.user_id, max(mp.name) as name
                from (select mp0.page_id, mp0.user_id from public.messenger_pages mp0
                      union select c.page_id, c.user_id from public.messenger_conversations c
                      union select r.page_id, r.user_id from public.ai_automation_rules r where r.page_id is not null) u
                left join public.messenger_pages mp on mp.page_id = u.page_id and mp.user_id = u.user_id
               where p_user_id is null or u.user_id = p_user_id
               group by u.page_id, u.user_id) p), '[]'::jsonb)
  )
$$;
comment on function public.console_rules(uuid) is
  'The console''s Rules tab: every rule (of one owner, or all) in full with its include and exclude tags by name, the tags by name, the owners, and their Facebook Pages.';

revoke all on function public.console_rule_prompt(uuid, uuid, jsonb, uuid, integer, timestamptz), public.console_rules(uuid)
  from public, anon, authenticated;
grant execute on function public.console_rule_prompt(uuid, uuid, jsonb, uuid, integer, timestamptz), public.console_rules(uuid)
  to service_role;
