-- What plugin steps published: per run, plugin and project (data.json and metrics.json as
-- JSON). Kept with the project; a run's rows go with it.
CREATE TABLE plugin_data (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id   TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    run_id       INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    stage        TEXT NOT NULL,
    plugin       TEXT NOT NULL,
    commit_sha   TEXT,
    data_json    TEXT NOT NULL,
    metrics_json TEXT NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX plugin_data_by_plugin ON plugin_data (project_id, plugin, id);
CREATE INDEX plugin_data_by_run ON plugin_data (run_id);
