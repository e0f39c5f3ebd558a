-- When herald stored a build as finished, in the database's clock. A digest counts the builds
-- stored in its period, not the builds the CI says finished in it: a build whose event comes
-- after its period's digest ran (a webhook seconds late, a catch-up after an outage) is then
-- counted in the next digest instead of in none. Builds stored before this migration keep
-- their finish time, which is how the digests already sent counted them.
ALTER TABLE builds ADD COLUMN stored_at timestamptz;
UPDATE builds SET stored_at = COALESCE(finished_at, updated_at);
ALTER TABLE builds ALTER COLUMN stored_at SET DEFAULT now(), ALTER COLUMN stored_at SET NOT NULL;
CREATE INDEX builds_stored ON builds (stored_at) WHERE complete;
DROP INDEX builds_finished;
