-- Claims rank the queue in the coordinator's memory (server/queue/ready_index.h)
-- and lease the chosen rows by primary key (queue_sql::kLeaseChosen), so the
-- claim function of 0009/0012 and everything only it read go: the weight
-- buckets and the claim index. Every lease, completion and enqueue had to
-- keep that index up, and the rows finished tasks left dead in it were what
-- the claim read through (the rounds' decay).
--
-- What stays: the primary key (leases, completions) and (kind, entity_id)
-- (enqueues). The due index now leads with the kind, as a claim promotes
-- the lapsed leases and ended backoffs of its own kinds only
-- (queue_sql::kPromoteDue); one small index is added for status, below.
DROP FUNCTION sluice_claim(TEXT[], INT[], TIMESTAMPTZ, TIMESTAMPTZ[], TEXT[]);
ALTER TABLE discovery_queue DROP COLUMN wbucket;  -- drops discovery_queue_claim_idx
DROP FUNCTION sluice_bucket_max_weight(SMALLINT);
DROP FUNCTION sluice_weight_bucket(BIGINT);
DROP INDEX discovery_queue_due_idx;
CREATE INDEX discovery_queue_due_idx ON discovery_queue (kind, available_at) WHERE state <> 0;

-- Status and metrics show how long the oldest ready task of each kind has
-- waited (queue_sql::kOldestReadyAge): the claim index answered that with a
-- walk over the kind's rows; this one with one probe per kind. It is not on
-- the claim's path.
CREATE INDEX discovery_queue_waiting_idx ON discovery_queue (kind, enqueued_at) WHERE state = 0;
