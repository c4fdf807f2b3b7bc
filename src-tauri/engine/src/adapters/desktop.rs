//! Desktop notifications: the freedesktop notification server over D-Bus on Linux and the BSDs
//! (with the notice's buttons: [`crate::domain::notice_action::buttons`]), the OS's own elsewhere.

#[cfg(not(all(unix, not(target_os = "macos"))))]
pub use imp::main_loop_runs;
pub use imp::show;

#[cfg(all(unix, not(target_os = "macos")))]
mod imp {
    use std::time::Duration;

    use crate::domain::notice::{Notice, NoticeKind};

    /// Servers that announce body markup (dunst, GNOME, KDE, mako) read `&` and `<` as markup.
    fn escape(s: &str) -> String {
        s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
    }

    /// Shows `notice` with `buttons` (action key, label; "default" is a click on its body); the
    /// first one invoked within an hour is handed to `on_action`.
    pub async fn show(notice: &Notice, buttons: &[(&str, &str)], on_action: impl FnOnce(String) + Send + 'static) -> Result<(), String> {
        let mut n = notify_rust::Notification::new();
        n.appname("Slipway").summary(&notice.title).body(&escape(&notice.body)).icon(match notice.kind {
            NoticeKind::Failed | NoticeKind::RolledBack | NoticeKind::StageDown => "dialog-error",
            NoticeKind::StageDegraded => "dialog-warning",
            NoticeKind::Recovered | NoticeKind::StageRecovered => "emblem-default",
            NoticeKind::AwaitingPromotion | NoticeKind::Test => "dialog-question",
        });
        for (key, label) in buttons {
            n.action(key, label);
        }
        let handle = n.show_async().await.map_err(|e| e.to_string())?;
        if !buttons.is_empty() {
            tokio::spawn(async move {
                let invoked = std::sync::Arc::new(std::sync::Mutex::new(None::<String>));
                let got = invoked.clone();
                let wait = handle.wait_for_action_async(move |r| {
                    let key = match r {
                        notify_rust::NotificationResponse::Default => Some("default".to_string()),
                        notify_rust::NotificationResponse::Action(a) => Some(a.clone()),
                        _ => None,
                    };
                    if key.is_some() {
                        *got.lock().unwrap() = key;
                    }
                });
                // A server that never closes it must not keep this task (and its bus
                // connection) forever.
                let _ = tokio::time::timeout(Duration::from_secs(3600), wait).await;
                let key = invoked.lock().unwrap().take();
                if let Some(key) = key {
                    on_action(key);
                }
            });
        }
        Ok(())
    }
}

#[cfg(not(all(unix, not(target_os = "macos"))))]
mod imp {
    use std::sync::atomic::{AtomicBool, Ordering};

    use crate::domain::notice::Notice;

    /// macOS hands a notification's answer to the main thread's run loop, so only a process
    /// that runs one (`slipwayd` with its tray) may offer buttons and wait; elsewhere a wait
    /// would never end. Windows delivers answers on a thread of its own.
    static MAIN_LOOP: AtomicBool = AtomicBool::new(cfg!(windows));

    /// Called by the tray's event loop on the main thread.
    pub fn main_loop_runs() {
        MAIN_LOOP.store(true, Ordering::Relaxed);
    }

    /// macOS (NSUserNotificationCenter: the buttons become one drop-down) and Windows (a toast
    /// with buttons): notify-rust shows it and waits for the answer, both by blocking a thread,
    /// and on macOS only while the main thread runs its event loop, which `slipwayd`'s tray
    /// does. A body click is "default", as on Linux.
    pub async fn show(notice: &Notice, buttons: &[(&str, &str)], on_action: impl FnOnce(String) + Send + 'static) -> Result<(), String> {
        let mut n = notify_rust::Notification::new();
        n.appname("Slipway").summary(&notice.title).body(&notice.body);
        let wants_answer = !buttons.is_empty() && MAIN_LOOP.load(Ordering::Relaxed);
        if wants_answer {
            for (key, label) in buttons {
                n.action(key, label);
            }
        }
        // Windows shows the toast here, so a failure to show is the caller's error; macOS sends
        // it when it is waited on, or when the handle is dropped.
        let handle = tokio::task::spawn_blocking(move || n.show().map_err(|e| e.to_string())).await.map_err(|e| e.to_string())??;
        // Waits until it is clicked, dismissed or expires, on a thread of its own.
        tokio::task::spawn_blocking(move || {
            if !wants_answer {
                return drop(handle);
            }
            let _ = handle.wait_for_response(move |r: &notify_rust::NotificationResponse| match r {
                notify_rust::NotificationResponse::Default => on_action("default".into()),
                notify_rust::NotificationResponse::Action(key) => on_action(key.clone()),
                _ => {}
            });
        });
        Ok(())
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
