-- The queue churns: every task is inserted, updated at least once (a lease)
-- and deleted, and each lease or deletion leaves a dead entry at the front
-- of the claim index, where every claim starts reading. PostgreSQL's default
-- (vacuum once 20% of the table is dead) lets a 10-million-row queue gather
-- two million dead entries ahead of the claim. Vacuum after a fixed number
-- instead, without cost-based sleeps, so the claim's path stays short
-- whatever the queue's size. (autovacuum_naptime, the check interval, is a
-- server setting: the README's operations section recommends 10 s.)
ALTER TABLE discovery_queue SET (
  autovacuum_vacuum_scale_factor = 0,
  autovacuum_vacuum_threshold = 20000,
  autovacuum_vacuum_insert_scale_factor = 0,
  autovacuum_vacuum_insert_threshold = 100000,
  autovacuum_analyze_scale_factor = 0.02,
  autovacuum_vacuum_cost_delay = 0
);
