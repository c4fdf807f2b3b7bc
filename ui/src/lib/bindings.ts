// Generated from the Rust types by `./scripts/gen-types`. Do not edit by hand:
// the engine's `bindings` test fails when this file is stale.

export type ErrorCode = "store_corrupt" | "store_too_new" | "store" | "docker_unreachable" | "keychain_unavailable" | "keychain" | "listener_bind" | "unauthorized" | "not_found" | "invalid_input" | "payload_too_large" | "unsupported_media_type" | "git" | "io" | "internal" | "confirmation_required" | "host_unreachable" | "host_incompatible" | "unavailable" | "refused";

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
runs_held: boolean, 
/**
 * Windows following the engine's events now (the tray opens one when there is none).
 */
ui_clients: number, 
/**
 * Where secrets are kept: the OS keychain, or the encrypted file and where its key is.
 */
secrets: string, };

export type EngineEvent = { "type": "auto_deploy_changed", paused: boolean, } | { "type": "projects_changed" } | { "type": "run_changed", run_id: number, } | { "type": "step_changed", run_id: number, } | { "type": "delivery_recorded", id: number, project_id: string | null, outcome: Outcome, } | { "type": "live_health_changed", project_id: string, stage: string, state: LiveState, } | { "type": "release_changed", project_id: string, stage: string, } | { "type": "notice", notice: Notice, } | { "type": "open_run", run_id: number, } | { "type": "hosts_changed" } | { "type": "host_status_changed", status: HostStatus, } | { "type": "show_window", run_id: number | null, promote: PromoteTarget | null, } | { "type": "shutting_down", quit: boolean, };

export type PromoteTarget = { project_id: string, stage: string, };

export type AutoDeploy = { paused: boolean, };

export type WebhookInfo = { project_id: string, 
/**
 * None while the listener is not listening.
 */
url: string | null, 
/**
 * Where a forge on the internet delivers: the edge's HTTPS name for the hooks
 * (`edge.hooks_host`), when one is set.
 */
public_url: string | null, secret: string, };

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

export type DeployConfig = { 
/**
 * The container port that serves HTTP; the edge routes the stage's host name to it.
 * None: a worker with no traffic (deployed, health-gated, never routed).
 */
port: number | null, env: { [key in string]?: string }, 
/**
 * Names of project secrets (keychain) passed as env; a release records only the names.
 */
secrets: Array<string>, 
/**
 * Overrides the image's command.
 */
command: Array<string> | null, health: Health, 
/**
 * Containers per release (the rolling strategy replaces them in batches).
 */
replicas: number, 
/**
 * Shell commands run in a new container after traffic reached it; one failing fails the
 * deploy and switches traffic back.
 */
post_deploy: Array<string>, };

export type HealthKind = "http" | "tcp" | "docker" | "none";

export type Health = { kind: HealthKind, path: string, 
/**
 * Accepted status codes, e.g. `200-399` or `200`.
 */
expect: string, timeout_ms: number, interval_ms: number, 
/**
 * Consecutive failures that count as unhealthy (after the start period).
 */
retries: number, 
/**
 * Failures during this time after start don't count.
 */
start_period_ms: number, };

export type Rollout = { 
/**
 * Host name label under the domain; default `stage-{stage}-{project}`.
 */
subdomain: string | null, 
/**
 * How long the old release keeps finishing in-flight requests after the switch.
 */
drain_secs: number, 
/**
 * How long health keeps being checked after the switch; failing inside it switches back.
 */
verify_secs: number, 
/**
 * Rolling: replicas replaced per batch.
 */
batch_size: number, 
/**
 * Canary: share of requests the new release gets while on trial.
 */
canary_percent: number, 
/**
 * Canary: how long the trial lasts before promotion to 100 %.
 */
canary_secs: number, 
/**
 * Releases whose images are kept for rollback.
 */
keep_releases: number, 
/**
 * How often the live release is probed after its deploy ended (the health watch); 0: never.
 */
watch_interval_secs: number, 
/**
 * What the health watch does when the live release goes down.
 */
on_unhealthy: OnUnhealthy, 
/**
 * With `on_unhealthy: rollback`: how long after going live a release that goes down is
 * rolled back on its own; later, the watch alerts and a person decides.
 */
watch_secs: number, };

export type Dependency = { service: string, 
/**
 * `service_started` (default), `service_healthy` or `service_completed_successfully`.
 */
condition: string, };

