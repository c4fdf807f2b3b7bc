//! What removing a project does on its Docker host. Its named volumes hold data, so they are
//! never removed unless the operator says so; when they are, the project's containers go first
//! (Docker refuses to remove a volume in use), then its routes on the edge and its networks,
//! then the volumes.

use std::collections::HashMap;

use bollard::query_parameters::{ListContainersOptionsBuilder, ListNetworksOptionsBuilder, ListVolumesOptionsBuilder};
use bollard::Docker;

use super::exec::{self, DeployError};
use super::job::Kit;
use crate::adapters::docker::containers::SLIPWAY_PROJECT_LABEL;
use crate::domain::project::Project;
use crate::domain::target::project_hosts;
use crate::services::INSTANCE_LABEL;

fn filters(instance: &str, project: &str) -> HashMap<String, Vec<String>> {
    HashMap::from([("label".to_string(), vec![format!("{INSTANCE_LABEL}={instance}"), format!("{SLIPWAY_PROJECT_LABEL}={project}")])])
}

/// The named volumes this engine created for `project` on its hosts, by name.
pub(crate) async fn volumes(kit: &Kit, project: &Project) -> Result<Vec<String>, DeployError> {
    let mut all = Vec::new();
    for host in project_hosts(project) {
        let docker = kit.docker_on(&host).await?;
        all.extend(volumes_on(&docker, kit.instance_id(), &project.id).await?);
    }
    all.sort();
    all.dedup();
    Ok(all)
}

async fn volumes_on(docker: &Docker, instance: &str, project: &str) -> Result<Vec<String>, DeployError> {
    let options = ListVolumesOptionsBuilder::default().filters(&filters(instance, project)).build();
    let list = exec::bounded("listing the project's volumes", docker.list_volumes(Some(options))).await?;
    let mut names: Vec<String> = list.volumes.unwrap_or_default().into_iter().map(|v| v.name).collect();
    names.sort();
    Ok(names)
}

/// Removes everything the project runs on its hosts: containers (every stage, every release),
/// routes, networks and the named volumes with their data. Returns the volumes removed.
pub(crate) async fn remove_all(kit: &Kit, project: &Project) -> Result<Vec<String>, DeployError> {
    let mut all = Vec::new();
    for host in project_hosts(project) {
        all.extend(remove_on(kit, project, &host).await?);
    }
    all.sort();
    all.dedup();
    Ok(all)
}

async fn remove_on(kit: &Kit, project: &Project, host: &str) -> Result<Vec<String>, DeployError> {
    let docker = kit.docker_on(host).await?;
    let instance = kit.instance_id();
    // Swarm services first: Swarm would start their tasks again. A host that is no Swarm
    // manager answers the list with an error, and has none.
    let options = bollard::query_parameters::ListServicesOptions { filters: Some(filters(instance, &project.id)), status: None };
    for service in docker.list_services(Some(options)).await.unwrap_or_default() {
        if let Some(name) = service.spec.and_then(|s| s.name) {
            exec::bounded(&format!("removing service {name}"), docker.delete_service(&name)).await?;
        }
    }
    let options = ListContainersOptionsBuilder::default().all(true).filters(&filters(instance, &project.id)).build();
    let containers = exec::bounded("listing the project's containers", docker.list_containers(Some(options))).await?;
    let names: Vec<String> =
        containers.iter().filter_map(|c| c.names.as_ref()?.first().map(|n| n.trim_start_matches('/').to_string())).collect();
    super::remove_all(&docker, &names).await;
    let edge = kit.routes().edge(&docker, instance, host);
    kit.routes().forget_project(&edge, &project.id).await?;
    let options = ListNetworksOptionsBuilder::default().filters(&filters(instance, &project.id)).build();
    let networks = exec::bounded("listing the project's networks", docker.list_networks(Some(options))).await?;
    for n in networks.iter().filter_map(|n| n.name.as_deref()) {
        // The edge joined the networks of the services it routed to.
        let leave = bollard::models::NetworkDisconnectRequest { container: edge.name.clone(), force: Some(true) };
        let _ = docker.disconnect_network(n, leave).await;
        exec::bounded(&format!("removing network {n}"), docker.remove_network(n)).await?;
    }
    let volumes = volumes_on(&docker, instance, &project.id).await?;
    for v in &volumes {
        let options = bollard::query_parameters::RemoveVolumeOptionsBuilder::default().force(false).build();
        exec::bounded(&format!("removing volume {v}"), docker.remove_volume(v, Some(options))).await?;
    }
    Ok(volumes)
}
