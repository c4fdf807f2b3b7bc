//! Secrets against the real Secret Service (gnome-keyring on the test's D-Bus session).

use slipway_engine::adapters::keychain;

#[tokio::test]
async fn a_token_round_trips_through_the_os_keychain() {
    let name = format!("test-token-{}", std::process::id());
    keychain::set(&name, "ghp_first").await.unwrap();
    assert_eq!(keychain::get(&name).await.unwrap().as_deref(), Some("ghp_first"));
    keychain::set(&name, "ghp_second").await.unwrap();
    assert_eq!(keychain::get(&name).await.unwrap().as_deref(), Some("ghp_second"));
    keychain::delete(&name).await.unwrap();
    assert_eq!(keychain::get(&name).await.unwrap(), None);
    // Deleting what is gone is not an error.
    keychain::delete(&name).await.unwrap();
}
