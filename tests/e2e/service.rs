//! `slipwayd install-service`: the unit it writes, and the secrets key it seals with the real
//! `systemd-creds`, which the engine then reads from `$CREDENTIALS_DIRECTORY` as systemd gives
//! it to the service (no keychain, no key file anywhere).

use std::path::Path;
use std::process::Command;

use reqwest::Method;
use serde_json::json;

use crate::kit::*;

fn start_as_service(data: &Path, creds: &Path) -> (Guard, String) {
    start_slipwayd(data, |cmd| {
        cmd.env_remove("DBUS_SESSION_BUS_ADDRESS").env("SLIPWAY_SECRETS", "file").env("CREDENTIALS_DIRECTORY", creds);
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_system_service_gets_a_unit_and_a_sealed_key_the_engine_then_uses() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let out = Command::new(bin("slipwayd")).args(["install-service", "--system", "--root"]).arg(&root).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("systemctl enable --now slipway"), "{stdout}");
    let unit = std::fs::read_to_string(root.join("etc/systemd/system/slipway.service")).unwrap();
    for line in [
        format!("ExecStart=\"{}\" serve", bin("slipwayd").display()),
        "Restart=on-failure".into(),
        "Environment=SLIPWAY_DATA_DIR=/var/lib/slipway".into(),
        "StateDirectoryMode=0700".into(),
        "LoadCredentialEncrypted=slipway-secrets-key:/etc/slipway/secrets-key.cred".into(),
    ] {
        assert!(unit.lines().any(|l| l == line), "{line} is not in the unit:\n{unit}");
    }
    // What systemd does at start: decrypt the credential into the service's credentials directory.
    let creds = dir.path().join("creds");
    std::fs::create_dir_all(&creds).unwrap();
    let decrypted = Command::new("systemd-creds")
        .args(["decrypt", "--name=slipway-secrets-key"])
        .arg(root.join("etc/slipway/secrets-key.cred"))
        .arg(creds.join("slipway-secrets-key"))
        .output()
        .unwrap();
    assert!(decrypted.status.success(), "{}", String::from_utf8_lossy(&decrypted.stderr));
    let key = std::fs::read_to_string(creds.join("slipway-secrets-key")).unwrap();
    assert_eq!(key.trim().len(), 64, "a 32-byte key in hex");
    let sealed = std::fs::read(root.join("etc/slipway/secrets-key.cred")).unwrap();
    assert!(!sealed.windows(16).any(|w| w == &key.as_bytes()[..16]), "the credential file does not hold the key in clear");

    let data = dir.path().join("data");
    let (engine, base) = start_as_service(&data, &creds);
    let api = Api::new(&base, &data);
    let secrets = api.get("/status").await["secrets"].as_str().unwrap().to_string();
    assert!(secrets.contains("systemd credential"), "{secrets}");
    let (code, v) =
        api.send(Method::POST, "/projects", json!({"name": "svc", "repo_url": "https://example.invalid/a.git", "forge": "github"})).await;
    assert_eq!(code, 201, "{v}");
    let secret = api.get("/projects/svc/webhook").await["secret"].clone();
    // A restart reads the same secret with the same credential.
    drop(engine);
    let (_engine, base) = start_as_service(&data, &creds);
    let api = Api::new(&base, &data);
    assert_eq!(api.get("/projects/svc/webhook").await["secret"], secret);

    // A user service goes to the user's systemd directory.
    let cfg = dir.path().join("cfg");
    let out = Command::new(bin("slipwayd")).args(["install-service", "--user"]).env("XDG_CONFIG_HOME", &cfg).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let unit = std::fs::read_to_string(cfg.join("systemd/user/slipway.service")).unwrap();
    assert!(unit.contains("WantedBy=default.target") && unit.contains("Restart=on-failure"), "{unit}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("systemctl --user enable --now slipway"));
}
