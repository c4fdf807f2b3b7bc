//! Plugins end to end, with the two example plugins of docs/plugins built as they ship: the
//! test report publishes counts, the smoke check after the deploy reads them from its input
//! and calls the new release, a plugin of another project sees none of it, a failed smoke
//! check rolls the stage back, and what was published outlives an engine restart.

use std::path::Path;

use reqwest::Method;
use serde_json::{json, Value};

use crate::deploys::{env, fast_deploy, finish, host, push, run, stack_of, stage};
use crate::kit::*;

const JUNIT: &str = r#"<?xml version="1.0"?>
<testsuites><testsuite name="unit" tests="4">
  <testcase classname="calc" name="adds"/>
  <testcase classname="calc" name="subtracts"><failure message="off by one">1 != 2</failure></testcase>
  <testcase classname="calc" name="multiplies"/>
  <testcase classname="calc" name="divides"><skipped/></testcase>
</testsuite></testsuites>
"#;

/// The example plugin `name` built from docs/plugins/<name> (tagged by its script's content,
/// so an edited script is rebuilt on an engine that kept the old image).
pub fn plugin_image(name: &str) -> String {
    use std::hash::{Hash, Hasher};
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/plugins").join(name);
    let script = std::fs::read_to_string(dir.join("plugin.sh")).unwrap();
    let dockerfile = std::fs::read_to_string(dir.join("Dockerfile")).unwrap();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (&script, &dockerfile).hash(&mut h);
    let tag = format!("slipway-test/{name}:{:x}", h.finish());
    build_test_image(&tag, &[("plugin.sh", dir.join("plugin.sh"))], &dockerfile);
    tag
}

/// A productive stage with its own host name, deployed by hand.
fn prod_stage() -> Value {
    let mut prod = stage("prod", "blue-green", json!({"drain_secs": 0, "verify_secs": 1}));
    prod["productive"] = json!(true);
    prod["branch_patterns"] = json!([]);
    prod
}

fn dockerfile() -> String {
    crate::deploys::dockerfile()
}

async fn detail(api: &Api, run: i64) -> Value {
    api.get(&format!("/runs/{run}")).await
}

