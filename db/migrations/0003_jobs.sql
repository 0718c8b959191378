-- Scheduled jobs: one summary row per run, and the daily alliance and
-- corporation snapshots (seed 001's snapshot:alliances / snapshot:corporations).

-- One row per job run, written when the run starts ('running') and finished
-- with its outcome and counters. A run skipped because its lock was held by
-- another coordinator is recorded as 'skipped'; a run skipped because the
-- lock could not be checked (database unreachable) cannot be recorded here
-- and is only logged.
CREATE TABLE job_runs (
  run_id          TEXT PRIMARY KEY,  -- <job>-<yyyymmddThhmmss>-<6 hex>
  job             TEXT NOT NULL,
  started_at      TIMESTAMPTZ NOT NULL,
  finished_at     TIMESTAMPTZ,
  outcome         TEXT NOT NULL
                    CHECK (outcome IN ('running', 'succeeded', 'failed', 'skipped')),
  tasks_queued    BIGINT NOT NULL DEFAULT 0,
  upstream_calls  BIGINT NOT NULL DEFAULT 0,
  rows_upserted   BIGINT NOT NULL DEFAULT 0,
  cache_hits      BIGINT NOT NULL DEFAULT 0,
  cache_misses    BIGINT NOT NULL DEFAULT 0,
  errors          BIGINT NOT NULL DEFAULT 0,
  detail          TEXT
);
CREATE INDEX job_runs_job_started_idx ON job_runs (job, started_at DESC);
-- Listing recent runs of every job.
CREATE INDEX job_runs_started_idx ON job_runs (started_at DESC);

-- One row per alliance per day. Re-running a day's snapshot replaces that
-- day's rows (ON CONFLICT (day, alliance_id) DO UPDATE); other days are never
-- touched. corporation_count and member_count are summed from the
-- corporations currently in the alliance.
CREATE TABLE alliance_snapshot (
  day                      DATE NOT NULL,
  alliance_id              BIGINT NOT NULL,
  name                     TEXT NOT NULL,
  ticker                   TEXT NOT NULL,
  executor_corporation_id  BIGINT,
  faction_id               BIGINT,
  corporation_count        BIGINT NOT NULL,
  member_count             BIGINT NOT NULL,
  taken_at                 TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (day, alliance_id)
);

CREATE TABLE corporation_snapshot (
  day             DATE NOT NULL,
  corporation_id  BIGINT NOT NULL,
  name            TEXT NOT NULL,
  ticker          TEXT NOT NULL,
  member_count    BIGINT,
  ceo_id          BIGINT,
  alliance_id     BIGINT,
  tax_rate        DOUBLE PRECISION,
  taken_at        TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (day, corporation_id)
);
-- An alliance's member history: its corporations on each day.
CREATE INDEX corporation_snapshot_alliance_idx ON corporation_snapshot (alliance_id, day);