export type Healthcheck = { test: Array<string>, interval_ms: number, timeout_ms: number, retries: number, start_period_ms: number, };

export type ServiceSpec = { name: string, image: string | null, 
/**
 * Build context and Dockerfile, relative to the repository.
 */
build: [string, string] | null, 
/**
 * The container port the edge routes to (the first `ports` entry of a service that
 * publishes no host port): the service is switched blue-green without a gap.
 */
port: number | null, env: { [key in string]?: string }, command: Array<string> | null, depends_on: Array<Dependency>, 
/**
 * The compose healthcheck, as Docker's own HEALTHCHECK of the container.
 */
healthcheck: Healthcheck | null, 
/**
 * Build arguments and target stage (`build.args`, `build.target`).
 */
build_args: { [key in string]?: string }, build_target: string | null, 
/**
 * Ports published on the host (`"8080:80"`): such a service is updated in place.
 */
published: Array<PublishedPort>, mounts: Array<MountSpec>, 
/**
 * Network (by the file's name) → extra aliases. Empty means `default`.
 */
networks: { [key in string]?: Array<string> }, 
/**
 * Environment values that name a Slipway secret, kept as written (`${NAME}`) and filled in
 * from the keychain when the container is created, so no secret value is ever stored.
 */
secret_env: { [key in string]?: string }, 
/**
 * Files placed in the container before it starts (compose `secrets:` and `configs:`).
 */
files: Array<FileSpec>, runtime: Runtime, 
/**
 * Updated in place, stop first, never two containers on one volume at once.
 */
stateful: boolean, };

export type StackSpec = { 
/**
 * In dependency order: every service comes after what it depends on. Services whose
 * `profiles` the stage does not activate are not in here.
 */
services: Array<ServiceSpec>, 
/**
 * The stack's named volumes, by the name the file uses.
 */
volumes: { [key in string]?: VolumeSpec }, 
/**
 * The stack's networks, by the name the file uses (`default` is always there).
 */
networks: { [key in string]?: NetworkSpec }, 
/**
 * What reading the file decided that the operator should know (shown in the run log).
 */
notes: Array<string>, };

export type PublishedPort = { 
/**
 * Empty: all interfaces.
 */
host_ip: string, 
/**
 * A port or a range (`"8000-8010"`); empty: Docker picks one.
 */
host_port: string, target: number, 
/**
 * `tcp` or `udp`.
 */
protocol: string, };

export type MountKind = "Volume" | "Bind" | "Tmpfs" | "Repo";

export type MountSpec = { kind: MountKind, source: string, target: string, read_only: boolean, 
/**
 * tmpfs size in bytes (0: Docker's default).
 */
size: number, };

export type VolumeSpec = { 
/**
 * The volume's name on the Docker host.
 */
name: string, 
/**
 * Must exist already; Slipway never creates nor removes it.
 */
external: boolean, driver: string | null, driver_opts: { [key in string]?: string }, labels: { [key in string]?: string }, };

export type NetworkSpec = { 
/**
 * The network's name on the Docker host.
 */
name: string, external: boolean, driver: string | null, internal: boolean, attachable: boolean, labels: { [key in string]?: string }, driver_opts: { [key in string]?: string }, };

export type FileSource = { "Content": string } | { "Secret": string } | { "Env": string } | { "Keychain": string };

export type FileSpec = { 
/**
 * Absolute path in the container.
 */
target: string, source: FileSource, mode: number, uid: string, gid: string, };

export type Runtime = { entrypoint: Array<string> | null, working_dir: string | null, user: string | null, hostname: string | null, domainname: string | null, labels: { [key in string]?: string }, expose: Array<string>, 
/**
 * `host:ip` as Docker's `ExtraHosts`.
 */
extra_hosts: Array<string>, cap_add: Array<string>, cap_drop: Array<string>, 
/**
 * name → (soft, hard)
 */
ulimits: Record<string, [number, number]>, init: boolean | null, 
/**
 * `no`, `always`, `on-failure[:n]`, `unless-stopped`; none: `unless-stopped` (Slipway's
 * default, so a stack comes back after a reboot).
 */
restart: string | null, stop_grace_secs: number | null, stop_signal: string | null, log_driver: string | null, log_options: { [key in string]?: string }, memory: number | null, memory_reservation: number | null, memory_swap: number | null, nano_cpus: number | null, cpu_shares: number | null, pids_limit: number | null, shm_size: number | null, read_only: boolean, privileged: boolean, tty: boolean, stdin_open: boolean, sysctls: { [key in string]?: string }, security_opt: Array<string>, dns: Array<string>, dns_search: Array<string>, dns_opt: Array<string>, group_add: Array<string>, 
/**
 * `deploy.replicas` (or `scale`): how many containers run the service; none: one.
 */
replicas: number | null, };

