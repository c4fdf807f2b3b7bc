-- Forges: polling state, forge accounts (tokens live in the keychain), delivery details.

-- The last commit polling saw on each ref of a project, so a changed ref is noticed even when
-- it changed while Slipway was not running.
CREATE TABLE poll_state (
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    ref_name   TEXT NOT NULL,
    commit_sha TEXT NOT NULL,
    seen_at    INTEGER NOT NULL,
    PRIMARY KEY (project_id, ref_name)
) WITHOUT ROWID;

-- A forge account: which forge, where its API is, and the keychain entry holding its token.
CREATE TABLE forge_accounts (
    name       TEXT PRIMARY KEY,
    forge      TEXT NOT NULL CHECK (forge IN ('github', 'gitlab', 'gitea', 'forgejo', 'bitbucket', 'git')),
    api_base   TEXT,
    username   TEXT,
    created_at INTEGER NOT NULL
);

ALTER TABLE projects ADD COLUMN last_poll_at INTEGER;
ALTER TABLE projects ADD COLUMN last_poll_error TEXT;
ALTER TABLE webhook_deliveries ADD COLUMN events_json TEXT;
CREATE INDEX runs_stage_commit ON runs (stage_id, commit_sha);
CREATE INDEX runs_delivery ON runs (delivery_id);
