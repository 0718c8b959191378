-- PoE silver (canonical) and gold (aggregate) layers built from the bronze
-- tables of 0006 by the ETL transforms (server/etl/poe_transforms.h), the
-- ingest status table and the alert history. Each transform's cursor is a
-- row 'etl:<name>' of checkpoints (cursor = the last raw_id it applied),
-- moved in the transaction that writes what the raw rows produced.

-- Silver: the latest state of every stash seen on the stream. Keyed by
-- (realm, stash_id), not by league: PoE announces a stash made private or
-- emptied with league null, and that announcement must update the stash's
-- row (public false, no items) rather than start a new one; league keeps
-- the last non-empty value.
CREATE TABLE poe_stash_silver (
  realm          TEXT NOT NULL,
  stash_id       TEXT NOT NULL,
  league         TEXT NOT NULL,
  account_name   TEXT,
  stash_name     TEXT,
  stash_type     TEXT,
  public         BOOLEAN NOT NULL,
  item_count     INT NOT NULL,
  priced_items   INT NOT NULL,
  change_id      TEXT NOT NULL,         -- the page the latest version came from
  raw_id         BIGINT NOT NULL,       -- the bronze row of the latest version
  updated_at     TIMESTAMPTZ NOT NULL,  -- its ingestion time
  PRIMARY KEY (realm, stash_id)
);
CREATE INDEX poe_stash_silver_league_idx ON poe_stash_silver (realm, league);

-- Silver: one row per priced item currently listed. An item absent from its
-- stash's newer version (sold, moved, unpriced) is deleted.
CREATE TABLE poe_item_price_silver (
  realm           TEXT NOT NULL,
  item_id         TEXT NOT NULL,
  league          TEXT NOT NULL,
  stash_id        TEXT NOT NULL,
  name            TEXT,
  type_line       TEXT,
  base_type       TEXT,
  stack_size      INT,
  price_kind      TEXT NOT NULL CHECK (price_kind IN ('price', 'b/o')),
  price_source    TEXT NOT NULL CHECK (price_source IN ('item', 'stash')),
  price_amount    DOUBLE PRECISION NOT NULL,
  price_currency  TEXT NOT NULL,
  -- price_amount in the reference currency (chaos): the rate of the latest
  -- hour that had ended when this version was ingested; NULL with a reason
  -- when there is none.
  price_in_chaos  DOUBLE PRECISION,
  rate_hour       BIGINT,
  no_rate_reason  TEXT,
  listed_at       TIMESTAMPTZ NOT NULL,  -- first version with this stash and price
  updated_at      TIMESTAMPTZ NOT NULL,  -- latest version
  raw_id          BIGINT NOT NULL,
  PRIMARY KEY (realm, item_id),
  CHECK ((price_in_chaos IS NULL) = (no_rate_reason IS NOT NULL))
);
CREATE INDEX poe_item_price_silver_stash_idx ON poe_item_price_silver (realm, stash_id);
CREATE INDEX poe_item_price_silver_league_idx ON poe_item_price_silver (realm, league);

-- Gold: each currency's rate in chaos per league and hour (from the markets
-- priced directly against chaos). The key order serves the "latest hour at
-- or before" lookup of the item transform.
CREATE TABLE gold_currency_snapshot (
  realm           TEXT NOT NULL,
  league          TEXT NOT NULL,
  currency        TEXT NOT NULL,
  hour            BIGINT NOT NULL,       -- unix time of the hour's start
  ratio_to_chaos  DOUBLE PRECISION NOT NULL,
  volume          DOUBLE PRECISION NOT NULL,  -- units of currency traded
  chaos_volume    DOUBLE PRECISION NOT NULL,
  market_id       TEXT NOT NULL,
  raw_id          BIGINT NOT NULL,
  PRIMARY KEY (realm, league, currency, hour)
);
CREATE INDEX gold_currency_snapshot_hour_idx ON gold_currency_snapshot (realm, league, hour);

-- Gold: stash valuation per league, recomputed from silver for every league
-- a transform batch touched.
CREATE TABLE gold_stash_summary (
  realm           TEXT NOT NULL,
  league          TEXT NOT NULL,
  stashes         BIGINT NOT NULL,
  public_stashes  BIGINT NOT NULL,
  priced_items    BIGINT NOT NULL,
  valued_items    BIGINT NOT NULL,   -- priced items with a chaos value
  total_chaos     DOUBLE PRECISION NOT NULL,
  updated_at      TIMESTAMPTZ,       -- newest stash version in the league
  PRIMARY KEY (realm, league)
);

-- Per stream health, refreshed by the ETL module's loop (the same figures
-- `sluicectl ingest` and StreamService.GetIngestStatus compute live).
-- Window figures cover the last 5 minutes before refreshed_at.
CREATE TABLE poe_ingest_status (
  stream            TEXT PRIMARY KEY,
  kind              TEXT NOT NULL,
  cursor            TEXT NOT NULL,
  updated_at        TIMESTAMPTZ NOT NULL,
  polled_at         TIMESTAMPTZ,
  head_at           TIMESTAMPTZ,
  lag_seconds       DOUBLE PRECISION NOT NULL,
  pages_total       BIGINT NOT NULL,
  rows_total        BIGINT NOT NULL,
  empty_polls_total BIGINT NOT NULL,
  pages_5m          BIGINT NOT NULL,
  rows_5m           BIGINT NOT NULL,
  requests_per_min  DOUBLE PRECISION NOT NULL,
  errors_5m         BIGINT NOT NULL,
  errors_total      BIGINT NOT NULL,
  http_429_5m       BIGINT NOT NULL,
  rejected_rewinds  BIGINT NOT NULL,
  pending_rows      BIGINT NOT NULL,
  refreshed_at      TIMESTAMPTZ NOT NULL
);

-- Alert state changes: 'firing' when a rule starts to hold for a stream,
-- 'resolved' when it stops. The alerts firing now are the keys whose latest
-- event is 'firing'.
CREATE TABLE alert_events (
  id         BIGSERIAL PRIMARY KEY,
  alert_key  TEXT NOT NULL,   -- '<rule>/<stream>'
  rule       TEXT NOT NULL,
  stream     TEXT NOT NULL,
  state      TEXT NOT NULL CHECK (state IN ('firing', 'resolved')),
  message    TEXT NOT NULL,
  since      TIMESTAMPTZ NOT NULL,  -- when the condition began to hold
  at         TIMESTAMPTZ NOT NULL   -- when the change was seen
);
CREATE INDEX alert_events_key_idx ON alert_events (alert_key, id DESC);
CREATE INDEX alert_events_at_idx ON alert_events (at DESC);
