-- The attempt of a build, for CI systems that run a build again under the same number
-- (GitHub's re-runs keep the run's number and raise run_attempt; each attempt is a build of
-- its own). 0 when the CI has no such notion; messages name it from 2 on.
ALTER TABLE builds ADD COLUMN attempt integer NOT NULL DEFAULT 0;
