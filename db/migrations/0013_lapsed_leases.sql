-- A lease that lapses (its agent neither completed, failed nor handed back
-- the task in time) counts as a failed attempt, as a reported failure does:
-- a task that kills or hangs every agent that takes it (a body that crashes
-- a parser, a call that never returns) must end in dead_tasks, not go round
-- forever. The claim's promotion of an expired lease (sluice_claim's first
-- statement) is the only change from leased (1) to ready (0): completions
-- delete, failures and releases go to waiting (2). The coordinator
-- dead-letters a claimed task whose attempts reached max_attempts
-- (TaskQueue::DeadLetterExhausted).
CREATE FUNCTION sluice_count_lapsed_lease() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
  NEW.attempts := OLD.attempts + 1;
  NEW.last_error := 'lease lapsed: ' || coalesce(OLD.leased_by, 'its agent') ||
                    ' neither reported the task nor handed it back';
  RETURN NEW;
END $$;

CREATE TRIGGER discovery_queue_lapsed_lease BEFORE UPDATE ON discovery_queue
  FOR EACH ROW WHEN (OLD.state = 1 AND NEW.state = 0)
  EXECUTE FUNCTION sluice_count_lapsed_lease();
