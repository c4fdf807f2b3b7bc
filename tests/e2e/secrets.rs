//! Secrets on a machine without a desktop keychain: the engine started with no D-Bus session at
//! all keeps them in its encrypted file, under a key outside the data directory, and does
//! everything with them (a private repository's token, a webhook's secret, a step's secret, a
//! chat URL from a project file) without one value in plain text on disk. And moving secrets
//! between the file and the OS keychain.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::kit::*;

/// `slipwayd serve` with no D-Bus session: no keychain can answer.
fn start_without_dbus(data_dir: &Path, env: &[(&str, &Path)]) -> (Guard, String) {
    start_slipwayd(data_dir, |cmd| {
        cmd.env_remove("DBUS_SESSION_BUS_ADDRESS").envs(env.iter().map(|(k, v)| (*k, *v)));
    })
}

/// Every file under `dirs` that contains one of `secrets`, with the secret found.
fn files_containing(dirs: &[&Path], secrets: &[&str]) -> Vec<String> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    for dir in dirs {
        walk(dir, &mut files);
    }
    let mut found = Vec::new();
    for file in files {
        let bytes = std::fs::read(&file).unwrap_or_default();
        for secret in secrets {
            if bytes.windows(secret.len()).any(|w| w == secret.as_bytes()) {
                found.push(format!("{} contains {secret:?}", file.display()));
            }
        }
    }
    found
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

