//! Environments end to end: predecessors with a soak, refusals that name what is missing, and
//! an automatic promotion that waits for the soak, on a real repository, Docker and edge.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::deploys::{dockerfile, env, fast_deploy, finish, releases, run};
use crate::kit::*;

const SOAK: u64 = 4;

fn stage(name: &str, extra: Value) -> Value {
    let mut s = json!({"name": name, "branch_patterns": [], "strategy": "recreate", "rollout": {"drain_secs": 0, "verify_secs": 0}});
    for (k, v) in extra.as_object().unwrap() {
        s[k] = v.clone();
    }
    s
}

/// The API's refusal of a manual deploy or a promote: 409 `refused`, with its message.
async fn refused(api: &Api, path: &str, body: Value) -> String {
    let (status, v) = api.send(Method::POST, path, body).await;
    assert_eq!((status, v["code"].as_str()), (409, Some("refused")), "{v}");
    v["message"].as_str().unwrap().to_string()
}

fn environment<'a>(all: &'a Value, stage: &str) -> &'a Value {
    all[0]["environments"].as_array().unwrap().iter().find(|e| e["stage"] == stage).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_tag_reaches_prod_only_after_it_soaked_on_rel() {
    let root = tempfile::tempdir().unwrap();
    let df = dockerfile();
    let served = serve_repo_with(root.path(), &[("Dockerfile", &df), ("index.html", "v1\n"), ("health", "ok\n")]);
    git(&served.work, &["tag", "v1.0.0"]);
    git(&served.work, &["push", "-q", "origin", "v1.0.0"]);
    let commit = git(&served.work, &["rev-parse", "HEAD"]).trim().to_string();
    let dir = tempfile::tempdir().unwrap();
    let (_engine, base) = start_headless_env(dir.path(), &env(stable_port()));
    let api = Api::new(&base, dir.path());
    let _cleanup = DockerCleanup(api.get("/status").await["instance_id"].as_str().unwrap().to_string());
    let stages = json!([
        stage("rel", json!({"auto_deploy": false, "group": "qa"})),
        // Promotes by hand (confirm), tags also deploy it directly, and only after rel.
        stage(
            "prod",
            json!({"productive": true, "tag_patterns": ["v*"], "requires": ["rel"], "soak_secs": SOAK, "promote_from": "rel", "confirm": true})
        ),
        // Promotes by itself once the soak is over.
        stage("mirror", json!({"requires": ["rel"], "soak_secs": SOAK, "promote_from": "rel"})),
    ]);
    let project = json!({"name": "env", "repo_url": served.url, "forge": "gitea", "deploy": fast_deploy(), "stages": stages});
    let (status, p) = api.send(Method::POST, "/projects", project).await;
    assert_eq!(status, 201, "{p}");

    // The tag is pushed while rel never ran it: prod refuses it, naming rel.
    let hook = api.get("/projects/env/webhook").await;
    let mut payload: Value = serde_json::from_slice(&fixture("gitea/push-branch.json")).unwrap();
    payload["ref"] = json!("refs/tags/v1.0.0");
    payload["after"] = json!(commit);
    payload["head_commit"]["id"] = json!(commit);
    let (status, v) = crate::polling::gitea_push(&hook, &payload, "tag-1").await;
    assert_eq!((status, v["outcome"].as_str()), (200, Some("ignored")), "{v}");
    assert!(v["reason"].as_str().unwrap().contains("v1.0.0 was never live on rel (required before prod)"), "{v}");
    let said = refused(&api, "/projects/env/stages/prod/runs", json!({"ref": "v1.0.0", "confirm": true})).await;
    assert!(said.contains("v1.0.0 was never live on rel"), "a manual deploy is refused too: {said}");

    // On rel, then promoted at once: the soak is not over, and the refusal says when it is.
    let r = finish(&api, run(&api, "env", "rel", "v1.0.0").await).await;
    assert_eq!(r["run"]["status"], "succeeded", "{r}");
    let said = refused(&api, "/projects/env/stages/prod/promote", json!({"confirm": true})).await;
    assert!(said.contains(&format!("v1.0.0 has been live on rel for 0 s of the {SOAK} s soak; it may go in")), "{said}");
    let all = api.get("/environments").await;
    let prod = environment(&all, "prod");
    assert_eq!((prod["kind"].as_str(), prod["requires"][0].as_str()), (Some("productive"), Some("rel")), "{prod}");
    assert_eq!(prod["waiting"][0]["state"]["state"], "soaking", "{prod}");
    assert_eq!(environment(&all, "rel")["group"], "qa");
    assert!(releases(&api, "env", "mirror").await.is_empty(), "mirror waits for the soak too");

    // After the soak: the promote goes through, and mirror was promoted on its own.
    tokio::time::sleep(Duration::from_secs(SOAK)).await;
    let (status, v) = api.send(Method::POST, "/projects/env/stages/prod/promote", json!({"confirm": true})).await;
    assert_eq!(status, 202, "{v}");
    let r = finish(&api, v["run_id"].as_i64().unwrap()).await;
    assert_eq!(r["run"]["status"], "succeeded", "{r}");
    assert_eq!(r["run"]["ref_name"], "refs/tags/v1.0.0", "the promotion carries the tag on: {r}");
    let start = std::time::Instant::now();
    while releases(&api, "env", "mirror").await.is_empty() {
        assert!(start.elapsed() < Duration::from_secs(60), "mirror was never promoted after the soak");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let all = api.get("/environments").await;
    assert_eq!(environment(&all, "prod")["live"]["commit_sha"], commit.as_str(), "{all}");

    // The command line says the same.
    let out = slipwayd(dir.path(), &["environments", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let said: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(environment(&said, "prod")["live"], environment(&all, "prod")["live"]);
    let out = slipwayd(dir.path(), &["environments"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("productive") && text.contains(&format!("requires rel (soak {SOAK} s)")) && text.contains("live #1"), "{text}");

    // A run admitted when it was queued is asked again when it is due: here the rules were
    // tightened while the runner held it.
    let (status, _) = api.send(Method::PUT, "/runner", json!({"held": true})).await;
    assert_eq!(status, 200);
    let queued = run(&api, "env", "prod", "v1.0.0").await;
    let mut spec = api.get("/projects/env").await;
    spec["rules"] = json!([{"refs": "tags", "never": ["productive"]}]);
    let keep = ["name", "repo_url", "forge", "deploy", "stages", "rules"];
    let spec: serde_json::Map<String, Value> =
        spec.as_object().unwrap().iter().filter(|(k, _)| keep.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();
    let imported = api
        .http
        .post(format!("{}/api/v1/projects/import", api.base))
        .bearer_auth(&api.token)
        .header("Content-Type", "text/yaml")
        .body(Value::Object(spec).to_string())
        .send()
        .await
        .unwrap();
    assert!(imported.status().is_success(), "{}", imported.text().await.unwrap());
    let (status, _) = api.send(Method::PUT, "/runner", json!({"held": false})).await;
    assert_eq!(status, 200);
    let r = finish(&api, queued).await;
    assert_eq!(r["run"]["status"], "failed", "{r}");
    let reason = r["run"]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with(
            "refused when it was due to start: v1.0.0 may not reach prod: rule 1 says tags never reach productive environments"
        ),
        "{reason}"
    );
}
