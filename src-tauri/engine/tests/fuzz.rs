//! Fuzzing every parser that reads what outsiders or users write: each forge's payload
//! normaliser and signature headers (seeded with shared/fixtures/webhooks), compose files
//! (seeded with tests/fixtures/compose and the interpolation forms), project files,
//! `slipway.yml`, `.env` files and registry answers. None may panic, whatever the input.
//!
//! A mutational fuzzer on the stable toolchain (cargo-fuzz needs nightly): each seed is mutated
//! (bit flips, insertions of tokens that matter to the format, deletions, splices with other
//! seeds, truncations) from a fixed random seed, so a failure is reproducible from its printed
//! seed and case number. `./scripts/test` runs a short smoke (SLIPWAY_FUZZ_EXECS, default
//! 3,000 per target); `scripts/bench fuzz` runs millions. A crash found becomes a test below.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use slipway_engine::adapters::forge::webhook::{self, Provider, Verifier};
use slipway_engine::adapters::registry;
use slipway_engine::domain::compose::{self, interpolate};

fn execs() -> usize {
    std::env::var("SLIPWAY_FUZZ_EXECS").ok().and_then(|v| v.parse().ok()).unwrap_or(3_000)
}

fn seed() -> u64 {
    std::env::var("SLIPWAY_FUZZ_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x5eed)
}

/// Tokens that steer the mutations into the interesting parts of each format.
const TOKENS: &[&[u8]] = &[
    b"${",
    b"}",
    b"$$",
    b":-",
    b":?",
    b"<<: *a",
    b"&a ",
    b"*a",
    b"- ",
    b": ",
    b"{",
    b"[",
    b"]",
    b"\"",
    b"'",
    b"\\",
    b"\n  ",
    b"\x00",
    b"\xff\xfe",
    b"null",
    b"true",
    b"-1",
    b"99999999999999999999",
    b"1e400",
    b"\"ref\"",
    b"\"refs/heads/",
    b"\"after\"",
    b"0000000000000000000000000000000000000000",
    b"payload=",
    b"%7B",
    b"sha256=",
    b"v1,",
    b"services:",
    b"volumes:",
    b"x-",
];

fn mutate(rng: &mut StdRng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut data = seeds[rng.random_range(0..seeds.len())].clone();
    for _ in 0..rng.random_range(1..=8) {
        let at = if data.is_empty() { 0 } else { rng.random_range(0..=data.len()) };
        match rng.random_range(0..7) {
            0 if !data.is_empty() => {
                let i = rng.random_range(0..data.len());
                data[i] ^= 1 << rng.random_range(0..8);
            }
            1 => {
                let t = TOKENS[rng.random_range(0..TOKENS.len())];
                data.splice(at..at, t.iter().copied());
            }
            2 if !data.is_empty() => {
                let end = (at + rng.random_range(1..64)).min(data.len());
                data.drain(at.min(end)..end);
            }
            3 => {
                let other = &seeds[rng.random_range(0..seeds.len())];
                if !other.is_empty() {
                    let from = rng.random_range(0..other.len());
                    let to = (from + rng.random_range(1..256)).min(other.len());
                    data.splice(at..at, other[from..to].iter().copied());
                }
            }
            4 => data.truncate(at),
            5 if !data.is_empty() => {
                let i = rng.random_range(0..data.len());
                data[i] = rng.random();
            }
            _ => {
                let (from, len) = (at.min(data.len()), rng.random_range(1..32));
                let chunk: Vec<u8> = data.iter().skip(from).take(len).copied().collect();
                data.splice(at..at, chunk);
            }
        }
    }
    data
}

/// Runs `target` on `execs()` mutations of `seeds` (and on the seeds themselves); fails with the
/// inputs that panicked.
fn fuzz(name: &str, seeds: Vec<Vec<u8>>, target: impl Fn(&[u8])) {
    assert!(!seeds.is_empty(), "{name}: no seeds");
    let mut rng = StdRng::seed_from_u64(seed() ^ name.len() as u64);
    let mut crashes = Vec::new();
    let n = execs();
    for i in 0..n + seeds.len() {
        let input = if i < seeds.len() { seeds[i].clone() } else { mutate(&mut rng, &seeds) };
        if catch_unwind(AssertUnwindSafe(|| target(&input))).is_err() {
            crashes.push(String::from_utf8_lossy(&input).chars().take(400).collect::<String>());
            if crashes.len() >= 3 {
                break;
            }
        }
    }
    println!("fuzz {name}: {} executions, {} panics (seed {})", n + seeds.len(), crashes.len(), seed());
    assert!(crashes.is_empty(), "{name}: panicked on (seed {}):\n{}", seed(), crashes.join("\n---\n"));
}

fn files_under(dir: &Path, ext: &[&str]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            for e in std::fs::read_dir(&p).unwrap().flatten() {
                stack.push(e.path());
            }
        } else if ext.iter().any(|x| p.extension().is_some_and(|e| e == *x)) {
            out.push(std::fs::read(&p).unwrap());
        }
    }
    out.sort();
    out
}

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn headers(pairs: &[(&str, &str)]) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    for (k, v) in pairs {
        if let (Ok(k), Ok(v)) = (http::HeaderName::from_bytes(k.as_bytes()), http::HeaderValue::from_bytes(v.as_bytes())) {
            h.append(k, v);
        }
    }
    h
}

