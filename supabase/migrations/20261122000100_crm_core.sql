-- CRM core: the Messenger contacts a business talks to, their messages, and the tags it gives them.
-- Tables: tags, messenger_conversations, messenger_messages, conversation_tags.
-- Every row belongs to an owner (`user_id`, an auth.users id). Row level security lets a signed-in
-- user reach only their own rows; `anon` reaches nothing; `service_role` (n8n) reaches everything.
-- Composite foreign keys on (id, user_id) make it impossible to tag another owner's contact or to
-- file a message under another owner's conversation.

-- =============================================================================================
-- tags
-- =============================================================================================
create table if not exists public.tags (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  name text not null check (length(btrim(name)) between 1 and 100),
  color text check (color is null or color ~ '^#[0-9a-fA-F]{6}$'),
  created_at timestamptz not null default now(),
  unique (id, user_id)
);
comment on table public.tags is 'Labels an owner puts on conversations; automation rules select contacts by tag.';

-- One tag per name per owner, whatever the case ("AI Lead" and "ai lead" are the same tag).
create unique index if not exists tags_owner_name_key on public.tags (user_id, lower(name));

-- =============================================================================================
-- messenger_conversations: one per person (PSID) per Facebook Page per owner
-- =============================================================================================
create table if not exists public.messenger_conversations (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  page_id text not null check (page_id ~ '^[0-9]{1,32}$'),
  sender_id text not null check (sender_id ~ '^[0-9]{1,32}$'),
  sender_name text,
  is_active boolean not null default true,
  last_customer_message_at timestamptz,
  last_message_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (user_id, page_id, sender_id),
  unique (id, user_id)
);
comment on table public.messenger_conversations is 'A Messenger contact: the person (sender_id = page-scoped ID) talking to a page.';
comment on column public.messenger_conversations.sender_id is 'The page-scoped user ID (PSID) that the Send API addresses.';
comment on column public.messenger_conversations.last_customer_message_at is 'The person''s last message: opens the 24 h standard messaging window.';

create index if not exists messenger_conversations_owner_active_idx
  on public.messenger_conversations (user_id, page_id) where is_active;

-- =============================================================================================
-- messenger_messages
-- =============================================================================================
create table if not exists public.messenger_messages (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  conversation_id uuid not null,
  direction text not null check (direction in ('inbound', 'outbound')),
  text text,
  facebook_message_id text unique,
  sent_at timestamptz not null default now(),
  created_at timestamptz not null default now(),
  foreign key (conversation_id, user_id) references public.messenger_conversations (id, user_id) on delete cascade
);
comment on column public.messenger_messages.direction is 'inbound: from the person to the page; outbound: from the page.';

