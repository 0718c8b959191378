-- sluice_claim: lease the N most urgent ready tasks of the given kinds.
--
-- Urgency is (now - last_modified) * weight, weight = access_count + 1, within
-- the highest priority that has ready work. Because urgency depends on `now`,
-- no single index orders it. Within one (kind, priority, weight) group,
-- however, urgency order is last_modified order, which the claim index gives.
-- So: walk the distinct weights of each kind from the largest down (a loose
-- index scan), take each group's N oldest as candidates, and stop as soon as
-- even the oldest row of the kind at the current weight could not beat the
-- N-th best candidate. Cost grows with N and the number of distinct weights
-- that can still matter, never with the queue's length.
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
  w BIGINT;
  oldest TIMESTAMPTZ;
  cand_ids BIGINT[] := '{}';
  cand_scores DOUBLE PRECISION[] := '{}';
  picked BIGINT[];
  nth DOUBLE PRECISION;
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
    SELECT d.priority INTO kp FROM discovery_queue d
     WHERE d.state = 0 AND d.kind = k ORDER BY d.priority DESC LIMIT 1;
    CONTINUE WHEN kp IS NULL;
    IF top_p IS NULL OR kp > top_p THEN
      top_p := kp;
      top_kinds := ARRAY[k];
    ELSIF kp = top_p THEN
      top_kinds := top_kinds || k;
    END IF;
    kp := NULL;
  END LOOP;
  IF top_p IS NULL THEN
    RETURN;
  END IF;

  FOREACH k IN ARRAY top_kinds LOOP
    SELECT d.last_modified INTO oldest FROM discovery_queue d
     WHERE d.state = 0 AND d.kind = k AND d.priority = top_p
     ORDER BY d.last_modified LIMIT 1;
    SELECT d.weight INTO w FROM discovery_queue d
     WHERE d.state = 0 AND d.kind = k AND d.priority = top_p
     ORDER BY d.weight DESC LIMIT 1;
    WHILE w IS NOT NULL LOOP
      EXIT WHEN nth IS NOT NULL
            AND w * EXTRACT(EPOCH FROM (p_now - oldest)) <= nth;
      SELECT cand_ids || array_agg(g.task_id), cand_scores || array_agg(g.score)
        INTO cand_ids, cand_scores
        FROM (SELECT d.task_id,
                     w * EXTRACT(EPOCH FROM (p_now - d.last_modified))::DOUBLE PRECISION AS score
                FROM discovery_queue d
               WHERE d.state = 0 AND d.kind = k AND d.priority = top_p AND d.weight = w
               ORDER BY d.last_modified LIMIT p_limit) g;
      IF cardinality(cand_ids) >= p_limit THEN
        SELECT s INTO nth FROM unnest(cand_scores) s ORDER BY s DESC OFFSET p_limit - 1 LIMIT 1;
      END IF;
      w := (SELECT d.weight FROM discovery_queue d
             WHERE d.state = 0 AND d.kind = k AND d.priority = top_p AND d.weight < w
             ORDER BY d.weight DESC LIMIT 1);
    END LOOP;
  END LOOP;

  picked := ARRAY(SELECT c.id FROM unnest(cand_ids, cand_scores) AS c(id, score)
                   ORDER BY c.score DESC LIMIT p_limit);
  RETURN QUERY
  UPDATE discovery_queue AS q
     SET state = 1, lease_token = nextval('lease_token_seq'),
         locked_until = p_lease_until, available_at = p_lease_until, leased_by = p_agent
   WHERE q.task_id = ANY(picked)
  RETURNING q.task_id, q.kind, q.entity_id, q.lease_token, q.locked_until, q.attempts, q.priority;
END;
$$;