export type ReleaseConfig = { deploy: DeployConfig, strategy: Strategy, rollout: Rollout, 
/**
 * For a compose stack: its services as deployed (images are in the release's digests).
 */
compose: StackSpec | null, };

export type Release = { id: number, project_id: string, stage: string, number: number, run_id: number | null, commit_sha: string | null, 
/**
 * What the containers run: an image id for images built here, `repo@sha256:…` for pulled ones.
 */
image: string, 
/**
 * Digest of every service's image, by service name.
 */
digests: { [key in string]?: string }, 
/**
 * The containers that serve it, by service. On a stage with several hosts the same
 * names run on each of them (a container's name does not depend on its host).
 */
containers: { [key in string]?: Array<string> }, 
/**
 * The Docker hosts it runs on, when the stage names its hosts; empty: the project's host.
 */
hosts: Array<string>, config: ReleaseConfig, status: ReleaseStatus, 
/**
 * The release of another stage this one was promoted from.
 */
promoted_from: number | null, created_at: number, };

export type CommitLine = { sha: string, subject: string, author: string, };

export type PendingPromotion = { project_id: string, stage: string, from_stage: string, from_release: Release, 
/**
 * What the target runs now (None before its first release).
 */
current: Release | null, 
/**
 * Commits between the two, newest first (empty when they can't be told).
 */
commits: Array<CommitLine>, };

export type StageTarget = "containers" | "swarm";

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
auto_deploy: boolean, 
/**
 * A productive environment: it never takes pull/merge request events, and rules can
 * name it as `productive`.
 */
productive: boolean, promote_from: string | null, 
/**
 * Promotions here need the operator's confirmation (and rollbacks from a notification
 * open the window instead).
 */
confirm: boolean, strategy: Strategy, 
/**
 * Drain and verification windows, rolling batches, canary share, host name, retention.
 */
rollout: Rollout, 
/**
 * A group of environments (`qa`, `customer-a`), which rules can name as `group:<name>`.
 */
group?: string | null, 
/**
 * Its predecessors: a commit reaches this stage only after it was live and healthy on
 * each of them for `soak_secs`, whether it comes by a push, a manual deploy or a promote.
 */
requires?: Array<string>, soak_secs?: number, 
/**
 * Manual deploys here need the same confirmation as a promote.
 */
confirm_manual?: boolean, 
/**
 * The Docker hosts one release of this stage runs on, each behind its own edge; empty:
 * the project's host. A deploy switches `parallel` of them at a time.
 */
hosts?: Array<string>, parallel?: number, 
/**
 * What runs the release: Slipway's own containers (one host or several), or a Swarm
 * service that Swarm's own rolling update moves to the new release.
 */
target?: StageTarget, };

export type PluginRecord = { plugin: string, project_id: string, run_id: number, stage: string, commit_sha: string | null, 
/**
 * Any JSON the plugin wrote (a table is an array of objects; key/values an object).
 */
data: unknown, metrics: { [key in string]?: number }, created_at: number, };

export type PluginSummary = { plugin: string, 
/**
 * How many runs it published in.
 */
runs: number, 
/**
 * The metric names of its latest publication.
 */
metrics: Array<string>, last_at: number, };

export type TemplateInfo = { name: string, 
/**
 * Goes up by one each time an import changes it.
 */
version: number, description: string | null, 
/**
 * Its steps' names, in order.
 */
steps: Array<string>, 
/**
 * Whether it builds an image.
 */
builds: boolean, updated_at: number, };

export type StepOrigin = "template" | "replaced" | "added";

export type StepSource = { name: string, origin: StepOrigin, };

export type ExecutedPipeline = { template: string, version: number, steps: Array<StepSource>, 
/**
 * Steps of the template the repository removed (`remove:`).
 */
removed: Array<string>, yaml: string, };

export type RuleRefs = "branches" | "tags" | "merge_requests";

export type EnvRule = { refs: RuleRefs, 
/**
 * Patterns of the ref names the rule is about (`v*`, `release/*`); none: every one.
 */
matching?: Array<string>, 
/**
 * Patterns of ref names the rule leaves out (`main`).
 */
except?: Array<string>, through?: Array<string>, before?: Array<string>, only?: Array<string>, never?: Array<string>, };

