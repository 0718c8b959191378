-- poe_stash_raw_ensure_partition (0006) serialized the creation of a
-- league's partitions with pg_advisory_xact_lock(hashtext(league_part)): a
-- single bigint key, the key space the migrator and the claim function lock
-- in (server/store/lock_keys.h), so a league whose hash equalled one of their
-- keys would wait on, or hold up, a migration or every claim. The lock moves
-- to the two-int4 key space under a class of its own (lock_keys::kLeagueClass,
-- spelled out below; a test reads the installed function to keep the two
-- equal), as scheduled jobs' locks are. Everything else is as in 0006.
CREATE OR REPLACE FUNCTION poe_stash_raw_ensure_partition(p_league TEXT, p_day DATE)
RETURNS VOID LANGUAGE plpgsql AS $$
DECLARE
  league_part TEXT := 'poe_stash_raw_l' || substr(md5(p_league), 1, 12);
  day_part TEXT := league_part || '_' || to_char(p_day, 'YYYYMMDD');
BEGIN
  IF to_regclass(day_part) IS NOT NULL THEN
    RETURN;
  END IF;
  PERFORM pg_advisory_xact_lock(7314200, hashtext(league_part));
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
