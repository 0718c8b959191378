-- Killmail sync (seed 003): character tokens with the incremental-sync
-- checkpoint, killmails, their participants and the character links.

-- One row per character whose killmails are synced. Written only by the
-- coordinator: tokens through KillmailAdminService, the checkpoint
-- (last_killmail_id, last_killmail_sync_at) in the same transaction as the
-- killmails it covers.
CREATE TABLE character_tokens (
  character_id           BIGINT PRIMARY KEY,
  access_token           TEXT NOT NULL,
  expires_at             TIMESTAMPTZ NOT NULL,
  last_killmail_id       BIGINT,
  last_killmail_sync_at  TIMESTAMPTZ,
  updated_at             TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- The background job: characters not synced for a while.
CREATE INDEX character_tokens_sync_idx ON character_tokens (last_killmail_sync_at NULLS FIRST);
CREATE INDEX character_tokens_last_killmail_idx ON character_tokens (last_killmail_id);

-- A killmail is known from a character's list (id + hash) before its body is
-- fetched; body IS NULL until then.
CREATE TABLE killmails (
  killmail_id                BIGINT PRIMARY KEY,
  killmail_hash              TEXT NOT NULL,
  killmail_time              TIMESTAMPTZ,
  solar_system_id            BIGINT,
  victim_character_id        BIGINT,
  victim_corporation_id      BIGINT,
  victim_alliance_id         BIGINT,
  victim_ship_type_id        BIGINT,
  body                       JSONB,
  fetched_at                 TIMESTAMPTZ,
  created_at                 TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX killmails_unfetched_idx ON killmails (killmail_id) WHERE body IS NULL;

-- Victim (is_victim) and attackers of each fetched killmail; replaced as a
-- whole when a body is written again. Scan entities reads it by column.
CREATE TABLE killmail_participants (
  killmail_id     BIGINT NOT NULL REFERENCES killmails ON DELETE CASCADE,
  position        INT NOT NULL,  -- 0 = victim, then attackers in order
  character_id    BIGINT,
  corporation_id  BIGINT,
  alliance_id     BIGINT,
  ship_type_id    BIGINT,
  is_victim       BOOLEAN NOT NULL,
  final_blow      BOOLEAN NOT NULL DEFAULT false,
  damage          BIGINT,
  PRIMARY KEY (killmail_id, position)
);
CREATE INDEX killmail_participants_character_idx
  ON killmail_participants (character_id) WHERE character_id IS NOT NULL;
CREATE INDEX killmail_participants_corporation_idx
  ON killmail_participants (corporation_id) WHERE corporation_id IS NOT NULL;
CREATE INDEX killmail_participants_alliance_idx
  ON killmail_participants (alliance_id) WHERE alliance_id IS NOT NULL;
CREATE INDEX killmail_participants_ship_type_idx
  ON killmail_participants (ship_type_id) WHERE ship_type_id IS NOT NULL;

-- Which killmails a character's list named.
CREATE TABLE character_killmails (
  character_id  BIGINT NOT NULL,
  killmail_id   BIGINT NOT NULL REFERENCES killmails ON DELETE CASCADE,
  PRIMARY KEY (character_id, killmail_id)
);
CREATE INDEX character_killmails_killmail_idx ON character_killmails (killmail_id);
