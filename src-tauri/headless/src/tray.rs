//! The tray of the headless engine (`slipwayd`): a StatusNotifierItem spoken over the session
//! D-Bus by ksni, so the daemon shows the same icon and menu as the desktop app without loading
//! GTK or WebKit. Clicks become `TrayAction`s on a channel; the engine answers them and pushes
//! a fresh `TrayModel` with `Handle::set`.

use std::sync::LazyLock;
use std::time::Duration;

use ksni::menu::{CheckmarkItem, StandardItem};
use ksni::{Icon, MenuItem, OfflineReason, ToolTip, Tray, TrayMethods};
use slipway_engine::domain::metrics::TrayState;
use tokio::sync::mpsc::UnboundedSender;

use crate::tray_menu::{self, Entry};
pub use crate::tray_menu::{TrayAction, TrayModel};

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
    let tray = SlipwayTray { model: TrayModel::idle(), actions };
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
        ToolTip { title: tray_menu::tooltip(&self.model), ..Default::default() }
    }

    fn activate(&mut self, _x: i32, _y: i32) {
        self.send(TrayAction::Open);
    }

    fn menu(&self) -> Vec<MenuItem<Self>> {
        tray_menu::entries(&self.model).into_iter().map(menu_item).collect()
    }

    fn watcher_offline(&self, reason: OfflineReason) -> bool {
        tracing::info!("tray: no StatusNotifierWatcher on the session bus ({reason:?}); the icon appears when a panel provides one");
        true
    }

    fn watcher_online(&self) {
        tracing::info!("tray: a StatusNotifierWatcher appeared; registering the icon");
    }
}

fn menu_item(entry: Entry) -> MenuItem<SlipwayTray> {
    // DBusMenu reads a single `_` as a mnemonic marker and hides it: project ids like my_app would lose it.
    let escape = |l: String| l.replace('_', "__");
    match entry {
        Entry::Separator => MenuItem::Separator,
        Entry::Item { label, action: None } => StandardItem { label: escape(label), enabled: false, ..Default::default() }.into(),
        Entry::Item { label, action: Some(action) } => StandardItem {
            label: escape(label),
            activate: Box::new(move |t: &mut SlipwayTray| t.send(action.clone())),
            ..Default::default()
        }
        .into(),
        Entry::Check { label, checked, action } => CheckmarkItem {
            label: escape(label),
            checked,
            activate: Box::new(move |t: &mut SlipwayTray| t.send(action.clone())),
            ..Default::default()
        }
        .into(),
    }
}

/// Indexed by `TrayState as usize`; decoded on first use and kept (4 × 32×32 × 4 B = 16 KiB).
static ICONS: LazyLock<[Icon; 4]> =
    LazyLock::new(|| [TrayState::Idle, TrayState::Running, TrayState::Failed, TrayState::Paused].map(|s| argb32(tray_menu::icon(s))));

/// RGBA to the ARGB32 pixmap SNI wants: A, R, G, B bytes per pixel, i.e. big-endian ARGB.
fn argb32(icon: tray_menu::Rgba) -> Icon {
    let data = icon.data.chunks_exact(4).flat_map(|p| [p[3], p[0], p[1], p[2]]).collect();
    Icon { width: icon.width as i32, height: icon.height as i32, data }
}

#[cfg(test)]
mod tests {
    use super::*;
    use slipway_engine::domain::metrics::TraySummary;
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
