// Generated from the Rust types by `./scripts/gen-types`. Do not edit by hand:
// the engine's `bindings` test fails when this file is stale.

export type ErrorCode = "store_corrupt" | "store_too_new" | "store" | "docker_unreachable" | "keychain_unavailable" | "keychain" | "listener_bind" | "unauthorized" | "not_found" | "invalid_input" | "payload_too_large" | "unsupported_media_type" | "git" | "io" | "internal" | "host_unreachable" | "host_incompatible";

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

export type EngineStatus = { version: string, 
/**
 * Names this installation's containers and volumes on shared Docker hosts.
 */
instance_id: string, pid: number, data_dir: string, store_path: string, schema_version: number, 
/**
 * Base URL of the local listener (API and webhooks), when it is listening.
 */
listener: string | null, 
/**
 * Why the listener is not listening, when it is not.
 */
listener_error: string | null, docker: DockerStatus, auto_deploy_paused: boolean, 
/**
 * Queued runs wait (host maintenance, say) until the hold is released.
 */
runs_held: boolean, };

export type EngineEvent = { "type": "auto_deploy_changed", paused: boolean, } | { "type": "projects_changed" } | { "type": "run_changed", run_id: number, } | { "type": "delivery_recorded", id: number, project_id: string | null, outcome: Outcome, } | { "type": "hosts_changed" } | { "type": "host_status_changed", status: HostStatus, } | { "type": "shutting_down" };

export type AutoDeploy = { paused: boolean, };

export type WebhookInfo = { project_id: string, 
/**
 * None while the listener is not listening.
 */
url: string | null, secret: string, };

export type ForgeAccount = { name: string, forge: Forge, 
/**
 * API root for commit statuses (e.g. https://api.github.com); None for the forge's default.
 */
api_base: string | null, 
/**
 * User for HTTPS clones; None for the forge's convention (x-access-token, oauth2, …).
 */
username: string | null, };

export type ImportResult = { project: Project, created: boolean, 
/**
 * Things the operator should know (stages kept that the file no longer has).
 */
notes: Array<string>, };

export type Forge = "github" | "gitlab" | "gitea" | "forgejo" | "bitbucket" | "git";

export type Strategy = "recreate" | "blue-green" | "rolling" | "canary";

export type Stage = { name: string, 
/**
 * Branches whose pushes deploy here; default `["main"]`.
 */
branch_patterns: Array<string>, 
/**
 * Tags whose pushes deploy here, e.g. `["v*"]`.
 */
tag_patterns: Array<string>, 
/**
 * Whether pull/merge request events deploy here (opt-in: PRs can come from forks).
 */
pr_events: boolean, 
/**
 * Off: matching pushes are recorded and wait for a manual deploy.
 */
auto_deploy: boolean, productive: boolean, promote_from: string | null, confirm: boolean, strategy: Strategy, };

export type Project = { 
/**
 * URL-safe id derived from the name; the webhook URL is `/hooks/<id>`.
 */
id: string, name: string, repo_url: string, forge: Forge, 
/**
 * Name of the forge account whose token (in the keychain) clones and polls this repository.
 */
token_ref: string | null, host_id: string | null, 
/**
 * Poll the repository every this many seconds (and at start); None turns polling off.
 */
poll_interval_secs: number | null, stages: Array<Stage>, 
/**
 * An image repository (`registry.example.com/team/web`) whose tags deploy prebuilt images.
 */
image_repo: string | null, 
/**
 * Name of the keychain entry (`registry:<name>`) with the registry's `user:password`.
 */
registry_account: string | null, created_at: number, last_poll_at: number | null, last_poll_error: string | null, };

export type NewProject = { name: string, repo_url: string, forge: Forge, token_ref: string | null, poll_interval_secs: number | null, 
/**
 * Default: one `dev` stage fed by `main`.
 */
stages: Array<Stage>, image_repo?: string | null, registry_account?: string | null, };

export type Outcome = "queued" | "ignored" | "duplicate" | "rejected";

export type Verdict = { outcome: Outcome, 
/**
 * The inbox row recording this delivery.
 */
delivery: number, 
/**
 * Runs queued for it, or for duplicates the runs it duplicates.
 */
run_ids: number[], reason: string, };

