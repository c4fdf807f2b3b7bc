//! The real desktop app, driven through WebDriver (tauri-driver + WebKitWebDriver) under Xvfb.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::kit::*;

/// WebKitWebDriver drives one app at a time here; the app tests take turns.
pub(crate) static ONE_APP_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub(crate) struct Driver {
    _guard: Guard,
    port: u16,
    data_dir: PathBuf,
}

/// The window starts an engine (`slipwayd`) that outlives it by design; the test's ends here.
impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(pid) = engine_file(&self.data_dir).and_then(|e| e["pid"].as_u64()) {
            let _ = Command::new("kill").arg(pid.to_string()).status();
            let start = std::time::Instant::now();
            while process_alive(pid as u32) && start.elapsed() < Duration::from_secs(15) {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

pub(crate) fn start_driver(data_dir: &Path) -> Driver {
    start_driver_env(data_dir, &[])
}

/// Like [`start_driver`], with more of the app's environment (the deploy tests' edge, say).
pub(crate) fn start_driver_env(data_dir: &Path, env: &[(&str, String)]) -> Driver {
    assert!(std::env::var_os("DISPLAY").is_some(), "the app's end-to-end tests need an X display: run them through ./scripts/test (Xvfb)");
    let (port, native) = (free_port(), free_port());
    let child = Command::new("tauri-driver")
        .args(["--port", &port.to_string(), "--native-port", &native.to_string()])
        // The driver's environment is the app's: a private data dir and a free listener port.
        .env("SLIPWAY_DATA_DIR", data_dir)
        .env("SLIPWAY_LISTEN", "127.0.0.1:0")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("tauri-driver is not installed: ./scripts/test installs it");
    let guard = Guard(child);
    wait_for("tauri-driver to listen", Duration::from_secs(20), || std::net::TcpStream::connect(("127.0.0.1", port)).ok());
    Driver { _guard: guard, port, data_dir: data_dir.to_path_buf() }
}

/// A WebDriver session with the app. Creating one went wrong once in a full run (the driver's
/// connection to WebKitWebDriver closed mid-answer, before the app was asked anything): that
/// is tried again, twice; an app that does not start fails every attempt and the test with it.
pub(crate) async fn open_app(driver: &Driver) -> Client {
    let caps = json!({
        "browserName": "wry",
        "tauri:options": { "application": env!("CARGO_BIN_EXE_slipway") },
    });
    let mut attempt = 0;
    loop {
        attempt += 1;
        match ClientBuilder::native()
            .capabilities(caps.as_object().unwrap().clone())
            .connect(&format!("http://127.0.0.1:{}", driver.port))
            .await
        {
            Ok(client) => return client,
            Err(e) if attempt < 3 => {
                eprintln!("WebDriver session with the app, attempt {attempt}: {e:?}; trying again");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => panic!("WebDriver session with the app: {e:?}"),
        }
    }
}

/// Waits until the element matching `css` has text satisfying `ok`, and returns that text.
pub(crate) async fn wait_text(client: &Client, css: &str, ok: impl Fn(&str) -> bool) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut last = String::new();
    while std::time::Instant::now() < deadline {
        if let Ok(el) = client.find(Locator::Css(css)).await {
            if let Ok(text) = el.text().await {
                if ok(&text) {
                    return text;
                }
                last = text;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{css} never showed the expected text; last seen: {last:?}");
}

/// The engine's listener URL, from the Status view (the window opens on the dashboard).
pub(crate) async fn listener_url(client: &Client) -> String {
    click(client, "[data-testid=tab-status]").await;
    wait_text(client, "[data-testid=status-listener]", |t| t.starts_with("http://127.0.0.1:")).await
}

pub(crate) async fn click(client: &Client, css: &str) {
    client
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {css}: {e}"));
}

/// The whole X screen (Xvfb) into an artifact: what was painted, by the path the user sees.
/// Not WebDriver's screenshot: WebKitWebDriver's snapshot of some views (SVG charts, the error
/// banner) never answers while WebKit's compositing is off, as the window has it
/// (src-tauri/src/main.rs).
pub(crate) fn shot(name: &str) {
    let out = Command::new("import").args(["-window", "root"]).arg(artifact(name)).output().expect("ImageMagick's import");
    assert!(out.status.success(), "import: {}", String::from_utf8_lossy(&out.stderr));
}

pub fn artifact(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/e2e-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[tokio::test(flavor = "multi_thread")]
async fn window_shows_status_closing_keeps_the_engine_and_quit_ends_it() {
    let _turn = ONE_APP_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let driver = start_driver(dir.path());
    let client = open_app(&driver).await;
    click(&client, "[data-testid=tab-status]").await;

    let docker = wait_text(&client, "[data-testid=status-docker]", |t| t.contains("reachable")).await;
    assert!(docker.starts_with("reachable at unix:///var/run/docker.sock (engine "), "{docker}");
    let tone = client.find(Locator::Css("[data-testid=status-docker]")).await.unwrap().attr("data-tone").await.unwrap();
    assert_eq!(tone.as_deref(), Some("ok"));
    let store = wait_text(&client, "[data-testid=status-store]", |t| !t.is_empty()).await;
    assert!(store.contains(&dir.path().join("slipway.db").display().to_string()), "{store}");
    let listener = wait_text(&client, "[data-testid=status-listener]", |t| t.starts_with("http://127.0.0.1:")).await;
    shot("app-status.png");

    // A switch in the window is the engine's: "Hold runs" shows up in the API's status.
    client.find(Locator::Css("[data-testid=toggle-hold]")).await.unwrap().click().await.unwrap();
    wait_text(&client, "[data-testid=runs-held]", |t| t.starts_with("Held")).await;
    let held = Api::new(&listener, dir.path()).get("/status").await;
    assert_eq!(held["runs_held"], true);

    // Start at login: on by default for the desktop (the engine writes its XDG autostart entry
    // on its first start with the tray); the switch in Settings removes and restores it.
    let config = std::env::var_os("XDG_CONFIG_HOME").map(PathBuf::from).expect("the test session sets XDG_CONFIG_HOME");
    let entry = config.join("autostart/dev.slipway.engine.desktop");
    wait_for("the engine's autostart entry", Duration::from_secs(15), || entry.exists().then_some(()));
    click(&client, "[data-testid=tab-settings]").await;
    until("the switch to show start at login on", 20, || async {
        let el = client.find(Locator::Css("[data-testid=autostart]")).await.ok()?;
        (el.prop("checked").await.ok().flatten().as_deref() == Some("true")).then_some(())
    })
    .await;
    let text = std::fs::read_to_string(&entry).expect("the autostart entry");
    assert!(text.contains(&format!("serve --tray --data-dir \"{}\"", dir.path().display())), "{text}");
    click(&client, "[data-testid=autostart]").await;
    wait_for("the entry to go", Duration::from_secs(10), || (!entry.exists()).then_some(()));
    click(&client, "[data-testid=autostart]").await;
    wait_for("the entry to come back", Duration::from_secs(10), || entry.exists().then_some(()));
    click(&client, "[data-testid=tab-status]").await;

    // The window started the engine: a process of its own, which outlives the window.
    let engine = engine_file(dir.path()).expect("engine.json");
    assert_eq!(engine["url"], listener.as_str());
    let pid = engine["pid"].as_u64().unwrap() as u32;
    assert_eq!(comm(pid).as_deref(), Some("slipwayd"));
    let windows = window_pids(dir.path());
    assert_eq!(windows.len(), 1, "{windows:?}");
    let window = windows[0];
    assert!(
        child_names(window).iter().any(|n| n.starts_with("WebKitWebProces")),
        "no WebKit process while the window is open? {:?}",
        child_names(window)
    );

    // Close the only window (Ctrl+W, as its close button would): the window's process and its
    // WebKit processes end, the engine stays up with the tray. WebDriver's own "close window"
    // would end the session and have the driver kill the app, which is not what a user does.
    let body = client.find(Locator::Css("body")).await.unwrap();
    // The window's process can be gone before the driver answers the key press, so the answer
    // may be an error; what counts is that the process ends.
    let _ = body.send_keys("\u{E009}w").await;
    wait_for("the window's process to exit", Duration::from_secs(15), || (!process_alive(window)).then_some(()));
    wait_for("no WebKit process left", Duration::from_secs(15), || {
        (pids_with_env("WebKitWebProces", "SLIPWAY_DATA_DIR", &dir.path().display().to_string()).is_empty()).then_some(())
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(process_alive(pid), "the engine exited when the window closed; its log:\n{}", log_text(dir.path()));
    let api = Api::new(&listener, dir.path());
    assert_eq!(api.get("/status").await["pid"], pid);

    // The tray, clicked over D-Bus as a panel would: the icon opens a new window process...
    tray_click(pid, None);
    let reopened = wait_for("the tray to open a window", Duration::from_secs(20), || {
        window_pids(dir.path()).into_iter().find(|w| child_names(*w).iter().any(|n| n.starts_with("WebKitWebProces")))
    });
    assert_ne!(reopened, window);
    // ...and a second click brings that one forward instead of opening another.
    wait_for("the window to follow the engine's events", Duration::from_secs(20), || {
        (futures::executor::block_on(api.get("/status"))["ui_clients"].as_u64() > Some(0)).then_some(())
    });
    tray_click(pid, None);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(window_pids(dir.path()), vec![reopened]);

    // Quit in the tray's menu: the engine stops cleanly and the window goes with it.
    tray_click(pid, Some("Quit"));
    wait_for("the engine to exit after Quit", Duration::from_secs(20), || (!process_alive(pid)).then_some(()));
    wait_for("the window to close after Quit", Duration::from_secs(20), || (!process_alive(reopened)).then_some(()));
    assert!(log_text(dir.path()).contains("engine stopped cleanly"));
    assert!(!dir.path().join("engine.json").exists());
    let _ = client.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_engine_that_cannot_start_is_shown_as_code_and_message() {
    let _turn = ONE_APP_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("slipway.db"), vec![0x42u8; 4096]).unwrap();
    let driver = start_driver(dir.path());
    let client = open_app(&driver).await;

    let banner = wait_text(&client, "[data-testid=error-banner]", |t| t.contains("corrupt")).await;
    assert!(banner.contains(&dir.path().join("slipway.db").display().to_string()), "{banner}");
    let code = client.find(Locator::Css("[data-testid=error-banner]")).await.unwrap().attr("data-code").await.unwrap();
    assert_eq!(code.as_deref(), Some("store_corrupt"));
    shot("app-store-corrupt.png");
    let _ = client.close().await;
}

// Longer than 80 lines: one scenario against the real engine, told start to end: each step needs the state the one before it left.
#[tokio::test(flavor = "multi_thread")]
async fn deliveries_appear_live_in_the_inbox_and_projects_show_their_hook() {
    let _turn = ONE_APP_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let driver = start_driver(dir.path());
    let client = open_app(&driver).await;
    let listener = listener_url(&client).await;
    let api = Api::new(&listener, dir.path());

    let (status, p) = api
        .send(reqwest::Method::POST, "/projects", json!({"name": "web", "repo_url": "https://example.invalid/web.git", "forge": "github"}))
        .await;
    assert_eq!(status, 201, "{p}");
    let hook = api.get("/projects/web/webhook").await;

    // The Projects view lists it (the engine's event reloads the view) and shows its hook URL.
    client.find(Locator::Css("[data-testid=tab-projects]")).await.unwrap().click().await.unwrap();
    wait_text(&client, "[data-testid=project-web]", |t| t.contains("branches main")).await;
    client.find(Locator::Css("[data-testid=show-hook-web]")).await.unwrap().click().await.unwrap();
    let shown = wait_text(&client, "[data-testid=hook-url]", |t| t.contains("/hooks/web")).await;
    assert_eq!(shown, hook["url"].as_str().unwrap());
    shot("app-projects.png");

    // Editing the project is editing its YAML in the window: a broken file is refused next to
    // the field, a good one is saved and shown.
    client.find(Locator::Css("[data-testid=edit-web]")).await.unwrap().click().await.unwrap();
    let area = client.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css("[data-testid=yaml-web]")).await.unwrap();
    let yaml = area.prop("value").await.unwrap().unwrap_or_default();
    assert!(yaml.contains("repo_url: https://example.invalid/web.git"), "{yaml}");
    area.clear().await.unwrap();
    area.send_keys("name: web\nrepo_url: [broken\n").await.unwrap();
    client.find(Locator::Css("[data-testid=yaml-save-web]")).await.unwrap().click().await.unwrap();
    wait_text(&client, "[data-testid=yaml-error-web]", |t| t.starts_with("project file:")).await;
    let edited: String = yaml
        .lines()
        .flat_map(|l| if l.trim() == "- main" { vec![l.to_string(), l.replace("main", "release/*")] } else { vec![l.to_string()] })
        .map(|l| l + "\n")
        .collect();
    let area = client.find(Locator::Css("[data-testid=yaml-web]")).await.unwrap();
    area.clear().await.unwrap();
    // Typed as a person would: Enter (U+E007) for each line break.
    area.send_keys(&edited.replace('\n', "\u{E007}")).await.unwrap();
    client.find(Locator::Css("[data-testid=yaml-save-web]")).await.unwrap().click().await.unwrap();
    wait_text(&client, "[data-testid=project-web]", |t| t.contains("branches main, release/*")).await;
    assert_eq!(api.get("/projects/web").await["stages"][0]["branch_patterns"], json!(["main", "release/*"]));

    client.find(Locator::Css("[data-testid=tab-deliveries]")).await.unwrap().click().await.unwrap();
    let deliver = |body: Vec<u8>, id: &'static str, secret: String| {
        let url = hook["url"].as_str().unwrap().to_string();
        async move {
            reqwest::Client::new()
                .post(url)
                .header("Content-Type", "application/json")
                .header("X-GitHub-Event", "push")
                .header("X-GitHub-Delivery", id)
                .header("X-Hub-Signature-256", format!("sha256={}", hmac_hex(&secret, &body)))
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    let secret = hook["secret"].as_str().unwrap().to_string();
    assert_eq!(deliver(fixture("github/push-branch.json"), "one", secret.clone()).await, 202);
    wait_text(&client, "[data-testid=deliveries] tbody", |t| t.contains("queued 202")).await;
    assert_eq!(deliver(fixture("github/push-branch.json"), "one", "wrong".into()).await, 401);
    let table = wait_text(&client, "[data-testid=deliveries] tbody", |t| t.contains("rejected 401")).await;
    // Newest first: the refusal is the first row.
    let first = client.find(Locator::Css("[data-testid=deliveries] tbody tr")).await.unwrap();
    assert_eq!(first.attr("data-outcome").await.unwrap().as_deref(), Some("rejected"), "{table}");
    assert!(table.contains("signature check failed"), "{table}");

    // Only a delivery that proved the secret keeps its body: the refused one offers no replay.
    let refused = api.get("/deliveries").await[0]["id"].as_i64().unwrap();
    assert_eq!(api.get("/deliveries").await[0]["replayable"], json!(false));
    assert!(client.find(Locator::Css(&format!("[data-testid=redeliver-{refused}]"))).await.is_err());
    // "Redeliver locally" sends the accepted one's kept body through the same path again, signed
    // with the current secret (no proof of it was stored) and under a fresh delivery id: it
    // passes the signature check again (a duplicate of the run it started, or a new run when
    // that one has ended without success).
    let accepted = api.get("/deliveries").await[1]["id"].as_i64().unwrap();
    click(&client, &format!("[data-testid=redeliver-{accepted}]")).await;
    let replay = wait_text(&client, &format!("[data-testid=replay-{accepted}]"), |t| !t.is_empty()).await;
    assert!(replay.starts_with("redelivered as #") && (replay.ends_with("duplicate 200") || replay.ends_with("queued 202")), "{replay}");
    let newest = &api.get("/deliveries").await[0];
    assert!(newest["delivery_id"].as_str().unwrap().starts_with(&format!("local-redelivery-of-{accepted}-")), "{newest}");
    assert_ne!(newest["outcome"], json!("rejected"), "{newest}");
    shot("app-deliveries.png");

    let _ = api.send(reqwest::Method::POST, "/quit", json!({})).await;
    let _ = client.close().await;
}

/// Waits until the element matching `css` has attribute `attr` equal to `want`.
pub(crate) async fn wait_attr(client: &Client, css: &str, attr: &str, want: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    let mut last = None;
    while std::time::Instant::now() < deadline {
        if let Ok(el) = client.find(Locator::Css(css)).await {
            last = el.attr(attr).await.ok().flatten();
            if last.as_deref() == Some(want) {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    panic!("{css}[{attr}] never became {want:?}; last {last:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_manual_run_started_in_the_window_streams_its_log_live() {
    let _turn = ONE_APP_AT_A_TIME.lock().await;
    let root = tempfile::tempdir().unwrap();
    let yml = format!(
        "steps:\n  - name: count\n    image: {}\n    commands:\n      - \"for i in 1 2 3 4 5 6; do echo line-$i; sleep 0.5; done\"\n",
        busybox_image()
    );
    let served = serve_repo_with(root.path(), &[("slipway.yml", &yml)]);
    let dir = tempfile::tempdir().unwrap();
    let driver = start_driver(dir.path());
    let client = open_app(&driver).await;
    let listener = listener_url(&client).await;
    let api = Api::new(&listener, dir.path());
    let (status, p) = api.send(reqwest::Method::POST, "/projects", json!({"name": "ui-run", "repo_url": served.url, "forge": "git"})).await;
    assert_eq!(status, 201, "{p}");

    click(&client, "[data-testid=tab-runs]").await;
    start_deploy(&client, "main").await;

    // The log follows live: the first lines show while the run is still running.
    wait_text(&client, "[data-testid=run-log]", |t| t.contains("line-1")).await;
    let status = client.find(Locator::Css("[data-testid=run-detail]")).await.unwrap().attr("data-status").await.unwrap();
    assert_eq!(status.as_deref(), Some("running"), "the log should stream before the run ends");
    wait_attr(&client, "[data-testid=run-detail]", "data-status", "succeeded").await;
    let log = wait_text(&client, "[data-testid=run-log]", |t| t.contains("line-6")).await;
    assert!(log.find("line-1").unwrap() < log.find("line-6").unwrap());
    shot("app-run.png");

    // Re-run: the same stage at the same commit, as a new run the view switches to.
    click(&client, "[data-testid=rerun]").await;
    wait_text(&client, "[data-testid=run-detail] h2", |t| t.starts_with("Run #2")).await;
    wait_attr(&client, "[data-testid=run-detail]", "data-status", "succeeded").await;
    let (first, again) = (api.get("/runs/1").await, api.get("/runs/2").await);
    assert_eq!(again["run"]["commit_sha"], first["run"]["commit_sha"], "{again}");
    assert_eq!((again["run"]["stage"].as_str(), again["run"]["trigger"].as_str()), (Some("dev"), Some("manual")), "{again}");

    let _ = api.send(reqwest::Method::POST, "/quit", json!({})).await;
    let _ = client.close().await;
}

/// Starts a run of `wanted` (a tag, branch or commit) from the Runs view's form, which is open.
pub(crate) async fn start_deploy(client: &Client, wanted: &str) {
    let input = client.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css("[data-testid=deploy-ref]")).await.unwrap();
    input.send_keys(wanted).await.unwrap();
    click(client, "[data-testid=deploy-submit]").await;
}

/// Runs `f` over and over until it returns Some, for at most `secs`.
pub(crate) async fn until<T, F, Fut>(what: &str, secs: u64, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

pub(crate) async fn attr(client: &Client, css: &str, name: &str) -> Option<String> {
    client.find(Locator::Css(css)).await.ok()?.attr(name).await.ok().flatten()
}

/// Waits for the run shown in the Runs view to end, noting every step seen running on the way.
pub(crate) async fn watch_run(client: &Client, want: &str) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(180);
    loop {
        if let Ok(steps) = client.find_all(Locator::Css("[data-testid=run-detail] li[data-status=running]")).await {
            for st in steps {
                if let Ok(Some(name)) = st.attr("data-name").await {
                    if !seen.contains(&name) {
                        seen.push(name);
                    }
                }
            }
        }
        let status = attr(client, "[data-testid=run-detail]", "data-status").await;
        if matches!(status.as_deref(), Some("succeeded" | "failed" | "rolled_back" | "cancelled" | "interrupted")) {
            assert_eq!(status.as_deref(), Some(want), "steps seen running: {seen:?}");
            return seen;
        }
        assert!(std::time::Instant::now() < deadline, "the run never ended; steps seen running: {seen:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// Longer than 80 lines: one scenario against the real engine, told start to end: each step needs the state the one before it left.
/// The console end to end against the real engine, Docker and the Caddy edge: a project
/// imported in the window, a deploy started there whose steps go by live, the dashboard
/// following a deploy started elsewhere, a rollback and a promotion clicked in the window (the
/// promotion through its confirm dialog, Esc closing it once), metrics, settings and the dark
/// theme. Nothing is reloaded by hand: every change reaches the views as engine events.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_console_deploys_rolls_back_and_promotes_without_a_reload() {
    let _turn = ONE_APP_AT_A_TIME.lock().await;
    let root = tempfile::tempdir().unwrap();
    let df = crate::deploys::dockerfile();
    let served = serve_repo_with(root.path(), &[("Dockerfile", &df), ("index.html", "v1\n"), ("health", "ok\n")]);
    let dir = tempfile::tempdir().unwrap();
    let edge_port = stable_port();
    let driver = start_driver_env(dir.path(), &crate::deploys::env(edge_port));
    let client = open_app(&driver).await;
    let listener = listener_url(&client).await;
    let api = Api::new(&listener, dir.path());
    let _cleanup = DockerCleanup(api.get("/status").await["instance_id"].as_str().unwrap().to_string());

    // The project comes in through the window: its file pasted into Import.
    let yaml = format!(
        "name: web\nrepo_url: {}\nforge: git\ndeploy:\n  port: 80\n  health:\n    path: /health\n    interval_ms: 200\n    timeout_ms: 1000\n    retries: 3\n    start_period_ms: 2000\n\
         stages:\n  - name: dev\n    branch_patterns: [main]\n    strategy: blue-green\n    rollout:\n      drain_secs: 0\n      verify_secs: 1\n\
         \x20 - name: prod\n    branch_patterns: []\n    promote_from: dev\n    confirm: true\n    strategy: blue-green\n    rollout:\n      drain_secs: 0\n      verify_secs: 1\n      subdomain: launcher\n",
        served.url
    );
    click(&client, "[data-testid=tab-projects]").await;
    let area = client.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css("[data-testid=import-yaml]")).await.unwrap();
    area.send_keys(&yaml.replace('\n', "\u{E007}")).await.unwrap();
    click(&client, "[data-testid=import-submit]").await;
    wait_text(&client, "[data-testid=import-note]", |t| t == "Created web.").await;
    wait_text(&client, "[data-testid=project-web]", |t| t.contains("prod")).await;
    assert_eq!(api.get("/projects/web").await["stages"][1]["promote_from"], "dev");

    click(&client, "[data-testid=tab-dashboard]").await;
    wait_attr(&client, "[data-testid=dash-web-dev]", "data-health", "unknown").await;

    // A deploy started in the window: its steps go by live in the run view.
    click(&client, "[data-testid=tab-runs]").await;
    start_deploy(&client, "main").await;
    until("the first step to run", 60, || async { attr(&client, "[data-testid=run-detail] li[data-status=running]", "data-status").await })
        .await;
    shot("console-run-live.png");
    let seen = watch_run(&client, "succeeded").await;
    // Seen one after the other while the run went on (a fast step may pass between two looks).
    let deploy_steps = ["prepare host", "start new release", "health gate: new release", "switch traffic", "verify (1 s)"];
    assert!(
        seen.len() >= 3 && seen.iter().any(|s| s == "build image") && seen.iter().any(|s| deploy_steps.contains(&s.as_str())),
        "steps seen running: {seen:?}"
    );
    wait_text(&client, "[data-testid=run-timeline]", |_| true).await;
    shot("console-run.png");

    // The dashboard shows release 1, then follows a deploy started elsewhere (the API) live.
    click(&client, "[data-testid=tab-dashboard]").await;
    wait_text(&client, "[data-testid=dash-web-dev] [data-testid=live]", |t| t.starts_with("#1 ")).await;
    wait_attr(&client, "[data-testid=dash-web-dev]", "data-health", "healthy").await;
    crate::deploys::push(&served.work, &[("index.html", "v2\n")], &[], "v2");
    let (status, v) = api.send(reqwest::Method::POST, "/projects/web/stages/dev/runs", json!({"ref": "main"})).await;
    assert_eq!(status, 202, "{v}");
    let step = wait_text(&client, "[data-testid=dash-web-dev] [data-testid=current-step]", |t| !t.is_empty()).await;
    eprintln!("the dashboard showed step {step:?} of the second deploy");
    shot("console-dashboard-running.png");
    wait_text(&client, "[data-testid=dash-web-dev] [data-testid=live]", |t| t.starts_with("#2 ")).await;
    wait_text(&client, "[data-testid=dash-web-dev] [data-testid=current]", |t| t == "idle").await;
    assert_eq!(get_via_edge(edge_port, &crate::deploys::host("dev", "web")).await, (200, "v2".to_string()));
    shot("console-dashboard.png");

    // Roll back to release 1 from the release list.
    click(&client, "[data-testid=dash-open-web-dev]").await;
    wait_attr(&client, "[data-testid=release-dev-1]", "data-status", "retired").await;
    click(&client, "[data-testid=rollback-dev-1]").await;
    wait_text(&client, "[data-testid=rollback-dialog]", |t| t.contains("release 1")).await;
    // Enter confirms (the dialog's button has the focus, and Enter anywhere does it too).
    client.find(Locator::Css("body")).await.unwrap().send_keys("\u{E007}").await.unwrap();
    let seen = watch_run(&client, "succeeded").await;
    assert!(!seen.iter().any(|s| s == "build image"), "a rollback builds nothing: {seen:?}");
    assert_eq!(get_via_edge(edge_port, &crate::deploys::host("dev", "web")).await, (200, "v1".to_string()));
    click(&client, "[data-testid=tab-dashboard]").await;
    wait_text(&client, "[data-testid=dash-web-dev] [data-testid=live]", |t| t.starts_with("#3 ")).await;
    click(&client, "[data-testid=dash-open-web-dev]").await;
    wait_attr(&client, "[data-testid=release-dev-2]", "data-status", "rolled_back").await;
    wait_attr(&client, "[data-testid=release-dev-3]", "data-status", "live").await;

    // Promote dev's release 3 to prod: the dialog lists the commits; Esc closes it, the button
    // confirms it. The first time it is opened the way the tray's "Promote web 3 to prod…" opens
    // it: a promote-request event to the window (Xvfb has no tray host to click).
    client
        .execute("window.__TAURI_INTERNALS__.invoke('plugin:event|emit', {event: 'promote-request', payload: {project_id: 'web', stage: 'prod'}}); return true", vec![])
        .await
        .unwrap();
    wait_text(&client, "[data-testid=promote-dialog]", |t| t.contains("Promote web 3 to prod?")).await;
    let commits = wait_text(&client, "[data-testid=promote-commits]", |t| !t.is_empty()).await;
    assert!(commits.contains("first"), "{commits}");
    shot("console-promote-dialog.png");
    client.find(Locator::Css("body")).await.unwrap().send_keys("\u{E00C}").await.unwrap();
    until("Esc to close the dialog", 10, || async {
        client.find(Locator::Css("[data-testid=promote-dialog]")).await.is_err().then_some(())
    })
    .await;
    assert!(api.get("/promotions").await.as_array().unwrap().len() == 1, "Esc promoted nothing");
    shot("console-project.png");
    click(&client, "[data-testid=promote-prod]").await;
    wait_text(&client, "[data-testid=promote-dialog]", |t| t.contains("Promote web 3 to prod?")).await;
    click(&client, "[data-testid=promote-dialog-confirm]").await;
    watch_run(&client, "succeeded").await;
    assert_eq!(get_via_edge(edge_port, "launcher.localhost").await, (200, "v1".to_string()));
    click(&client, "[data-testid=tab-dashboard]").await;
    let prod = wait_text(&client, "[data-testid=dash-web-prod] [data-testid=live]", |t| t.starts_with("#1 ")).await;
    assert!(prod.contains("promoted"), "{prod}");
    assert!(api.get("/promotions").await.as_array().unwrap().is_empty());
    shot("console-dashboard-promoted.png");

    // Metrics count the four deploys.
    click(&client, "[data-testid=tab-metrics]").await;
    wait_text(&client, "[data-testid=metrics-web-dev] [data-testid=m-deploys]", |t| t == "3").await;
    wait_text(&client, "[data-testid=metrics-web-dev] [data-testid=m-success]", |t| t == "100 %").await;
    wait_text(&client, "[data-testid=metrics-web-prod] [data-testid=m-deploys]", |t| t == "1").await;
    shot("console-metrics.png");

    // Settings: a forge account with a bad name is refused next to the field; the theme switches.
    click(&client, "[data-testid=tab-settings]").await;
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("[data-testid=account-name]"))
        .await
        .unwrap()
        .send_keys("Work GitHub")
        .await
        .unwrap();
    click(&client, "[data-testid=account-save]").await;
    wait_text(&client, "[data-testid=account-name-error]", |t| t.contains("lowercase")).await;
    wait_text(&client, "[data-testid=account-token-error]", |t| t.contains("token")).await;
    shot("console-settings.png");
    click(&client, "[data-testid=theme-dark]").await;
    let theme = client.execute("return document.documentElement.dataset.theme", vec![]).await.unwrap();
    assert_eq!(theme, json!("dark"));
    click(&client, "[data-testid=tab-dashboard]").await;
    wait_text(&client, "[data-testid=dash-web-prod] [data-testid=live]", |t| t.starts_with("#1 ")).await;
    shot("console-dashboard-dark.png");

    let _ = api.send(reqwest::Method::POST, "/quit", json!({})).await;
    let _ = client.close().await;
}
