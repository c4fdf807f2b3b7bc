//! The tray of the headless engine (`slipwayd`): a StatusNotifierItem spoken over the session
//! D-Bus by ksni, so the daemon shows the same icon and menu as the desktop app without loading
//! GTK or WebKit. Clicks become `TrayAction`s on a channel; the engine answers them and pushes
//! a fresh `TrayModel` with `Handle::set`.

use std::sync::LazyLock;
use std::time::Duration;

use ksni::menu::{CheckmarkItem, StandardItem};
use ksni::{Icon, MenuItem, OfflineReason, ToolTip, Tray, TrayMethods};
use slipway_engine::domain::metrics::{TrayState, TraySummary};
use tokio::sync::mpsc::UnboundedSender;

/// What the tray shows: the engine's summary plus the pause switch.
#[derive(Debug, Clone)]
pub struct TrayModel {
    pub summary: TraySummary,
    pub paused: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrayAction {
    Open,
    OpenRun(i64),
    Promote { project_id: String, stage: String },
    TogglePause,
    Quit,
}

/// A dead or missing session bus must not hold up the daemon's start.
const SPAWN_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct Handle(ksni::Handle<SlipwayTray>);

impl Handle {
    /// Only what changed goes out on the bus (ksni diffs properties and menu items).
    pub async fn set(&self, model: TrayModel) {
        self.0.update(move |t| t.model = model).await;
    }
}

/// Starts the tray on the session bus. An error means there is no tray this time (no session
/// bus, or it did not answer): log it and run on without one. A missing StatusNotifierWatcher
/// is not an error: the item waits on the bus and shows up when a panel starts one, which
/// covers a daemon launched at login before the desktop is ready.
pub async fn spawn(actions: UnboundedSender<TrayAction>) -> Result<Handle, String> {
    let model =
        TrayModel { summary: TraySummary { state: TrayState::Idle, recent: vec![], promotions: vec![], attention: vec![] }, paused: false };
    let tray = SlipwayTray { model, actions };
    let started = tokio::time::timeout(SPAWN_TIMEOUT, tray.assume_sni_available(true).spawn()).await;
    match started {
        Ok(Ok(handle)) => Ok(Handle(handle)),
        Ok(Err(e)) => Err(format!("no tray: {e}")),
        Err(_) => Err(format!("no tray: the session bus did not answer in {}s", SPAWN_TIMEOUT.as_secs())),
    }
}

pub struct SlipwayTray {
    model: TrayModel,
    actions: UnboundedSender<TrayAction>,
}

impl SlipwayTray {
    fn send(&self, action: TrayAction) {
        // Fails only while the daemon shuts down; nobody is left to act on the click.
        let _ = self.actions.send(action);
    }
}

impl Tray for SlipwayTray {
    fn id(&self) -> String {
        "slipway".into()
    }

    fn title(&self) -> String {
        "Slipway".into()
    }

    fn icon_pixmap(&self) -> Vec<Icon> {
        vec![ICONS[self.model.summary.state as usize].clone()]
    }

    fn tool_tip(&self) -> ToolTip {
        ToolTip { title: format!("Slipway: {}", state_name(self.model.summary.state)), ..Default::default() }
    }

    fn activate(&mut self, _x: i32, _y: i32) {
        self.send(TrayAction::Open);
    }

    fn menu(&self) -> Vec<MenuItem<Self>> {
        let m = &self.model.summary;
        let mut items = vec![item("Open Slipway", |t| t.send(TrayAction::Open))];
        if !m.recent.is_empty() {
            items.push(MenuItem::Separator);
            items.push(StandardItem { label: "Last runs".into(), enabled: false, ..Default::default() }.into());
            for r in &m.recent {
                let id = r.id;
                let label = format!("#{} {}/{} · {}", r.id, r.project_id, r.stage, r.status.as_str().replace('_', " "));
                items.push(item(&label, move |t| t.send(TrayAction::OpenRun(id))));
            }
        }
        if !m.attention.is_empty() {
            items.push(MenuItem::Separator);
            for a in &m.attention {
                items.push(item(&a.label(), |t| t.send(TrayAction::Open)));
            }
        }
        if !m.promotions.is_empty() {
            items.push(MenuItem::Separator);
            for p in &m.promotions {
                let (project_id, stage) = (p.project_id.clone(), p.stage.clone());
                let label = format!("Promote {} {} to {}…", p.project_id, p.from_release.number, p.stage);
                items.push(item(&label, move |t| t.send(TrayAction::Promote { project_id: project_id.clone(), stage: stage.clone() })));
            }
        }
        items.push(MenuItem::Separator);
        items.push(
            CheckmarkItem {
                label: "Pause auto-deploy".into(),
                // Not flipped here: the engine owns the switch and sends the new model back.
                checked: self.model.paused,
                activate: Box::new(|t: &mut Self| t.send(TrayAction::TogglePause)),
                ..Default::default()
            }
            .into(),
        );
        items.push(item("Quit", |t| t.send(TrayAction::Quit)));
        items
    }

    fn watcher_offline(&self, reason: OfflineReason) -> bool {
        tracing::info!("tray: no StatusNotifierWatcher on the session bus ({reason:?}); the icon appears when a panel provides one");
        true
    }

