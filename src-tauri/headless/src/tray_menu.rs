//! What the tray shows and what its clicks mean, on every OS: one menu, decided here, drawn by
//! `tray.rs` (StatusNotifierItem over D-Bus on Linux and the BSDs) or `tray_native.rs` (the
//! `tray-icon` crate on macOS and Windows). Keeping the decisions out of the two drawings is what
//! lets the Linux tests, which read the real tray over D-Bus, speak for the other two.

use serde::{Deserialize, Serialize};
use slipway_engine::domain::metrics::{TrayState, TraySummary};

/// What the tray shows: the engine's summary plus the pause switch.
#[derive(Debug, Clone)]
pub struct TrayModel {
    pub summary: TraySummary,
    pub paused: bool,
}

impl TrayModel {
    /// What a tray shows before the engine's first summary arrives.
    pub fn idle() -> Self {
        TrayModel { summary: TraySummary { state: TrayState::Idle, recent: vec![], promotions: vec![], attention: vec![] }, paused: false }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TrayAction {
    Open,
    OpenRun(i64),
    Promote { project_id: String, stage: String },
    TogglePause,
    Quit,
}

// The ids are read by tray_native (macOS, Windows); on Linux only by the tests.
#[cfg_attr(all(unix, not(target_os = "macos")), allow(dead_code))]
impl TrayAction {
    /// The menu item's id on toolkits that report clicks by id (muda on macOS and Windows). The
    /// action itself, not a position: a click that arrives after the menu was rebuilt still
    /// means what the operator saw.
    pub fn menu_id(&self) -> String {
        serde_json::to_string(self).expect("a tray action serializes")
    }

    pub fn from_menu_id(id: &str) -> Option<TrayAction> {
        serde_json::from_str(id).ok()
    }
}

/// One line of the menu. `action: None` is a heading, shown greyed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Item {
        label: String,
        action: Option<TrayAction>,
    },
    /// Not flipped by the tray itself: the engine owns the switch and sends the new model back.
    Check {
        label: String,
        checked: bool,
        action: TrayAction,
    },
    Separator,
}

fn item(label: impl Into<String>, action: TrayAction) -> Entry {
    Entry::Item { label: label.into(), action: Some(action) }
}

/// The menu for `model`: open, the last runs, stages that need attention, promotions waiting
/// for a confirmation (which opens the window's dialog, never promotes), pause, quit.
pub fn entries(model: &TrayModel) -> Vec<Entry> {
    let m = &model.summary;
    let mut out = vec![item("Open Slipway", TrayAction::Open)];
    if !m.recent.is_empty() {
        out.push(Entry::Separator);
        out.push(Entry::Item { label: "Last runs".into(), action: None });
        for r in &m.recent {
            let label = format!("#{} {}/{} · {}", r.id, r.project_id, r.stage, r.status.as_str().replace('_', " "));
            out.push(item(label, TrayAction::OpenRun(r.id)));
        }
    }
    if !m.attention.is_empty() {
        out.push(Entry::Separator);
        out.extend(m.attention.iter().map(|a| item(a.label(), TrayAction::Open)));
    }
    if !m.promotions.is_empty() {
        out.push(Entry::Separator);
        for p in &m.promotions {
            let label = format!("Promote {} {} to {}…", p.project_id, p.from_release.number, p.stage);
            out.push(item(label, TrayAction::Promote { project_id: p.project_id.clone(), stage: p.stage.clone() }));
        }
    }
    out.push(Entry::Separator);
    out.push(Entry::Check { label: "Pause auto-deploy".into(), checked: model.paused, action: TrayAction::TogglePause });
    out.push(item("Quit", TrayAction::Quit));
    out
}

pub fn tooltip(model: &TrayModel) -> String {
    let state = match model.summary.state {
        TrayState::Idle => "idle",
        TrayState::Running => "running",
        TrayState::Failed => "failed",
        TrayState::Paused => "paused",
    };
    format!("Slipway: {state}")
}

/// A decoded icon: width, height and RGBA bytes, row by row.
pub struct Rgba {
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
}

/// The icon for a state, decoded from the PNGs in `icons/` (32×32, 4 KiB each once decoded).
pub fn icon(state: TrayState) -> Rgba {
    rgba(match state {
        TrayState::Idle => include_bytes!("../../../icons/tray-idle.png"),
        TrayState::Running => include_bytes!("../../../icons/tray-running.png"),
        TrayState::Failed => include_bytes!("../../../icons/tray-failed.png"),
        TrayState::Paused => include_bytes!("../../../icons/tray-paused.png"),
    })
}

