//! The Hosts view's streams (container logs and stats, host events): each goes through a
//! channel until the engine's stream ends or the view stops it; their error rejects the
//! command's promise. The host and container operations go through [`crate::commands::call`].

use std::collections::HashMap;
use std::future::Future;
use std::sync::{LazyLock, Mutex};

use slipway_protocol::container::{ContainerLogLine, ContainerStats, HostEvent};
use slipway_protocol::ops;
use tauri::ipc::Channel;
use tauri::State;
use tokio::sync::oneshot;

use crate::commands::Answer;
use crate::AppState;

/// Streams the view has open, by the id it chose: a follow runs until the container stops, so
/// the view ends it with [`stop_stream`] when it looks elsewhere.
static STREAMS: LazyLock<Mutex<HashMap<String, oneshot::Sender<()>>>> = LazyLock::new(Default::default);

async fn until_stopped(stream_id: String, work: impl Future<Output = slipway_protocol::Result<()>>) -> Answer<()> {
    let (stop, stopped) = oneshot::channel();
    STREAMS.lock().unwrap().insert(stream_id.clone(), stop);
    let result = tokio::select! {
        r = work => r,
        _ = stopped => Ok(()),
    };
    STREAMS.lock().unwrap().remove(&stream_id);
    result
}

#[tauri::command]
pub fn stop_stream(stream_id: String) {
    if let Some(stop) = STREAMS.lock().unwrap().remove(&stream_id) {
        let _ = stop.send(());
    }
}

#[tauri::command]
pub async fn follow_container_logs(
    state: State<'_, AppState>,
    host: String,
    container: String,
    tail: Option<u32>,
    stream_id: String,
    on_item: Channel<Vec<ContainerLogLine>>,
) -> Answer<()> {
    let path = ops::streams::container_logs(&host, &container, tail, true);
    until_stopped(stream_id, state.client()?.stream(&path, |batch| on_item.send(batch).is_ok())).await
}

#[tauri::command]
pub async fn follow_container_stats(
    state: State<'_, AppState>,
    host: String,
    container: String,
    stream_id: String,
    on_item: Channel<ContainerStats>,
) -> Answer<()> {
    let path = ops::streams::container_stats(&host, &container);
    until_stopped(stream_id, state.client()?.stream(&path, |batch: Vec<ContainerStats>| batch.into_iter().all(|s| on_item.send(s).is_ok())))
        .await
}

#[tauri::command]
pub async fn follow_host_events(state: State<'_, AppState>, host: String, stream_id: String, on_item: Channel<HostEvent>) -> Answer<()> {
    let path = ops::streams::host_events(&host);
    until_stopped(stream_id, state.client()?.stream(&path, |batch: Vec<HostEvent>| batch.into_iter().all(|e| on_item.send(e).is_ok())))
        .await
}
