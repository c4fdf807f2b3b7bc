//! Docker reachability against the real engine that ./scripts/test starts.

use slipway_engine::adapters::docker::probe;

#[tokio::test]
async fn the_real_engine_is_reachable() {
    let status = probe("unix:///var/run/docker.sock").await;
    assert!(status.reachable, "{status:?}");
    assert!(status.error.is_none());
    let version = status.version.expect("engine version");
    assert!(version.chars().next().unwrap().is_ascii_digit(), "{version}");
    assert!(status.api_version.is_some());
}

#[tokio::test]
async fn a_missing_socket_is_unreachable_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("no-such.sock");
    let status = probe(&format!("unix://{}", sock.display())).await;
    assert!(!status.reachable);
    let msg = status.error.unwrap();
    assert!(msg.contains(&sock.display().to_string()), "{msg}");
    assert!(msg.contains("does not exist"), "{msg}");
}

#[tokio::test]
async fn a_dead_socket_is_unreachable_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("dead.sock");
    // A socket file whose listener is gone: what a crashed dockerd leaves behind.
    drop(std::os::unix::net::UnixListener::bind(&sock).unwrap());
    let status = probe(&format!("unix://{}", sock.display())).await;
    assert!(!status.reachable);
    let msg = status.error.unwrap();
    assert!(msg.contains(&sock.display().to_string()), "{msg}");
    assert!(msg.contains("connection refused"), "{msg}");
}

#[tokio::test]
async fn an_unknown_scheme_says_which_schemes_work() {
    let status = probe("ftp://example").await;
    assert!(!status.reachable);
    assert!(status.error.unwrap().contains("unix://, tcp://"));
}
