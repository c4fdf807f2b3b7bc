-- The containers each release runs, by service ({"web": ["slipway-…-web"]}): after a crash the
-- host is made to match the live releases exactly, and compose services left unchanged by a
-- deploy belong to the new release without being restarted.
ALTER TABLE releases ADD COLUMN containers_json TEXT;
