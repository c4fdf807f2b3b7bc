-- Prebuilt images: a project may watch an image repository's tags instead of (or beside) git.
ALTER TABLE projects ADD COLUMN image_repo TEXT;
-- Keychain entry (registry:<name>) holding "user:password" for the registry; never the value.
ALTER TABLE projects ADD COLUMN registry_account TEXT;

-- The digest each tag had at the last look, so a new or moved tag is noticed once.
CREATE TABLE registry_state (
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    tag        TEXT NOT NULL,
    digest     TEXT NOT NULL,
    seen_at    INTEGER NOT NULL,
    PRIMARY KEY (project_id, tag)
) WITHOUT ROWID;
