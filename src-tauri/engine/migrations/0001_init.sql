-- Slipway's first schema: what the hosts, forges, pipelines and deploys issues build on.
-- Times are Unix milliseconds (UTC); JSON columns hold serde_json text.

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE hosts (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL CHECK (kind IN ('local', 'tcp', 'ssh')),
    endpoint   TEXT NOT NULL,
    -- Paths to TLS material, never the material itself: nothing secret lives in the store.
    tls_ca     TEXT,
    tls_cert   TEXT,
    tls_key    TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE projects (
    id                 TEXT PRIMARY KEY,
    name               TEXT NOT NULL UNIQUE,
    repo_url           TEXT NOT NULL,
    forge              TEXT NOT NULL CHECK (forge IN ('github', 'gitlab', 'gitea', 'forgejo', 'bitbucket', 'git')),
    -- Name of the keychain entry holding the forge token; the token itself is never stored here.
    token_ref          TEXT,
    host_id            TEXT REFERENCES hosts (id) ON DELETE SET NULL,
    poll_interval_secs INTEGER,
    config_json        TEXT NOT NULL DEFAULT '{}',
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);

CREATE TABLE stages (
    id              TEXT PRIMARY KEY,
    project_id      TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    branch_patterns TEXT NOT NULL DEFAULT '["main"]',
    tag_patterns    TEXT NOT NULL DEFAULT '[]',
    pr_events       INTEGER NOT NULL DEFAULT 0,
    auto_deploy     INTEGER NOT NULL DEFAULT 1,
    productive      INTEGER NOT NULL DEFAULT 0,
    promote_from    TEXT,
    confirm         INTEGER NOT NULL DEFAULT 0,
    strategy        TEXT NOT NULL DEFAULT 'blue-green'
                    CHECK (strategy IN ('recreate', 'blue-green', 'rolling', 'canary')),
    config_json     TEXT NOT NULL DEFAULT '{}',
    UNIQUE (project_id, name)
);

CREATE TABLE webhook_deliveries (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id  TEXT REFERENCES projects (id) ON DELETE SET NULL,
    provider    TEXT,
    event       TEXT,
    delivery_id TEXT,
    ref_name    TEXT,
    commit_sha  TEXT,
    outcome     TEXT NOT NULL CHECK (outcome IN ('queued', 'ignored', 'duplicate', 'rejected')),
    http_status INTEGER NOT NULL,
    reason      TEXT,
    run_id      INTEGER REFERENCES runs (id) ON DELETE SET NULL,
    received_at INTEGER NOT NULL,
    duration_us INTEGER
);
CREATE INDEX webhook_deliveries_received ON webhook_deliveries (received_at DESC);
CREATE INDEX webhook_deliveries_delivery ON webhook_deliveries (project_id, delivery_id);

CREATE TABLE runs (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id    TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    stage_id      TEXT NOT NULL REFERENCES stages (id) ON DELETE CASCADE,
    trigger       TEXT NOT NULL CHECK (trigger IN ('webhook', 'poll', 'manual', 'rollback', 'promote', 'registry')),
    status        TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'superseded', 'interrupted')),
    commit_sha    TEXT,
    ref_name      TEXT,
    image_digest  TEXT,
    delivery_id   INTEGER REFERENCES webhook_deliveries (id) ON DELETE SET NULL,
    config_source TEXT,
    reason        TEXT,
    queued_at     INTEGER NOT NULL,
    started_at    INTEGER,
    finished_at   INTEGER
);
CREATE INDEX runs_stage_status ON runs (stage_id, status);
CREATE INDEX runs_queued ON runs (queued_at DESC);

CREATE TABLE run_steps (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id      INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'skipped', 'cancelled')),
    exit_code   INTEGER,
    message     TEXT,
    started_at  INTEGER,
    finished_at INTEGER,
    UNIQUE (run_id, position)
);

-- One row per log line; (run_id, seq) keeps order and makes batched inserts cheap.
CREATE TABLE log_lines (
    run_id  INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq     INTEGER NOT NULL,
    step_id INTEGER REFERENCES run_steps (id) ON DELETE CASCADE,
    stream  TEXT NOT NULL CHECK (stream IN ('stdout', 'stderr', 'system')),
    ts      INTEGER NOT NULL,
    line    TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;

CREATE TABLE releases (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    stage_id     TEXT NOT NULL REFERENCES stages (id) ON DELETE CASCADE,
    number       INTEGER NOT NULL,
    run_id       INTEGER REFERENCES runs (id) ON DELETE SET NULL,
    commit_sha   TEXT,
    -- {"service": "sha256:…"} for every service of the release.
    digests_json TEXT NOT NULL,
    -- Env, ports, labels, strategy and health settings; secrets by reference only.
    config_json  TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('live', 'retired', 'rolled_back', 'pruned')),
    created_at   INTEGER NOT NULL,
    UNIQUE (stage_id, number)
);
