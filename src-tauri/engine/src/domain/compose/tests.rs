//! Compose files as users write them, read as Docker Compose reads them (`docker compose config`
//! was the reference for the expected values).

use super::*;

/// The file from the issue that lost its volume, env_file, labels and interpolation.
const PROBE: &str = r#"services:
  db:
    image: probe-web:v1
    command: ["sh", "-c", "mkdir -p /data; date >> /data/boots; httpd -f -p 8080 -h /data & wait"]
    volumes: [dbdata:/data]
    env_file: [db.env]
    labels: {team: core}
  web:
    image: probe-web:v1
    ports: ["8080:8080"]
    depends_on: [db]
    environment: { GREETING: "${GREETING:-hello}" }
volumes:
  dbdata: {}
"#;

fn files(path: &str) -> std::result::Result<Option<String>, String> {
    Ok(match path {
        "db.env" => Some("DB_PASSWORD=s3cret\n# comment\n".into()),
        "sub/.env" => Some("TAG=v9\n".into()),
        "sub/app.conf" => Some("listen 80\n".into()),
        "common.yml" => Some("services:\n  common:\n    image: base\n    environment: [A=1]\n    ports: [\"80\"]\n".into()),
        _ => None,
    })
}

fn load_with(file: &str, text: &str, env: &[(&str, &str)], secrets: &[&str], stage: &str) -> Result<StackSpec> {
    let env: BTreeMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let secrets: Vec<String> = secrets.iter().map(|s| s.to_string()).collect();
    let under = |path: &str| match path {
        "sub/conf" => Ok(vec![("a.conf".to_string(), "a\n".to_string()), ("b/c.conf".to_string(), "c\n".to_string())]),
        other => Err(format!("{other} is not in the repository")),
    };
    let loaded = load(&Input {
        file,
        text,
        read: &files,
        files_under: &under,
        overrides: &[],
        env: &env,
        secrets: &secrets,
        stage,
        project: "shop",
        network: "slipway-i-shop-dev",
    })?;
    Ok(loaded.stack)
}

/// `compose.yaml` with later files merged onto it, for the merge rules' tests.
fn load_over(text: &str, overrides: &[(String, String)]) -> Result<Loaded> {
    let (env, under) = (BTreeMap::new(), |_: &str| Ok(vec![]));
    load(&Input {
        file: "compose.yaml",
        text,
        read: &files,
        files_under: &under,
        overrides,
        env: &env,
        secrets: &[],
        stage: "dev",
        project: "p",
        network: "n",
    })
}

fn probe() -> StackSpec {
    load_with("docker-compose.yml", PROBE, &[], &[], "dev").unwrap()
}

fn err(text: &str) -> String {
    load_with("docker-compose.yml", text, &[], &["DB_PW"], "dev").unwrap_err().to_string()
}

#[test]
fn the_probe_keeps_its_volume_env_file_labels_and_interpolation() {
    let s = probe();
    let db = &s.services[0];
    assert_eq!(db.name, "db");
    assert_eq!(
        db.mounts,
        vec![storage::MountSpec { kind: MountKind::Volume, source: "dbdata".into(), target: "/data".into(), read_only: false, size: 0 }]
    );
    assert!(db.stateful, "a writable named volume makes the service stateful");
    assert_eq!(db.env.get("DB_PASSWORD").map(String::as_str), Some("s3cret"));
    assert_eq!(db.runtime.labels.get("team").map(String::as_str), Some("core"));
    assert_eq!(s.volumes["dbdata"].name, "shop-dev-dbdata");
    let web = &s.services[1];
    assert_eq!(web.env.get("GREETING").map(String::as_str), Some("hello"));
    assert_eq!((web.port, web.published.len()), (None, 1), "a host port is published, not routed");
    assert_eq!(web.published[0].host_port, "8080");
}

#[test]
fn the_project_environment_comes_before_the_dot_env_file_and_the_default() {
    let text = "services:\n  app:\n    image: \"x:${TAG}\"\n    environment: [\"G=${GREETING:-hello}\"]\n";
    let s = load_with("sub/compose.yaml", text, &[("GREETING", "hi")], &[], "dev").unwrap();
    assert_eq!(s.services[0].image.as_deref(), Some("x:v9"), "from sub/.env, next to the file");
    assert_eq!(s.services[0].env["G"], "hi");
    let s = load_with("sub/compose.yaml", text, &[("TAG", "v10")], &[], "dev").unwrap();
    assert_eq!(s.services[0].image.as_deref(), Some("x:v10"));
}

