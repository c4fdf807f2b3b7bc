//! With no Secret Service on the bus, the error says so plainly. Its own test binary, because
//! it points this process's D-Bus address at nothing.

use slipway_engine::{adapters::keychain, ErrorCode};

#[tokio::test]
async fn no_secret_service_is_a_plain_error() {
    let dir = tempfile::tempdir().unwrap();
    // SAFETY: the only test in this binary; nothing else reads the environment concurrently.
    unsafe {
        std::env::set_var("DBUS_SESSION_BUS_ADDRESS", format!("unix:path={}/no-bus", dir.path().display()));
    }
    let err = keychain::set("anything", "value").await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::KeychainUnavailable, "{err}");
    assert!(err.to_string().contains("no OS keychain is available"), "{err}");
    let err = keychain::get("anything").await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::KeychainUnavailable, "{err}");
}
