// The UI's only door into the engine: typed Tauri commands and events. Every failure comes out
// as the engine's `{code, message}` shape, whatever was thrown.
import { Channel, invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import { getCurrentWindow } from "@tauri-apps/api/window";
import type {
  ApiError, ContainerAction, ContainerGroup, ContainerLogLine, ContainerStats, ContextImport, Delivery, EngineEvent, EngineStatus, ForgeAccount, Host, HostEntry, HostEvent, HostInput, HostTest, ImportResult, LogLine, NewProject, NotificationSettings, PendingPromotion, Project, Release, RunDetail, RunSummary, StageMetrics, StageSummary, WebhookInfo,
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

async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (e) {
    throw toApiError(e);
  }
}

export const api = {
  engineStatus: () => call<EngineStatus>("engine_status"),
  setAutoDeployPaused: (paused: boolean) => call<boolean>("set_auto_deploy_paused", { paused }),
  setRunsHeld: (held: boolean) => call<boolean>("set_runs_held", { held }),
  quit: () => call<void>("quit"),
  /** The UI listens for open-run and promote-request: the window gets what it was opened for. */
  uiReady: () => call<void>("ui_ready"),
  firstPaint: () => call<void>("first_paint"),
  projects: () => call<Project[]>("list_projects"),
  createProject: (project: NewProject) => call<Project>("create_project", { project }),
  deleteProject: (id: string) => call<void>("delete_project", { id }),
  webhookInfo: (id: string) => call<WebhookInfo>("webhook_info", { id }),
  rotateWebhookSecret: (id: string) => call<WebhookInfo>("rotate_webhook_secret", { id }),
  pollNow: (id: string) => call<Project>("poll_now", { id }),
  exportProject: (id: string) => call<string>("export_project", { id }),
  importProject: (yaml: string) => call<ImportResult>("import_project", { yaml }),
  deliveries: (project: string | null = null, limit = 200) => call<Delivery[]>("list_deliveries", { project, limit }),
  runs: (project: string | null = null, limit = 200) => call<RunSummary[]>("list_runs", { project, limit }),
  startRun: (project: string, stage: string, wanted: string) => call<number>("start_manual_run", { project, stage, wanted }),
  runDetail: (id: number) => call<RunDetail>("run_detail", { id }),
  cancelRun: (id: number) => call<void>("cancel_run", { id }),
  rerun: (id: number) => call<number>("rerun_run", { id }),
  dashboard: () => call<StageSummary[]>("dashboard"),
  metrics: (project: string | null = null) => call<StageMetrics[]>("metrics", { project }),
  releases: (project: string, stage: string) => call<Release[]>("releases", { project, stage }),
  rollback: (project: string, stage: string, number: number) => call<number>("rollback", { project, stage, number }),
  /** `confirmed`: the operator confirmed in the dialog that listed the commits. */
  promote: (project: string, stage: string, confirmed: boolean) => call<number>("promote", { project, stage, confirmed }),
  pendingPromotions: () => call<PendingPromotion[]>("pending_promotions"),
  redeliver: (id: number) => call<Delivery>("redeliver", { id }),
  forgeAccounts: () => call<ForgeAccount[]>("forge_accounts"),
  saveForgeAccount: (account: ForgeAccount, token: string) => call<ForgeAccount>("save_forge_account", { account, token }),
  /** In the desktop's browser, not in this window. */
  openExternal: (url: string) => call<void>("open_external", { url }),
  notificationSettings: () => call<NotificationSettings>("notification_settings"),
  setNotificationSettings: (settings: NotificationSettings) => call<NotificationSettings>("set_notification_settings", { settings }),
  /** Streams the run's log (stored lines after `after`, then live ones) into `onLines`. */
  followRunLog: (id: number, after: number, onLines: (lines: LogLine[]) => void) => {
    const channel = new Channel<LogLine[]>();
    channel.onmessage = onLines;
    return call<void>("follow_run_log", { id, after, onLines: channel });
  },
  hosts: () => call<HostEntry[]>("list_hosts"),
  createHost: (host: HostInput) => call<Host>("create_host", { host }),
  updateHost: (id: string, host: HostInput) => call<Host>("update_host", { id, host }),
  deleteHost: (id: string) => call<void>("delete_host", { id }),
  testHost: (id: string) => call<HostTest>("test_host", { id }),
  importDockerContexts: () => call<ContextImport>("import_docker_contexts"),
  containers: (host: string) => call<ContainerGroup[]>("list_containers", { host }),
  containerAction: (host: string, container: string, action: ContainerAction, force = false) =>
    call<void>("container_action", { host, container, action, force }),
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
  const done = call<void>(command, { ...args, streamId, onItem: channel });
  return {
    done,
    stop: () => {
      stopped = true;
      call<void>("stop_stream", { streamId }).catch(() => {});
    },
  };
}

export function onEngineEvent(handler: (event: EngineEvent) => void): Promise<UnlistenFn> {
  return listen<EngineEvent>("engine-event", (e) => handler(e.payload));
}

/** Closes this window (its process ends); the engine keeps running in the tray. */
export function closeWindow(): Promise<void> {
  return getCurrentWindow().close();
}