#[test]
fn a_required_variable_that_is_missing_fails_before_anything_with_its_message_and_line() {
    let e = err("services:\n  app:\n    image: x\n    environment:\n      URL: ${X:?need X}\n");
    assert_eq!(e, "docker-compose.yml:5: service app: services.app.environment.URL: required variable X is missing a value: need X");
}

#[test]
fn every_unsupported_or_unknown_key_is_refused_with_file_line_service_and_key() {
    let table = [
        (
            "services:\n  db:\n    image: x\n    devices: [\"/dev/fuse\"]\n",
            "docker-compose.yml:4: service db: `devices` is not supported by Slipway yet",
        ),
        (
            "services:\n  db:\n    image: x\n    imagee: y\n",
            "docker-compose.yml:4: service db: `imagee` is not a Compose key (did you mean `image`?)",
        ),
        ("services:\n  db:\n    image: x\n    container_name: db\n", "docker-compose.yml:4: service db: `container_name` cannot be used"),
        (
            "services:\n  db:\n    image: x\n    build: {context: ., ssh: [default]}\n",
            "docker-compose.yml:4: service db: `build.ssh` is not supported by Slipway yet",
        ),
        (
            "services:\n  db:\n    image: x\n    deploy: {replicas: 0}\n",
            "docker-compose.yml:4: service db: `deploy.replicas: 0` would deploy a service that never runs",
        ),
        (
            "services:\n  db:\n    image: x\n    volumes: [data:/d]\n    deploy:\n      replicas: 2\nvolumes: {data: {}}\n",
            "docker-compose.yml:6: service db: 2 replicas would run 2 containers on one writable volume",
        ),
        (
            "services:\n  web:\n    image: x\n    ports: [\"8080:80\"]\n    scale: 3\n",
            "docker-compose.yml:5: service web: 3 replicas cannot all publish host port 8080",
        ),
        ("services:\n  db:\n    image: x\n    volumes: [/data]\n", "docker-compose.yml:4: service db: the anonymous volume at /data"),
        (
            "services:\n  db:\n    image: x\n    volumes: [./data:/data]\n",
            "docker-compose.yml:4: service db: bind mount `./data` is a writable path in the repository",
        ),
        ("services:\n  db:\n    image: x\n    volumes: [nope:/data]\n", "docker-compose.yml:4: service db: volume `nope` is not declared"),
        (
            "include: [nowhere.yml]\nservices:\n  db: {image: x}\n",
            "docker-compose.yml:1: `include` names nowhere.yml, which is not in the repository",
        ),
        (
            "include: [{path: common.yml, env_file: other.env}]\nservices:\n  db: {image: x}\n",
            "docker-compose.yml:1: `env_file` on an include is not supported by Slipway yet",
        ),
        (
            "include: [common.yml]\nservices:\n  common: {image: x}\n",
            "docker-compose.yml:1: services common is defined both here and in an included file",
        ),
        (
            "include: [../up.yml]\nservices:\n  db: {image: x}\n",
            "docker-compose.yml:1: ../up.yml: an included file must be inside the repository",
        ),
        ("services:\n  db: {image: x}\nsurprise: 1\n", "docker-compose.yml:3: `surprise` is not a Compose key"),
        (
            "services:\n  db:\n    image: x\n    command: \"${DB_PW}\"\n",
            "docker-compose.yml:4: service db: `services.db.command` uses a Slipway secret",
        ),
        ("services:\n  db:\n    image: x\n    networks: [back]\n", "docker-compose.yml:4: service db: network `back` is not declared"),
        ("services:\n  db:\n    image: x\n    restart: sometimes\n", "docker-compose.yml:4: service db: `restart` must be no, always"),
        (
            "secrets:\n  pw: {content: hunter2}\nservices:\n  db: {image: x}\n",
            "docker-compose.yml:2: secret pw: an inline secret would be stored",
        ),
    ];
    for (text, want) in table {
        let got = err(text);
        assert!(got.starts_with(want), "for\n{text}\ngot:  {got}\nwant: {want}…");
    }
}

#[test]
fn x_extensions_anchors_and_merges_are_honoured() {
    let text = "x-common: &common\n  image: base\n  environment: {A: \"1\"}\nservices:\n  a:\n    <<: *common\n    x-note: kept\n  b:\n    <<: *common\n    image: other\n";
    let s = load_with("c.yml", text, &[], &[], "dev").unwrap();
    assert_eq!(s.services[0].image.as_deref(), Some("base"));
    assert_eq!(s.services[0].env["A"], "1");
    assert_eq!(s.services[1].image.as_deref(), Some("other"));
}

