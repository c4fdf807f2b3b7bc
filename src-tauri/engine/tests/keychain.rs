//! Secrets against the real Secret Service (gnome-keyring on the test's D-Bus session).

use slipway_engine::secrets;

#[tokio::test]
async fn a_token_round_trips_through_the_os_keychain() {
    let name = format!("test-token-{}", std::process::id());
    secrets::set(&name, "ghp_first").await.unwrap();
    assert_eq!(secrets::get(&name).await.unwrap().as_deref(), Some("ghp_first"));
    secrets::set(&name, "ghp_second").await.unwrap();
    assert_eq!(secrets::get(&name).await.unwrap().as_deref(), Some("ghp_second"));
    secrets::delete(&name).await.unwrap();
    assert_eq!(secrets::get(&name).await.unwrap(), None);
    // Deleting what is gone is not an error.
    secrets::delete(&name).await.unwrap();
}
