-- Who changed what through the API (a run asked for, a rollback, a promote, a cancel, a
-- setting): the console's name as it gave it, the operation, and the request's path. Never a
-- request's body, so no secret value lands here. Kept when a project is removed: it is the
-- record of who removed it.
CREATE TABLE history (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          INTEGER NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    project_id  TEXT,
    run_id      INTEGER
);
CREATE INDEX history_by_project ON history (project_id, at);
CREATE INDEX history_by_run ON history (run_id);
