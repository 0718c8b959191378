-- Re-synced entities are updated in place (HOT): no index entry is written
-- for them, and none is left dead behind.
--
-- Every sync of a known entity rewrites its rows: the static row's
-- last_modified, the ephemeral row's updated_at, the cache row's checked_at,
-- whether or not anything else changed. None of those columns is indexed,
-- so PostgreSQL can keep the new version on the same page, HOT, provided the
-- page has room for it; at fillfactor 100 it rarely has, and each update
-- wrote a new entry into every index of the table (the primary key,
-- corporation_ephemeral_alliance_idx, character_ephemeral_corporation_idx)
-- and moved the row to another page.
--
-- Measured with queue_throughput_bench --batch_complete --resync (3 rounds
-- re-syncing the same 50,000 characters, in about the order they were
-- written, as a daily sync's urgency order does; two runs each): HOT
-- updates of character_ephemeral / character_static / entity_cache were
-- 33-35 / 20-22 / 26-32 % at fillfactor 100, 47-50 / 39 / 43-48 % at 90,
-- 66-67 / 58-61 / 65-66 % at 80 and 79-80 / 74-75 / 78-79 % at 70, and at
-- 70 the run wrote 16 % less WAL. A re-sync that touches rows scattered over
-- the table (tests/server/workflows/esi/entity_writer_test.cc) is HOT at any
-- of these.
-- The cost is disk: the heap grows by 100/fillfactor (100,000 characters:
-- character_static 8.9 MB at 100, 12.6 MB at 70; entity_cache 6.5 and
-- 9.4 MB). A batch of new entities, inserted, is not slower for it within
-- the bench's noise.
--
-- Pages written from now on get the room; existing pages get it only when
-- the table is rewritten (VACUUM FULL, or pg_repack without the lock).
ALTER TABLE alliance_static SET (fillfactor = 70);
ALTER TABLE alliance_ephemeral SET (fillfactor = 70);
ALTER TABLE corporation_static SET (fillfactor = 70);
ALTER TABLE corporation_ephemeral SET (fillfactor = 70);
ALTER TABLE character_static SET (fillfactor = 70);
ALTER TABLE character_ephemeral SET (fillfactor = 70);
ALTER TABLE entity_cache SET (fillfactor = 70);
