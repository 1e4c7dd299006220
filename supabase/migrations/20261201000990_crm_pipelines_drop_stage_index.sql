-- CRM pipelines: a place is indexed by stage once.
-- Dropped: the index pipeline_contacts_stage_idx (pipeline_id, stage_id), of 20261201000300.
--
-- Why: pipeline_contacts_board_idx (pipeline_id, stage_id, stage_entered_at desc, conversation_id),
-- made in 20261201000780 for the board's pages, starts with the same two columns, so it serves
-- every lookup the older index served: a pipeline's places by stage (the board's counts), and a
-- stage's places when a stage is deleted (the key to pipeline_stages, whose columns it covers with
-- the place's owner checked on the rows). The older index only cost a write: an entry more for
-- every place made and every move. Measured on 10,000 places in one run, alternating with and
-- without it (medians of 21): pipeline_assign of 1,000 contacts (118 moved) 102.4 -> 99.5 ms;
-- console_pipeline_board over the Data API 29.3 -> 25.9 ms (its counts read the places in one
-- scan either way).

drop index if exists public.pipeline_contacts_stage_idx;
