-- Cursor streams (PoE public stash tabs, currency exchange): the
-- coordinator-owned checkpoints, their history and errors, and the raw
-- (bronze) tables the stream pages land in. A cursor moves only in the
-- transaction that stores the rows it covers, while the checkpoint row is
-- locked FOR UPDATE (server/streams/checkpoint_store.h).

-- One row per stream. Stream names: 'poe_stash:<realm>',
-- 'poe_exchange:<realm>' (realm pc|xbox|sony), and 'etl:<name>' for the ETL
-- transforms' own checkpoints.
CREATE TABLE checkpoints (
  stream      TEXT PRIMARY KEY,
  cursor      TEXT NOT NULL,             -- '' = start of the stream
  updated_at  TIMESTAMPTZ NOT NULL,      -- when the cursor last moved
  polled_at   TIMESTAMPTZ,               -- last committed poll (data or empty)
  head_at     TIMESTAMPTZ,               -- last empty page: we were at the head
  pages       BIGINT NOT NULL DEFAULT 0, -- committed pages with data
  rows        BIGINT NOT NULL DEFAULT 0, -- raw rows inserted
  empty_polls BIGINT NOT NULL DEFAULT 0,
  created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Every accepted move of a cursor, and every rejected rewind (accepted =
-- false, reason says why). Stale completions (start cursor no longer
-- current) are not recorded here: they are an agent's lost race, not a
-- statement about the stream.
CREATE TABLE checkpoint_transitions (
  id           BIGSERIAL PRIMARY KEY,
  stream       TEXT NOT NULL,
  from_cursor  TEXT NOT NULL,
  to_cursor    TEXT NOT NULL,
  rows         INT NOT NULL,
  agent_id     TEXT,
  accepted     BOOLEAN NOT NULL,
  reason       TEXT,
  at           TIMESTAMPTZ NOT NULL
);
CREATE INDEX checkpoint_transitions_stream_at_idx ON checkpoint_transitions (stream, at DESC);

-- Every failed fetch of a stream task (429s included).
CREATE TABLE stream_errors (
  id           BIGSERIAL PRIMARY KEY,
  stream       TEXT NOT NULL,
  http_status  INT,
  error        TEXT,
  at           TIMESTAMPTZ NOT NULL
);
CREATE INDEX stream_errors_stream_at_idx ON stream_errors (stream, at DESC);

-- Bronze: raw stashes, one row per stash per page, partitioned by league
-- (LIST) and then ingestion date (RANGE, one day per partition). Partitions
-- are created on demand by the writer through poe_stash_raw_ensure_partition
-- below; there is no DEFAULT partition, so creating a partition never has to
-- scan one.
--
-- Dedupe on (league, stash_id, change_id): PostgreSQL requires a unique index
-- on a partitioned table to contain the partition keys, so the index is
-- (league, ingest_date, stash_id, change_id) and the writer derives
-- ingest_date deterministically from the page, not from the wall clock: it is
-- the UTC date on which the page's start cursor became the stream's current
-- cursor (checkpoints.updated_at at apply time). Every application of the
-- page fetched with cursor C therefore computes the same ingest_date and hits
-- the same partition, so a replay inserts nothing twice.
CREATE TABLE poe_stash_raw (
  raw_id        BIGINT GENERATED ALWAYS AS IDENTITY,
  realm         TEXT NOT NULL,
  league        TEXT NOT NULL,             -- '' for a stash PoE sent with league null
  ingest_date   DATE NOT NULL,
  change_id     TEXT NOT NULL,             -- the cursor the page was fetched with
  stash_id      TEXT NOT NULL,
  account_name  TEXT,
  stash_name    TEXT,
  stash_type    TEXT,
  public        BOOLEAN NOT NULL,
  items         JSONB NOT NULL,
  ingested_at   TIMESTAMPTZ NOT NULL
) PARTITION BY LIST (league);
CREATE UNIQUE INDEX poe_stash_raw_dedupe_idx
  ON poe_stash_raw (league, ingest_date, stash_id, change_id);
-- The ETL reads (its cursor, high-water mark] by raw_id.
CREATE INDEX poe_stash_raw_raw_id_idx ON poe_stash_raw (raw_id);

-- Creates the (league) and (league, day) partitions of poe_stash_raw if
-- missing. Names are derived from md5(league) so any league name is safe;
-- the league literal is quoted with format(%L). A transaction-level
-- advisory lock per partition serializes concurrent writers creating the same
-- one (otherwise both would race on the catalog and one would fail).
CREATE FUNCTION poe_stash_raw_ensure_partition(p_league TEXT, p_day DATE)
RETURNS VOID LANGUAGE plpgsql AS $$
DECLARE
  league_part TEXT := 'poe_stash_raw_l' || substr(md5(p_league), 1, 12);
  day_part TEXT := league_part || '_' || to_char(p_day, 'YYYYMMDD');
BEGIN
  IF to_regclass(day_part) IS NOT NULL THEN
    RETURN;
  END IF;
  PERFORM pg_advisory_xact_lock(hashtext(league_part));
  IF to_regclass(league_part) IS NULL THEN
    EXECUTE format('CREATE TABLE %I PARTITION OF poe_stash_raw FOR VALUES IN (%L) '
                   'PARTITION BY RANGE (ingest_date)', league_part, p_league);
  END IF;
  IF to_regclass(day_part) IS NULL THEN
    EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                   day_part, league_part, p_day, p_day + 1);
  END IF;
END;
$$;

-- Bronze: currency exchange markets, one row per (realm, hour, league,
-- market). Small (hundreds of rows an hour): not partitioned.
CREATE TABLE poe_exchange_raw (
  raw_id         BIGINT GENERATED ALWAYS AS IDENTITY,
  realm          TEXT NOT NULL,
  hour           BIGINT NOT NULL,          -- unix time of the hour's start
  league         TEXT NOT NULL,
  market_id      TEXT NOT NULL,            -- 'chaos|divine' as PoE sends it
  volume_traded  JSONB NOT NULL,
  lowest_stock   JSONB,
  highest_stock  JSONB,
  lowest_ratio   JSONB,
  highest_ratio  JSONB,
  ingested_at    TIMESTAMPTZ NOT NULL,
  UNIQUE (realm, hour, league, market_id)
);
CREATE INDEX poe_exchange_raw_raw_id_idx ON poe_exchange_raw (raw_id);

-- Past hours the exchange stream found empty or skipped over (audit).
CREATE TABLE poe_exchange_gaps (
  realm        TEXT NOT NULL,
  hour         BIGINT NOT NULL,
  detected_at  TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (realm, hour)
);
