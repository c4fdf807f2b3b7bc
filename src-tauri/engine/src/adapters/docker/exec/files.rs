//! Files into a step's container before it starts and out of it after it ends, as tar
//! archives over the Docker API (for plugins: their input and output directories). They go
//! through the engine's connection to the host, never a network the step could reach.

use super::*;
use bollard::query_parameters::{DownloadFromContainerOptionsBuilder, UploadToContainerOptionsBuilder};

/// Unpacks `tar` at `/` in the (created, not started) container.
pub(super) async fn put(docker: &Docker, container: &str, tar: Vec<u8>) -> Result<(), ExecError> {
    let options = UploadToContainerOptionsBuilder::default().path("/").build();
    call(
        "putting the plugin's input into its container",
        docker.upload_to_container(container, Some(options), bollard::body_full(tar.into())),
    )
    .await
}

/// The directory `dir` of the (ended) container as a tar, refused once it passes `limit`
/// bytes: the read stops there, so a plugin that writes gigabytes costs no memory.
pub(super) async fn take_dir(docker: &Docker, container: &str, dir: &str, limit: usize) -> Result<Vec<u8>, String> {
    let options = DownloadFromContainerOptionsBuilder::default().path(dir).build();
    let mut stream = docker.download_from_container(container, Some(options));
    let mut out = Vec::new();
    let read = async {
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| format!("reading {dir} out of the step's container: {e}"))?;
            if out.len() + chunk.len() > limit {
                return Err(format!("{dir} holds more than {} KiB, the most a plugin may publish", limit / 1024));
            }
            out.extend_from_slice(&chunk);
        }
        Ok(())
    };
    match tokio::time::timeout(CALL_TIMEOUT, read).await {
        Ok(Ok(())) => Ok(out),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(format!("reading {dir} out of the step's container took longer than {} s", CALL_TIMEOUT.as_secs())),
    }
}
