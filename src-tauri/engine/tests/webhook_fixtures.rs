//! Every payload in shared/fixtures/webhooks goes through the whole receiving path (detect,
//! verify, payload_json, normalize) and must come out as the exact event written down here. The
//! expected values were read off the payloads and the fixtures README's table, not off our output.
//!
//! The signature tests use published known-answer vectors, because no fixture comes with the
//! signature headers it was originally delivered with.

use std::collections::BTreeSet;

use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderName, HeaderValue};
use sha2::Sha256;
use slipway_engine::adapters::forge::webhook::{self, Event, EventKind, ParseError, PrAction, Provider, PullRequest, Repo, VerifyError};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/fixtures/webhooks");
const SECRET: &[u8] = b"round-trip secret";
const DELIVERY: &str = "delivery-0001";

fn read(name: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}/{name}")).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn manifest() -> serde_json::Map<String, serde_json::Value> {
    match serde_json::from_slice(&read("manifest.json")).unwrap() {
        serde_json::Value::Object(map) => map,
        other => panic!("manifest.json is not an object: {other}"),
    }
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (k, v) in pairs {
        map.append(HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
    }
    map
}

fn hmac_hex(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// The headers the forge would send with this fixture: the manifest's inferred event headers,
/// the compatibility copies the forge also sends (so detection has to pick the specific one),
/// a delivery id, and a signature computed over the fixture bytes with [`SECRET`].
fn delivery_headers(name: &str, inferred: &serde_json::Value, body: &[u8]) -> (Provider, HeaderMap) {
    let mut h = HeaderMap::new();
    for (k, v) in inferred.as_object().unwrap() {
        h.insert(HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v.as_str().unwrap()).unwrap());
    }
    let sig = hmac_hex(SECRET, body);
    let secret = std::str::from_utf8(SECRET).unwrap();
    let event = h.get("x-gitea-event").or(h.get("x-forgejo-event")).cloned();
    let (provider, extra): (Provider, Vec<(&str, String)>) = match name.split('/').next().unwrap() {
        "github" => (Provider::Github, vec![("X-GitHub-Delivery", DELIVERY.into()), ("X-Hub-Signature-256", format!("sha256={sig}"))]),
        "gitlab" => (
            Provider::Gitlab,
            vec![
                ("Idempotency-Key", DELIVERY.into()),
                ("X-Gitlab-Event-UUID", "shared-by-recursive-hooks".into()),
                ("X-Gitlab-Token", secret.into()),
            ],
        ),
        "gitea" => (
            Provider::Gitea,
            vec![
                ("X-Gitea-Delivery", DELIVERY.into()),
                ("X-GitHub-Delivery", DELIVERY.into()),
                ("X-Gitea-Signature", sig.clone()),
                ("X-Hub-Signature-256", format!("sha256={sig}")),
            ],
        ),
        "forgejo" => (
            Provider::Forgejo,
            vec![
                ("X-Forgejo-Delivery", DELIVERY.into()),
                ("X-Gitea-Delivery", DELIVERY.into()),
                ("X-GitHub-Delivery", DELIVERY.into()),
                ("X-Forgejo-Signature", sig.clone()),
                ("X-Gitea-Signature", sig.clone()),
            ],
        ),
        "bitbucket" => (
            Provider::Bitbucket,
            vec![("X-Request-UUID", DELIVERY.into()), ("X-Attempt-Number", "1".into()), ("X-Hub-Signature", format!("sha256={sig}"))],
        ),
        other => panic!("unknown provider directory {other}"),
    };
    for (k, v) in extra {
        h.insert(HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(&v).unwrap());
    }
    if let Some(event) = event {
        h.insert("x-github-event", event);
    }
    h.insert("content-type", HeaderValue::from_static("application/json"));
    (provider, h)
}

