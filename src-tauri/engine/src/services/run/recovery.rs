//! A Docker host that comes back. When a host's engine restarts (or its network drops) in the
//! middle of a deploy, the deploy fails, and its own clean-up fails with it: the host cannot
//! be reached to remove what was started. Docker then starts those containers again with the
//! host (they have a restart policy), beside the live release. So the runner watches host
//! status, and once a host answers again after it was seen unreachable, and no run is
//! executing, it puts that host back in order the way a start does after a crash.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast::error::RecvError;

use crate::domain::events::EngineEvent;
use crate::domain::host::{came_back, HostState, LOCAL_ID};

use super::{remove_leftovers, Runner};

/// Hosts that came back and wait for the runner to be idle.
#[derive(Clone, Default)]
pub(super) struct Returned(Arc<Mutex<BTreeSet<String>>>);

impl Runner {
    /// Follows host status changes until the engine stops, noting the hosts that came back.
    pub(super) fn watch_hosts(&self) {
        let (runner, mut rx, mut stop) = (self.clone(), self.events.subscribe(), self.shutdown.subscribe());
        tokio::spawn(async move {
            let mut last: HashMap<String, HostState> = HashMap::new();
            loop {
                let event = tokio::select! {
                    _ = stop.changed() => return,
                    got = rx.recv() => got,
                };
                let status = match event {
                    Ok(EngineEvent::HostStatusChanged { status }) => status,
                    Ok(_) | Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return,
                };
                if came_back(last.insert(status.host_id.clone(), status.state), status.state) {
                    tracing::info!(host = %status.host_id, "host answers again: it is put back in order once no run is executing");
                    runner.returned.0.lock().unwrap().insert(status.host_id);
                    runner.wake.wake();
                }
            }
        });
    }

    /// Puts the hosts that came back in order. Called only while no run is executing (a
    /// run's containers would look like leftovers): until then they wait.
    pub(super) async fn recover_returned_hosts(&self) {
        let hosts = std::mem::take(&mut *self.returned.0.lock().unwrap());
        for host in hosts {
            let kit = &self.kit;
            if host == LOCAL_ID {
                // Steps and builds run on the engine's own Docker host.
                if let Ok(docker) = kit.hosts.docker_for(None).await {
                    remove_leftovers(&docker, kit.instance_id()).await;
                }
            }
            match crate::services::deploy::reconcile_host_again(kit, &host).await {
                Ok(()) => tracing::info!(host = %host, "host put back in order after it came back"),
                Err(e) => tracing::warn!(host = %host, "could not put the host back in order: {e}"),
            }
        }
    }
}