#[test]
fn a_service_runs_on_the_stages_its_profiles_name() {
    let text = "services:\n  app: {image: x}\n  debug: {image: y, profiles: [dev]}\n";
    assert_eq!(load_with("c.yml", text, &[], &[], "dev").unwrap().services.len(), 2);
    let prod = load_with("c.yml", text, &[], &[], "prod").unwrap();
    assert_eq!(prod.services.len(), 1);
    assert!(prod.notes.iter().any(|n| n.contains("service debug is not deployed on stage prod")), "{:?}", prod.notes);
}

#[test]
fn a_secret_is_a_template_in_the_environment_and_a_keychain_file_as_a_compose_secret() {
    let text = "secrets:\n  pw: {environment: DB_PW}\nservices:\n  db:\n    image: x\n    environment: [\"URL=postgres://u:${DB_PW}@db/x\", \"PLAIN=$$HOME\"]\n    secrets: [pw]\n";
    let s = load_with("c.yml", text, &[], &["DB_PW"], "dev").unwrap();
    let db = &s.services[0];
    assert_eq!(db.secret_env["URL"], "postgres://u:${DB_PW}@db/x");
    assert_eq!(db.env.get("URL"), None, "the value is never put together here");
    assert_eq!(db.env["PLAIN"], "$HOME");
    assert_eq!(db.files[0].target, "/run/secrets/pw");
    assert_eq!(db.files[0].source, FileSource::Secret("DB_PW".into()));
    assert!(!serde_json::to_string(&s).unwrap().contains("s3cret"));
}

#[test]
fn networks_aliases_configs_and_runtime_keys_are_read() {
    let text = r#"networks:
  back: {internal: true}
configs:
  conf: {file: ./app.conf}
services:
  api:
    image: x
    networks:
      back: {aliases: [api.internal]}
      default:
    configs: [{source: conf, target: /etc/app.conf}]
    command: echo "two words" three
    stop_grace_period: 1m
    ulimits: {nofile: {soft: 1024, hard: 2048}, nproc: 64}
    deploy: {resources: {limits: {cpus: "0.5", memory: 256m}}}
    tmpfs: /tmp
    healthcheck: {disable: true}
"#;
    let s = load_with("sub/compose.yaml", text, &[], &[], "dev").unwrap();
    let api = &s.services[0];
    assert_eq!(api.networks["back"], vec!["api.internal".to_string()]);
    assert!(api.networks.contains_key("default"));
    assert_eq!(s.networks["back"].name, "shop-dev-back");
    assert!(s.networks["back"].internal);
    assert_eq!(s.networks["default"].name, "slipway-i-shop-dev");
    assert_eq!(api.files[0].source, FileSource::Content("listen 80\n".into()));
    assert_eq!(api.command, Some(vec!["echo".into(), "two words".into(), "three".into()]));
    assert_eq!(api.runtime.stop_grace_secs, Some(60));
    assert_eq!(api.runtime.ulimits["nofile"], (1024, 2048));
    assert_eq!(api.runtime.ulimits["nproc"], (64, 64));
    assert_eq!((api.runtime.nano_cpus, api.runtime.memory), (Some(500_000_000), Some(256 << 20)));
    assert_eq!(api.mounts[0].kind, MountKind::Tmpfs);
    assert_eq!(api.healthcheck.as_ref().map(|h| h.test.clone()), Some(vec!["NONE".to_string()]));
    assert!(!api.stateful);
}

#[test]
fn a_shared_volume_extension_keeps_a_service_switchable() {
    let text = "volumes: {cache: {}}\nservices:\n  web:\n    image: x\n    ports: [\"80\"]\n    volumes: [cache:/cache]\n    x-slipway: {shared_volume: true}\n  ro:\n    image: x\n    volumes: [\"cache:/cache:ro\"]\n";
    let s = load_with("c.yml", text, &[], &[], "dev").unwrap();
    assert_eq!((s.services[0].stateful, s.services[0].port), (false, Some(80)));
    assert!(!s.services[1].stateful, "a read-only mount does not make a service stateful");
}

