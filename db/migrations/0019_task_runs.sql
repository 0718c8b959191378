-- Which job run queued each task (Task.run_id), so one run can be followed
-- from the scheduler into agents' log lines. The queue is the hot table (tens
-- of millions of rows): it keeps an 8-byte reference to the run's row, not
-- the run id's text (~35 bytes), and the lease resolves it to the id.
--
-- job_runs is keyed by its run id (text); `ref` gives each run a small
-- integer key (existing rows are numbered too).
ALTER TABLE job_runs ADD COLUMN ref BIGINT GENERATED ALWAYS AS IDENTITY;
ALTER TABLE job_runs ADD CONSTRAINT job_runs_ref_key UNIQUE (ref);

-- NULL: queued outside any run (sluicectl enqueue, a stream's own start).
-- A task discovered by another inherits its run_ref. No foreign key: its
-- check would cost an index probe and a row lock on job_runs per queued task,
-- and a run row that is gone only leaves its tasks with no run id.
ALTER TABLE discovery_queue ADD COLUMN run_ref BIGINT;