export type EnvironmentKind = "productive" | "non-productive";

export type LiveRelease = { number: number, commit_sha: string | null, 
/**
 * Live since, Unix ms.
 */
since: number, };

export type WaitState = { "state": "queued" } | { "state": "running" } | { "state": "soaking", ready_at: number, } | { "state": "refused", reason: string, } | { "state": "ready" };

export type Waiting = { 
/**
 * The tag, branch or short commit, as a refusal names it.
 */
what: string, commit_sha: string | null, 
/**
 * The stage it comes from (a promotion), if any.
 */
from_stage: string | null, run_id: number | null, state: WaitState, };

export type Environment = { stage: string, kind: EnvironmentKind, group: string | null, 
/**
 * Its predecessors: the stages a commit must have been live and healthy on first.
 */
requires: Array<string>, 
/**
 * The stage whose live release it promotes, if any.
 */
promote_from: string | null, soak_secs: number, 
/**
 * The rules that speak of this stage, as sentences.
 */
rules: Array<string>, 
/**
 * What it serves now.
 */
live: LiveRelease | null, 
/**
 * The health watch's latest word on it (none before its first check).
 */
health: LiveHealth | null, 
/**
 * What is on its way here: queued and running runs, and the release its source stage
 * offers (with what holds it back, if anything).
 */
waiting: Array<Waiting>, };

export type ProjectEnvironments = { project_id: string, project: string, environments: Array<Environment>, 
/**
 * The project's rules as sentences, in the file's order ("rule 1: tags v* pass through
 * rel before prod").
 */
rules: Array<string>, };

export type ChannelKind = "slack" | "discord" | "webhook";

export type NotifyChannel = { kind: ChannelKind, 
/**
 * Names the channel within the project (lowercase, digits, dashes); default: the kind.
 */
name: string, 
/**
 * In only: the webhook URL.
 */
url?: string, 
/**
 * In only, for `webhook`: the key of the `X-Slipway-Signature` HMAC. An empty string
 * removes it.
 */
secret?: string, 
/**
 * Scheme and host of the URL, for the operator to recognise the channel.
 */
target?: string, 
/**
 * Whether requests are signed (a secret is in the keychain).
 */
signed: boolean, };

export type NoticeKind = "failed" | "rolled_back" | "recovered" | "awaiting_promotion" | "test" | "stage_degraded" | "stage_down" | "stage_recovered";

export type Notice = { kind: NoticeKind, 
/**
 * Project id.
 */
project: string, stage: string, 
/**
 * The run to open; None for a promotion that has no run yet.
 */
run_id: number | null, 
/**
 * The run's status (`failed`, `rolled_back`, …), or `awaiting_promotion`.
 */
status: string, commit: string | null, reason: string | null, 
/**
 * One line: `web/prod: run #12 failed`.
 */
title: string, body: string, 
/**
 * Link to the run, from the `status_link_template` setting, when one is set.
 */
url: string | null, };

export type NotificationSettings = { 
/**
 * The operator's choice (settings table); default on.
 */
desktop: boolean, 
/**
 * `SLIPWAY_DESKTOP_NOTIFY` when set: it wins over `desktop`. Read only.
 */
desktop_env_override: boolean | null, 
/**
 * Whether notifications will actually be shown: the choice, the override and whether
 * this session has a notification service (a D-Bus session bus on Linux). Read only.
 */
desktop_active: boolean, };

export type ChannelResult = { channel: string, ok: boolean, error: string | null, };

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
registry_account: string | null, 
/**
 * What runs after a successful build: None for projects that only build.
 */
deploy: DeployConfig | null, 
/**
 * Where run notifications go besides the desktop. Kept in `config_json`; the URLs are in
 * the keychain.
 */
notifications: Array<NotifyChannel>, 
/**
 * Which refs may reach which environments (see [`EnvRule`]). Kept in `config_json`.
 */
rules: Array<EnvRule>, created_at: number, last_poll_at: number | null, last_poll_error: string | null, };

