// The UI's only door into the engine: typed Tauri commands and events. Every failure comes out
// as the engine's `{code, message}` shape, whatever was thrown.
import { Channel, invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import { getCurrentWindow } from "@tauri-apps/api/window";
import type {
  EdgeChange,
  ApiError, ConsoleLink, ContainerAction, ContainerLogLine, ContainerStats, EngineEvent, ForgeAccount, HostEvent, HostInput, LogLine, NewProject, NotificationSettings, NotifyChannel, Operations, VolumeChoice,
} from "./bindings";

export function toApiError(thrown: unknown): ApiError {
  if (thrown && typeof thrown === "object" && "code" in thrown && "message" in thrown) {
    const { code, message } = thrown as { code: unknown; message: unknown };
    if (typeof code === "string" && typeof message === "string") {
      return { code: code as ApiError["code"], message };
    }
  }
  const message = thrown instanceof Error ? thrown.message : String(thrown);
  return { code: "internal", message: message || "unknown error" };
}

async function invokeCommand<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (e) {
    throw toApiError(e);
  }
}

/** Any operation of the engine's API, by its declared name (`Operations` is generated from the
 * declarations in the protocol crate): the window's one `call` command forwards it. */
export function op<K extends keyof Operations>(name: K, request: Operations[K]["request"]): Promise<Operations[K]["response"]> {
  return invokeCommand<Operations[K]["response"]>("call", { op: name, request });
}

export const api = {
  engineStatus: () => op("engine_status", {}),
  setAutoDeployPaused: (paused: boolean) => op("set_auto_deploy_paused", { paused }).then((r) => r.paused),
  setRunsHeld: (held: boolean) => op("set_runs_held", { held }).then((r) => r.held),
  /** Ends the engine and this window (the tray's Quit). */
  quit: () => invokeCommand<void>("quit"),
  /** The UI listens for open-run and promote-request: the window gets what it was opened for. */
  uiReady: () => invokeCommand<void>("ui_ready"),
  firstPaint: () => invokeCommand<void>("first_paint"),
  projects: () => op("list_projects", {}),
  createProject: (project: NewProject) => op("create_project", { project }),
  // With named volumes on the host and no `volumes`, the engine answers confirmation_required naming them.
  deleteProject: (id: string, volumes: VolumeChoice | null = null) => op("delete_project", { id, volumes }).then(() => {}),
  webhookInfo: (id: string) => op("webhook_info", { id }),
  rotateWebhookSecret: (id: string) => op("rotate_webhook_secret", { id }),
  pollNow: (id: string) => op("poll_now", { id }),
  exportProject: (id: string) => op("export_project", { id }),
  importProject: (yaml: string) => op("import_project", { yaml }),
  deliveries: (project: string | null = null, limit = 200) => op("list_deliveries", { project, limit }),
  runs: (project: string | null = null, limit = 200) => op("list_runs", { project, limit }),
  // To a pinned stage the engine answers confirmation_required unless `confirmed` (which unpins it).
  startRun: (project: string, stage: string, wanted: string, confirmed = false) =>
    op("start_manual_run", { project, stage, wanted, confirm: confirmed }).then((r) => r.run_id),
  pin: (project: string, stage: string) => op("pin_stage", { project, stage }),
  unpin: (project: string, stage: string) => op("unpin_stage", { project, stage }),
  incidents: (project: string) => op("incidents", { project }),
  /** Who changed what in the project, newest first. */
  projectHistory: (id: string, limit = 50) => op("project_history", { id, limit }),
  /** Where this window is attached (`local` or `ssh://…`) and whether the link is up. */
  consoleLink: () => invokeCommand<ConsoleLink>("console_link"),
  /** Attaches this window to another engine; on failure it stays where it was. */
  attachEngine: (address: string) => invokeCommand<ConsoleLink>("attach_engine", { address }),
  runDetail: (id: number) => op("run_detail", { id }),
  /** Up to `limit` stored lines of a run's log after seq `after`. */
  runLogs: (id: number, after: number, limit: number) => op("run_logs", { id, after, limit }),
  /** The seqs of the run's log lines that contain `q`, searched in the engine. */
  searchRunLog: (id: number, q: string) => op("search_run_log", { id, q, limit: null }),
  cancelRun: (id: number) => op("cancel_run", { id }).then(() => {}),
  rerun: (id: number) => op("rerun_run", { id }).then((r) => r.run_id),
  dashboard: () => op("dashboard", {}),
  metrics: (project: string | null = null) => op("metrics", { project }),
  releases: (project: string, stage: string) => op("releases", { project, stage }),
  rollback: (project: string, stage: string, number: number) => op("rollback", { project, stage, number }).then((r) => r.run_id),
  /** `confirmed`: the operator confirmed in the dialog that listed the commits. */
  promote: (project: string, stage: string, confirmed: boolean) => op("promote", { project, stage, confirm: confirmed }).then((r) => r.run_id),
  pendingPromotions: () => op("pending_promotions", {}),
  drains: () => op("drains", {}),
  setDrain: (project: string, stage: string, host: string, drained: boolean) => op("set_drain", { project, stage, host, drained }),
  /** Every project's environments: what each serves, what waits for it and why. */
  environments: () => op("environments", {}),
  redeliver: (id: number) => op("redeliver", { id }),
  templates: () => op("templates", {}),
  /** Adds or replaces it by the name in the YAML; the version goes up only when the text changed. */
  importTemplate: (yaml: string) => op("import_template", { yaml }),
  exportTemplate: (name: string) => op("export_template", { name }),
  deleteTemplate: (name: string) => op("delete_template", { name }).then(() => {}),
  /** The plugins that published in the project, with the metric names of their latest publication. */
  projectPlugins: (project: string) => op("project_plugins", { project }),
  /** What `plugin` published in the project's runs, newest first. */
  pluginData: (project: string, plugin: string, limit: number | null = null) => op("plugin_data", { project, plugin, limit }),
  forgeAccounts: () => op("forge_accounts", {}),
  /** The token goes to the keychain; nothing returns it. */
  saveForgeAccount: (account: ForgeAccount, token: string) =>
    op("save_forge_account", { name: account.name, forge: account.forge, api_base: account.api_base, username: account.username, token }),
  /** In the desktop's browser, not in this window. */
  openExternal: (url: string) => invokeCommand<void>("open_external", { url }),
  notificationSettings: () => op("notification_settings", {}),
  setNotificationSettings: (settings: NotificationSettings) => op("set_notification_settings", { settings }),
  autostart: () => op("get_autostart", {}),
  setAutostart: (enabled: boolean) => op("set_autostart", { enabled }),
  edge: () => op("get_edge", {}),
  setEdge: (change: EdgeChange) => op("set_edge", { change }),
  setProjectNotifications: (id: string, channels: NotifyChannel[]) => op("set_project_notifications", { id, channels }),
  testProjectNotifications: (id: string) => op("test_project_notifications", { id }),
  /** Streams the run's log (stored lines after `after`, then live ones) into `onLines`. */
  followRunLog: (id: number, after: number, onLines: (lines: LogLine[]) => void) => {
    const channel = new Channel<LogLine[]>();
    channel.onmessage = onLines;
    return invokeCommand<void>("follow_run_log", { id, after, onLines: channel });
  },
  hosts: () => op("list_hosts", {}),
  createHost: (host: HostInput) => op("create_host", { host }),
  updateHost: (id: string, host: HostInput) => op("update_host", { id, host }),
  deleteHost: (id: string) => op("delete_host", { id }).then(() => {}),
  testHost: (id: string) => op("test_host", { id }),
  importDockerContexts: () => op("import_docker_contexts", {}),
  containers: (host: string) => op("list_containers", { host }),
  containerAction: (host: string, container: string, action: ContainerAction, force = false) =>
    op("container_action", { host, container, action, grace: null, force }).then(() => {}),
  followContainerLogs: (host: string, container: string, tail: number | null, onLines: (lines: ContainerLogLine[]) => void) =>
    stream("follow_container_logs", { host, container, tail }, onLines),
  followContainerStats: (host: string, container: string, onSample: (s: ContainerStats) => void) =>
    stream("follow_container_stats", { host, container }, onSample),
  followHostEvents: (host: string, onEvent: (e: HostEvent) => void) => stream("follow_host_events", { host }, onEvent),
};

