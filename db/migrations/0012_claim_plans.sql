-- The claim's statements are planned for the queue of the moment, and the
-- planner's guesses about the claim's own arrays are often wrong by orders
-- of magnitude. With a few thousand candidates against a queue of tens of
-- thousands it chose, on every claim, O(queue) plans:
--   - the lock step and the final update hashed the whole queue (a hash join
--     over a sequential scan) to join a few thousand candidates: both now run
--     with hash and merge joins off, so each candidate is one index probe;
--   - a bucket's page was a bitmap scan of the whole bucket and a sort, where
--     an ordered index range stops after the page: bitmap and sequential
--     scans are priced out for the whole function (when no index path exists
--     the planner still falls back to them).
-- The rounds keep hash joins: their joins of small per-bucket arrays became
-- nested loops, quadratic in the number of buckets, when joins were off for
-- the whole function (a claim of 100 at 1,000,000 queued: 11.4 -> 17.1 ms).
-- Adding task_id = ANY(candidates) to the lock step instead (an index path
-- whatever the join) was slower for group claims (measured 16-19k against
-- 20-22k tasks/s in queue_throughput_bench). The function's own SET clause
-- restores the join settings when it returns, whatever happened inside.
--
-- Otherwise sluice_claim is 0009's. (Within one coordinator, groups of
-- claims that share a kind no longer run at once, server/queue/claim_batcher.h:
-- 0009's note that two groups may claim at once now holds for disjoint kinds,
-- or for two coordinators.)
CREATE OR REPLACE FUNCTION sluice_claim(p_kinds TEXT[], p_limits INT[], p_now TIMESTAMPTZ,
                             p_lease_untils TIMESTAMPTZ[], p_agents TEXT[])
RETURNS TABLE (slot INT, task_id BIGINT, kind TEXT, entity_id BIGINT, lease_token BIGINT,
               locked_until TIMESTAMPTZ, attempts INT, priority SMALLINT)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  k TEXT;
  kp SMALLINT;
  top_p SMALLINT := NULL;
  top_kinds TEXT[] := '{}';
  -- One entry per bucket with ready work: its kind, bucket, top weight, the
  -- cursor (last row read: last_modified, task_id) and whether it may still
  -- hold a winner.
  bk TEXT[] := '{}';
  bb SMALLINT[] := '{}';
  bw DOUBLE PRECISION[] := '{}';
  cl TIMESTAMPTZ[];
  ci BIGINT[];
  live BOOLEAN[];
  cut TIMESTAMPTZ[];
  hl TIMESTAMPTZ[] := '{}';  -- heads: last_modified, task_id, urgency
  hi BIGINT[] := '{}';
  hs DOUBLE PRECISION[] := '{}';
  nb INT;
  nlive INT;
  page INT;
  want INT;                -- candidates ranked: 1.5N, wider on a retry
  nth DOUBLE PRECISION;    -- the want-th best urgency, once there are that many
  cand_ids BIGINT[];
  cand_scores DOUBLE PRECISION[];
  got BIGINT[] := '{}';
  attempt INT := 0;
  p_limit INT := (SELECT coalesce(sum(n), 0) FROM unnest(p_limits) n);
