-- Deploys. (Allowing the `rolled_back` run status needs `runs` rebuilt, which SQLite can only do
-- with foreign keys off, outside a migration's transaction: `Store::allow_rolled_back` does it.)

-- Rollback and promote runs redeploy this release exactly (no fetch, no build).
ALTER TABLE runs ADD COLUMN release_id INTEGER REFERENCES releases (id) ON DELETE SET NULL;

-- What a project deploys (port, env, health, replicas): JSON of `DeployConfig`, or NULL for
-- projects that only build. A column of its own so other per-project settings don't share it.
ALTER TABLE projects ADD COLUMN deploy_json TEXT;

-- The image every release runs (an image id for images built here, repo@digest for pulled
-- ones) and where a promoted release came from.
ALTER TABLE releases ADD COLUMN image TEXT;
ALTER TABLE releases ADD COLUMN promoted_from INTEGER REFERENCES releases (id) ON DELETE SET NULL;
ALTER TABLE releases ADD COLUMN finished_at INTEGER;
CREATE INDEX releases_stage_status ON releases (stage_id, status);
