-- Pipeline templates, as their YAML was imported; the version goes up when the text changes.
CREATE TABLE templates (
    name        TEXT PRIMARY KEY,
    version     INTEGER NOT NULL,
    body        TEXT NOT NULL,
    updated_at  INTEGER NOT NULL
);
-- What a run executed when its slipway.yml extended a template (template, version, where each
-- step came from, the merged pipeline), as JSON.
ALTER TABLE runs ADD COLUMN pipeline_json TEXT;
