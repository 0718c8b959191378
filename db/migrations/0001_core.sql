-- Sluice core schema: entities (static + ephemeral), per-route HTTP cache,
-- the task queue, dead tasks, and system_state.

-- Alliances. Static: what rarely changes. Ephemeral: what changes daily.
CREATE TABLE alliance_static (
  alliance_id             BIGINT PRIMARY KEY,
  name                    TEXT NOT NULL,
  ticker                  TEXT NOT NULL,
  creator_id              BIGINT,
  creator_corporation_id  BIGINT,
  date_founded            TIMESTAMPTZ,
  access_count            BIGINT NOT NULL DEFAULT 0,
  last_modified           TIMESTAMPTZ NOT NULL DEFAULT now(),
  created_at              TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE alliance_ephemeral (
  alliance_id              BIGINT PRIMARY KEY REFERENCES alliance_static ON DELETE CASCADE,
  executor_corporation_id  BIGINT,
  faction_id               BIGINT,
  updated_at               TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE corporation_static (
  corporation_id  BIGINT PRIMARY KEY,
  name            TEXT NOT NULL,
  ticker          TEXT NOT NULL,
  creator_id      BIGINT,
  date_founded    TIMESTAMPTZ,
  access_count    BIGINT NOT NULL DEFAULT 0,
  last_modified   TIMESTAMPTZ NOT NULL DEFAULT now(),
  created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE corporation_ephemeral (
  corporation_id  BIGINT PRIMARY KEY REFERENCES corporation_static ON DELETE CASCADE,
  member_count    BIGINT,
  ceo_id          BIGINT,
  alliance_id     BIGINT,
  tax_rate        DOUBLE PRECISION,
  faction_id      BIGINT,
  updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX corporation_ephemeral_alliance_idx ON corporation_ephemeral (alliance_id);

CREATE TABLE character_static (
  character_id   BIGINT PRIMARY KEY,
  name           TEXT NOT NULL,
  birthday       TIMESTAMPTZ,
  gender         TEXT,
  race_id        BIGINT,
  bloodline_id   BIGINT,
  access_count   BIGINT NOT NULL DEFAULT 0,
  last_modified  TIMESTAMPTZ NOT NULL DEFAULT now(),
  created_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE character_ephemeral (
  character_id     BIGINT PRIMARY KEY REFERENCES character_static ON DELETE CASCADE,
  corporation_id   BIGINT,
  alliance_id      BIGINT,
  security_status  DOUBLE PRECISION,
  updated_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX character_ephemeral_corporation_idx ON character_ephemeral (corporation_id);

-- Per (task kind, entity) HTTP cache state: the ETag to send as
-- If-None-Match, the upstream's Expires, and when we last checked.
-- A task kind maps to one upstream route, so this is "ETag/expiry per entity"
-- for every route, including list routes such as /alliances/{id}/corporations/.
-- `discovered` is what the last full answer discovered: a 304 carries no
-- body, so the same discoveries are replayed from here (an unchanged
-- /alliances/ still fans out to every alliance).
CREATE TABLE entity_cache (
  kind        TEXT NOT NULL,
  entity_id   BIGINT NOT NULL,
  etag        TEXT,
  expires_at  TIMESTAMPTZ,
  checked_at  TIMESTAMPTZ NOT NULL,
  discovered  JSONB,
  PRIMARY KEY (kind, entity_id)
);

-- The task queue (seed 000's discovery_queue).
--   state 0 = ready, 1 = leased, 2 = retrying (waiting out a backoff).
--   weight = access_count + 1 and last_modified are copied from the entity at
--   enqueue time, so urgency = (now - last_modified) * weight needs no join.
--   available_at is when a leased/retrying task becomes ready again (lease
--   expiry or end of backoff).
CREATE SEQUENCE lease_token_seq;

CREATE TABLE discovery_queue (
  task_id        BIGSERIAL PRIMARY KEY,
  kind           TEXT NOT NULL,
  entity_id      BIGINT NOT NULL,
  priority       SMALLINT NOT NULL,
  weight         BIGINT NOT NULL DEFAULT 1 CHECK (weight >= 1),
  -- Bit length of weight: rows of bucket b have weights in [2^(b-1), 2^b).
  wbucket        SMALLINT GENERATED ALWAYS AS
                   (length(ltrim(weight::bit(64)::text, '0'))) STORED,
  last_modified  TIMESTAMPTZ NOT NULL,
  state          SMALLINT NOT NULL DEFAULT 0 CHECK (state IN (0, 1, 2)),
  available_at   TIMESTAMPTZ,
  locked_until   TIMESTAMPTZ,
  lease_token    BIGINT,
  leased_by      TEXT,
  attempts       INT NOT NULL DEFAULT 0,
  last_error     TEXT,
  enqueued_at    TIMESTAMPTZ NOT NULL,
  UNIQUE (kind, entity_id)
);

-- Claim path: per kind and priority, weight buckets in descending order and
-- within a bucket the oldest last_modified first. Only ready rows.
CREATE INDEX discovery_queue_claim_idx
  ON discovery_queue (kind, priority, wbucket, last_modified) WHERE state = 0;
-- Claim bound: the oldest ready row per kind and priority.
CREATE INDEX discovery_queue_oldest_idx
  ON discovery_queue (kind, priority, last_modified) WHERE state = 0;
-- Promotion of expired leases and finished backoffs.
CREATE INDEX discovery_queue_due_idx
  ON discovery_queue (available_at) WHERE state <> 0;

-- Tasks that failed permanently or ran out of attempts: kept, not lost.
CREATE TABLE dead_tasks (
  kind        TEXT NOT NULL,
  entity_id   BIGINT NOT NULL,
  attempts    INT NOT NULL,
  http_status INT,
  error       TEXT,
  agent_id    TEXT,
  failed_at   TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (kind, entity_id)
);

-- Durable coordinator state (throttler budgets, ...), seed 000.
CREATE TABLE system_state (
  key         TEXT PRIMARY KEY,
  value       JSONB NOT NULL,
  updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
