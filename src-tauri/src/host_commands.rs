//! Tauri commands for Docker hosts and their containers: thin adapters into the engine. Streams
//! (logs, stats, events) go through a channel until the engine's stream ends or the view closes
//! the channel; their error rejects the command's promise.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{LazyLock, Mutex};

use slipway_engine::containers::{drive, ContainerAction, ContainerGroup, ContainerInfo, ContainerLogLine, ContainerStats, HostEvent};
use slipway_engine::hostpool::HostEntry;
use slipway_engine::hosts::{ContextImport, Host, HostInput, HostTest};
use slipway_engine::ApiError;
use tauri::ipc::Channel;
use tauri::State;
use tokio::sync::{mpsc, oneshot};

use crate::commands::guard;
use crate::AppState;

#[tauri::command]
pub async fn list_hosts(state: State<'_, AppState>) -> Result<Vec<HostEntry>, ApiError> {
    let engine = state.engine()?;
    guard(async move { engine.hosts().await }).await
}

#[tauri::command]
pub async fn create_host(state: State<'_, AppState>, host: HostInput) -> Result<Host, ApiError> {
    let engine = state.engine()?;
    guard(async move { engine.create_host(host).await }).await
}

#[tauri::command]
pub async fn update_host(state: State<'_, AppState>, id: String, host: HostInput) -> Result<Host, ApiError> {
    let engine = state.engine()?;
    guard(async move { engine.update_host(&id, host).await }).await
}

#[tauri::command]
pub async fn delete_host(state: State<'_, AppState>, id: String) -> Result<(), ApiError> {
    let engine = state.engine()?;
    guard(async move { engine.delete_host(&id).await }).await
}

#[tauri::command]
pub async fn test_host(state: State<'_, AppState>, id: String) -> Result<HostTest, ApiError> {
    let engine = state.engine()?;
    guard(async move { engine.test_host(&id).await }).await
}

#[tauri::command]
pub async fn import_docker_contexts(state: State<'_, AppState>) -> Result<ContextImport, ApiError> {
    let engine = state.engine()?;
    guard(async move { engine.import_docker_contexts().await }).await
}

#[tauri::command]
pub async fn list_containers(state: State<'_, AppState>, host: String) -> Result<Vec<ContainerGroup>, ApiError> {
    let engine = state.engine()?;
    guard(async move { engine.containers(&host).await }).await
}

#[tauri::command]
pub async fn inspect_container(state: State<'_, AppState>, host: String, container: String) -> Result<ContainerInfo, ApiError> {
    let engine = state.engine()?;
    guard(async move { engine.container(&host, &container).await }).await
}

#[tauri::command]
pub async fn container_action(state: State<'_, AppState>, host: String, container: String, action: ContainerAction, force: bool) -> Result<(), ApiError> {
    let engine = state.engine()?;
    guard(async move { engine.container_action(&host, &container, action, None, force).await }).await
}

/// Streams the view has open, by the id it chose: a follow runs until the container stops, so
/// the view ends it with [`stop_stream`] when it looks elsewhere.
static STREAMS: LazyLock<Mutex<HashMap<String, oneshot::Sender<()>>>> = LazyLock::new(Default::default);

async fn until_stopped(stream_id: String, work: impl Future<Output = slipway_engine::Result<()>>) -> slipway_engine::Result<()> {
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
pub async fn follow_container_logs(state: State<'_, AppState>, host: String, container: String, tail: Option<u32>, stream_id: String, on_item: Channel<Vec<ContainerLogLine>>) -> Result<(), ApiError> {
    let engine = state.engine()?;
    let (tx, rx) = mpsc::channel(16);
    guard(until_stopped(stream_id, async move { drive(engine.container_logs(&host, &container, tail, true, tx), rx, |b| on_item.send(b).is_ok()).await })).await
}

#[tauri::command]
pub async fn follow_container_stats(state: State<'_, AppState>, host: String, container: String, stream_id: String, on_item: Channel<ContainerStats>) -> Result<(), ApiError> {
    let engine = state.engine()?;
    let (tx, rx) = mpsc::channel(4);
    guard(until_stopped(stream_id, async move { drive(engine.container_stats(&host, &container, None, tx), rx, |s| on_item.send(s).is_ok()).await })).await
}

#[tauri::command]
pub async fn follow_host_events(state: State<'_, AppState>, host: String, stream_id: String, on_item: Channel<HostEvent>) -> Result<(), ApiError> {
    let engine = state.engine()?;
    let (tx, rx) = mpsc::channel(64);
    guard(until_stopped(stream_id, async move { drive(engine.host_events(&host, tx), rx, |e| on_item.send(e).is_ok()).await })).await
}
