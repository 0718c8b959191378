-- Per-kind queue counts kept in the same transactions as the changes, so
-- `sluicectl status` and the metrics read O(kinds) rows instead of counting
-- a queue of millions.
--
-- Every statement that inserts, updates or deletes queue or dead-letter rows
-- appends its net change per (kind, state) to queue_count_deltas. The deltas
-- table is insert-only: concurrent claims and completions never wait on one
-- hot counter row (nor deadlock over two). sluice_fold_queue_counts() folds
-- the deltas into queue_counts; a count is queue_counts plus the deltas not
-- folded yet, read in one snapshot (queue_sql::kCounts).
--
-- state: 0 ready, 1 leased, 2 retrying (as discovery_queue.state, named in
-- server/queue/queue_types.h), 3 dead-lettered (dead_tasks rows).
CREATE TABLE queue_counts (
  kind  TEXT NOT NULL,
  state SMALLINT NOT NULL,
  n     BIGINT NOT NULL,
  PRIMARY KEY (kind, state)
);
CREATE TABLE queue_count_deltas (
  kind  TEXT NOT NULL,
  state SMALLINT NOT NULL,
  n     BIGINT NOT NULL
);
-- Folded often; let autovacuum keep up with its dead rows.
ALTER TABLE queue_count_deltas SET (autovacuum_vacuum_scale_factor = 0,
                                    autovacuum_vacuum_threshold = 1000);

INSERT INTO queue_counts (kind, state, n)
SELECT kind, state, count(*) FROM discovery_queue GROUP BY kind, state
UNION ALL
SELECT kind, 3, count(*) FROM dead_tasks GROUP BY kind;

-- Statement-level triggers with transition tables: one delta row per
-- (kind, state) a statement changed, whatever its number of rows. An update
-- that moves no row between states (a lease extension) adds nothing.
CREATE FUNCTION sluice_count_queue_changes() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO queue_count_deltas (kind, state, n)
    SELECT kind, state, count(*) FROM new_rows GROUP BY kind, state;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO queue_count_deltas (kind, state, n)
    SELECT kind, state, -count(*) FROM old_rows GROUP BY kind, state;
  ELSE
    INSERT INTO queue_count_deltas (kind, state, n)
    SELECT kind, state, sum(d) FROM (
      SELECT kind, state, 1 AS d FROM new_rows
      UNION ALL
      SELECT kind, state, -1 FROM old_rows) x
     GROUP BY kind, state HAVING sum(d) <> 0;
  END IF;
  RETURN NULL;
END;
$$;

CREATE FUNCTION sluice_count_dead_changes() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO queue_count_deltas (kind, state, n)
    SELECT kind, 3, count(*) FROM new_rows GROUP BY kind;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO queue_count_deltas (kind, state, n)
    SELECT kind, 3, -count(*) FROM old_rows GROUP BY kind;
  ELSE
    INSERT INTO queue_count_deltas (kind, state, n)
    SELECT kind, 3, sum(d) FROM (
      SELECT kind, 1 AS d FROM new_rows
      UNION ALL
      SELECT kind, -1 FROM old_rows) x
     GROUP BY kind HAVING sum(d) <> 0;
  END IF;
  RETURN NULL;
END;
$$;

CREATE TRIGGER discovery_queue_count_insert AFTER INSERT ON discovery_queue
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION sluice_count_queue_changes();
CREATE TRIGGER discovery_queue_count_update AFTER UPDATE ON discovery_queue
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION sluice_count_queue_changes();
CREATE TRIGGER discovery_queue_count_delete AFTER DELETE ON discovery_queue
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION sluice_count_queue_changes();

CREATE TRIGGER dead_tasks_count_insert AFTER INSERT ON dead_tasks
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION sluice_count_dead_changes();
CREATE TRIGGER dead_tasks_count_update AFTER UPDATE ON dead_tasks
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION sluice_count_dead_changes();
CREATE TRIGGER dead_tasks_count_delete AFTER DELETE ON dead_tasks
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION sluice_count_dead_changes();

-- TRUNCATE fires no row or statement DML trigger; it empties the table at
-- once (holding it exclusively, so no delta of it is in flight): its counts
-- start again from zero.
CREATE FUNCTION sluice_reset_queue_counts() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
  IF TG_TABLE_NAME = 'dead_tasks' THEN
    DELETE FROM queue_counts WHERE state = 3;
    DELETE FROM queue_count_deltas WHERE state = 3;
  ELSE
    DELETE FROM queue_counts WHERE state <> 3;
    DELETE FROM queue_count_deltas WHERE state <> 3;
  END IF;
  RETURN NULL;
END;
$$;
CREATE TRIGGER discovery_queue_count_truncate AFTER TRUNCATE ON discovery_queue
  FOR EACH STATEMENT EXECUTE FUNCTION sluice_reset_queue_counts();
CREATE TRIGGER dead_tasks_count_truncate AFTER TRUNCATE ON dead_tasks
  FOR EACH STATEMENT EXECUTE FUNCTION sluice_reset_queue_counts();

-- Folds the deltas committed so far into queue_counts. Concurrent folds are
-- safe: each delta row is deleted, and so added, once; counter rows are
-- updated in (kind, state) order, so two folds never deadlock.
CREATE FUNCTION sluice_fold_queue_counts() RETURNS VOID LANGUAGE sql AS $$
  WITH d AS (DELETE FROM queue_count_deltas RETURNING kind, state, n)
  INSERT INTO queue_counts AS c (kind, state, n)
  SELECT kind, state, sum(n) FROM d GROUP BY kind, state ORDER BY kind, state
  ON CONFLICT (kind, state) DO UPDATE SET n = c.n + excluded.n;
$$;

-- The oldest ready task of each kind (its age is in status and metrics): an
-- index probe per kind instead of a scan. Partial on ready rows, so a lease
-- (the row leaves state 0) adds no entry.
CREATE INDEX discovery_queue_ready_since_idx ON discovery_queue (kind, enqueued_at)
  WHERE state = 0;