/// The full receiving path for one fixture.
fn receive(name: &str, inferred: &serde_json::Value) -> Vec<Event> {
    let body = read(name);
    let (want_provider, h) = delivery_headers(name, inferred, &body);
    let provider = webhook::detect(&h);
    assert_eq!(provider, Some(want_provider), "{name}: detect");
    let event = webhook::event_name(want_provider, &h).unwrap_or_else(|| panic!("{name}: no event name"));
    let id = webhook::delivery_id(want_provider, &h);
    assert_eq!(id.as_deref(), Some(DELIVERY), "{name}: delivery id");
    assert_eq!(webhook::verify(want_provider, &h, &body, SECRET), Ok(()), "{name}: round-trip signature");
    assert_eq!(webhook::verify(want_provider, &h, &body, b"another secret"), Err(VerifyError::Mismatch), "{name}");
    let json = webhook::payload_json(&h, &body).unwrap();
    webhook::normalize(want_provider, &event, id.as_deref(), &json).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn s(v: &str) -> Option<String> {
    Some(v.to_owned())
}

fn repo(full: &str, http: &str, ssh: &str, web: &str, default: Option<&str>) -> Repo {
    Repo { full_name: s(full), clone_http: s(http), clone_ssh: s(ssh), web_url: s(web), default_branch: default.map(String::from) }
}

fn ev(provider: Provider, kind: EventKind, repo: Repo) -> Event {
    Event {
        provider,
        delivery_id: s(DELIVERY),
        kind,
        repo,
        git_ref: None,
        before: None,
        after: None,
        commit: None,
        pusher: None,
        message: None,
        pull_request: None,
        forced: false,
    }
}

fn pr(action: PrAction) -> EventKind {
    EventKind::PullRequest { action }
}

fn github_repo(full: &str, default: &str) -> Repo {
    repo(
        full,
        &format!("https://github.com/{full}.git"),
        &format!("git@github.com:{full}.git"),
        &format!("https://github.com/{full}"),
        Some(default),
    )
}

fn bitbucket_repo(full: &str) -> Repo {
    repo(
        full,
        &format!("https://bitbucket.org/{full}.git"),
        &format!("git@bitbucket.org:{full}.git"),
        &format!("https://bitbucket.org/{full}"),
        None,
    )
}

const ZERO: &str = "0000000000000000000000000000000000000000";

/// What each fixture must normalize to, by forge (the tables are in `webhook_fixtures/`). A
/// fixture added to the manifest without an entry there fails the test, so no payload goes
/// unchecked.
fn expected(name: &str) -> Vec<Event> {
    let e = match name.split('/').next().unwrap_or_default() {
        "github" => github_gitlab::github(name),
        "gitlab" => github_gitlab::gitlab(name),
        "gitea" | "forgejo" => gitea_bitbucket::gitea(name),
        "bitbucket" => gitea_bitbucket::bitbucket(name),
        _ => unknown(name),
    };
    vec![e]
}

fn unknown(name: &str) -> ! {
    panic!("{name} is in manifest.json but has no expected event in this test")
}

#[path = "webhook_fixtures/gitea_bitbucket.rs"]
mod gitea_bitbucket;
#[path = "webhook_fixtures/github_gitlab.rs"]
mod github_gitlab;

#[test]
fn every_manifest_fixture_normalizes_to_its_expected_event() {
    let manifest = manifest();
    assert!(manifest.len() >= 46, "manifest.json lists only {} fixtures", manifest.len());
    for (name, entry) in &manifest {
        // Azure DevOps is not a forge Slipway takes webhooks from yet: see the next test.
        if name.starts_with("azure-devops/") {
            continue;
        }
        let got = receive(name, &entry["event_headers_inferred"]);
        assert_eq!(got, expected(name), "{name}");
    }
}

/// Azure DevOps service hooks sign nothing and carry no event header (the event is the body's
/// `eventType`): Slipway does not take them yet, and says so instead of guessing. Each of its
/// fixtures, sent as Azure DevOps sends it (JSON, no forge headers), is detected as no forge,
/// so the listener answers 400 "no forge headers" and queues nothing.
#[test]
fn azure_devops_deliveries_are_not_taken_for_another_forge() {
    let manifest = manifest();
    let azure: Vec<&String> = manifest.keys().filter(|n| n.starts_with("azure-devops/")).collect();
    assert!(!azure.is_empty(), "the fixtures have Azure DevOps payloads");
    for name in azure {
        let body: serde_json::Value = serde_json::from_slice(&read(name)).unwrap();
        assert!(body["eventType"].as_str().is_some_and(|t| t.starts_with("git.")), "{name}: an Azure DevOps git event");
        let mut h = HeaderMap::new();
        h.insert("content-type", HeaderValue::from_static("application/json; charset=utf-8"));
        h.insert("user-agent", HeaderValue::from_static("VSServices/16.255.0.0"));
        assert_eq!(webhook::detect(&h), None, "{name}");
    }
}

#[test]
fn every_fixture_file_is_in_the_manifest() {
    let listed: BTreeSet<String> = manifest().keys().cloned().collect();
    let mut on_disk = BTreeSet::new();
    for dir in std::fs::read_dir(FIXTURES).unwrap() {
        let dir = dir.unwrap();
        if !dir.file_type().unwrap().is_dir() {
            continue;
        }
        for file in std::fs::read_dir(dir.path()).unwrap() {
            let file = file.unwrap().file_name().into_string().unwrap();
            on_disk.insert(format!("{}/{file}", dir.file_name().to_string_lossy()));
        }
    }
    assert_eq!(on_disk, listed);
}

#[test]
fn helpers_strip_ref_prefixes() {
    let push = &expected("github/push-branch.json")[0];
    assert_eq!((push.branch(), push.tag()), (Some("main"), None));
    let tag = &expected("bitbucket/repo-push-tag-created.json")[0];
    assert_eq!((tag.branch(), tag.tag()), (None, Some("feature/x")));
    let ping = &expected("github/ping.json")[0];
    assert_eq!((ping.branch(), ping.tag()), (None, None));
}

/// One Bitbucket push can change several refs; each becomes its own event, in order.
#[test]
fn bitbucket_multi_change_push_gives_one_event_per_change() {
    let mut payload: serde_json::Value = serde_json::from_slice(&read("bitbucket/repo-push-2018.json")).unwrap();
    let created = serde_json::from_slice::<serde_json::Value>(&read("bitbucket/repo-push-tag-created.json")).unwrap();
    let deleted = serde_json::from_slice::<serde_json::Value>(&read("bitbucket/repo-push-branch-deleted.json")).unwrap();
    let changes = payload["push"]["changes"].as_array_mut().unwrap();
    changes.push(created["push"]["changes"][0].clone());
    changes.push(deleted["push"]["changes"][0].clone());
    changes[0]["forced"] = serde_json::Value::Bool(true);
    let body = serde_json::to_vec(&payload).unwrap();
    let events = webhook::normalize(Provider::Bitbucket, "repo:push", Some("r1"), &body).unwrap();
    let summary: Vec<_> =
        events.iter().map(|e| (e.kind.clone(), e.git_ref.as_deref(), e.commit.as_deref(), e.forced, e.delivery_id.as_deref())).collect();
    assert_eq!(
        summary,
        [
            (EventKind::Push, Some("refs/heads/master"), Some("141977fedf5cf35aa290ac87d4b5177ac4cd9de1"), true, Some("r1")),
            (EventKind::TagPush, Some("refs/tags/feature/x"), Some("141977fedf5cf35aa290ac87d4b5177ac4cd9de1"), false, Some("r1")),
            (EventKind::BranchDeleted, Some("refs/heads/develop"), None, false, Some("r1")),
        ]
    );
}

#[test]
fn bitbucket_pull_request_updated_and_rejected() {
    let body = read("bitbucket/pullrequest-created.json");
    for (event, action) in [("pullrequest:updated", PrAction::Synchronized), ("pullrequest:rejected", PrAction::Closed)] {
        let e = &webhook::normalize(Provider::Bitbucket, event, None, &body).unwrap()[0];
        assert_eq!(e.kind, EventKind::PullRequest { action });
        assert_eq!(e.commit.as_deref(), Some("507a576e59b3"));
    }
    let other = &webhook::normalize(Provider::Bitbucket, "issue:created", None, &body).unwrap()[0];
    assert_eq!(other.kind, EventKind::Other { event: "issue:created".into() });
}

#[test]
fn gitlab_merge_request_update_is_synchronized_only_with_oldrev() {
    let mut payload: serde_json::Value = serde_json::from_slice(&read("gitlab/merge_request-opened-captured.json")).unwrap();
    payload["object_attributes"]["action"] = "update".into();
    let kind = |p: &serde_json::Value| {
        webhook::normalize(Provider::Gitlab, "Merge Request Hook", None, &serde_json::to_vec(p).unwrap()).unwrap()[0].kind.clone()
    };
    assert_eq!(kind(&payload), EventKind::PullRequest { action: PrAction::Other });
    payload["object_attributes"]["oldrev"] = "9217710ce8c7e1eae7a5d1c45f6e43e1c769f866".into();
    assert_eq!(kind(&payload), EventKind::PullRequest { action: PrAction::Synchronized });
    for (action, want) in [("close", PrAction::Closed), ("reopen", PrAction::Reopened), ("approved", PrAction::Other)] {
        payload["object_attributes"]["action"] = action.into();
        assert_eq!(kind(&payload), EventKind::PullRequest { action: want }, "{action}");
    }
}

/// GitHub's `delete` event and a GitHub-style push of a deletion that has no `deleted` flag.
#[test]
fn deletions_without_a_flag_are_recognised_by_the_zero_sha() {
    let body = br#"{"ref":"topic","ref_type":"branch","repository":{"full_name":"o/r"},"sender":{"login":"u"}}"#;
    let e = &webhook::normalize(Provider::Github, "delete", None, body).unwrap()[0];
    assert_eq!((e.kind.clone(), e.git_ref.as_deref(), e.commit.as_deref()), (EventKind::BranchDeleted, Some("refs/heads/topic"), None));
    let body = format!(r#"{{"ref":"refs/heads/x","before":"{}","after":"{ZERO}","repository":{{"full_name":"o/r"}}}}"#, "a".repeat(40));
    let e = &webhook::normalize(Provider::Gitea, "push", None, body.as_bytes()).unwrap()[0];
    assert_eq!((e.kind.clone(), e.commit.as_deref()), (EventKind::BranchDeleted, None));
}

#[test]
fn detect_prefers_the_most_specific_header_family() {
    let gitea_also_sends_github = headers(&[("X-GitHub-Event", "push"), ("X-Gitea-Event", "push")]);
    assert_eq!(webhook::detect(&gitea_also_sends_github), Some(Provider::Gitea));
    let forgejo = headers(&[("X-GitHub-Event", "push"), ("X-Gitea-Event", "push"), ("X-Forgejo-Event", "push")]);
    assert_eq!(webhook::detect(&forgejo), Some(Provider::Forgejo));
    let bitbucket = headers(&[("X-Event-Key", "repo:push"), ("X-Request-UUID", "u")]);
    assert_eq!(webhook::detect(&bitbucket), Some(Provider::Bitbucket));
    assert_eq!(webhook::detect(&headers(&[("X-Event-Key", "repo:push")])), None);
    assert_eq!(webhook::detect(&headers(&[("X-Gitlab-Token", "t")])), Some(Provider::Gitlab));
    assert_eq!(webhook::detect(&headers(&[("Content-Type", "application/json")])), None);
    let gitlab_old = headers(&[("X-Gitlab-Event", "Push Hook"), ("X-Gitlab-Event-UUID", "old")]);
    assert_eq!(webhook::delivery_id(Provider::Gitlab, &gitlab_old).as_deref(), Some("old"));
    assert_eq!(webhook::event_name(Provider::Gitlab, &gitlab_old).as_deref(), Some("Push Hook"));
    assert_eq!(webhook::event_name(Provider::Github, &headers(&[("X-GitHub-Event", "  ")])), None);
}

// ---- payload extraction and parse errors

#[test]
fn form_encoded_payloads_are_decoded() {
    let form = headers(&[("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")]);
    let json = webhook::payload_json(&form, b"payload=%7B%22a%22%3A+%22b+c%22%7D&x=1").unwrap();
    assert_eq!(&*json, br#"{"a": "b c"}"#);
    assert!(matches!(webhook::payload_json(&form, b"x=1"), Err(ParseError::Missing(_))));
    let plain = headers(&[("Content-Type", "application/json")]);
    assert_eq!(&*webhook::payload_json(&plain, b" {}").unwrap(), b" {}");
    assert!(matches!(webhook::payload_json(&plain, b"hello"), Err(ParseError::Json(_))));
}

#[test]
fn garbage_and_truncated_json_is_a_json_error() {
    let full = read("github/push-branch.json");
    let truncated = &full[..full.len() / 2];
    for (provider, event, body) in [
        (Provider::Github, "push", truncated),
        (Provider::Gitlab, "Push Hook", &b"\x00\xffnot json"[..]),
        (Provider::Bitbucket, "repo:push", &b"[1,2,3]"[..]),
        (Provider::Gitea, "push", &b""[..]),
        (Provider::Github, "release", &b"{"[..]),
    ] {
        let err = webhook::normalize(provider, event, None, body).unwrap_err();
        assert!(matches!(err, ParseError::Json(_)), "{provider:?} {event}: {err:?}");
    }
}

#[test]
fn wrong_field_types_are_errors_not_panics() {
    let cases: &[(Provider, &str, &str)] = &[
        (Provider::Github, "push", r#"{"ref": 5, "after": "abc"}"#),
        (Provider::Github, "pull_request", r#"{"action": "opened", "pull_request": {"number": "seven"}}"#),
        (Provider::Gitea, "push", r#"{"ref": "refs/heads/x", "commits": {"id": 1}}"#),
        (Provider::Gitlab, "Push Hook", r#"{"ref": "refs/heads/x", "project": []}"#),
        (Provider::Gitlab, "Merge Request Hook", r#"{"object_attributes": {"iid": -1}}"#),
        (Provider::Bitbucket, "repo:push", r#"{"push": {"changes": "all of them"}}"#),
    ];
    for (provider, event, body) in cases {
        let err = webhook::normalize(*provider, event, None, body.as_bytes()).unwrap_err();
        assert!(matches!(err, ParseError::Json(_)), "{body}: {err:?}");
    }
}

#[test]
fn missing_fields_say_what_is_missing() {
    let repo = r#""repository": {"full_name": "o/r"}"#;
    let a = "a".repeat(40);
    let cases: Vec<(Provider, &str, String, &str)> = vec![
        (Provider::Github, "push", format!(r#"{{"after": "{a}", {repo}}}"#), "push payload has no `ref`"),
        (Provider::Github, "push", format!(r#"{{"ref": "refs/heads/x", "after": "{a}"}}"#), "push payload has no `repository`"),
        (
            Provider::Forgejo,
            "push",
            format!(r#"{{"ref": "refs/heads/x", "after": "not a sha; rm -rf /", {repo}}}"#),
            "push `after` is not a commit hash",
        ),
        (
            Provider::Github,
            "create",
            format!(r#"{{"ref": "x", "ref_type": "repository", {repo}}}"#),
            "create payload has no `ref_type` of branch or tag",
        ),
        (Provider::Github, "pull_request", format!(r#"{{"action": "opened", {repo}}}"#), "pull_request payload has no `pull_request`"),
        (Provider::Gitlab, "Push Hook", r#"{"ref": "refs/heads/x"}"#.into(), "push payload has no `project`"),
        (
            Provider::Gitlab,
            "Merge Request Hook",
            r#"{"project": {}, "object_attributes": {"iid": 1}}"#.into(),
            "merge request payload has no `source_branch`",
        ),
        (Provider::Bitbucket, "repo:push", format!(r#"{{{repo}, "push": {{"changes": []}}}}"#), "push payload has no `push.changes`"),
        (
            Provider::Bitbucket,
            "repo:push",
            format!(r#"{{{repo}, "push": {{"changes": [{{"new": null, "old": null}}]}}}}"#),
            "push change has neither `new` nor `old`",
        ),
        (Provider::Bitbucket, "pullrequest:created", format!(r#"{{{repo}}}"#), "pull request payload has no `pullrequest`"),
    ];
    for (provider, event, body, want) in cases {
        match webhook::normalize(provider, event, None, body.as_bytes()) {
            Err(ParseError::Missing(msg)) => assert_eq!(msg, want, "{body}"),
            other => panic!("{body}: expected Missing({want}), got {other:?}"),
        }
    }
}

#[test]
fn events_serialize_with_a_type_tag() {
    let e = &expected("gitea/pull_request-synchronized.json")[0];
    let json = serde_json::to_value(e).unwrap();
    assert_eq!(json["provider"], "gitea");
    assert_eq!(json["kind"], serde_json::json!({"type": "pull_request", "action": "synchronized"}));
    assert_eq!(serde_json::from_value::<Event>(json).unwrap(), *e);
}

// ---- signatures

/// GitHub's published known-answer vector (docs, "Testing the webhook payload validation").
const KAT_SECRET: &[u8] = b"It's a Secret to Everybody";
const KAT_BODY: &[u8] = b"Hello, World!";
const KAT_HEX: &str = "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

#[test]
fn known_answer_vector_verifies_for_every_hmac_provider() {
    let sha256 = format!("sha256={KAT_HEX}");
    let cases = [
        (Provider::Github, "X-Hub-Signature-256", sha256.as_str()),
        (Provider::Bitbucket, "X-Hub-Signature", sha256.as_str()),
        (Provider::Gitea, "X-Gitea-Signature", KAT_HEX),
        (Provider::Forgejo, "X-Forgejo-Signature", KAT_HEX),
        // Forgejo instances that only send Gitea's header name.
        (Provider::Forgejo, "X-Gitea-Signature", KAT_HEX),
    ];
    for (provider, header, value) in cases {
        let h = headers(&[(header, value)]);
        assert_eq!(webhook::verify(provider, &h, KAT_BODY, KAT_SECRET), Ok(()), "{provider:?} {header}");
        let upper = headers(&[(header, &value.to_ascii_uppercase().replace("SHA256=", "sha256="))]);
        assert_eq!(webhook::verify(provider, &upper, KAT_BODY, KAT_SECRET), Ok(()), "{provider:?} uppercase hex");
        assert_eq!(webhook::verify(provider, &h, KAT_BODY, b"It's a secret to everybody"), Err(VerifyError::Mismatch));
        assert_eq!(webhook::verify(provider, &h, b"Hello, World!\n", KAT_SECRET), Err(VerifyError::Mismatch));
        assert_eq!(webhook::verify(provider, &h, KAT_BODY, b""), Err(VerifyError::Mismatch), "empty secret");
    }
}

#[test]
fn missing_empty_and_malformed_signatures_are_refused() {
    let gh = |v: &str| webhook::verify(Provider::Github, &headers(&[("X-Hub-Signature-256", v)]), KAT_BODY, KAT_SECRET);
    assert_eq!(gh(""), Err(VerifyError::Empty("X-Hub-Signature-256")));
    // What Gitea sends in the GitHub-compatible header when no secret is configured.
    assert_eq!(gh("sha256="), Err(VerifyError::Empty("X-Hub-Signature-256")));
    assert_eq!(
        gh("sha256=zz07107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"),
        Err(VerifyError::Malformed("X-Hub-Signature-256"))
    );
    assert_eq!(gh("sha256=757107ea"), Err(VerifyError::Malformed("X-Hub-Signature-256")));
    assert_eq!(gh(KAT_HEX), Err(VerifyError::Malformed("X-Hub-Signature-256")), "no sha256= prefix");
    assert_eq!(gh("sha1=0123456789abcdef0123456789abcdef01234567"), Err(VerifyError::Malformed("X-Hub-Signature-256")));
    let none = HeaderMap::new();
    assert_eq!(webhook::verify(Provider::Github, &none, KAT_BODY, KAT_SECRET), Err(VerifyError::Missing("X-Hub-Signature-256")));
    assert_eq!(webhook::verify(Provider::Bitbucket, &none, KAT_BODY, KAT_SECRET), Err(VerifyError::Missing("X-Hub-Signature")));
    assert_eq!(webhook::verify(Provider::Gitea, &none, KAT_BODY, KAT_SECRET), Err(VerifyError::Missing("X-Gitea-Signature")));
    assert_eq!(webhook::verify(Provider::Forgejo, &none, KAT_BODY, KAT_SECRET), Err(VerifyError::Missing("X-Forgejo-Signature")));
    assert_eq!(webhook::verify(Provider::Gitlab, &none, KAT_BODY, KAT_SECRET), Err(VerifyError::Missing("X-Gitlab-Token")));
    // Gitea with no secret configured sends the header empty.
    let empty = headers(&[("X-Gitea-Signature", "")]);
    assert_eq!(webhook::verify(Provider::Gitea, &empty, KAT_BODY, KAT_SECRET), Err(VerifyError::Empty("X-Gitea-Signature")));
    // Only the SHA-256 header counts for GitHub: a valid-looking SHA-1 one is not enough.
    let sha1_only = headers(&[("X-Hub-Signature", &format!("sha256={KAT_HEX}"))]);
    assert_eq!(webhook::verify(Provider::Github, &sha1_only, KAT_BODY, KAT_SECRET), Err(VerifyError::Missing("X-Hub-Signature-256")));
}

/// Gitea signs the JSON it puts in the form's `payload` field, not the form body it sends.
#[test]
fn gitea_form_delivery_is_verified_against_the_decoded_payload() {
    let json = read("gitea/push-branch.json");
    let sig = hmac_hex(SECRET, &json);
    let form: String = form_urlencoded::Serializer::new(String::new()).append_pair("payload", std::str::from_utf8(&json).unwrap()).finish();
    for (provider, header) in [(Provider::Gitea, "X-Gitea-Signature"), (Provider::Forgejo, "X-Forgejo-Signature")] {
        let h = headers(&[("Content-Type", "application/x-www-form-urlencoded"), (header, &sig)]);
        assert_eq!(webhook::verify(provider, &h, form.as_bytes(), SECRET), Ok(()), "{provider:?}");
        // The same signature over the raw form body would be the wrong construction.
        let over_form = hmac_hex(SECRET, form.as_bytes());
        let wrong = headers(&[("Content-Type", "application/x-www-form-urlencoded"), (header, &over_form)]);
        assert_eq!(webhook::verify(provider, &wrong, form.as_bytes(), SECRET), Err(VerifyError::Mismatch));
        let no_payload = headers(&[("Content-Type", "application/x-www-form-urlencoded"), (header, &sig)]);
        assert_eq!(webhook::verify(provider, &no_payload, b"other=1", SECRET), Err(VerifyError::Malformed("payload")));
        // And the decoded payload normalizes like the JSON delivery.
        let decoded = webhook::payload_json(&h, form.as_bytes()).unwrap();
        assert_eq!(&*decoded, &json[..]);
        let e = &webhook::normalize(provider, "push", None, &decoded).unwrap()[0];
        assert_eq!(e.commit.as_deref(), Some("29be01c073851cf0db0c6a466e396b725a670453"));
    }
}

#[test]
fn gitlab_token_is_compared_to_the_secret() {
    let h = |t: &str| headers(&[("X-Gitlab-Token", t)]);
    assert_eq!(webhook::verify(Provider::Gitlab, &h("s3cret"), b"{}", b"s3cret"), Ok(()));
    assert_eq!(webhook::verify(Provider::Gitlab, &h("s3cre"), b"{}", b"s3cret"), Err(VerifyError::Mismatch));
    assert_eq!(webhook::verify(Provider::Gitlab, &h("s3cret!"), b"{}", b"s3cret"), Err(VerifyError::Mismatch));
    assert_eq!(webhook::verify(Provider::Gitlab, &h(""), b"{}", b"s3cret"), Err(VerifyError::Empty("X-Gitlab-Token")));
    assert_eq!(webhook::verify(Provider::Gitlab, &h("x"), b"{}", b""), Err(VerifyError::Mismatch), "empty secret");
}

/// The Standard Webhooks specification's published test vector (also in the svix libraries),
/// which GitLab's optional signing token follows.
#[test]
fn gitlab_standard_webhooks_signature() {
    const SECRET: &[u8] = b"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    let h = |sig: &str, ts: &str| {
        headers(&[("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"), ("webhook-timestamp", ts), ("webhook-signature", sig)])
    };
    assert_eq!(webhook::verify(Provider::Gitlab, &h(SIG, "1614265330"), BODY, SECRET), Ok(()));
    // Key rotation: any one of several signatures may match.
    let rotated = format!("v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= {SIG}");
    assert_eq!(webhook::verify(Provider::Gitlab, &h(&rotated, "1614265330"), BODY, SECRET), Ok(()));
    // The secret without its prefix is the same key.
    assert_eq!(webhook::verify(Provider::Gitlab, &h(SIG, "1614265330"), BODY, b"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), Ok(()));
    assert_eq!(webhook::verify(Provider::Gitlab, &h(SIG, "1614265331"), BODY, SECRET), Err(VerifyError::Mismatch));
    assert_eq!(webhook::verify(Provider::Gitlab, &h(SIG, "1614265330"), b"{\"test\": 1}", SECRET), Err(VerifyError::Mismatch));
    assert_eq!(webhook::verify(Provider::Gitlab, &h(SIG, "1614265330"), BODY, b"whsec_"), Err(VerifyError::Mismatch));
    assert_eq!(webhook::verify(Provider::Gitlab, &h(SIG, "16142653x0"), BODY, SECRET), Err(VerifyError::Malformed("webhook-timestamp")));
    assert_eq!(
        webhook::verify(Provider::Gitlab, &h("v1a,abc", "1614265330"), BODY, SECRET),
        Err(VerifyError::Malformed("webhook-signature"))
    );
    let no_id = headers(&[("webhook-timestamp", "1614265330"), ("webhook-signature", SIG)]);
    assert_eq!(webhook::verify(Provider::Gitlab, &no_id, BODY, SECRET), Err(VerifyError::Missing("webhook-id")));
    // A hook configured with both a token and a signing token passes on the token too.
    let mut both = h("v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "1614265330");
    both.insert("x-gitlab-token", HeaderValue::from_static("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
    assert_eq!(webhook::verify(Provider::Gitlab, &both, BODY, SECRET), Ok(()));
    both.insert("x-gitlab-token", HeaderValue::from_static("wrong"));
    assert_eq!(webhook::verify(Provider::Gitlab, &both, BODY, SECRET), Err(VerifyError::Mismatch));
}