BEGIN
  IF p_limit <= 0 THEN
    RETURN;
  END IF;
  -- Expired leases and finished backoffs become ready again. Rows another
  -- claim is promoting, or a completion holds, are skipped, not waited for.
  UPDATE discovery_queue AS q
     SET state = 0, available_at = NULL, locked_until = NULL
   WHERE q.task_id IN (SELECT d.task_id FROM discovery_queue d
                        WHERE d.state <> 0 AND d.available_at <= p_now
                        ORDER BY d.available_at LIMIT 10000
                          FOR UPDATE SKIP LOCKED);

  -- The highest priority with ready work among the requested kinds.
  FOREACH k IN ARRAY p_kinds LOOP
    kp := (SELECT d.priority FROM discovery_queue d
            WHERE d.state = 0 AND d.kind = k ORDER BY d.priority DESC LIMIT 1);
    CONTINUE WHEN kp IS NULL;
    IF top_p IS NULL OR kp > top_p THEN
      top_p := kp;
      top_kinds := ARRAY[k];
    ELSIF kp = top_p THEN
      top_kinds := top_kinds || k;
    END IF;
  END LOOP;
  IF top_p IS NULL THEN
    RETURN;
  END IF;

  -- 1. The buckets with ready work, heaviest first, each with its head (its
  -- oldest row): a loose index scan, one probe per bucket.
  FOREACH k IN ARRAY top_kinds LOOP
    WITH RECURSIVE r(b, lm, id, w) AS (
      (SELECT d.wbucket, d.last_modified, d.task_id, d.weight FROM discovery_queue d
        WHERE d.state = 0 AND d.kind = k AND d.priority = top_p
        ORDER BY d.wbucket DESC, d.last_modified, d.task_id LIMIT 1)
      UNION ALL
      SELECT x.* FROM r CROSS JOIN LATERAL (
        SELECT d.wbucket, d.last_modified, d.task_id, d.weight FROM discovery_queue d
         WHERE d.state = 0 AND d.kind = k AND d.priority = top_p AND d.wbucket < r.b
         ORDER BY d.wbucket DESC, d.last_modified, d.task_id LIMIT 1) x)
    SELECT bk || array_agg(k), bb || array_agg(r.b),
           bw || array_agg(sluice_bucket_max_weight(r.b)),
           hl || array_agg(r.lm), hi || array_agg(r.id),
           hs || array_agg(r.w * EXTRACT(EPOCH FROM (p_now - r.lm))::DOUBLE PRECISION)
      INTO bk, bb, bw, hl, hi, hs
      FROM r;
  END LOOP;
  nb := coalesce(cardinality(bb), 0);
  IF nb = 0 THEN
    RETURN;
  END IF;

  want := p_limit + p_limit / 2 + 1;
  LOOP
    attempt := attempt + 1;
    -- The heads are the first candidates, and every bucket's cursor.
    SELECT array_agg(h.id ORDER BY h.s DESC), array_agg(h.s ORDER BY h.s DESC)
      INTO cand_ids, cand_scores
      FROM (SELECT * FROM unnest(hi, hs) AS h(id, s) ORDER BY h.s DESC LIMIT want) h;
    nth := CASE WHEN cardinality(cand_ids) >= want THEN cand_scores[want] END;
    cl := hl;
    ci := hi;
    SELECT array_agg(CASE WHEN nth IS NULL THEN 'infinity'::TIMESTAMPTZ
                          WHEN nth / x.w > 1e10 THEN '-infinity'::TIMESTAMPTZ
                          WHEN nth / x.w < -1e10 THEN 'infinity'::TIMESTAMPTZ
                          ELSE p_now - make_interval(secs => nth / x.w) END ORDER BY x.i),
           array_agg(nth IS NULL
                     OR x.w * EXTRACT(EPOCH FROM (p_now - x.lm))::DOUBLE PRECISION > nth
                     ORDER BY x.i)
      INTO cut, live
      FROM unnest(bw, cl) WITH ORDINALITY AS x(w, lm, i);
    nlive := (SELECT count(*) FROM unnest(live) l WHERE l);
    -- Pages grow 4x each round: a few rows from each of many buckets first,
    -- so nth tightens before deep reads.
    page := greatest(2, want / greatest(nlive, 1) + 1);
    -- 2./3. Rounds over every bucket still live, one statement each.
    WHILE nlive > 0 LOOP
      WITH u AS (
        SELECT * FROM unnest(bk, bb, cl, ci, cut, live)
                        WITH ORDINALITY AS u(kind, b, lm, id, cut, live, i)),
      f AS (
        SELECT u.i, x.id, x.w, x.lm
          FROM u CROSS JOIN LATERAL (
                 SELECT d.task_id AS id, d.weight AS w, d.last_modified AS lm
                   FROM discovery_queue d
                  WHERE d.state = 0 AND d.kind = u.kind AND d.priority = top_p
                    AND d.wbucket = u.b
                    AND (d.last_modified, d.task_id) > (u.lm, u.id)
                    AND d.last_modified < u.cut
                  ORDER BY d.last_modified, d.task_id
                  LIMIT page) x
         WHERE u.live),
      per AS (
        SELECT f.i, count(*) AS n,
               (array_agg(f.lm ORDER BY f.lm DESC, f.id DESC))[1] AS lm,
               (array_agg(f.id ORDER BY f.lm DESC, f.id DESC))[1] AS id
          FROM f GROUP BY f.i),
      c AS (
        SELECT o.id, o.s FROM unnest(cand_ids, cand_scores) AS o(id, s)
        UNION ALL
        SELECT f.id, f.w * EXTRACT(EPOCH FROM (p_now - f.lm))::DOUBLE PRECISION FROM f
        ORDER BY 2 DESC LIMIT want)
      SELECT (SELECT array_agg(c.id ORDER BY c.s DESC) FROM c),
             (SELECT array_agg(c.s ORDER BY c.s DESC) FROM c),
             (SELECT array_agg(coalesce(per.lm, u.lm) ORDER BY u.i)
                FROM u LEFT JOIN per ON per.i = u.i),
             (SELECT array_agg(coalesce(per.id, u.id) ORDER BY u.i)
                FROM u LEFT JOIN per ON per.i = u.i),
             -- Full page: the bucket may hold more.
             (SELECT array_agg(u.live AND coalesce(per.n, 0) >= page ORDER BY u.i)
                FROM u LEFT JOIN per ON per.i = u.i)
        INTO cand_ids, cand_scores, cl, ci, live;
      IF coalesce(cardinality(cand_ids), 0) >= want THEN
        nth := cand_scores[want];
        -- A bucket's unread rows are no older than its last row read: it
        -- stays live only while that row's age times its top weight beats
        -- nth, and reads only rows old enough to beat it. (A cut more than
        -- 10^10 s away is beyond any row: -infinity, or infinity when nth < 0.)
        SELECT array_agg(CASE WHEN nth / x.w > 1e10 THEN '-infinity'::TIMESTAMPTZ
                          WHEN nth / x.w < -1e10 THEN 'infinity'::TIMESTAMPTZ
                              ELSE p_now - make_interval(secs => nth / x.w) END ORDER BY x.i),
               array_agg(x.live AND x.w * EXTRACT(EPOCH FROM (p_now - x.lm))::DOUBLE PRECISION
                                    > nth ORDER BY x.i)
          INTO cut, live
          FROM unnest(bw, cl, live) WITH ORDINALITY AS x(w, lm, live, i);
      END IF;
      nlive := (SELECT count(*) FROM unnest(live) l WHERE l);
      page := page * 4;
    END LOOP;

    -- Lock the best still ready, skipping rows a concurrent claim holds.
    -- (Joined by index probes, one per candidate: see the header.)
    PERFORM set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true);
    got := got || ARRAY(
      SELECT q.task_id
        FROM unnest(cand_ids, cand_scores) WITH ORDINALITY AS c(id, s, rank)
        JOIN discovery_queue q ON q.task_id = c.id
       WHERE q.state = 0 AND NOT (q.task_id = ANY(got))
       ORDER BY c.rank
       LIMIT p_limit - cardinality(got)
         FOR UPDATE OF q SKIP LOCKED);
    PERFORM set_config('enable_hashjoin', 'on', true), set_config('enable_mergejoin', 'on', true);
    EXIT WHEN cardinality(got) >= p_limit OR coalesce(cardinality(cand_ids), 0) < want
              OR attempt >= 3;
    want := want * 4;
  END LOOP;

  -- got is in rank order: slot 1 takes the first p_limits[1], and so on.
  PERFORM set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true);
  RETURN QUERY
  WITH g AS (
    SELECT x.id, x.r FROM unnest(got) WITH ORDINALITY AS x(id, r)),
  sl AS (
    SELECT s.i::INT AS slot, s.until, s.agent,
           sum(s.n) OVER (ORDER BY s.i) - s.n AS lo, sum(s.n) OVER (ORDER BY s.i) AS hi
      FROM unnest(p_limits, p_lease_untils, p_agents) WITH ORDINALITY AS s(n, until, agent, i))
  UPDATE discovery_queue AS q
     SET state = 1, lease_token = nextval('lease_token_seq'),
         locked_until = sl.until, available_at = sl.until, leased_by = sl.agent
    FROM g JOIN sl ON g.r > sl.lo AND g.r <= sl.hi
   WHERE q.task_id = g.id
  RETURNING sl.slot, q.task_id, q.kind, q.entity_id, q.lease_token, q.locked_until, q.attempts,
            q.priority;
END;
$$;

ALTER FUNCTION sluice_claim(TEXT[], INT[], TIMESTAMPTZ, TIMESTAMPTZ[], TEXT[])
  SET enable_seqscan = off
  SET enable_bitmapscan = off
  SET enable_hashjoin = on
  SET enable_mergejoin = on;
