-- Leases, promotions and requeues become HOT updates: no index entry is
-- written for them, and none is left dead behind.
--
-- PostgreSQL updates a row in place on its page (HOT) only when no indexed
-- column changes, and a column a partial index's predicate reads counts.
-- A lease changes state, available_at, locked_until, lease_token and
-- leased_by; every index below reads state or available_at, so each lease
-- wrote a new entry into every index of the table, the primary key and
-- (kind, entity_id) included. What they served is now served from the
-- coordinator's memory: lapsed leases, ended backoffs and stream waits from
-- the due index (server/queue/due_index.h: promotion by primary key,
-- status's not-yet-promoted counts, the leases an agent holds, leases per
-- agent), the oldest ready task's age from the ready index (its enqueued_at
-- per kind). Both are loaded from the table in one scan at start.
--
-- What stays: the primary key (leases, completions, promotions) and
-- (kind, entity_id) (enqueues, discoveries).
DROP INDEX discovery_queue_due_idx;
DROP INDEX discovery_queue_waiting_idx;
DROP INDEX discovery_queue_ready_since_idx;  -- 0010's, the same as waiting_idx

-- Room on each page for the new row versions of HOT updates (pages written
-- from now on; existing pages get it as they are rewritten). A version can
-- only be pruned once the transaction that replaced it is over, so a group
-- claim that leases every row of a page in one statement (a queue drained
-- in the order it was filled) needs room for a new version of each: a
-- leased row is about 1.3 times a queued one, so 40 %. Measured with
-- queue_throughput_bench: 37 % of leases HOT at fillfactor 70, 78 % at 50,
-- 100 % at 40. A claim from a large queue leases rows scattered one or two
-- to a page, HOT at any of these.
ALTER TABLE discovery_queue SET (fillfactor = 40);