const PROVIDERS: [(Provider, &str); 5] = [
    (Provider::Github, "push"),
    (Provider::Gitlab, "Push Hook"),
    (Provider::Gitea, "push"),
    (Provider::Forgejo, "push"),
    (Provider::Bitbucket, "repo:push"),
];

#[test]
fn webhook_payloads_never_panic_a_normaliser() {
    let seeds = files_under(&root().join("../shared/fixtures/webhooks"), &["json"]);
    fuzz("webhook payloads", seeds, |body| {
        for (p, event) in PROVIDERS {
            let _ = webhook::normalize(p, event, Some("d"), body);
            let _ = webhook::normalize(p, "create", None, body);
            let form = headers(&[("content-type", "application/x-www-form-urlencoded")]);
            if let Ok(json) = webhook::payload_json(&form, body) {
                let _ = webhook::normalize(p, event, None, &json);
            }
        }
    });
}

#[test]
fn signature_headers_never_panic_the_verifier() {
    let seeds: Vec<Vec<u8>> = [
        "sha256=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
        "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4= v1,bm9wZQ==",
        "sha256=",
        "secret",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    fuzz("signature headers", seeds, |value| {
        let v = String::from_utf8_lossy(value);
        for (p, _) in PROVIDERS {
            for name in [
                "x-hub-signature-256",
                "x-hub-signature",
                "x-gitea-signature",
                "x-forgejo-signature",
                "x-gitlab-token",
                "webhook-signature",
            ] {
                let h = headers(&[(name, &v), ("webhook-id", "msg_1"), ("webhook-timestamp", &v), ("x-forgejo-event", "push")]);
                if let Ok(mut verifier) = Verifier::start(p, &h, b"secret") {
                    verifier.update(value);
                    let _ = verifier.finish(&h, value);
                }
                let _ = webhook::verify(p, &h, value, b"");
                let _ = webhook::detect(&h);
            }
        }
    });
}

#[test]
fn compose_files_never_panic_the_reader() {
    let mut seeds = files_under(&root().join("tests/fixtures/compose"), &["yaml"]);
    seeds.push(
        b"services:\n  a:\n    image: \"${X:-${Y:?e}}\"\n    environment: [\"A=$$B\"]\n    ports: [\"127.0.0.1:80:80/udp\", {target: 1}]\n"
            .to_vec(),
    );
    let env = std::collections::BTreeMap::from([("X".to_string(), "1".to_string())]);
    let secrets = vec!["S".to_string()];
    let read = |_: &str| Ok(Some("A=1\n".to_string()));
    let under = |_: &str| Ok(vec![(String::new(), "x".to_string())]);
    fuzz("compose files", seeds, |text| {
        let text = String::from_utf8_lossy(text);
        let input = compose::Input {
            file: "compose.yaml",
            text: &text,
            read: &read,
            files_under: &under,
            overrides: &[],
            env: &env,
            secrets: &secrets,
            stage: "dev",
            project: "p",
            network: "n",
        };
        let _ = compose::load(&input);
        let _ = interpolate::interpolate(&text, &|n| if n == "S" { interpolate::Lookup::Keep } else { interpolate::Lookup::Unset });
        let _ = compose::keys::line_of(&text, Some("a"), "image");
    });
}

#[test]
fn project_files_pipelines_env_files_and_registry_answers_never_panic() {
    let seeds: Vec<Vec<u8>> = [
        "name: web\nrepo_url: https://git.example/web.git\nforge: gitea\nstages:\n  - name: dev\n    branch_patterns: [main]\n    strategy: canary\n    rollout: {canary_percent: 10}\n",
        "steps:\n  - name: test\n    image: busybox\n    run: [\"make test\"]\nbuild: {context: ., dockerfile: Dockerfile, args: {A: b}}\ncompose: compose.yaml\n",
        "A=1\nexport B=\"x\\ny\"\nC='z' # c\n",
        "{\"name\":\"a\",\"tags\":[\"v1\",\"latest\"]}",
        "Bearer realm=\"https://auth.example/token\",service=\"registry\",scope=\"repository:a:pull\"",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    fuzz("project, pipeline, env and registry", seeds, |data| {
        let text = String::from_utf8_lossy(data);
        let _ = slipway_engine::domain::project::from_yaml(&text);
        let _ = slipway_engine::domain::pipeline::parse(&text);
        let _ = registry::parse_tags(data);
        let _ = registry::bearer_challenge(&text);
        let _ = compose::dotenv::parse(&text);
    });
}
