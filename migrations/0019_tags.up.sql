-- /notify on ... tag=NAME: a subscription that names tags hears only of builds whose builder
-- carries one of them (Buildbot's builder tags). Empty means every builder, as before.
ALTER TABLE subscriptions ADD COLUMN tags text[] NOT NULL DEFAULT '{}';
