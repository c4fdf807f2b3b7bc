//! Pipeline templates end to end: imported from the command line, extended by a repository's
//! slipway.yml with one step replaced, one added and one removed, run for real in containers.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::kit::*;

async fn run(api: &Api) -> Value {
    let (status, v) = api.send(Method::POST, "/projects/tpl/stages/dev/runs", json!({"ref": "main"})).await;
    assert_eq!(status, 202, "{v}");
    wait_status(api, v["run_id"].as_i64().unwrap(), finished, Duration::from_secs(120)).await
}

fn step(name: &str, says: &str) -> String {
    format!("  - name: {name}\n    image: {}\n    commands: [\"echo {says}\"]\n", busybox_image())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_executes_exactly_the_merged_steps_and_says_where_each_came_from() {
    let template = format!(
        "name: shell-service\ndescription: three steps\nsteps:\n{}{}{}",
        step("install", "from-template-install"),
        step("test", "from-template-test"),
        step("docs", "from-template-docs")
    );
    let own = format!(
        "extends: shell-service\nremove: [docs]\nsteps:\n{}{}    after: install\n",
        step("test", "from-repo-test"),
        step("lint", "from-repo-lint")
    );
    let root = tempfile::tempdir().unwrap();
    let served = serve_repo_with(root.path(), &[("slipway.yml", &own)]);
    let dir = tempfile::tempdir().unwrap();
    let (_engine, base) = start_headless(dir.path());
    let api = Api::new(&base, dir.path());
    let (status, p) = api.send(Method::POST, "/projects", json!({"name": "tpl", "repo_url": served.url, "forge": "git"})).await;
    assert_eq!(status, 201, "{p}");

    // Before the template is there, the run fails and says what to do.
    let r = run(&api).await;
    assert_eq!(r["run"]["status"], "failed", "{r}");
    assert!(r["run"]["reason"].as_str().unwrap().contains("extends \"shell-service\", which is not a template here: import it"), "{r}");

    let file = dir.path().join("template.yml");
    std::fs::write(&file, &template).unwrap();
    let out = slipwayd(dir.path(), &["templates", "import", file.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let info: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((info["version"].as_i64(), info["steps"].clone()), (Some(1), json!(["install", "test", "docs"])), "{info}");

    let r = run(&api).await;
    assert_eq!(r["run"]["status"], "succeeded", "{r}");
    let steps: Vec<&str> = r["steps"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(steps[1..], ["install", "lint", "test"], "{r}");
    let pipeline = &r["pipeline"];
    assert_eq!((pipeline["template"].as_str(), pipeline["version"].as_i64()), (Some("shell-service"), Some(1)), "{r}");
    let origins: Vec<(&str, &str)> =
        pipeline["steps"].as_array().unwrap().iter().map(|s| (s["name"].as_str().unwrap(), s["origin"].as_str().unwrap())).collect();
    assert_eq!(origins, [("install", "template"), ("lint", "added"), ("test", "replaced")]);
    assert_eq!(pipeline["removed"], json!(["docs"]));
    let id = r["run"]["id"].as_i64().unwrap();
    let lines = api.get(&format!("/runs/{id}/logs")).await;
    let output: Vec<&str> =
        lines.as_array().unwrap().iter().filter(|l| l["stream"] != "system").map(|l| l["line"].as_str().unwrap()).collect();
    assert_eq!(output, ["from-template-install", "from-repo-lint", "from-repo-test"], "exactly the merged steps ran");

    // A changed template is a new version; the run keeps what it executed.
    std::fs::write(&file, template.replace("three steps", "three steps, changed")).unwrap();
    let out = slipwayd(dir.path(), &["templates", "import", file.to_str().unwrap(), "--json"]);
    assert_eq!(serde_json::from_slice::<Value>(&out.stdout).unwrap()["version"], 2);
    let again = api.get(&format!("/runs/{id}")).await;
    assert_eq!(again["pipeline"]["version"], 1);
    assert!(again["pipeline"]["yaml"].as_str().unwrap().contains("from-repo-lint"), "{again}");
}