async fn import(api: &Api, yaml: &str) -> (u16, Value) {
    let resp = api
        .http
        .post(format!("{}/api/v1/projects/import", api.base))
        .bearer_auth(&api.token)
        .header("content-type", "text/plain")
        .body(yaml.to_string())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

const FORGE_TOKEN: &str = "forge-token-Zq81xv0w";
const STEP_SECRET: &str = "step-secret-Hy27mmq4";
const CHAT_URL: &str = "https://hooks.slack.com/services/T0000/B0000/chat-secret-Pw93kd";

// Longer than 80 lines: one scenario against the real engine, told start to end: each step needs the state the one before it left.
#[tokio::test(flavor = "multi_thread")]
async fn an_engine_without_any_keychain_keeps_every_secret_sealed_and_uses_them_all() {
    let root = tempfile::tempdir().unwrap();
    // The step proves it got the secret by printing its SHA-256 (the value itself is masked, and
    // must not be in the repository either).
    let pipeline = format!(
        "steps:\n  - name: uses-secret\n    image: {}\n    commands:\n      - printf %s \"$API_TOKEN\" | sha256sum | sed \"s/^/sum /\"\n      \
         - echo \"token is $API_TOKEN\"\n    secrets: [API_TOKEN]\n",
        busybox_image()
    );
    let served = serve_repo_with(root.path(), &[("slipway.yml", &pipeline)]);
    let private_url = crate::tokens::serve_private(root.path(), "deploy", FORGE_TOKEN).await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let keys = dir.path().join("keys");
    let key_file = keys.join("secrets.key");
    let (_engine, base) = start_without_dbus(&data, &[("SLIPWAY_SECRETS_KEY_FILE", &key_file)]);
    let api = Api::new(&base, &data);
    let status = api.get("/status").await;
    let secrets = status["secrets"].as_str().unwrap();
    assert!(secrets.starts_with("encrypted file") && secrets.contains(&key_file.display().to_string()), "{status}");

    // A forge account (its token), a project from a project file (with a chat URL), a step secret.
    let account = "server-acct";
    let (code, v) = api
        .send(
            Method::PUT,
            &format!("/forge-accounts/{account}"),
            json!({"forge": "gitea", "username": "deploy", "token": FORGE_TOKEN, "api_base": "http://127.0.0.1:9/api/v1"}),
        )
        .await;
    assert_eq!(code, 200, "{v}");
    let file = format!(
        "name: sealed\nrepo_url: {}\nforge: gitea\nstages:\n  - name: dev\n    branch_patterns: [main]\n\
         notifications:\n  - name: team\n    kind: slack\n    url: {CHAT_URL}\n",
        served.url
    );
    let (code, v) = import(&api, &file).await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["created"], true, "{v}");
    let (code, v) = api.send(Method::PUT, "/projects/sealed/secrets/API_TOKEN", json!({"value": STEP_SECRET})).await;
    assert_eq!(code, 204, "{v}");
    // The private repository answers only with the forge account's token (read from the file).
    let (code, v) = api
        .send(Method::POST, "/projects", json!({"name": "private", "repo_url": private_url, "forge": "gitea", "token_ref": account}))
        .await;
    assert_eq!(code, 201, "{v}");
    let (code, polled) = api.send(Method::POST, "/projects/private/poll", json!({})).await;
    assert_eq!(code, 200, "{polled}");
    assert_eq!(polled["last_poll_error"], Value::Null, "{polled}");
    assert!(polled["last_poll_at"].is_i64(), "{polled}");
    let hook = api.get("/projects/sealed/webhook").await;
    let hook_secret = hook["secret"].as_str().unwrap().to_string();

    // A signed push: verified against the sealed webhook secret; the step reads the sealed secret.
    let head = git(&served.work, &["rev-parse", "HEAD"]);
    let mut body: Value = serde_json::from_slice(&fixture("gitea/push-branch.json")).unwrap();
    body["ref"] = json!("refs/heads/main");
    body["after"] = json!(head);
    body["head_commit"]["id"] = json!(head);
    let body = serde_json::to_vec(&body).unwrap();
    let signature = hmac_hex(&hook_secret, &body);
    let post = |sig: String| {
        reqwest::Client::new()
            .post(hook["url"].as_str().unwrap())
            .header("content-type", "application/json")
            .header("X-Gitea-Event", "push")
            .header("X-Gitea-Delivery", format!("d-{}", sig.len()))
            .header("X-Gitea-Signature", sig)
            .body(body.clone())
            .send()
    };
    let forged = post(hmac_hex("not-the-secret", &body)).await.unwrap();
    assert_eq!(forged.status().as_u16(), 401);
    let resp = post(signature).await.unwrap();
    assert_eq!(resp.status().as_u16(), 202);
    let verdict: Value = resp.json().await.unwrap();
    let run = verdict["run_ids"][0].as_i64().unwrap();
    let r = wait_status(&api, run, finished, Duration::from_secs(180)).await;
    let lines = api.get(&format!("/runs/{run}/logs")).await;
    let log: Vec<&str> = lines.as_array().unwrap().iter().map(|l| l["line"].as_str().unwrap()).collect();
    assert_eq!(r["run"]["status"], "succeeded", "{r}\n{}", log.join("\n"));
    assert!(log.iter().any(|l| l.contains("token is ***")), "the step's secret is masked in the log: {log:?}");
    let sum = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(STEP_SECRET.as_bytes()))
    };
    assert!(log.iter().any(|l| l.contains(&format!("sum {sum}"))), "the step read the sealed secret: {log:?}");

    // Not one value in plain text, anywhere under the data or the key directory.
    let found = files_containing(&[&data, &keys], &[FORGE_TOKEN, STEP_SECRET, CHAT_URL, "chat-secret-Pw93kd", &hook_secret]);
    assert!(found.is_empty(), "secrets in plain text:\n{}", found.join("\n"));
    assert!(data.join("secrets.enc").exists(), "the secrets are in the sealed file");
    #[cfg(unix)]
    {
        assert_eq!(mode(&data), 0o700, "the data directory is private whatever the umask");
        assert_eq!(mode(&data.join("slipway.db")), 0o600, "the store is private whatever the umask");
        assert_eq!(mode(&data.join("secrets.enc")), 0o600);
        assert_eq!(mode(&key_file), 0o600);
    }
    let (out, _) = output(&data);
    let status = slipwayd(&data, &["status"]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(text.contains("secrets:     encrypted file"), "{text}\n{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_file_others_can_read_is_refused_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("shared.key");
    std::fs::write(&key, format!("{}\n", "ab".repeat(32))).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
    }
    let data = dir.path().join("data");
    let out = Command::new(bin("slipwayd"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env("SLIPWAY_DATA_DIR", &data)
        .env("SLIPWAY_SECRETS_KEY_FILE", &key)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the engine must not start: {stderr}");
    assert!(stderr.contains(&key.display().to_string()) && stderr.contains("chmod 600"), "{stderr}");
    // Nothing was written with that key.
    assert!(!data.join("secrets.enc").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_move_from_the_file_to_the_keychain_and_back_without_losing_one() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let key = dir.path().join("keys/secrets.key");
    let key_env = key.display().to_string();
    // This engine runs in the test's D-Bus session, where gnome-keyring answers; it is told to
    // start with the file.
    let (engine, base) = start_headless_with(&data, &[("SLIPWAY_SECRETS", "file"), ("SLIPWAY_SECRETS_KEY_FILE", key_env.as_str())]);
    let api = Api::new(&base, &data);
    assert!(api.get("/status").await["secrets"].as_str().unwrap().starts_with("encrypted file"));
    let name = format!("moving-{}", std::process::id());
    let (code, v) =
        api.send(Method::POST, "/projects", json!({"name": name, "repo_url": "https://example.invalid/a.git", "forge": "github"})).await;
    assert_eq!(code, 201, "{v}");
    let value = format!("moving-secret-{}", std::process::id());
    let (code, _) = api.send(Method::PUT, &format!("/projects/{name}/secrets/DB_PW"), json!({"value": value})).await;
    assert_eq!(code, 204);
    let hook_before = api.get(&format!("/projects/{name}/webhook")).await["secret"].clone();

    let out = slipwayd(&data, &["secrets", "migrate", "--to", "keychain", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let done: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(done["backend"], "OS keychain", "{done}");
    let moved: Vec<&str> = done["moved"].as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect();
    assert!(moved.contains(&format!("project-secret:{name}:DB_PW").as_str()), "{moved:?}");
    assert!(moved.contains(&format!("webhook-secret:{name}").as_str()), "{moved:?}");
    assert!(!data.join("secrets.enc").exists(), "the file keeps no copy: it is gone");
    assert_eq!(api.get("/status").await["secrets"], "OS keychain");

    // The choice is recorded: asked for the file again, the engine refuses to start (the
    // secrets would be hidden) and says how to move them; started plainly, it keeps the keychain.
    drop(engine);
    let _ = std::fs::remove_file(data.join("engine.json"));
    let refused = Command::new(bin("slipwayd"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("SLIPWAY_DATA_DIR", &data)
        .env("SLIPWAY_SECRETS", "file")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && stderr.contains("secrets migrate --to file"), "{stderr}");
    let (_engine, base) = start_headless_with(&data, &[("SLIPWAY_SECRETS_KEY_FILE", key_env.as_str())]);
    let api = Api::new(&base, &data);
    assert_eq!(api.get("/status").await["secrets"], "OS keychain");
    assert_eq!(api.get(&format!("/projects/{name}/webhook")).await["secret"], hook_before, "the webhook secret moved intact");
    let out = slipwayd(&data, &["secrets", "migrate", "--to", "file"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("secrets are now kept in the encrypted file"));
    assert_eq!(api.get(&format!("/projects/{name}/webhook")).await["secret"], hook_before, "and back");
    let found = files_containing(&[&data, key.parent().unwrap()], &[&value]);
    assert!(found.is_empty(), "{found:?}");
    let (code, _) = api.send(Method::DELETE, &format!("/projects/{name}"), json!({})).await;
    assert_eq!(code, 204);
}
