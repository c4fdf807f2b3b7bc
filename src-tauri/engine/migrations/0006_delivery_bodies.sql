-- Raw bodies (and the headers that matter) of recent deliveries, so an operator can replay one
-- locally while debugging a hook. The engine keeps only the newest few hundred.
CREATE TABLE delivery_bodies (
    delivery     INTEGER PRIMARY KEY REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    headers_json TEXT NOT NULL,
    body         BLOB NOT NULL
);
