-- sluice_claim: lease the N most urgent ready tasks of the given kinds.
--
-- Urgency is (now - last_modified) * weight, weight = access_count + 1, within
-- the highest priority that has ready work. Because urgency depends on `now`,
-- no index can order it. What an index can give is rows by weight bucket
-- (bit length of the weight, so a bucket's weights differ by less than 2x)
-- and, within a bucket, oldest first. A row of bucket b scores at most
-- (2^b - 1) * age, and ages only shrink along the bucket's index order, so:
-- walk buckets from the heaviest down, scan each bucket oldest first, and
-- stop scanning it as soon as (2^b - 1) * age cannot beat the N-th best score
-- found so far; skip whole buckets once (2^b - 1) * (oldest age of the kind)
-- cannot. The answer is exact; the work depends on N and on how many buckets
-- can still matter (at most 64), never on the queue's length.
--
-- Claims are serialised by a transaction-scoped advisory lock: a claim is a
-- few index probes, and serialising makes "the N most urgent at claim time"
-- exact under concurrency instead of approximately true under SKIP LOCKED.
--
-- Times come from the caller (the coordinator's clock), so tests can drive a
-- fake clock and the coordinator and database agree on lease expiry.
CREATE FUNCTION sluice_claim(p_kinds TEXT[], p_limit INT, p_now TIMESTAMPTZ,
                             p_lease_until TIMESTAMPTZ, p_agent TEXT)
RETURNS TABLE (task_id BIGINT, kind TEXT, entity_id BIGINT, lease_token BIGINT,
               locked_until TIMESTAMPTZ, attempts INT, priority SMALLINT)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  k TEXT;
  kp SMALLINT;
  top_p SMALLINT := NULL;
  top_kinds TEXT[] := '{}';
  b SMALLINT;
  wmax DOUBLE PRECISION;
  oldest TIMESTAMPTZ;
  r RECORD;
  age DOUBLE PRECISION;
  score DOUBLE PRECISION;
  cand_ids BIGINT[] := '{}';
  cand_scores DOUBLE PRECISION[] := '{}';
  nth DOUBLE PRECISION;  -- N-th best score among candidates, once there are N
  picked BIGINT[];
BEGIN
  PERFORM pg_advisory_xact_lock(7314001);

  -- Expired leases and finished backoffs become ready again.
  UPDATE discovery_queue AS q
     SET state = 0, available_at = NULL, locked_until = NULL
   WHERE q.task_id IN (SELECT d.task_id FROM discovery_queue d
                        WHERE d.state <> 0 AND d.available_at <= p_now
                        ORDER BY d.available_at LIMIT 10000);

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

  FOREACH k IN ARRAY top_kinds LOOP
    oldest := (SELECT d.last_modified FROM discovery_queue d
                WHERE d.state = 0 AND d.kind = k AND d.priority = top_p
                ORDER BY d.last_modified LIMIT 1);
    b := (SELECT d.wbucket FROM discovery_queue d
           WHERE d.state = 0 AND d.kind = k AND d.priority = top_p
           ORDER BY d.wbucket DESC LIMIT 1);
    WHILE b IS NOT NULL LOOP
      wmax := power(2::DOUBLE PRECISION, b) - 1;
      EXIT WHEN nth IS NOT NULL AND wmax * EXTRACT(EPOCH FROM (p_now - oldest)) <= nth;
      FOR r IN SELECT d.task_id AS id, d.weight AS w, d.last_modified AS lm
                 FROM discovery_queue d
                WHERE d.state = 0 AND d.kind = k AND d.priority = top_p AND d.wbucket = b
                ORDER BY d.last_modified LOOP
        age := EXTRACT(EPOCH FROM (p_now - r.lm));
        EXIT WHEN nth IS NOT NULL AND wmax * age <= nth;
        score := r.w * age;
        CONTINUE WHEN nth IS NOT NULL AND score <= nth;
        cand_ids := cand_ids || r.id;
        cand_scores := cand_scores || score;
        -- Keep at most 2N candidates: trim to the best N and raise the bar.
        IF cardinality(cand_ids) >= 2 * p_limit
           OR (nth IS NULL AND cardinality(cand_ids) >= p_limit) THEN
          SELECT array_agg(c.id ORDER BY c.s DESC), array_agg(c.s ORDER BY c.s DESC)
            INTO cand_ids, cand_scores
            FROM (SELECT u.id, u.s FROM unnest(cand_ids, cand_scores) AS u(id, s)
                   ORDER BY u.s DESC LIMIT p_limit) c;
          nth := cand_scores[p_limit];
        END IF;
      END LOOP;
      b := (SELECT d.wbucket FROM discovery_queue d
             WHERE d.state = 0 AND d.kind = k AND d.priority = top_p AND d.wbucket < b
             ORDER BY d.wbucket DESC LIMIT 1);
    END LOOP;
  END LOOP;

  picked := ARRAY(SELECT c.id FROM unnest(cand_ids, cand_scores) AS c(id, s)
                   ORDER BY c.s DESC LIMIT p_limit);
  RETURN QUERY
  UPDATE discovery_queue AS q
     SET state = 1, lease_token = nextval('lease_token_seq'),
         locked_until = p_lease_until, available_at = p_lease_until, leased_by = p_agent
   WHERE q.task_id = ANY(picked)
  RETURNING q.task_id, q.kind, q.entity_id, q.lease_token, q.locked_until, q.attempts, q.priority;
END;
$$;
