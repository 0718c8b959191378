-- The claim's statements are planned for the queue of the moment, and the
-- planner's guesses about the claim's own arrays (candidates, heads, the
-- group's tasks) are often wrong by orders of magnitude. With a few thousand
-- candidates against a queue of tens of thousands it chose hash joins over a
-- sequential scan of the whole queue (for the lock step and the final
-- update) and a bitmap scan of a whole bucket followed by a sort (for a
-- bucket's page), all O(queue) per claim. Every statement of the claim is
-- meant to be index probes and ordered index ranges, whose cost depends on
-- the claim's size only: say so for the function's duration. (When no index
-- path exists the planner still falls back; these only price the others out.)
ALTER FUNCTION sluice_claim(TEXT[], INT[], TIMESTAMPTZ, TIMESTAMPTZ[], TEXT[])
  SET enable_seqscan = off
  SET enable_bitmapscan = off
  SET enable_hashjoin = off
  SET enable_mergejoin = off;
--
-- (Within one coordinator, groups of claims that share a kind no longer run
-- at once, server/queue/claim_batcher.h: 0009's note that two groups may
-- claim at once now holds only for disjoint kinds, or for two coordinators.)
