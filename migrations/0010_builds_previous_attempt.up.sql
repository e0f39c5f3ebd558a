-- Runs of one build (GitHub's attempts, GitLab's retries) share its number and may finish in
-- the same second: "the build before" is ordered by attempt too, so a retry that passed is
-- compared with the run that failed.
DROP INDEX builds_previous;
CREATE INDEX builds_previous ON builds (conn, builder, branch, finished_at DESC, number DESC, attempt DESC)
    WHERE complete AND result NOT IN ('', 'retry');