#[test]
fn reads_each_spelling_and_orders_by_dependencies() {
    let text = r#"services:
  web:
    build: .
    ports: ["80"]
    environment: [MODE=prod, EMPTY=]
    depends_on:
      db: {condition: service_healthy}
      worker: {condition: service_started}
  worker:
    image: busybox
    command: ["sh", "-c", "sleep 1000"]
    depends_on: [db]
  db:
    image: busybox
    environment: {PORT: 5432, DEBUG: true}
    healthcheck:
      test: ["CMD", "true"]
      interval: 1s
      timeout: 500ms
      start_period: 1m30s
volumes: {}
"#;
    let s = load_with("compose.yaml", text, &[], &[], "dev").unwrap();
    let names: Vec<&str> = s.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["db", "worker", "web"]);
    let web = &s.services[2];
    assert_eq!(web.port, Some(80));
    assert_eq!(web.build, Some((".".into(), "Dockerfile".into())));
    assert_eq!(web.env.get("MODE").map(String::as_str), Some("prod"));
    assert_eq!(web.depends_on[0], Dependency { service: "db".into(), condition: "service_healthy".into() });
    let db = &s.services[0];
    assert_eq!((db.env["PORT"].as_str(), db.env["DEBUG"].as_str()), ("5432", "true"));
    let h = db.healthcheck.as_ref().unwrap();
    assert_eq!((h.interval_ms, h.timeout_ms, h.start_period_ms), (1000, 500, 90_000));
}

#[test]
fn refuses_cycles_and_unknown_dependencies() {
    let cyc = "services:\n  a: {image: x, depends_on: [b]}\n  b: {image: x, depends_on: [a]}\n";
    assert!(err(cyc).contains("cycle among a, b"));
    assert!(err("services:\n  a: {image: x, depends_on: [nope]}\n").contains("depends on nope"));
    assert!(err("services:\n  a: {ports: [80]}\n").contains("needs an image or a build"));
}

#[test]
fn a_secret_file_of_the_repository_goes_to_the_keychain_and_a_read_only_bind_is_copied_in() {
    let text =
        "secrets:\n  pw: {file: ./pw.txt}\nservices:\n  db:\n    image: x\n    secrets: [pw]\n    volumes: [\"./conf:/etc/app:ro\"]\n";
    let env = BTreeMap::new();
    let read = |p: &str| Ok(if p == "sub/pw.txt" { Some("hunter2\n".to_string()) } else { None });
    let under = |p: &str| if p == "sub/conf" { Ok(vec![("a.conf".to_string(), "a\n".to_string())]) } else { Err(format!("no {p}")) };
    let input = Input {
        file: "sub/compose.yaml",
        text,
        read: &read,
        files_under: &under,
        overrides: &[],
        env: &env,
        secrets: &[],
        stage: "dev",
        project: "shop",
        network: "n",
    };
    let loaded = load(&input).unwrap();
    let db = &loaded.stack.services[0];
    let FileSource::Keychain(key) = &db.files.iter().find(|f| f.target == "/run/secrets/pw").unwrap().source else {
        panic!("{:?}", db.files)
    };
    assert!(key.starts_with("compose-secret:shop-dev:pw:"), "{key}");
    assert_eq!(loaded.keychain[key], "hunter2\n");
    assert!(!serde_json::to_string(&loaded.stack).unwrap().contains("hunter2"), "the release never holds the secret");
    let conf = db.files.iter().find(|f| f.target == "/etc/app/a.conf").unwrap();
    assert_eq!(conf.source, FileSource::Content("a\n".into()));
    assert_eq!(db.mounts[0].kind, MountKind::Repo);
}

#[test]
fn extends_and_a_later_file_merge_as_compose_merges() {
    let text = "services:\n  web:\n    extends: {service: common, file: common.yml}\n    environment: [B=2]\n  worker:\n    extends: web\n    command: [work]\n";
    let prod = ("compose.prod.yaml".to_string(), "services:\n  web:\n    environment: {A: prod}\n    ports: [\"81\"]\n".to_string());
    let s = load_over(text, &[prod]).unwrap().stack;
    let web = s.services.iter().find(|x| x.name == "web").unwrap();
    assert_eq!(web.image.as_deref(), Some("base"), "from the extended service in common.yml");
    assert_eq!((web.env["A"].as_str(), web.env["B"].as_str()), ("prod", "2"), "the later file wins");
    assert_eq!(web.port, Some(80));
    assert_eq!(web.runtime.expose, vec!["81/tcp".to_string()], "ports appended: the second is exposed");
    let worker = s.services.iter().find(|x| x.name == "worker").unwrap();
    assert_eq!((worker.image.as_deref(), worker.command.clone()), (Some("base"), Some(vec!["work".to_string()])));
    let bad = "services:\n  a:\n    extends: b\n  b:\n    extends: a\n";
    assert!(load_over(bad, &[]).unwrap_err().to_string().contains("more than 10 deep"));
    let later = [("compose.prod.yaml".to_string(), "services:\n  web:\n    devices: [x]\n".to_string())];
    assert_eq!(
        load_over(text, &later).unwrap_err().to_string(),
        "compose.prod.yaml:3: service web: `devices` is not supported by Slipway yet"
    );
}