export type NewProject = { name: string, repo_url: string, forge: Forge, token_ref: string | null, poll_interval_secs: number | null, 
/**
 * Default: one `dev` stage fed by `main`.
 */
stages: Array<Stage>, image_repo?: string | null, registry_account?: string | null, deploy?: DeployConfig | null, 
/**
 * The Docker host (`hosts` id) this project deploys to; None is the local engine.
 */
host_id?: string | null, 
/**
 * Outbound notification channels; a `url`/`secret` given here goes to the keychain.
 */
notifications?: Array<NotifyChannel>, 
/**
 * Which refs may reach which environments, checked on every deploy and promote.
 */
rules?: Array<EnvRule>, };

export type VolumeChoice = "keep" | "remove";

export type EdgeTls = "acme" | "internal";

export type EdgeConfig = { image: string, 
/**
 * Host port for HTTP (ACME's HTTP challenge needs 80 as the internet sees it).
 */
http_port: number, 
/**
 * Host port for HTTPS, published only when a name is served over HTTPS.
 */
https_port: number, 
/**
 * Stages are served at `<subdomain>.<domain>`.
 */
domain: string, 
/**
 * A public host name on which the edge serves `/hooks/*` over HTTPS, passing them to this
 * engine's webhook listener (which stays on loopback). Only the edge of the engine's own
 * Docker host serves it.
 */
hooks_host: string | null, tls: EdgeTls, 
/**
 * The ACME directory URL (unset: Let's Encrypt).
 */
acme_ca: string | null, 
/**
 * The account e-mail given to the ACME CA (expiry warnings).
 */
email: string | null, 
/**
 * A PEM file (on the engine's machine) with the root that the ACME CA's own HTTPS is
 * signed by: for a private CA such as step-ca or Caddy's `acme_server`.
 */
acme_ca_root: string | null, 
/**
 * Settings fixed by the environment (`SLIPWAY_…`): a change to them here has no effect.
 */
from_env: Array<string>, };

export type EdgeChange = { image: string | null, http_port: number | null, https_port: number | null, domain: string | null, hooks_host: string | null, tls: EdgeTls | null, acme_ca: string | null, email: string | null, acme_ca_root: string | null, };

export type EdgeApplied = { config: EdgeConfig, 
/**
 * What happened to the running edge, in words ("restarted with …", "not running yet:
 * the next deploy starts it").
 */
edge: string, };

export type OnUnhealthy = "alert" | "rollback";

export type LiveState = "healthy" | "degraded" | "down";

export type LiveHealth = { state: LiveState, 
/**
 * The release that was probed.
 */
release: number, 
/**
 * When the stage entered this state, Unix ms.
 */
since: number, 
/**
 * The failing check's last output (none when healthy).
 */
what: string | null, };

export type Pin = { 
/**
 * The release the stage is held at.
 */
release: number, 
/**
 * Why, e.g. `rollback of release 5`.
 */
reason: string, 
/**
 * The health watch pinned it (by rolling it back); it does not roll back again until a
 * person acts.
 */
auto: boolean, pinned_at: number, };

export type Incident = { id: number, project_id: string, stage: string, release: number, state: LiveState, started_at: number, 
/**
 * None: still going on.
 */
ended_at: number | null, what: string, };

export type Offer = { git_ref: string, commit: string, };

export type Unpinned = { project_id: string, stage: string, 
/**
 * The newest commit of the stage's branch, when it names one branch and differs from the
 * live release's commit.
 */
offer: Offer | null, };

export type StageAttention = { project_id: string, stage: string, live: LiveState | null, pinned_at: number | null, };

export type SwitchCount = { requests: number, 
/**
 * Answered with a 5xx (the upstream failed, or no upstream answered).
 */
failed: number, 
/**
 * The window, Unix ms.
 */
from: number, to: number, };

export type HistoryEntry = { at: number, 
/**
 * The console that asked: `alice@laptop (window)`, `ops@build (cli)`, or `api` for a
 * client that did not say.
 */
actor: string, 
/**
 * The operation's name (`rollback`, `promote`, `cancel_run`, `set_edge`, …).
 */
action: string, 
/**
 * The request's path under `/api/v1` (`/projects/web/stages/prod/promote`).
 */
target: string, project_id: string | null, run_id: number | null, };

export type LogMatches = { 
/**
 * The matching lines' seqs, in order.
 */
seqs: number[], 
/**
 * More lines matched than the limit let through.
 */
more: boolean, };

export type ConsoleLink = { 
/**
 * `local` or the `ssh://` address.
 */
address: string, remote: boolean, connected: boolean, 
/**
 * Why it is not connected, and what it does about it (`retrying in 4 s`).
 */
message: string | null, };

export type SwitchCost = { run_id: number, requests: number, failed: number, };