/** A desktop notification was clicked: the app asks to show that run. */
export function onOpenRun(handler: (runId: number) => void): Promise<UnlistenFn> {
  return listen<number>("open-run", (e) => handler(e.payload));
}

/** The tray's "Promote … to …" was clicked: open the confirm dialog for that stage. */
export function onPromoteRequest(handler: (req: { project_id: string; stage: string }) => void): Promise<UnlistenFn> {
  return listen<{ project_id: string; stage: string }>("promote-request", (e) => handler(e.payload));
}

/** A stream the engine sends through a channel: `done` settles when it ends (rejecting with its
 * error), `stop` ends it from this side. */
export interface Stream {
  done: Promise<void>;
  stop: () => void;
}

let streamCount = 0;

function stream<T>(command: string, args: Record<string, unknown>, onItem: (item: T) => void): Stream {
  const streamId = `${Date.now()}-${++streamCount}`;
  let stopped = false;
  const channel = new Channel<T>();
  channel.onmessage = (item) => {
    if (!stopped) onItem(item);
  };
  const done = invokeCommand<void>(command, { ...args, streamId, onItem: channel });
  return {
    done,
    stop: () => {
      stopped = true;
      invokeCommand<void>("stop_stream", { streamId }).catch(() => {});
    },
  };
}

/** The link to the engine went down, came back, or moved to another engine. */
export function onConsoleLink(handler: (link: ConsoleLink) => void): Promise<UnlistenFn> {
  return listen<ConsoleLink>("console-link", (e) => handler(e.payload));
}

export function onEngineEvent(handler: (event: EngineEvent) => void): Promise<UnlistenFn> {
  return listen<EngineEvent>("engine-event", (e) => handler(e.payload));
}

/** Closes this window (its process ends); the engine keeps running in the tray. */
export function closeWindow(): Promise<void> {
  return getCurrentWindow().close();
}