fn rgba(png_bytes: &[u8]) -> Rgba {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    // Palette, grey and 16-bit files come out as 8-bit grey/GA/RGB/RGBA.
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().expect("embedded tray icon is a valid PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("tray icon size fits in memory")];
    let info = reader.next_frame(&mut buf).expect("embedded tray icon decodes");
    buf.truncate(info.buffer_size());
    let mut data = Vec::with_capacity(info.width as usize * info.height as usize * 4);
    match info.color_type {
        png::ColorType::Rgba => data = buf,
        png::ColorType::Rgb => buf.chunks_exact(3).for_each(|p| data.extend_from_slice(&[p[0], p[1], p[2], 255])),
        png::ColorType::GrayscaleAlpha => buf.chunks_exact(2).for_each(|p| data.extend_from_slice(&[p[0], p[0], p[0], p[1]])),
        png::ColorType::Grayscale => buf.iter().for_each(|&v| data.extend_from_slice(&[v, v, v, 255])),
        png::ColorType::Indexed => unreachable!("EXPAND turns palettes into RGB(A)"),
    }
    Rgba { width: info.width, height: info.height, data }
}

#[cfg(test)]
mod tests {
    use super::*;
    use slipway_engine::domain::run::{RunStatus, RunSummary, Trigger};

    #[test]
    fn every_state_has_a_decodable_icon() {
        for state in [TrayState::Idle, TrayState::Running, TrayState::Failed, TrayState::Paused] {
            let i = icon(state);
            assert!(i.width > 0 && i.height > 0);
            assert_eq!(i.data.len(), (i.width * i.height * 4) as usize);
        }
    }

    #[test]
    fn a_menu_id_means_the_same_action_after_the_menu_changed() {
        let actions = [
            TrayAction::Open,
            TrayAction::OpenRun(42),
            TrayAction::Promote { project_id: "web/app\"x".into(), stage: "prod".into() },
            TrayAction::TogglePause,
            TrayAction::Quit,
        ];
        for a in actions {
            assert_eq!(TrayAction::from_menu_id(&a.menu_id()), Some(a));
        }
        assert_eq!(TrayAction::from_menu_id("not an action"), None);
    }

    fn run(id: i64, status: RunStatus) -> RunSummary {
        RunSummary {
            id,
            project_id: "web_app".into(),
            stage: "prod".into(),
            trigger: Trigger::Webhook,
            status,
            commit_sha: None,
            ref_name: None,
            reason: None,
            delivery_id: None,
            queued_at: 0,
        }
    }

    #[test]
    fn the_menu_lists_open_then_runs_then_pause_and_quit() {
        let idle = TrayModel::idle();
        let labels = |m: &TrayModel| {
            entries(m)
                .into_iter()
                .map(|e| match e {
                    Entry::Item { label, action: None } => format!("({label})"),
                    Entry::Item { label, .. } => label,
                    Entry::Check { label, checked, .. } => format!("[{}] {label}", if checked { "x" } else { " " }),
                    Entry::Separator => "--".into(),
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(labels(&idle), ["Open Slipway", "--", "[ ] Pause auto-deploy", "Quit"]);
        let busy = TrayModel {
            summary: TraySummary {
                state: TrayState::Failed,
                recent: vec![run(7, RunStatus::RolledBack), run(6, RunStatus::Succeeded)],
                promotions: vec![],
                attention: vec![],
            },
            paused: true,
        };
        assert_eq!(
            labels(&busy),
            [
                "Open Slipway",
                "--",
                "(Last runs)",
                "#7 web_app/prod · rolled back",
                "#6 web_app/prod · succeeded",
                "--",
                "[x] Pause auto-deploy",
                "Quit"
            ]
        );
        assert_eq!(tooltip(&busy), "Slipway: failed");
        let run_clicks: Vec<_> = entries(&busy)
            .into_iter()
            .filter_map(|e| match e {
                Entry::Item { action: Some(a @ TrayAction::OpenRun(_)), .. } => Some(a),
                _ => None,
            })
            .collect();
        assert_eq!(run_clicks, [TrayAction::OpenRun(7), TrayAction::OpenRun(6)]);
    }
}