fn published<'a>(r: &'a Value, plugin: &str) -> &'a Value {
    r["plugins"].as_array().unwrap().iter().find(|p| p["plugin"] == plugin).unwrap_or_else(|| panic!("{plugin} published nothing: {r}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn plugins_publish_read_each_other_within_a_project_only_and_a_failed_smoke_check_rolls_back() {
    let (junit, smoke) = (plugin_image("junit-report"), plugin_image("smoke-check"));
    let yml = format!(
        "steps:\n  - name: tests\n    plugin: junit-report\n    image: {junit}\n    env: {{JUNIT_PATH: reports/junit.xml}}\n    only: non-productive\n  \
         - name: smoke\n    plugin: smoke-check\n    image: {smoke}\n    after_deploy: true\n    env: {{SMOKE_PATH: /smoke, SMOKE_COUNT: \"3\"}}\nbuild: {{}}\n"
    );
    let df = dockerfile();
    let files = [
        ("Dockerfile", df.as_str()),
        ("index.html", "v1\n"),
        ("health", "ok\n"),
        ("smoke", "ok\n"),
        ("reports/junit.xml", JUNIT),
        ("slipway.yml", &yml),
    ];
    let mut s = stack_of(
        "plug",
        &files,
        fast_deploy(),
        json!([stage("dev", "blue-green", json!({"drain_secs": 0, "verify_secs": 1})), prod_stage()]),
    )
    .await;

    let r = finish(&s.api, run(&s.api, "plug", "dev", "main").await).await;
    assert_eq!(r["run"]["status"], "succeeded", "{r}");
    let r = detail(&s.api, r["run"]["id"].as_i64().unwrap()).await;
    let tests = published(&r, "junit-report");
    assert_eq!(tests["metrics"], json!({"tests": 4.0, "passed": 2.0, "failed": 1.0, "errors": 0.0, "skipped": 1.0}), "{tests}");
    assert_eq!(tests["data"]["failing_cases"], json!(["subtracts"]));
    let smoke_said = published(&r, "smoke-check");
    assert_eq!(
        (smoke_said["metrics"]["requests"].as_f64(), smoke_said["metrics"]["failures"].as_f64()),
        (Some(3.0), Some(0.0)),
        "{smoke_said}"
    );
    assert_eq!(
        smoke_said["data"]["inputs"]["junit-report"]["metrics"]["tests"].as_f64(),
        Some(4.0),
        "the smoke check read the report's counts from its input: {smoke_said}"
    );
    assert!(smoke_said["data"]["url"].as_str().unwrap().ends_with(":80/smoke"), "{smoke_said}");

    // Another project's plugin finds nothing of this one's in its input.
    let root = tempfile::tempdir().unwrap();
    let peek = format!(
        "steps:\n  - name: peek\n    plugin: peek\n    image: {}\n    commands:\n      - 'echo \"{{\\\"seen\\\": $(find /slipway/in -type f | wc -l)}}\" > /slipway/out/metrics.json'\n",
        busybox_image()
    );
    let other = serve_repo_with(root.path(), &[("slipway.yml", &peek)]);
    let (status, p) = s.api.send(Method::POST, "/projects", json!({"name": "other", "repo_url": other.url, "forge": "git"})).await;
    assert_eq!(status, 201, "{p}");
    let r = finish(&s.api, run(&s.api, "other", "dev", "main").await).await;
    assert_eq!(r["run"]["status"], "succeeded", "{r}");
    let r = detail(&s.api, r["run"]["id"].as_i64().unwrap()).await;
    assert_eq!(published(&r, "peek")["metrics"]["seen"], 0.0, "{r}");

    // A release the smoke check fails on goes back to the previous one by itself.
    push(&s.served.work, &[("index.html", "v2\n")], &["smoke"], "v2 without /smoke");
    let r = finish(&s.api, run(&s.api, "plug", "dev", "main").await).await;
    assert_eq!(r["run"]["status"], "failed", "{r}");
    let reason = r["run"]["reason"].as_str().unwrap();
    assert!(reason.contains("release 2 went live, then step smoke failed") && reason.contains("rolling back to release 1"), "{reason}");
    let rollback = s.api.get("/runs?project=plug").await[0].clone();
    assert_eq!(rollback["trigger"], "rollback", "{rollback}");
    assert_eq!(finish(&s.api, rollback["id"].as_i64().unwrap()).await["run"]["status"], "succeeded");
    assert_eq!(get_via_edge(s.edge_port, &host("dev", "plug")).await, (200, "v1".to_string()));

    // On a productive stage the report (only: non-productive) is skipped, and the smoke check
    // reads what an earlier run published.
    push(&s.served.work, &[("smoke", "ok\n")], &[], "v3 with /smoke again");
    let r = finish(&s.api, run(&s.api, "plug", "prod", "main").await).await;
    assert_eq!(r["run"]["status"], "succeeded", "{r}");
    let r = detail(&s.api, r["run"]["id"].as_i64().unwrap()).await;
    let tests_step = r["steps"].as_array().unwrap().iter().find(|st| st["name"] == "tests").unwrap();
    assert_eq!(tests_step["status"], "skipped", "{r}");
    assert!(tests_step["message"].as_str().unwrap().contains("runs only in non-productive environments; prod is not one"), "{r}");
    let smoke_said = published(&r, "smoke-check");
    let from = smoke_said["data"]["inputs"]["junit-report"]["run_id"].as_i64().unwrap();
    assert!(from < r["run"]["id"].as_i64().unwrap(), "the report came from an earlier run ({from}): {smoke_said}");
    assert!(r["plugins"].as_array().unwrap().iter().all(|p| p["plugin"] != "junit-report"), "the skipped report published nothing: {r}");

    // What was published outlives the engine.
    s.engine.take();
    let (engine, base) = start_headless_env(s.dir.path(), &env(s.edge_port));
    s.engine = Some(engine);
    s.api = Api::new(&base, s.dir.path());
    let kept = s.api.get("/projects/plug/plugins/junit-report/data").await;
    assert_eq!(kept.as_array().unwrap().len(), 2, "both runs' reports are kept: {kept}");
    let summary = s.api.get("/projects/plug/plugins").await;
    let names: Vec<&str> = summary.as_array().unwrap().iter().map(|p| p["plugin"].as_str().unwrap()).collect();
    assert_eq!(names, ["junit-report", "smoke-check"], "{summary}");
}
