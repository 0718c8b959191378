-- ESI access tokens are stored sealed (libsodium secretbox, XSalsa20-Poly1305)
-- under the coordinator's token key (--token_key_file), never in plain text
-- (server/workflows/killmails/token_store.h). token_key_id names the key that
-- sealed the row, so a new key can be brought in while the old one still
-- opens what it sealed, and re-keying moves every row to the current key.
--
-- SQL cannot seal (the key is not in the database): rows written before this
-- migration keep their plain token in access_token until a coordinator holding
-- a key seals them at start-up (or `sluicectl tokens rekey`), which empties
-- access_token. Nothing hands out a plain token.
ALTER TABLE character_tokens
  ALTER COLUMN access_token DROP NOT NULL,
  ADD COLUMN token_sealed BYTEA,
  ADD COLUMN token_key_id TEXT;

-- Exactly one form per row, and a sealed value always names its key.
ALTER TABLE character_tokens ADD CONSTRAINT character_tokens_one_form
  CHECK ((access_token IS NULL) <> (token_sealed IS NULL)
         AND (token_sealed IS NULL) = (token_key_id IS NULL));
