//! A network of a step's own, joined by one other container: after-deploy checks reach the
//! release they check and nothing else of the host (the edge's network holds every project).

use super::*;
use bollard::models::{NetworkConnectRequest, NetworkCreateRequest, NetworkDisconnectRequest};

/// Creates the bridge network `name` (with `labels`, for finding it after a crash) and
/// connects `container` to it.
pub async fn private_network(docker: &Docker, name: &str, labels: &HashMap<String, String>, container: &str) -> Result<(), ExecError> {
    let req =
        NetworkCreateRequest { name: name.to_string(), driver: Some("bridge".into()), labels: Some(labels.clone()), ..Default::default() };
    call(&format!("creating network {name}"), docker.create_network(req)).await?;
    let join = NetworkConnectRequest { container: container.to_string(), endpoint_config: None };
    call(&format!("connecting {container} to {name}"), docker.connect_network(name, join)).await
}

/// Disconnects whatever is still on network `name`, then removes it. Best effort: a network
/// left behind is found by its labels at the next start.
pub async fn remove_network(docker: &Docker, name: &str) {
    if let Ok(net) = docker.inspect_network(name, None::<bollard::query_parameters::InspectNetworkOptions>).await {
        for id in net.containers.unwrap_or_default().into_keys() {
            let leave = NetworkDisconnectRequest { container: id, force: Some(true) };
            let _ = bounded(docker.disconnect_network(name, leave)).await;
        }
    }
    let _ = bounded(docker.remove_network(name)).await;
}
