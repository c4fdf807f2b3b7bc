-- Deliveries kept for "redeliver locally" stored every x-* header, including X-Gitlab-Token,
-- which is the webhook secret itself. Secret-bearing headers are no longer kept (a replay is
-- signed again with the current secret); this removes those already stored.
UPDATE delivery_bodies SET headers_json = json_remove(headers_json,
    '$."x-gitlab-token"', '$."authorization"', '$."x-hub-signature"', '$."x-hub-signature-256"',
    '$."x-gitea-signature"', '$."x-forgejo-signature"', '$."x-gogs-signature"', '$."webhook-signature"');
