//! Desktop notifications: the freedesktop notification server over D-Bus on Linux and the BSDs
//! (with a clickable "Open run"), the OS's own elsewhere.

pub use imp::show;

#[cfg(all(unix, not(target_os = "macos")))]
mod imp {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use crate::domain::notice::{Notice, NoticeKind};

    /// Servers that announce body markup (dunst, GNOME, KDE, mako) read `&` and `<` as markup.
    fn escape(s: &str) -> String {
        s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
    }

    /// Shows `notice`; when it names a run, a click on it calls `on_click` (once, within an hour).
    pub async fn show(notice: &Notice, on_click: impl FnOnce() + Send + 'static) -> Result<(), String> {
        let mut n = notify_rust::Notification::new();
        n.appname("Slipway").summary(&notice.title).body(&escape(&notice.body)).icon(match notice.kind {
            NoticeKind::Failed | NoticeKind::RolledBack | NoticeKind::StageDown => "dialog-error",
            NoticeKind::StageDegraded => "dialog-warning",
            NoticeKind::Recovered | NoticeKind::StageRecovered => "emblem-default",
            NoticeKind::AwaitingPromotion | NoticeKind::Test => "dialog-question",
        });
        if notice.run_id.is_some() {
            // "default" is the action a click on the notification's body invokes.
            n.action("default", "Open run");
        }
        let handle = n.show_async().await.map_err(|e| e.to_string())?;
        if notice.run_id.is_some() {
            tokio::spawn(async move {
                let clicked = std::sync::Arc::new(AtomicBool::new(false));
                let c = clicked.clone();
                let wait = handle.wait_for_action_async(move |r| {
                    if matches!(r, notify_rust::NotificationResponse::Default)
                        || matches!(r, notify_rust::NotificationResponse::Action(a) if a == "default")
                    {
                        c.store(true, Ordering::SeqCst);
                    }
                });
                // A server that never closes it must not keep this task (and its bus
                // connection) forever.
                let _ = tokio::time::timeout(Duration::from_secs(3600), wait).await;
                if clicked.load(Ordering::SeqCst) {
                    on_click();
                }
            });
        }
        Ok(())
    }
}

#[cfg(not(all(unix, not(target_os = "macos"))))]
mod imp {
    use crate::domain::notice::Notice;

    /// macOS and Windows: shown, but a click only brings the app forward (the OS does that).
    pub async fn show(notice: &Notice, _on_click: impl FnOnce() + Send + 'static) -> Result<(), String> {
        let mut n = notify_rust::Notification::new();
        n.appname("Slipway").summary(&notice.title).body(&notice.body);
        tokio::task::spawn_blocking(move || n.show().map(|_| ()).map_err(|e| e.to_string())).await.map_err(|e| e.to_string())?
    }
}

/// Whether this process could reach a notification service at all.
pub fn possible() -> bool {
    if cfg!(all(unix, not(target_os = "macos"))) {
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some()
            || std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|d| std::path::Path::new(&d).join("bus").exists())
    } else {
        true
    }
}
