-- CRM pipelines: pipeline_move's refusal of a contact that is not the given owner's (20261201002640)
-- says what to do in the words its readers know. Its hint was "Use ids of this owner's contacts
-- (messenger_conversations of owner_user_id)": a table and a column the console's user, an AI agent
-- and a workflow's builder never see. It now names Move's fields (Conversation ID, conversationId;
-- Owner User ID) and what to do with each. The words stay the same whether the contact is another
-- owner's or nobody's (nothing about other owners).
--
-- Only the hint changes: public.pipeline_move is re-created from its own definition as
-- 20261201002640 left it, with the one hint replaced (same signature, settings, comment and grants:
-- CREATE OR REPLACE keeps the comment and the privileges). The block fails, changing nothing, when
-- the old hint is not found exactly once. A later re-creation of pipeline_move copying
-- 20261201002640 must carry the new hint (test/workflows/webhook-setting-refused.test.ts and
-- test/nodes/AutoAssignStage/move-owner.test.ts check the words).
do $$
declare
  v_old constant text := 'hint = ''Use ids of this owner''''s contacts (messenger_conversations of owner_user_id).''';
  v_new constant text := 'hint = ''Give the id of one of this owner''''s contacts as the Conversation ID (conversationId); if that contact is the one you mean, check the owner given as Owner User ID.''';
  v_def text := pg_get_functiondef('public.pipeline_move(jsonb, timestamptz)'::regprocedure);
begin
  if (length(v_def) - length(replace(v_def, v_old, ''))) / length(v_old) <> 1 then
    raise exception 'pipeline_move: the hint of 20261201002640 was not found exactly once; nothing changed';
  end if;
  execute replace(v_def, v_old, v_new);
end
$$;
