-- Environments: a stage's group, predecessors (`requires`), soak and whether manual deploys
-- need a confirmation, as JSON ({"group": …, "requires": […], "soak_secs": …, "confirm_manual": …}).
-- The project's rules live in projects.config_json under `rules`.
ALTER TABLE stages ADD COLUMN env_json TEXT NOT NULL DEFAULT '{}';