export type Trigger = "webhook" | "poll" | "manual" | "rollback" | "promote" | "registry";

export type RunStatus = "queued" | "running" | "succeeded" | "failed" | "rolled_back" | "interrupted" | "cancelled" | "superseded";

export type StepStatus = "pending" | "running" | "succeeded" | "failed" | "skipped" | "cancelled";

export type ReleaseStatus = "live" | "retired" | "rolled_back" | "pruned";

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

export type Delivery = { id: number, project_id: string | null, provider: string | null, event: string | null, delivery_id: string | null, ref_name: string | null, commit_sha: string | null, outcome: Outcome, http_status: number, reason: string | null, run_id: number | null, received_at: number, duration_us: number | null, 
/**
 * Its body is still kept, so it can be redelivered locally.
 */
replayable: boolean, };

export type RunSummary = { id: number, project_id: string, stage: string, trigger: Trigger, status: RunStatus, commit_sha: string | null, ref_name: string | null, reason: string | null, delivery_id: number | null, queued_at: number, };

export type StepInfo = { id: number, position: number, name: string, kind: string, status: StepStatus, exit_code: number | null, message: string | null, started_at: number | null, finished_at: number | null, };

export type RunDetail = { run: RunSummary, steps: Array<StepInfo>, config_source: string | null, image: string | null, started_at: number | null, finished_at: number | null, 
/**
 * The requests the edge served for the stage during the deploy's switch (none: not routed,
 * or the edge keeps no access log).
 */
switch: SwitchCount | null, 
/**
 * Who asked for this run and who acted on it (cancel), oldest first. Empty for runs a
 * webhook, a poll or the engine itself started.
 */
history: Array<HistoryEntry>, 
/**
 * How many lines the stored log spans (the last line's seq): the run view draws that many
 * rows and fetches only the ones in sight.
 */
log_lines: number, 
/**
 * For a `slipway.yml` that extends a template: the template, its version, where each
 * step came from, and the merged pipeline.
 */
pipeline: ExecutedPipeline | null, 
/**
 * What the run's plugin steps published, in the order they ran.
 */
plugins: Array<PluginRecord>, };

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

export type NoticeRollback = { "outcome": "started", run_id: number, } | { "outcome": "needs_confirmation" };

export type RunnerHold = { held: boolean, };

export type SecretsMigrated = { 
/**
 * Where the secrets are kept now (as the status says it).
 */
backend: string, 
/**
 * The names of the secrets moved (names only, never values).
 */
moved: Array<string>, };

export type Autostart = { enabled: boolean, 
/**
 * The XDG autostart file, the LaunchAgent or the Run key value.
 */
location: string, };

export type StageHealth = "healthy" | "degraded" | "failing" | "unknown";

export type StageSummary = { project_id: string, project_name: string, stage: string, strategy: Strategy, promote_from: string | null, live: Release | null, 
/**
 * The newest queued or running run of the stage.
 */
current: RunSummary | null, 
/**
 * The step `current` is in, while it runs.
 */
current_step: string | null, last_failure: RunSummary | null, health: StageHealth, 
/**
 * Set: the stage takes no automatic deploy until it is unpinned.
 */
pin: Pin | null, 
/**
 * The health watch's latest word on the live release (none: not probed yet, or watch off).
 */
live_health: LiveHealth | null, };

export type DayCount = { 
/**
 * Start of the day, Unix ms.
 */
day: number, succeeded: number, failed: number, };

export type StageMetrics = { project_id: string, stage: string, 
/**
 * One entry per day of the window, oldest first.
 */
days: Array<DayCount>, deploys: number, succeeded: number, 
/**
 * succeeded / deploys; None without deploys.
 */
success_rate: number | null, median_ms: number | null, p95_ms: number | null, 
/**
 * Failures followed by a success within the window.
 */
restores: number, 
/**
 * Median time to restore: from a failed (or rolled back) run to the next succeeded one,
 * and from the start of a health-watch incident to its end.
 */
restore_median_ms: number | null, 
/**
 * Health-watch incidents (degraded or down) that overlap the window.
 */
incidents: number, 
/**
 * Share of the window, since the stage was first seen in it, that its live release was not
 * down (degraded counts as up); None before anything ran or was watched.
 */
uptime: number | null, 
/**
 * The deploys in the window whose switch the edge counted, oldest first.
 */
switches: Array<SwitchCost>, };

export type TrayState = "idle" | "running" | "failed" | "paused";

