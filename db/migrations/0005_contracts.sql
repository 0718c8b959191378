-- Public contract aggregation (seed 004) and the universe type cache.
-- Written only by the coordinator: contracts_region, contract_items and
-- universe_type completions (server/workflows/contracts/).

-- The type cache: group_id decides whether an item is a ship.
-- last_refreshed_at is bumped on a failed refresh too, so a type that keeps
-- failing is not picked again by the next run (refresh_failures counts them).
CREATE TABLE universe_types (
  type_id            BIGINT PRIMARY KEY,
  name               TEXT NOT NULL,
  group_id           BIGINT NOT NULL,
  published          BOOLEAN NOT NULL DEFAULT true,
  volume             DOUBLE PRECISION,
  packaged_volume    DOUBLE PRECISION,
  market_group_id    BIGINT,
  last_refreshed_at  TIMESTAMPTZ NOT NULL,
  refresh_failures   INT NOT NULL DEFAULT 0,
  last_error         TEXT,
  access_count       BIGINT NOT NULL DEFAULT 0,
  last_modified      TIMESTAMPTZ NOT NULL DEFAULT now(),
  created_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX universe_types_refresh_idx ON universe_types (last_refreshed_at);

-- One row per public contract currently listed in a configured region.
-- is_ship_contract: NULL until its items (and their types) are known.
CREATE TABLE contracts (
  contract_id                BIGINT PRIMARY KEY,
  region_id                  BIGINT NOT NULL,
  type                       TEXT NOT NULL
                               CHECK (type IN ('item_exchange', 'auction', 'courier', 'unknown')),
  issuer_id                  BIGINT NOT NULL,
  issuer_corporation_id      BIGINT NOT NULL,
  price                      NUMERIC(20, 2) CHECK (price >= 0),
  reward                     NUMERIC(20, 2) CHECK (reward >= 0),
  collateral                 NUMERIC(20, 2) CHECK (collateral >= 0),
  buyout                     NUMERIC(20, 2) CHECK (buyout >= 0),
  volume                     DOUBLE PRECISION,
  date_issued                TIMESTAMPTZ NOT NULL,
  date_expired               TIMESTAMPTZ NOT NULL,
  days_to_complete           INT,
  start_location_id          BIGINT,
  end_location_id            BIGINT,
  for_corporation            BOOLEAN NOT NULL DEFAULT false,
  title                      TEXT NOT NULL DEFAULT '',
  items_fetched_at           TIMESTAMPTZ,
  items_error                TEXT,
  is_ship_contract           BOOLEAN,
  ship_type_id               BIGINT,
  quantity                   BIGINT,
  is_blueprint_copy          BOOLEAN,
  runs                       INT,
  material_efficiency        INT,
  time_efficiency            INT,
  contains_additional_items  BOOLEAN,
  first_seen_at              TIMESTAMPTZ NOT NULL,
  last_seen_at               TIMESTAMPTZ NOT NULL,
  access_count               BIGINT NOT NULL DEFAULT 0,
  last_modified              TIMESTAMPTZ NOT NULL DEFAULT now(),
  -- A contract cannot expire before it was issued: data that says so is
  -- rejected here, and the aggregation skips that contract alone.
  CONSTRAINT contracts_dates_ordered CHECK (date_expired >= date_issued)
);
CREATE INDEX contracts_region_idx ON contracts (region_id);
CREATE INDEX contracts_ship_idx ON contracts (ship_type_id) WHERE is_ship_contract;
CREATE INDEX contracts_unclassified_idx ON contracts (contract_id) WHERE is_ship_contract IS NULL;

CREATE TABLE contract_items (
  contract_id          BIGINT NOT NULL REFERENCES contracts ON DELETE CASCADE,
  record_id            BIGINT NOT NULL,
  type_id              BIGINT NOT NULL,
  quantity             BIGINT NOT NULL,
  is_included          BOOLEAN NOT NULL,
  is_singleton         BOOLEAN NOT NULL,
  is_blueprint_copy    BOOLEAN NOT NULL DEFAULT false,
  material_efficiency  INT,
  time_efficiency      INT,
  runs                 INT,
  item_id              BIGINT,
  PRIMARY KEY (contract_id, record_id)
);
CREATE INDEX contract_items_type_idx ON contract_items (type_id);

-- Per region and page of /contracts/public/{region_id}/: the ETag sent as
-- If-None-Match next time, and the contract ids the page listed (a 304 page
-- still lists them, so they are not dropped).
CREATE TABLE contract_region_pages (
  region_id     BIGINT NOT NULL,
  page          INT NOT NULL,
  etag          TEXT NOT NULL,
  contract_ids  BIGINT[] NOT NULL,
  fetched_at    TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (region_id, page)
);

-- What one contract_aggregation run did per region. The run inserts its
-- rows ('open': finished_at NULL); completions of the region's tasks add
-- their counts to the open row; the run sums them into job_runs.
CREATE TABLE contract_region_runs (
  run_id              TEXT NOT NULL,
  region_id           BIGINT NOT NULL,
  queued_at           TIMESTAMPTZ NOT NULL,
  region_done_at      TIMESTAMPTZ,
  finished_at         TIMESTAMPTZ,
  pages               INT NOT NULL DEFAULT 0,
  pages_not_modified  INT NOT NULL DEFAULT 0,
  contracts_upserted  INT NOT NULL DEFAULT 0,
  contracts_deleted   INT NOT NULL DEFAULT 0,
  contracts_skipped   INT NOT NULL DEFAULT 0,
  items_queued        INT NOT NULL DEFAULT 0,
  item_calls          INT NOT NULL DEFAULT 0,
  items_not_modified  INT NOT NULL DEFAULT 0,
  item_rows           INT NOT NULL DEFAULT 0,
  errors              INT NOT NULL DEFAULT 0,
  detail              TEXT,
  PRIMARY KEY (run_id, region_id)
);
CREATE INDEX contract_region_runs_open_idx ON contract_region_runs (region_id)
  WHERE finished_at IS NULL;

-- Contracts skipped because their data broke processing (agent parsing or a
-- database constraint), for an operator to look at.
CREATE TABLE contract_skips (
  skip_id      BIGSERIAL PRIMARY KEY,
  run_id       TEXT,
  region_id    BIGINT NOT NULL,
  contract_id  BIGINT,  -- NULL when the id itself was unreadable
  reason       TEXT NOT NULL,
  skipped_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX contract_skips_region_idx ON contract_skips (region_id, skipped_at DESC);
