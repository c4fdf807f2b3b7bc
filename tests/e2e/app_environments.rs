//! Environments, templates and plugins as the window shows them, driven through WebDriver: a
//! template imported in Settings, a run that extends it with its steps' origins and what its
//! plugins published, the project's environments with a soak in progress, and the plugin chart.

use std::time::Duration;

use fantoccini::Locator;
use serde_json::json;

use crate::app::*;
use crate::kit::*;

const JUNIT: &str = "<testsuite name=\"unit\" tests=\"2\"><testcase name=\"adds\"/><testcase name=\"subtracts\"><failure>no</failure></testcase></testsuite>\n";

/// Scrolls the element with `testid` into sight, for the screenshot.
async fn scroll_to(client: &fantoccini::Client, testid: &str) {
    let js = format!("document.querySelector('[data-testid={testid}]').scrollIntoView(); return true");
    client.execute(&js, vec![]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
}

// Longer than 80 lines: one scenario told start to end, each part needing the state the one before left.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_window_shows_a_runs_template_and_plugins_and_the_projects_environments() {
    let _turn = ONE_APP_AT_A_TIME.lock().await;
    let (junit, smoke) = (crate::plugins::plugin_image("junit-report"), crate::plugins::plugin_image("smoke-check"));
    let template = format!(
        "name: checks\ndescription: a report, then a smoke check\nsteps:\n  - name: tests\n    plugin: junit-report\n    image: {junit}\n    env: {{JUNIT_PATH: junit.xml}}\n  \
         - name: smoke\n    plugin: smoke-check\n    image: {smoke}\n    after_deploy: true\n    env: {{SMOKE_PATH: /health, SMOKE_COUNT: \"2\"}}\nbuild: {{}}\n"
    );
    let own = format!(
        "extends: checks\nsteps:\n  - name: lint\n    image: {}\n    commands: [\"echo lint ok\"]\n    after: tests\n",
        busybox_image()
    );
    let root = tempfile::tempdir().unwrap();
    let df = crate::deploys::dockerfile();
    let served = serve_repo_with(
        root.path(),
        &[("Dockerfile", &df), ("index.html", "v1\n"), ("health", "ok\n"), ("junit.xml", JUNIT), ("slipway.yml", &own)],
    );
    let dir = tempfile::tempdir().unwrap();
    let edge_port = stable_port();
    let driver = start_driver_env(dir.path(), &crate::deploys::env(edge_port));
    let client = open_app(&driver).await;
    let api = Api::new(&listener_url(&client).await, dir.path());
    let _cleanup = DockerCleanup(api.get("/status").await["instance_id"].as_str().unwrap().to_string());

    // The template comes in through Settings.
    click(&client, "[data-testid=tab-settings]").await;
    let area =
        client.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css("[data-testid=template-import-text]")).await.unwrap();
    area.send_keys(&template.replace('\n', "\u{E007}")).await.unwrap();
    click(&client, "[data-testid=template-import]").await;
    wait_text(&client, "[data-testid=template-imported]", |t| t.contains("checks") && t.contains("v1")).await;
    wait_text(&client, "[data-testid=template-checks]", |t| t.contains("tests")).await;
    shot("console-templates.png");

    let project = format!(
        "name: web\nrepo_url: {}\nforge: git\ndeploy:\n  port: 80\n  health:\n    path: /health\n    interval_ms: 200\n    timeout_ms: 1000\n    retries: 3\n    start_period_ms: 2000\n\
         stages:\n  - name: dev\n    group: qa\n    rollout:\n      drain_secs: 0\n      verify_secs: 1\n  - name: prod\n    productive: true\n    branch_patterns: []\n    \
         requires: [dev]\n    soak_secs: 3600\n    promote_from: dev\n    confirm: true\n\
         rules:\n  - refs: branches\n    except: [main]\n    never: [productive]\n",
        served.url
    );
    let imported = api
        .http
        .post(format!("{}/api/v1/projects/import", api.base))
        .bearer_auth(&api.token)
        .header("Content-Type", "text/yaml")
        .body(project)
        .send()
        .await
        .unwrap();
    assert!(imported.status().is_success(), "{}", imported.text().await.unwrap());

    // A deploy from the window: the run shows the template, each step's origin, and the plugins.
    click(&client, "[data-testid=tab-runs]").await;
    start_deploy(&client, "main").await;
    watch_run(&client, "succeeded").await;
    wait_text(&client, "[data-testid=run-pipeline]", |t| t.contains("checks") && t.contains("v1")).await;
    wait_text(&client, "[data-testid=step-origin-lint]", |t| t == "added").await;
    wait_text(&client, "[data-testid=step-origin-tests]", |t| t == "template").await;
    wait_text(&client, "[data-testid=plugin-metric-junit-report-tests]", |t| t.contains('2')).await;
    wait_text(&client, "[data-testid=plugin-metric-junit-report-failed]", |t| t.contains('1')).await;
    wait_text(&client, "[data-testid=plugin-smoke-check]", |t| t.contains("junit-report")).await;
    wait_text(&client, "[data-testid=plugin-metric-smoke-check-failures]", |t| t.contains('0')).await;
    scroll_to(&client, "run-plugins").await;
    shot("console-run-plugins.png");

    // The project's environments: prod requires dev, and the release soaks there for an hour.
    click(&client, "[data-testid=tab-projects]").await;
    click(&client, "[data-testid=open-web]").await;
    wait_attr(&client, "[data-testid=env-node-prod]", "data-kind", "productive").await;
    wait_attr(&client, "[data-testid=env-node-dev]", "data-live", "1").await;
    wait_text(&client, "[data-testid=env-waiting-prod]", |t| t.contains("soaking")).await;
    wait_text(&client, "[data-testid=env-rules]", |t| t.contains("branches other than main never reach productive environments")).await;
    shot("console-environments.png");

    // The plugin's metric over runs.
    click(&client, "[data-testid=tab-metrics]").await;
    client.wait().at_most(Duration::from_secs(30)).for_element(Locator::Css("[data-testid=plugin-chart]")).await.unwrap();
    scroll_to(&client, "plugin-chart").await;
    shot("console-plugin-chart.png");

    let _ = api.send(reqwest::Method::POST, "/quit", json!({})).await;
    let _ = client.close().await;
}
