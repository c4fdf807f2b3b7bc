-- Hosts taken out of a stage's rotation for maintenance (#19): while a row is here, the host's
-- edge answers the stage's readiness path with 503.
CREATE TABLE host_drains (
    stage_id   TEXT NOT NULL REFERENCES stages(id) ON DELETE CASCADE,
    host_id    TEXT NOT NULL,
    drained_at INTEGER NOT NULL,
    PRIMARY KEY (stage_id, host_id)
);
