//! What more than one bench needs: the busybox image the Docker benches run.

use std::collections::HashMap;

use slipway_engine::adapters::docker::exec::{self, BuildSpec};

pub const IMAGE: &str = "slipway-test/busybox:latest";

/// Builds [`IMAGE`] FROM scratch with busybox-static unless the engine has it (no registry can
/// be reached here).
pub async fn ensure_image(docker: &bollard::Docker) {
    if docker.inspect_image(IMAGE).await.is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy("/bin/busybox", dir.path().join("busybox")).unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n",
    )
    .unwrap();
    let spec = BuildSpec {
        context_dir: dir.path().into(),
        dockerfile: "Dockerfile".into(),
        target: None,
        build_args: HashMap::new(),
        tag: IMAGE.into(),
        labels: HashMap::new(),
    };
    exec::build_image(docker, &spec, tokio::sync::watch::channel(false).1, |_| {}).await.unwrap();
}