export type TraySummary = { state: TrayState, recent: Array<RunSummary>, promotions: Array<PendingPromotion>, 
/**
 * Stages whose live release the health watch finds degraded or down, or that are pinned.
 */
attention: Array<StageAttention>, };

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

export type Drain = { project_id: string, stage: string, host_id: string, drained_at: number, };

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

export type GetStatus = Record<string, never>;

export type SetAutoDeploy = { paused: boolean, };

export type SetRunnerHold = { held: boolean, };

export type Quit = Record<string, never>;

export type MigrateSecrets = { to: string, };

export type ListProjects = Record<string, never>;

export type CreateProject = { project: NewProject, };

export type GetProject = { id: string, };

export type DeleteProject = { id: string, volumes: VolumeChoice | null, };

export type WebhookInfoOf = { id: string, };

export type ExportProject = { id: string, };

export type ImportProject = { yaml: string, };

export type RotateWebhookSecret = { id: string, };

export type PollNow = { id: string, };

export type StartRun = { project: string, stage: string, wanted: string, confirm: boolean | null, };

export type PinStage = { project: string, stage: string, };

export type UnpinStage = { project: string, stage: string, };

export type ProjectHistory = { id: string, limit: number | null, };

export type ListHistory = { limit: number | null, };

export type ListIncidents = { project: string, };

export type SetSecret = { project: string, name: string, value: string, };

export type DeleteSecret = { project: string, name: string, };

export type ListReleases = { project: string, stage: string, };

export type Rollback = { project: string, stage: string, number: number, };

export type RollbackFromNotice = { project: string, stage: string, };

export type Promote = { project: string, stage: string, confirm: boolean | null, };

export type PendingPromotions = Record<string, never>;

export type SetDrain = { project: string, stage: string, host: string, drained: boolean, };

export type ListDrains = Record<string, never>;

export type ListEnvironments = Record<string, never>;

export type ProjectPlugins = { project: string, };

export type PluginData = { project: string, plugin: string, limit: number | null, };

export type ListTemplates = Record<string, never>;

export type ImportTemplate = { yaml: string, };

export type ExportTemplate = { name: string, };

export type DeleteTemplate = { name: string, };

export type SetProjectNotifications = { id: string, channels: Array<NotifyChannel>, };

export type TestProjectNotifications = { id: string, };

export type GetNotificationSettings = Record<string, never>;

export type GetAutostart = Record<string, never>;

export type GetEdge = Record<string, never>;

export type SetEdge = { change: EdgeChange, };

export type SetAutostart = { enabled: boolean, };

export type SetNotificationSettings = { settings: NotificationSettings, };

export type ListDeliveries = { project: string | null, limit: number | null, };

export type ListRuns = { project: string | null, limit: number | null, };

export type GetRun = { id: number, };

export type RunLogs = { id: number, after: number | null, limit: number | null, };

export type SearchRunLog = { id: number, q: string, limit: number | null, };

export type CancelRun = { id: number, };

export type Rerun = { id: number, };

export type Redeliver = { id: number, };

export type SaveForgeAccount = { name: string, forge: Forge, api_base: string | null, username: string | null, token: string, };

export type ListForgeAccounts = Record<string, never>;

export type SaveRegistryAccount = { name: string, username: string, password: string, };

export type Dashboard = Record<string, never>;

export type GetTray = Record<string, never>;

export type Metrics = { project: string | null, };

export type ListHosts = Record<string, never>;

export type CreateHost = { host: HostInput, };

export type ImportDockerContexts = Record<string, never>;

export type GetHost = { id: string, };

export type UpdateHost = { id: string, host: HostInput, };

export type DeleteHost = { id: string, };

export type TestHost = { id: string, };

export type ListContainers = { host: string, };

export type InspectContainer = { host: string, container: string, };

export type ContainerActionOn = { host: string, container: string, action: ContainerAction, grace: number | null, force: boolean, };