#[test]
fn a_later_file_resets_or_overrides_with_composes_tags_and_any_other_tag_is_refused() {
    let text = "services:\n  web:\n    image: w\n    ports: [\"80\", \"8081:81\"]\n    environment: {A: \"1\", B: \"2\"}\n";
    let prod =
        ("compose.prod.yaml".to_string(), "services:\n  web:\n    ports: !override [\"80\"]\n    environment: !reset {}\n".to_string());
    let s = load_over(text, &[prod]).unwrap().stack;
    let web = &s.services[0];
    assert_eq!(web.port, Some(80));
    assert!(web.published.is_empty(), "the published 8081 went with the override: {:?}", web.published);
    assert!(web.env.is_empty(), "environment reset: {:?}", web.env);
    let tagged = "services:\n  web:\n    image: !env IMG\n";
    assert_eq!(
        load_over(tagged, &[]).unwrap_err().to_string(),
        "compose.yaml: `!env` on `services.web.image` is not a Compose tag: Compose knows `!reset` and `!override` only"
    );
}

#[test]
fn an_included_file_adds_its_services_with_paths_read_from_its_own_directory() {
    // `back` is defined the same way on both sides: Compose takes it as one network.
    let text = "include:\n  - db/compose.yaml\nservices:\n  web:\n    image: w\n    depends_on: [db]\n    networks: [back]\nnetworks:\n  back: {internal: true}\n";
    let read = |p: &str| {
        Ok(match p {
            "db/compose.yaml" => Some(
                "services:\n  db:\n    build: ./image\n    env_file: [db.env, {path: extra.env, required: true}]\n    \
                 volumes: [\"data:/var/lib/db\", {type: bind, source: ./conf, target: /etc/db, read_only: true}]\n    \
                 networks: [back]\nvolumes:\n  data: {}\nnetworks:\n  back: {internal: true}\n"
                    .to_string(),
            ),
            "db/db.env" => Some("POSTGRES_DB=shop\n".to_string()),
            "db/extra.env" => Some("EXTRA=1\n".to_string()),
            _ => None,
        })
    };
    let under =
        |p: &str| if p == "db/conf" { Ok(vec![("db.conf".to_string(), "x=1\n".to_string())]) } else { Err(format!("{p} is not there")) };
    let env = BTreeMap::new();
    let input = Input {
        file: "docker-compose.yml",
        text,
        read: &read,
        files_under: &under,
        overrides: &[],
        env: &env,
        secrets: &[],
        stage: "dev",
        project: "shop",
        network: "n",
    };
    let stack = load(&input).unwrap().stack;
    let names: Vec<&str> = stack.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["db", "web"], "in dependency order");
    let db = &stack.services[0];
    assert_eq!(db.build.as_ref().map(|b| b.0.as_str()), Some("./db/image"), "read from db/: {:?}", db.build);
    assert_eq!(db.env.get("POSTGRES_DB").map(String::as_str), Some("shop"), "its env_file is read from db/: {:?}", db.env);
    assert_eq!(db.env.get("EXTRA").map(String::as_str), Some("1"), "the long form too: {:?}", db.env);
    assert!(db.files.iter().any(|f| f.target == "/etc/db/db.conf"), "the long-form bind's source is read from db/: {:?}", db.files);
    assert_eq!(stack.networks.get("back").map(|n| n.internal), Some(true));
    assert!(db.stateful, "its named volume makes it stateful");
    assert_eq!(stack.volumes.get("data").map(|v| v.name.as_str()), Some("shop-dev-data"), "{:?}", stack.volumes);
}

#[test]
fn replicas_run_several_containers_of_a_service_that_can_have_them() {
    let text = "services:\n  web:\n    image: w\n    ports: [\"80\"]\n    deploy: {replicas: 3}\n  worker:\n    image: w\n    scale: 2\n  \
                one:\n    image: w\n    deploy: {replicas: 1}\n  shared:\n    image: w\n    volumes: [data:/d]\n    scale: 2\n    \
                x-slipway: {shared_volume: true}\n  range:\n    image: w\n    ports: [\"8000-8002:80\"]\n    scale: 3\nvolumes: {data: {}}\n";
    let stack = load_over(text, &[]).unwrap().stack;
    let replicas = |n: &str| stack.services.iter().find(|s| s.name == n).unwrap().runtime.replicas;
    assert_eq!(replicas("web"), Some(3));
    assert_eq!(replicas("worker"), Some(2), "`scale` is the same key");
    assert_eq!(replicas("one"), None, "one is kept as none, as releases stored before replicas read");
    assert_eq!(replicas("shared"), Some(2), "a volume marked shared may be used by several");
    assert_eq!(replicas("range"), Some(3), "a host port range can hold several");
}
