-- A pinned stage takes no automatic deploys: a rollback (by hand or by the health watch) pins
-- the stage at the release it restores, so the next push does not undo it. One pin per stage.
CREATE TABLE stage_pins (
    stage_id        TEXT PRIMARY KEY REFERENCES stages (id) ON DELETE CASCADE,
    release_number  INTEGER NOT NULL,
    reason          TEXT NOT NULL,
    -- 1: the health watch rolled the stage back (it does not do so again until a person acts).
    auto            INTEGER NOT NULL DEFAULT 0 CHECK (auto IN (0, 1)),
    pinned_at       INTEGER NOT NULL
);

-- What the health watch saw go wrong with a live release: from the first failing probe that
-- changed the stage's state to the probe that found it healthy again (ended_at NULL: ongoing).
CREATE TABLE incidents (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    stage_id        TEXT NOT NULL REFERENCES stages (id) ON DELETE CASCADE,
    release_number  INTEGER NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('degraded', 'down')),
    started_at      INTEGER NOT NULL,
    ended_at        INTEGER,
    what            TEXT NOT NULL
);
CREATE INDEX incidents_by_stage ON incidents (stage_id, started_at);

-- What a deploy cost in requests: counted by the edge (its front Caddy's access log) for the
-- stage's host name from the start of the new release to the end of the drain.
ALTER TABLE runs ADD COLUMN switch_requests INTEGER;
ALTER TABLE runs ADD COLUMN switch_failed INTEGER;
ALTER TABLE runs ADD COLUMN switch_from INTEGER;
ALTER TABLE runs ADD COLUMN switch_to INTEGER;
