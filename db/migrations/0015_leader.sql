-- Leader election and fencing (server/leader/). Any number of coordinators
-- may run against one database; the one holding the leader advisory lock
-- (lock_keys::kLeader, a session lock) leads. Holding the lock is not enough:
-- a leader whose lock session died can still have transactions in flight on
-- its other connections. So each leadership has an epoch, and every write of
-- a coordinator carries it:
--
--   * the new leader bumps sluice_leader.epoch with SELECT ... FOR UPDATE
--     first, which waits for every transaction that passed the fence below
--     (they hold FOR KEY SHARE on the row until they end);
--   * each coordinator connection sets sluice.epoch (PgPool's on_connect);
--     the first write statement of each of its transactions locks the row FOR
--     KEY SHARE where epoch still equals its own, or fails with SQLSTATE
--     SLF01. Once the bump commits, no transaction of an older epoch can
--     write anything: a deposed leader's late writes are refused.
--
-- Connections without sluice.epoch (psql, tests, tools) are not fenced.

CREATE TABLE sluice_leader (
  id INT PRIMARY KEY CHECK (id = 1),
  epoch BIGINT NOT NULL,
  holder TEXT NOT NULL DEFAULT '',
  since TIMESTAMPTZ NOT NULL DEFAULT now()
);
INSERT INTO sluice_leader (id, epoch) VALUES (1, 0);

CREATE FUNCTION sluice_fence() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  mine TEXT := current_setting('sluice.epoch', true);
  xid TEXT;
BEGIN
  IF mine IS NULL OR mine = '' THEN
    RETURN NULL;
  END IF;
  -- Once per transaction: the row lock taken below lasts until it ends.
  xid := txid_current()::text;
  IF current_setting('sluice.fenced_in', true) = xid THEN
    RETURN NULL;
  END IF;
  PERFORM 1 FROM sluice_leader WHERE id = 1 AND epoch = mine::bigint FOR KEY SHARE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'fenced: leader epoch % was superseded; this coordinator no longer leads', mine
      USING ERRCODE = 'SLF01';
  END IF;
  PERFORM set_config('sluice.fenced_in', xid, true);
  RETURN NULL;
END $$;

-- Puts the fence on every table of the schema (a partitioned table's
-- statements fire its own trigger). The migrator calls it after every run, so
-- tables added by later migrations are fenced too.
CREATE FUNCTION sluice_install_fences() RETURNS INT LANGUAGE plpgsql AS $$
DECLARE
  t RECORD;
  n INT := 0;
BEGIN
  FOR t IN
    SELECT c.oid, c.relname FROM pg_class c
    JOIN pg_namespace ns ON ns.oid = c.relnamespace
    WHERE ns.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition
      AND c.relname NOT IN ('sluice_leader', 'schema_migrations')
      AND NOT EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = c.oid AND g.tgname = 'sluice_fence')
  LOOP
    EXECUTE format('CREATE TRIGGER sluice_fence BEFORE INSERT OR UPDATE OR DELETE ON %I '
                   'FOR EACH STATEMENT EXECUTE FUNCTION sluice_fence()', t.relname);
    n := n + 1;
  END LOOP;
  RETURN n;
END $$;

SELECT sluice_install_fences();