export type Operations = {
  engine_status: { request: GetStatus, response: EngineStatus },
  set_auto_deploy_paused: { request: SetAutoDeploy, response: AutoDeploy },
  set_runs_held: { request: SetRunnerHold, response: RunnerHold },
  quit_engine: { request: Quit, response: null },
  migrate_secrets: { request: MigrateSecrets, response: SecretsMigrated },
  list_projects: { request: ListProjects, response: Array<Project> },
  create_project: { request: CreateProject, response: Project },
  get_project: { request: GetProject, response: Project },
  delete_project: { request: DeleteProject, response: null },
  webhook_info: { request: WebhookInfoOf, response: WebhookInfo },
  export_project: { request: ExportProject, response: string },
  import_project: { request: ImportProject, response: ImportResult },
  rotate_webhook_secret: { request: RotateWebhookSecret, response: WebhookInfo },
  poll_now: { request: PollNow, response: Project },
  start_manual_run: { request: StartRun, response: RunStarted },
  pin_stage: { request: PinStage, response: Pin },
  unpin_stage: { request: UnpinStage, response: Unpinned },
  project_history: { request: ProjectHistory, response: Array<HistoryEntry> },
  history: { request: ListHistory, response: Array<HistoryEntry> },
  incidents: { request: ListIncidents, response: Array<Incident> },
  set_project_secret: { request: SetSecret, response: null },
  delete_project_secret: { request: DeleteSecret, response: null },
  releases: { request: ListReleases, response: Array<Release> },
  rollback: { request: Rollback, response: RunStarted },
  rollback_from_notice: { request: RollbackFromNotice, response: NoticeRollback },
  promote: { request: Promote, response: RunStarted },
  pending_promotions: { request: PendingPromotions, response: Array<PendingPromotion> },
  set_drain: { request: SetDrain, response: Array<Drain> },
  drains: { request: ListDrains, response: Array<Drain> },
  environments: { request: ListEnvironments, response: Array<ProjectEnvironments> },
  project_plugins: { request: ProjectPlugins, response: Array<PluginSummary> },
  plugin_data: { request: PluginData, response: Array<PluginRecord> },
  templates: { request: ListTemplates, response: Array<TemplateInfo> },
  import_template: { request: ImportTemplate, response: TemplateInfo },
  export_template: { request: ExportTemplate, response: string },
  delete_template: { request: DeleteTemplate, response: null },
  set_project_notifications: { request: SetProjectNotifications, response: Project },
  test_project_notifications: { request: TestProjectNotifications, response: Array<ChannelResult> },
  notification_settings: { request: GetNotificationSettings, response: NotificationSettings },
  get_autostart: { request: GetAutostart, response: Autostart },
  get_edge: { request: GetEdge, response: EdgeConfig },
  set_edge: { request: SetEdge, response: EdgeApplied },
  set_autostart: { request: SetAutostart, response: Autostart },
  set_notification_settings: { request: SetNotificationSettings, response: NotificationSettings },
  list_deliveries: { request: ListDeliveries, response: Array<Delivery> },
  list_runs: { request: ListRuns, response: Array<RunSummary> },
  run_detail: { request: GetRun, response: RunDetail },
  run_logs: { request: RunLogs, response: Array<LogLine> },
  search_run_log: { request: SearchRunLog, response: LogMatches },
  cancel_run: { request: CancelRun, response: null },
  rerun_run: { request: Rerun, response: RunStarted },
  redeliver: { request: Redeliver, response: Delivery },
  save_forge_account: { request: SaveForgeAccount, response: ForgeAccount },
  forge_accounts: { request: ListForgeAccounts, response: Array<ForgeAccount> },
  save_registry_account: { request: SaveRegistryAccount, response: null },
  dashboard: { request: Dashboard, response: Array<StageSummary> },
  tray_summary: { request: GetTray, response: TraySummary },
  metrics: { request: Metrics, response: Array<StageMetrics> },
  list_hosts: { request: ListHosts, response: Array<HostEntry> },
  create_host: { request: CreateHost, response: Host },
  import_docker_contexts: { request: ImportDockerContexts, response: ContextImport },
  get_host: { request: GetHost, response: HostEntry },
  update_host: { request: UpdateHost, response: Host },
  delete_host: { request: DeleteHost, response: null },
  test_host: { request: TestHost, response: HostTest },
  list_containers: { request: ListContainers, response: Array<ContainerGroup> },
  inspect_container: { request: InspectContainer, response: ContainerInfo },
  container_action: { request: ContainerActionOn, response: null },
}

export const RUN_STATUSES: readonly RunStatus[] = ["queued", "running", "succeeded", "failed", "rolled_back", "interrupted", "cancelled", "superseded"];

export const STEP_STATUSES: readonly StepStatus[] = ["pending", "running", "succeeded", "failed", "skipped", "cancelled"];

export const RELEASE_STATUSES: readonly ReleaseStatus[] = ["live", "retired", "rolled_back", "pruned"];