    fn watcher_online(&self) {
        tracing::info!("tray: a StatusNotifierWatcher appeared; registering the icon");
    }
}

fn item(label: &str, on_click: impl Fn(&mut SlipwayTray) + Send + 'static) -> MenuItem<SlipwayTray> {
    // DBusMenu reads a single `_` as a mnemonic marker and hides it: project ids like my_app would lose it.
    StandardItem { label: label.replace('_', "__"), activate: Box::new(on_click), ..Default::default() }.into()
}

fn state_name(state: TrayState) -> &'static str {
    match state {
        TrayState::Idle => "idle",
        TrayState::Running => "running",
        TrayState::Failed => "failed",
        TrayState::Paused => "paused",
    }
}

/// Indexed by `TrayState as usize`; decoded on first use and kept (4 × 32×32 × 4 B = 16 KiB).
static ICONS: LazyLock<[Icon; 4]> = LazyLock::new(|| {
    [
        argb32(include_bytes!("../../../icons/tray-idle.png")),
        argb32(include_bytes!("../../../icons/tray-running.png")),
        argb32(include_bytes!("../../../icons/tray-failed.png")),
        argb32(include_bytes!("../../../icons/tray-paused.png")),
    ]
});

/// PNG to the ARGB32 pixmap SNI wants: A, R, G, B bytes per pixel, i.e. big-endian ARGB.
fn argb32(png_bytes: &[u8]) -> Icon {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    // Palette, grey and 16-bit files come out as 8-bit grey/GA/RGB/RGBA.
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().expect("embedded tray icon is a valid PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("tray icon size fits in memory")];
    let info = reader.next_frame(&mut buf).expect("embedded tray icon decodes");
    buf.truncate(info.buffer_size());
    let mut data = Vec::with_capacity(info.width as usize * info.height as usize * 4);
    let mut push = |a, r, g, b| data.extend_from_slice(&[a, r, g, b]);
    match info.color_type {
        png::ColorType::Rgba => buf.chunks_exact(4).for_each(|p| push(p[3], p[0], p[1], p[2])),
        png::ColorType::Rgb => buf.chunks_exact(3).for_each(|p| push(255, p[0], p[1], p[2])),
        png::ColorType::GrayscaleAlpha => buf.chunks_exact(2).for_each(|p| push(p[1], p[0], p[0], p[0])),
        png::ColorType::Grayscale => buf.iter().for_each(|&v| push(255, v, v, v)),
        png::ColorType::Indexed => unreachable!("EXPAND turns palettes into RGB(A)"),
    }
    Icon { width: info.width as i32, height: info.height as i32, data }
}

#[cfg(test)]
mod tests {
    use super::*;
    use slipway_engine::domain::run::{RunStatus, RunSummary, Trigger};

    #[test]
    fn icons_decode_to_argb32() {
        for icon in ICONS.iter() {
            assert_eq!(icon.data.len(), (icon.width * icon.height * 4) as usize);
            assert!(icon.width > 0);
        }
    }

    #[test]
    fn menu_labels_and_clicks() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let run = RunSummary {
            id: 7,
            project_id: "web_app".into(),
            stage: "prod".into(),
            trigger: Trigger::Webhook,
            status: RunStatus::RolledBack,
            commit_sha: None,
            ref_name: None,
            reason: None,
            delivery_id: None,
            queued_at: 0,
        };
        let attention = vec![slipway_protocol::metrics::StageAttention {
            project_id: "web_app".into(),
            stage: "prod".into(),
            live: Some(slipway_protocol::watch::LiveState::Down),
            pinned_at: Some(4),
        }];
        let summary = TraySummary { state: TrayState::Failed, recent: vec![run], promotions: vec![], attention };
        let mut tray = SlipwayTray { model: TrayModel { summary, paused: true }, actions: tx };
        let labels: Vec<String> = tray
            .menu()
            .iter()
            .map(|i| match i {
                MenuItem::Standard(s) => s.label.clone(),
                MenuItem::Checkmark(c) => format!("[{}] {}", if c.checked { "x" } else { " " }, c.label),
                MenuItem::Separator => "--".into(),
                _ => "?".into(),
            })
            .collect();
        // A single `_` would be read as a mnemonic and hidden, hence `web__app`.
        assert_eq!(
            labels,
            [
                "Open Slipway",
                "--",
                "Last runs",
                "#7 web__app/prod · rolled back",
                "--",
                "web__app/prod is down · pinned at #4",
                "--",
                "[x] Pause auto-deploy",
                "Quit"
            ]
        );
        assert_eq!(tray.tool_tip().title, "Slipway: failed");
        for i in tray.menu() {
            match i {
                MenuItem::Standard(s) if s.enabled => (s.activate)(&mut tray),
                MenuItem::Checkmark(c) => (c.activate)(&mut tray),
                _ => {}
            }
        }
        tray.activate(0, 0);
        let got: Vec<TrayAction> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
        assert_eq!(
            got,
            [TrayAction::Open, TrayAction::OpenRun(7), TrayAction::Open, TrayAction::TogglePause, TrayAction::Quit, TrayAction::Open]
        );
    }
}
