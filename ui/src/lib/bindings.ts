// Generated from the Rust types by `./scripts/gen-types`. Do not edit by hand:
// the engine's `bindings` test fails when this file is stale.

export type ErrorCode = "store_corrupt" | "store_too_new" | "store" | "docker_unreachable" | "keychain_unavailable" | "keychain" | "listener_bind" | "unauthorized" | "not_found" | "invalid_input" | "io" | "internal";

export type ApiError = { code: ErrorCode, message: string, };

export type DockerStatus = { 
/**
 * The endpoint probed, e.g. `unix:///var/run/docker.sock`.
 */
endpoint: string, reachable: boolean, 
/**
 * Engine version (e.g. `20.10.24`) when reachable.
 */
version: string | null, api_version: string | null, 
/**
 * Why the engine is unreachable, naming the endpoint.
 */
error: string | null, latency_ms: number | null, };

export type EngineStatus = { version: string, pid: number, data_dir: string, store_path: string, schema_version: number, 
/**
 * Base URL of the local listener (API and webhooks), when it is listening.
 */
listener: string | null, 
/**
 * Why the listener is not listening, when it is not.
 */
listener_error: string | null, docker: DockerStatus, auto_deploy_paused: boolean, };

export type EngineEvent = { "type": "auto_deploy_changed", paused: boolean, } | { "type": "shutting_down" };

export type AutoDeploy = { paused: boolean, };
