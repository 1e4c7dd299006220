-- Queue Ledger: queue_complete's comment says what it does since 20261201001160 and 20261201001305.
-- Changed: the comment on public.queue_complete only (the function is as in 20261201001305).
--
-- Why: the comment still said "a cancelled one is refused" and "only from the worker holding them".
-- Since 20261201001160 a message whose send began before its lead was taken over is recorded as
-- reported (sent, or cancelled when it failed or was released), and since 20261201001305 the same
-- report repeated by the same worker after its answer was lost is answered as the first time.
-- Tools that show the catalog (Supabase's dashboard, psql's \df+) showed the old rule.

comment on function public.queue_complete(text, jsonb, timestamptz) is
  'Batch: records what became of claimed messages (sent with its id; failed, retried with backoff, then dead; released untried), from the worker holding them; the same report repeated by that worker (its answer lost) is answered as the first time, nothing written. A message cancelled before its send began is refused; one whose send began before a take-over is recorded (sent, or cancelled). A dead message makes its lead invalid only for 131026; uncertain keeps it queued; otherwise it is new again.';