export type Delivery = { id: number, project_id: string | null, provider: string | null, event: string | null, delivery_id: string | null, ref_name: string | null, commit_sha: string | null, outcome: Outcome, http_status: number, reason: string | null, run_id: number | null, received_at: number, duration_us: number | null, };

export type RunSummary = { id: number, project_id: string, stage: string, trigger: string, status: string, commit_sha: string | null, ref_name: string | null, reason: string | null, delivery_id: number | null, queued_at: number, };

export type StepInfo = { id: number, position: number, name: string, kind: string, status: string, exit_code: number | null, message: string | null, started_at: number | null, finished_at: number | null, };

export type RunDetail = { run: RunSummary, steps: Array<StepInfo>, config_source: string | null, image: string | null, started_at: number | null, finished_at: number | null, };

export type LogLine = { run_id: number, 
/**
 * Order within the run, from 1.
 */
seq: number, step_id: number | null, 
/**
 * `stdout`, `stderr` or `system` (Slipway's own lines).
 */
stream: string, ts: number, line: string, };

export type RunStarted = { run_id: number, };

export type RunnerHold = { held: boolean, };

export type HostKind = "local" | "tcp" | "ssh";

export type Host = { id: string, name: string, kind: HostKind, 
/**
 * `unix:///var/run/docker.sock`, `tcp://10.0.0.5:2376`, `ssh://deploy@box:22`.
 */
endpoint: string, 
/**
 * Paths to PEM files, as `docker --tlscacert/--tlscert/--tlskey` take them.
 */
tls_ca: string | null, tls_cert: string | null, tls_key: string | null, created_at: number, updated_at: number, };

export type HostInput = { name: string, kind: HostKind, endpoint: string, tls_ca: string | null, tls_cert: string | null, tls_key: string | null, };

export type HostTest = { host_id: string, engine_version: string | null, api_version: string | null, os: string | null, arch: string | null, containers: number, containers_running: number, 
/**
 * Round trip of one `/_ping` on the established connection.
 */
latency_ms: number, };

export type HostState = "unknown" | "reachable" | "unreachable";

export type HostStatus = { host_id: string, state: HostState, 
/**
 * Why it is unreachable, naming the host.
 */
error: string | null, latency_ms: number | null, checked_at: number | null, };

export type ContextImport = { imported: Array<Host>, 
/**
 * "name: why" for each context left out.
 */
skipped: Array<string>, };

export type HostEntry = { host: Host, status: HostStatus, };

export type ContainerInfo = { id: string, name: string, image: string, 
/**
 * running, exited, created, paused, restarting, dead…
 */
state: string, 
/**
 * Docker's own summary, with the uptime: "Up 5 minutes (healthy)", "Exited (0) 2 hours ago".
 */
status: string, 
/**
 * healthy, unhealthy or starting, for containers with a health check.
 */
health: string | null, 
/**
 * "0.0.0.0:8080->80/tcp", "80/tcp".
 */
ports: Array<string>, created_at: number, compose_project: string | null, compose_service: string | null, slipway_project: string | null, };

export type GroupKind = "slipway" | "compose" | "standalone";

export type ContainerGroup = { kind: GroupKind, 
/**
 * The project's name; empty for standalone containers.
 */
name: string, containers: Array<ContainerInfo>, };

export type ContainerAction = "start" | "stop" | "restart" | "remove";

export type LogStream = "stdout" | "stderr";

export type ContainerLogLine = { stream: LogStream, line: string, };

export type ContainerStats = { container_id: string, 
/**
 * Of one CPU: 250 means two and a half cores busy, as `docker stats` shows it.
 */
cpu_percent: number, 
/**
 * In use, page cache excluded (as `docker stats` counts it).
 */
mem_bytes: number, mem_limit: number, at: number, };

export type HostEvent = { host_id: string, 
/**
 * container, image, network, volume…
 */
kind: string, 
/**
 * start, die, stop, destroy, health_status: healthy…
 */
action: string, id: string | null, name: string | null, time: number, };
