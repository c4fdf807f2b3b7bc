-- The Docker hosts a release runs on, for stages that name several (#19); NULL: the project's host.
ALTER TABLE releases ADD COLUMN hosts_json TEXT;