-- The last K messages of a conversation (the AI's context) and the conversation's timeline.
create index if not exists messenger_messages_conversation_time_idx
  on public.messenger_messages (conversation_id, sent_at desc);
create index if not exists messenger_messages_owner_idx on public.messenger_messages (user_id);

-- A message keeps its conversation's times right, so the 24 h window never depends on a workflow
-- remembering to update them.
create or replace function leadflow_private.messenger_messages_touch_conversation()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  update public.messenger_conversations c
     set last_message_at = greatest(c.last_message_at, new.sent_at),
         last_customer_message_at = case
           when new.direction = 'inbound' then greatest(c.last_customer_message_at, new.sent_at)
           else c.last_customer_message_at
         end,
         updated_at = now()
   where c.id = new.conversation_id;
  return null;
end;
$$;

drop trigger if exists messenger_messages_touch_conversation on public.messenger_messages;
create trigger messenger_messages_touch_conversation
  after insert on public.messenger_messages
  for each row execute function leadflow_private.messenger_messages_touch_conversation();

-- =============================================================================================
-- conversation_tags
-- =============================================================================================
create table if not exists public.conversation_tags (
  conversation_id uuid not null,
  tag_id uuid not null,
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  created_at timestamptz not null default now(),
  primary key (conversation_id, tag_id),
  foreign key (conversation_id, user_id) references public.messenger_conversations (id, user_id) on delete cascade,
  foreign key (tag_id, user_id) references public.tags (id, user_id) on delete cascade
);
comment on table public.conversation_tags is 'Which tags each conversation carries. A contact is visible to automation the moment it is tagged.';

-- Rules select contacts by tag: from a tag to its conversations.
create index if not exists conversation_tags_tag_idx on public.conversation_tags (tag_id, conversation_id);
create index if not exists conversation_tags_owner_idx on public.conversation_tags (user_id);

-- =============================================================================================
-- Privileges and row level security
-- =============================================================================================
-- anon gets no table privileges at all (defence in depth behind RLS); signed-in users get what the
-- policies below let them do, narrowed to their own rows (a tag link is added or removed, never
-- changed); service_role bypasses RLS. Nobody may TRUNCATE: it skips the row triggers and policies.
-- (Supabase's default privileges give every API role everything on a new table: take it back first.)
revoke all on public.tags, public.messenger_conversations, public.messenger_messages, public.conversation_tags
  from anon, authenticated, service_role;
grant select, insert, update, delete on public.tags, public.messenger_conversations, public.messenger_messages to authenticated;
grant select, insert, delete on public.conversation_tags to authenticated;
grant select, insert, update, delete on public.tags, public.messenger_conversations, public.messenger_messages,
  public.conversation_tags to service_role;
revoke all on function leadflow_private.messenger_messages_touch_conversation() from public, anon, authenticated, service_role;

alter table public.tags enable row level security;
alter table public.messenger_conversations enable row level security;
alter table public.messenger_messages enable row level security;
alter table public.conversation_tags enable row level security;

-- tags ----------------------------------------------------------------------------------------
drop policy if exists "Owners can read their tags" on public.tags;
create policy "Owners can read their tags" on public.tags
  for select to authenticated using ((select auth.uid()) = user_id);
drop policy if exists "Owners can create their tags" on public.tags;
create policy "Owners can create their tags" on public.tags
  for insert to authenticated with check ((select auth.uid()) = user_id);
drop policy if exists "Owners can update their tags" on public.tags;
create policy "Owners can update their tags" on public.tags
  for update to authenticated using ((select auth.uid()) = user_id) with check ((select auth.uid()) = user_id);
drop policy if exists "Owners can delete their tags" on public.tags;
create policy "Owners can delete their tags" on public.tags
  for delete to authenticated using ((select auth.uid()) = user_id);

-- messenger_conversations ---------------------------------------------------------------------
drop policy if exists "Owners can read their conversations" on public.messenger_conversations;
create policy "Owners can read their conversations" on public.messenger_conversations
  for select to authenticated using ((select auth.uid()) = user_id);
drop policy if exists "Owners can create their conversations" on public.messenger_conversations;
create policy "Owners can create their conversations" on public.messenger_conversations
  for insert to authenticated with check ((select auth.uid()) = user_id);
drop policy if exists "Owners can update their conversations" on public.messenger_conversations;
create policy "Owners can update their conversations" on public.messenger_conversations
  for update to authenticated using ((select auth.uid()) = user_id) with check ((select auth.uid()) = user_id);
drop policy if exists "Owners can delete their conversations" on public.messenger_conversations;
create policy "Owners can delete their conversations" on public.messenger_conversations
  for delete to authenticated using ((select auth.uid()) = user_id);

-- messenger_messages --------------------------------------------------------------------------
drop policy if exists "Owners can read their messages" on public.messenger_messages;
create policy "Owners can read their messages" on public.messenger_messages
  for select to authenticated using ((select auth.uid()) = user_id);
drop policy if exists "Owners can create their messages" on public.messenger_messages;
create policy "Owners can create their messages" on public.messenger_messages
  for insert to authenticated with check ((select auth.uid()) = user_id);
drop policy if exists "Owners can update their messages" on public.messenger_messages;
create policy "Owners can update their messages" on public.messenger_messages
  for update to authenticated using ((select auth.uid()) = user_id) with check ((select auth.uid()) = user_id);
drop policy if exists "Owners can delete their messages" on public.messenger_messages;
create policy "Owners can delete their messages" on public.messenger_messages
  for delete to authenticated using ((select auth.uid()) = user_id);

-- conversation_tags ---------------------------------------------------------------------------
drop policy if exists "Owners can read their tag links" on public.conversation_tags;
create policy "Owners can read their tag links" on public.conversation_tags
  for select to authenticated using ((select auth.uid()) = user_id);
drop policy if exists "Owners can tag their conversations" on public.conversation_tags;
create policy "Owners can tag their conversations" on public.conversation_tags
  for insert to authenticated with check ((select auth.uid()) = user_id);
drop policy if exists "Owners can untag their conversations" on public.conversation_tags;
create policy "Owners can untag their conversations" on public.conversation_tags
  for delete to authenticated using ((select auth.uid()) = user_id);

-- =============================================================================================
-- Realtime: the live monitor shows a contact the moment it is tagged.
-- =============================================================================================
do $$
declare
  t text;
begin
  if exists (select from pg_publication where pubname = 'supabase_realtime') then
    foreach t in array array['conversation_tags', 'messenger_conversations'] loop
      if not exists (
        select from pg_publication_tables
         where pubname = 'supabase_realtime' and schemaname = 'public' and tablename = t
      ) then
        execute format('alter publication supabase_realtime add table public.%I', t);
      end if;
    end loop;
  end if;
end
$$;
