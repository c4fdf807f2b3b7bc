//! The run view with a 1,000,000-line log (issue #7): the real app under WebDriver, the real
//! engine and Docker. A pipeline step prints a million 70-byte lines; then the bench opens the
//! run in the window and reports the time from the click to the log's last line on screen, and
//! the frame rate while the log scrolls (300 px a frame for 3 s, then jumps across the log),
//! and how long a search of the whole log takes (in the engine, and from Enter to the match).
//!
//! Run with `scripts/bench run-view` (Xvfb, tauri-driver, a D-Bus session with a keychain).

#[path = "../../tests/e2e/app.rs"]
#[allow(dead_code)]
mod app;
#[path = "../../tests/e2e/kit.rs"]
#[allow(dead_code)]
mod kit;
#[path = "../../tests/e2e/load.rs"]
#[allow(dead_code)]
mod load;

use std::time::{Duration, Instant};

use fantoccini::Locator;
use kit::*;
use reqwest::Method;
use serde_json::json;

const LINES: u32 = 1_000_000;

// Longer than 80 lines: the benchmark's script, one measurement after the other, each reported as it is taken.
#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let print = format!(
        "awk 'BEGIN {{ for (i = 1; i <= {LINES}; i++) printf \"%07d the quick brown fox jumps over the lazy dog, step output\\n\", i }}'"
    );
    let yml = format!(
        "steps:\n  - name: print\n    image: {}\n    commands:\n      - {}\nbuild:\n  dockerfile: Dockerfile\n",
        busybox_image(),
        serde_json::to_string(&print).unwrap()
    );
    let dockerfile = format!("FROM {}\nCMD [\"true\"]\n", busybox_image());
    let served = serve_repo_with(root.path(), &[("Dockerfile", &dockerfile), ("slipway.yml", &yml)]);

    let driver = app::start_driver(dir.path());
    let client = app::open_app(&driver).await;
    let listener = app::listener_url(&client).await;
    let api = Api::new(&listener, dir.path());
    let (status, p) = api.send(Method::POST, "/projects", json!({"name": "big", "repo_url": served.url, "forge": "git"})).await;
    assert_eq!(status, 201, "{p}");
    let (status, v) = api.send(Method::POST, "/projects/big/stages/dev/runs", json!({"ref": "main"})).await;
    assert_eq!(status, 202, "{v}");
    let run = v["run_id"].as_i64().unwrap();
    let started = Instant::now();
    let r = wait_status(&api, run, finished, Duration::from_secs(600)).await;
    assert_eq!(r["run"]["status"], "succeeded", "{r}");
    let stored = api.get(&format!("/runs/{run}/logs?after={}&limit=10", LINES - 5)).await;
    eprintln!("run {run}: {LINES} lines printed and stored in {:.1} s", started.elapsed().as_secs_f64());
    assert!(stored.as_array().is_some_and(|a| !a.is_empty()), "the log's end is not stored: {stored}");

    // Open the run: from the click to its last line on screen (the view follows the end).
    client.find(Locator::Css("[data-testid=tab-runs]")).await.unwrap().click().await.unwrap();
    let row = client.wait().at_most(Duration::from_secs(30)).for_element(Locator::Css(&format!("[data-testid=run-{run}]"))).await.unwrap();
    let last = format!("{LINES:07} the quick brown fox");
    let clicked = Instant::now();
    row.click().await.unwrap();
    let open = loop {
        let seen = client
            .execute("const b = document.querySelector('[data-testid=run-log]'); return b ? b.textContent : ''", vec![])
            .await
            .unwrap();
        if seen.as_str().is_some_and(|t| t.contains(&last)) {
            break clicked.elapsed();
        }
        assert!(clicked.elapsed() < Duration::from_secs(300), "the run view never showed the log's last line");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    app::shot("run-view-1m.png");

    // Search the whole log (the engine scans it): one line near the end, through the API, then
    // in the view from Enter to the match on screen.
    let needle = "0999990 the quick";
    let t = Instant::now();
    let m = api.get(&format!("/runs/{run}/logs/search?q={}", needle.replace(' ', "%20"))).await;
    let search_api = t.elapsed();
    assert_eq!(m["seqs"].as_array().map(Vec::len), Some(1), "{m}");
    let search = client.find(Locator::Css("[data-testid=log-search]")).await.unwrap();
    search.send_keys(needle).await.unwrap();
    let t = Instant::now();
    search.send_keys("\u{E007}").await.unwrap();
    let search_view = loop {
        let seen = client
            .execute("const b = document.querySelector('[data-testid=run-log]'); return b ? b.textContent : ''", vec![])
            .await
            .unwrap();
        if seen.as_str().is_some_and(|t| t.contains(needle)) {
            break t.elapsed();
        }
        assert!(t.elapsed() < Duration::from_secs(60), "the search never showed its match");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };

    // Scroll: 300 px a frame for 3 s, then 60 jumps to random places; frame times from rAF.
    let script = r#"
        const done = arguments[arguments.length - 1];
        const box = document.querySelector('[data-testid=run-log]');
        box.scrollTop = 0;
        const gaps = [];
        let prev = null, t0 = null, jumps = 0;
        function frame(t) {
            if (prev !== null) gaps.push(t - prev);
            prev = t;
            if (t0 === null) t0 = t;
            if (t - t0 < 3000) {
                box.scrollTop += 300;
            } else if (jumps < 60) {
                box.scrollTop = Math.random() * (box.scrollHeight - box.clientHeight);
                jumps++;
            } else {
                gaps.sort((a, b) => a - b);
                const total = gaps.reduce((a, b) => a + b, 0);
                done({ frames: gaps.length, ms: total, p50: gaps[Math.floor(gaps.length / 2)], p95: gaps[Math.floor(gaps.length * 0.95)], worst: gaps[gaps.length - 1] });
                return;
            }
            requestAnimationFrame(frame);
        }
        requestAnimationFrame(frame);
    "#;
    let s = client.execute_async(script, vec![]).await.unwrap();
    let fps = s["frames"].as_f64().unwrap() / (s["ms"].as_f64().unwrap() / 1000.0);
    println!("\nrun view, {LINES} lines (debug = {}):", cfg!(debug_assertions));
    println!("  open: click → last line on screen: {} ms", open.as_millis());
    println!(
        "  search of the whole log for one line near its end: {} ms in the engine (API), {} ms from Enter to the match on screen",
        search_api.as_millis(),
        search_view.as_millis()
    );
    println!(
        "  scroll: {fps:.1} frames/s over {} frames; frame time p50 {:.1} ms, p95 {:.1} ms, worst {:.1} ms",
        s["frames"],
        s["p50"].as_f64().unwrap(),
        s["p95"].as_f64().unwrap(),
        s["worst"].as_f64().unwrap()
    );
    let _ = client.close().await;
    drop(driver);
}
