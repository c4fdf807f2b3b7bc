//! Image builds through the Docker API: the builder's errors, the context, cancelling.

use super::*;

#[tokio::test]
async fn a_failing_run_instruction_is_a_build_error_with_the_builders_message() {
    busybox().await;
    let docker = docker().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Dockerfile"), format!("FROM {BUSYBOX}\nRUN echo about to fail && exit 3\n")).unwrap();
    let spec = BuildSpec {
        context_dir: dir.path().to_path_buf(),
        dockerfile: "Dockerfile".into(),
        target: None,
        build_args: HashMap::new(),
        tag: format!("slipway-test/fails:{}", std::process::id()),
        labels: labels(),
    };
    let mut lines = Vec::new();
    let result = build_image(&docker, &spec, no_cancel(), |l| lines.push(l)).await;
    match result {
        Err(ExecError::Build(message)) => {
            assert_eq!(message, "The command '/bin/sh -c echo about to fail && exit 3' returned a non-zero code: 3");
        }
        other => panic!("expected a build error, got {other:?}\n{lines:#?}"),
    }
    assert!(texts(&lines, Stream::Stdout).contains(&"about to fail".to_string()), "{lines:#?}");
    assert!(texts(&lines, Stream::Stderr).iter().any(|l| l.contains("non-zero code: 3")), "{lines:#?}");
    assert!(docker.inspect_image(&spec.tag).await.is_err(), "no image is tagged");
}

#[tokio::test]
async fn the_context_honours_dockerignore_build_args_and_target() {
    busybox().await;
    let docker = docker().await;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::create_dir_all(p.join("docker")).unwrap();
    std::fs::write(
        p.join("docker/app.Dockerfile"),
        format!(
            "FROM {BUSYBOX} AS base\nARG FLAVOUR=plain\nCOPY . /ctx/\nRUN echo \"flavour=$FLAVOUR\" && cd /ctx && find . -type f | sort\n\
             FROM base AS test\nRUN echo in-test-stage\n\
             FROM base AS release\nRUN echo in-release-stage\n"
        ),
    )
    .unwrap();
    std::fs::write(p.join(".dockerignore"), "# comment\n*.log\nnode_modules\n**/secret*\n!keep.log\ndocker\n").unwrap();
    for file in ["keep.log", "drop.log", "src/main.rs", "src/secret.txt", "node_modules/x/index.js", ".git/HEAD"] {
        let path = p.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "x").unwrap();
    }
    let spec = BuildSpec {
        context_dir: p.to_path_buf(),
        dockerfile: "docker/app.Dockerfile".into(),
        target: Some("test".into()),
        build_args: HashMap::from([("FLAVOUR".to_string(), "spicy".to_string())]),
        tag: format!("slipway-test/context:{}", std::process::id()),
        labels: labels(),
    };
    let mut lines = Vec::new();
    let id = build_image(&docker, &spec, no_cancel(), |l| lines.push(l)).await.unwrap_or_else(|e| panic!("{e}\n{lines:#?}"));
    let out = texts(&lines, Stream::Stdout);
    let files: Vec<&str> = out.iter().filter(|l| l.starts_with("./")).map(String::as_str).collect();
    // The Dockerfile is sent although `docker` excludes it (else the build could not start);
    // the daemon itself then drops it from the context, as `docker build` users know it.
    assert_eq!(files, ["./.dockerignore", "./keep.log", "./src/main.rs"], "{out:#?}");
    assert!(out.contains(&"flavour=spicy".to_string()), "{out:#?}");
    assert!(out.contains(&"in-test-stage".to_string()), "{out:#?}");
    assert!(!out.contains(&"in-release-stage".to_string()), "{out:#?}");
    let image = docker.inspect_image(&spec.tag).await.unwrap();
    assert_eq!(image.id.as_deref(), Some(id.as_str()));
    remove_image(&docker, &spec.tag).await;
}

#[tokio::test]
async fn a_cancelled_build_stops_promptly() {
    busybox().await;
    let docker = docker().await;
    let dir = tempfile::tempdir().unwrap();
    let marker = format!("building-{}", std::process::id());
    std::fs::write(dir.path().join("Dockerfile"), format!("FROM {BUSYBOX}\nRUN echo {marker} && sleep 30\n")).unwrap();
    let spec = BuildSpec {
        context_dir: dir.path().to_path_buf(),
        dockerfile: String::new(),
        target: None,
        build_args: HashMap::new(),
        tag: format!("slipway-test/cancelled:{}", std::process::id()),
        labels: labels(),
    };
    let (cancel, cancelled) = watch::channel(false);
    let mut sent_at = None;
    let mut lines = Vec::new();
    let result = build_image(&docker, &spec, cancelled, |l| {
        if l.text == marker && sent_at.is_none() {
            sent_at = Some(Instant::now());
            cancel.send(true).unwrap();
        }
        lines.push(l);
    })
    .await;
    let took = sent_at.expect("the RUN started").elapsed();
    eprintln!("cancelled build returned {took:?} after the cancel");
    assert!(matches!(result, Err(ExecError::Cancelled)), "{result:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert!(docker.inspect_image(&spec.tag).await.is_err());
    // The daemon notices the closed request and removes the RUN's container itself.
    let started = Instant::now();
    loop {
        let options = bollard::query_parameters::ListContainersOptionsBuilder::default().all(true).build();
        let containers = docker.list_containers(Some(options)).await.unwrap();
        let left = containers.iter().any(|c| c.command.as_deref().unwrap_or("").contains(&marker));
        if !left {
            eprintln!("the daemon removed the build's container {:?} after the cancel", started.elapsed());
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "the RUN container is still there");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
