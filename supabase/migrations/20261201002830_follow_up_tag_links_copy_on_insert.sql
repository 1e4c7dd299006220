-- Follow-up / CRM pipelines: a tag link inserted by any writer but an automation's add_tag takes its
-- conversation's window time in the insert itself again (review RS2 of …2750 / …2751).
-- New: trigger conversation_tags_copy_window_on_insert (BEFORE INSERT, for each row, when the
-- setting leadflow.tag_copy_given is not 'on'), running leadflow_private.conversation_tags_copy_window
-- (unchanged, from 20261122000200_follow_up_automation.sql). Changed: leadflow_private.pipeline_fire
-- (as in 20261201002750_crm_pipelines_tag_links_copy_once.sql) runs with leadflow.tag_copy_given = 'on'
-- (ALTER FUNCTION … SET: its body, arguments, grants and comment are unchanged).
--
-- Why: …2750 took the row trigger off inserts, leaving conversation_tags_settle_window (after each
-- insert statement) to set the copy of a link inserted without the time or with another. For every
-- writer but add_tag (the owner's app through the Data API, bulk tagging, the demo and benchmark
-- seeds) each link was then inserted and updated again (a non-HOT update writing all four indexes
-- and firing the update row trigger): 1.5-1.8x the CPU of before for 5,000 links; the row returned
-- by INSERT … RETURNING (supabase-js .insert().select()) held null or the value sent, not the
-- conversation's time; Realtime subscribers got an INSERT with that value, then an UPDATE per link.
--
-- Now: a link inserted outside pipeline_fire takes its conversation's time in a BEFORE INSERT row
-- trigger, whatever time its writer sent (none, the right one or another): written once, with the
-- conversation's time in the returned row and in the Realtime INSERT event. add_tag's links
-- (pipeline_fire gives the time, read in its insert) skip the trigger: the WHEN clause reads the
-- setting without calling PL/pgSQL. conversation_tags_settle_window is unchanged and stays the
-- guarantee of the stored value under a concurrent message (its FOR SHARE lock, then its
-- comparison), also for a writer that sets leadflow.tag_copy_given itself.
-- A later CREATE OR REPLACE of pipeline_fire drops the SET unless it repeats it: add_tag's links
-- then run the row trigger again (right, only slower); re-apply it with the ALTER below.
-- Test: test/db/follow-up/tag-window-copy.test.ts (the returned copy of an app's and a service-role
-- insert, no update of the new links; add_tag's links inserted with the time, never updated).

drop trigger if exists conversation_tags_copy_window_on_insert on public.conversation_tags;
create trigger conversation_tags_copy_window_on_insert
  before insert on public.conversation_tags
  for each row
  when (current_setting('leadflow.tag_copy_given', true) is distinct from 'on')
  execute function leadflow_private.conversation_tags_copy_window();

alter function leadflow_private.pipeline_fire(leadflow_private.pipeline_change[], timestamptz)
  set leadflow.tag_copy_given = 'on';
