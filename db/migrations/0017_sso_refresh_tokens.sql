-- EVE SSO refresh tokens (issue 17): a character's token row may also hold
-- its refresh token, sealed like the access token (0016) under the
-- coordinator's token key with its own label, so the coordinator
-- (server/workflows/killmails/sso_refresher.h) refreshes the access token
-- before it expires. Rows stored with an access token alone (the old path,
-- tests) have no refresh token and simply expire.
--
-- state: 'active', or 'disabled' when the SSO refused the refresh token
-- (invalid_grant: revoked by the player, or dead); disabled_reason and
-- disabled_at say why and when, and `sluicectl tokens list` shows them. A
-- disabled token is neither refreshed nor handed out nor queued for sync.
-- scopes: what the SSO granted (the JWT's scp); NULL = unknown (an
-- access-token-only row), which is not checked.
ALTER TABLE character_tokens
  ADD COLUMN refresh_sealed BYTEA,
  ADD COLUMN refresh_key_id TEXT,
  ADD COLUMN scopes TEXT[],
  ADD COLUMN state TEXT NOT NULL DEFAULT 'active',
  ADD COLUMN disabled_reason TEXT,
  ADD COLUMN disabled_at TIMESTAMPTZ,
  -- When the current access token was issued (its lifetime decides how early
  -- it is refreshed), refreshes done, and the transient-failure back-off.
  ADD COLUMN access_issued_at TIMESTAMPTZ,
  ADD COLUMN refreshes BIGINT NOT NULL DEFAULT 0,
  ADD COLUMN refresh_failures INT NOT NULL DEFAULT 0,
  ADD COLUMN next_refresh_at TIMESTAMPTZ,
  ADD COLUMN last_refresh_error TEXT;

ALTER TABLE character_tokens ADD CONSTRAINT character_tokens_refresh_form
  CHECK ((refresh_sealed IS NULL) = (refresh_key_id IS NULL));
ALTER TABLE character_tokens ADD CONSTRAINT character_tokens_state
  CHECK (state IN ('active', 'disabled')
         AND (state = 'disabled') = (disabled_reason IS NOT NULL AND disabled_at IS NOT NULL));

-- The refresher's scan: active refreshable rows by expiry.
CREATE INDEX character_tokens_refresh_idx ON character_tokens (expires_at)
  WHERE refresh_sealed IS NOT NULL AND state = 'active';
