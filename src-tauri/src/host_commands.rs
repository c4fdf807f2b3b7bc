//! Tauri commands for Docker hosts and their containers: thin adapters to the engine's API.
//! Streams (logs, stats, events) go through a channel until the engine's stream ends or the view
//! stops it; their error rejects the command's promise.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{LazyLock, Mutex};

use serde_json::json;
use slipway_engine::http::client::seg;
use slipway_engine::adapters::docker::containers::{ContainerAction, ContainerGroup, ContainerInfo, ContainerLogLine, ContainerStats, HostEvent};
use slipway_engine::services::hosts::HostEntry;
use slipway_engine::domain::host::{ContextImport, Host, HostInput, HostTest};
use tauri::ipc::Channel;
use tauri::State;
use tokio::sync::oneshot;

use crate::commands::Answer;
use crate::AppState;

#[tauri::command]
pub async fn list_hosts(state: State<'_, AppState>) -> Answer<Vec<HostEntry>> {
    Ok(state.client()?.get("/hosts").await?)
}

#[tauri::command]
pub async fn create_host(state: State<'_, AppState>, host: HostInput) -> Answer<Host> {
    Ok(state.client()?.post("/hosts", json!(host)).await?)
}

#[tauri::command]
pub async fn update_host(state: State<'_, AppState>, id: String, host: HostInput) -> Answer<Host> {
    Ok(state.client()?.put(&format!("/hosts/{}", seg(&id)), json!(host)).await?)
}

#[tauri::command]
pub async fn delete_host(state: State<'_, AppState>, id: String) -> Answer<()> {
    Ok(state.client()?.delete(&format!("/hosts/{}", seg(&id))).await?)
}

#[tauri::command]
pub async fn test_host(state: State<'_, AppState>, id: String) -> Answer<HostTest> {
    Ok(state.client()?.test_host(&id).await?)
}

#[tauri::command]
pub async fn import_docker_contexts(state: State<'_, AppState>) -> Answer<ContextImport> {
    Ok(state.client()?.import_docker_contexts().await?)
}

#[tauri::command]
pub async fn list_containers(state: State<'_, AppState>, host: String) -> Answer<Vec<ContainerGroup>> {
    Ok(state.client()?.get(&format!("/hosts/{}/containers", seg(&host))).await?)
}

#[tauri::command]
pub async fn inspect_container(state: State<'_, AppState>, host: String, container: String) -> Answer<ContainerInfo> {
    Ok(state.client()?.get(&format!("/hosts/{}/containers/{}", seg(&host), seg(&container))).await?)
}

#[tauri::command]
pub async fn container_action(state: State<'_, AppState>, host: String, container: String, action: ContainerAction, force: bool) -> Answer<()> {
    let action = serde_json::to_value(action).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    Ok(state.client()?.post(&format!("/hosts/{}/containers/{}/{action}?force={force}", seg(&host), seg(&container)), json!({})).await?)
}

/// Streams the view has open, by the id it chose: a follow runs until the container stops, so
/// the view ends it with [`stop_stream`] when it looks elsewhere.
static STREAMS: LazyLock<Mutex<HashMap<String, oneshot::Sender<()>>>> = LazyLock::new(Default::default);

async fn until_stopped(stream_id: String, work: impl Future<Output = slipway_engine::Result<()>>) -> Answer<()> {
    let (stop, stopped) = oneshot::channel();
    STREAMS.lock().unwrap().insert(stream_id.clone(), stop);
    let result = tokio::select! {
        r = work => r,
        _ = stopped => Ok(()),
    };
    STREAMS.lock().unwrap().remove(&stream_id);
    Ok(result?)
}

#[tauri::command]
pub fn stop_stream(stream_id: String) {
    if let Some(stop) = STREAMS.lock().unwrap().remove(&stream_id) {
        let _ = stop.send(());
    }
}

#[tauri::command]
pub async fn follow_container_logs(state: State<'_, AppState>, host: String, container: String, tail: Option<u32>, stream_id: String, on_item: Channel<Vec<ContainerLogLine>>) -> Answer<()> {
    let tail = tail.map(|t| format!("&tail={t}")).unwrap_or_default();
    let path = format!("/hosts/{}/containers/{}/logs?follow=true{tail}", seg(&host), seg(&container));
    until_stopped(stream_id, state.client()?.stream(&path, |batch| on_item.send(batch).is_ok())).await
}

#[tauri::command]
pub async fn follow_container_stats(state: State<'_, AppState>, host: String, container: String, stream_id: String, on_item: Channel<ContainerStats>) -> Answer<()> {
    let path = format!("/hosts/{}/containers/{}/stats", seg(&host), seg(&container));
    until_stopped(stream_id, state.client()?.stream(&path, |batch: Vec<ContainerStats>| batch.into_iter().all(|s| on_item.send(s).is_ok()))).await
}

#[tauri::command]
pub async fn follow_host_events(state: State<'_, AppState>, host: String, stream_id: String, on_item: Channel<HostEvent>) -> Answer<()> {
    let path = format!("/hosts/{}/events", seg(&host));
    until_stopped(stream_id, state.client()?.stream(&path, |batch: Vec<HostEvent>| batch.into_iter().all(|e| on_item.send(e).is_ok()))).await
}
