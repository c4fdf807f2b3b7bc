//! The Hosts view of the real app under WebDriver: add a host, see its containers, follow a
//! container's log live, stop it and see its state change.

use std::time::Duration;

use fantoccini::Locator;
use serde_json::json;

use crate::app::{listener_url, open_app, start_driver, wait_text, ONE_APP_AT_A_TIME};
use crate::hosts::{TcpProxy, TestContainer};
use crate::kit::*;

#[tokio::test(flavor = "multi_thread")]
async fn hosts_view_adds_a_host_follows_a_container_log_live_and_stops_it() {
    let _turn = ONE_APP_AT_A_TIME.lock().await;
    let proxy = TcpProxy::start();
    let c = TestContainer::start("ui", &[("com.docker.compose.project", "ui-shop")]);
    let dir = tempfile::tempdir().unwrap();
    let driver = start_driver(dir.path());
    let client = open_app(&driver).await;
    let listener = listener_url(&client).await;
    let find = |css: String| {
        let client = client.clone();
        async move {
            client.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css(&css)).await.unwrap_or_else(|e| panic!("{css}: {e}"))
        }
    };

    find("[data-testid=tab-hosts]".into()).await.click().await.unwrap();
    find("[data-testid=add-host]".into()).await.click().await.unwrap();
    // A bad endpoint is refused beside its field.
    find("[data-testid=host-name]".into()).await.send_keys("Loop TCP").await.unwrap();
    find("[data-testid=host-kind]".into()).await.select_by_value("tcp").await.unwrap();
    find("[data-testid=host-endpoint]".into()).await.send_keys("ssh://wrong").await.unwrap();
    find("[data-testid=host-save]".into()).await.click().await.unwrap();
    wait_text(&client, "[data-testid=host-error-endpoint]", |t| t.contains("tcp://")).await;
    let endpoint = find("[data-testid=host-endpoint]".into()).await;
    endpoint.clear().await.unwrap();
    endpoint.send_keys(&format!("tcp://127.0.0.1:{}", proxy.port)).await.unwrap();
    find("[data-testid=host-save]".into()).await.click().await.unwrap();
    wait_text(&client, "[data-testid=host-state-loop-tcp]", |t| t.starts_with("reachable")).await;
    assert_eq!(Api::new(&listener, dir.path()).get("/hosts/loop-tcp").await["host"]["kind"], "tcp");

    // Its containers, grouped by compose project.
    let group = wait_text(&client, "[data-testid=group-compose-ui-shop]", |t| t.contains(&c.name)).await;
    assert!(group.starts_with("Compose project ui-shop"), "{group}");
    wait_text(&client, &format!("[data-testid=state-{}]", c.name), |t| t == "running").await;

    // The log follows live: a line written into the container now shows up.
    find(format!("[data-testid=open-{}]", c.name)).await.click().await.unwrap();
    wait_text(&client, "[data-testid=container-log]", |t| t.contains("tick")).await;
    let marker = format!("written-by-the-test-{}", std::process::id());
    c.say(&marker);
    wait_text(&client, "[data-testid=container-log]", |t| t.contains(&marker)).await;
    wait_text(&client, "[data-testid=container-stats]", |t| t.starts_with("CPU")).await;
    crate::app::shot("app-hosts.png");

    // Stop: the row's state changes (from the host's event stream, no reload).
    find(format!("[data-testid=stop-{}]", c.name)).await.click().await.unwrap();
    wait_text(&client, &format!("[data-testid=state-{}]", c.name), |t| t == "exited").await;
    crate::app::shot("app-hosts-stopped.png");

    let _ = Api::new(&listener, dir.path()).send(reqwest::Method::POST, "/quit", json!({})).await;
    let _ = client.close().await;
}
