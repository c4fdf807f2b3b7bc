//! The window's own console commands: opening a link in the desktop's browser.

use slipway_protocol::{ApiError, ErrorCode};

/// Opens an http(s) URL (a commit on the forge) in the desktop's browser: the window itself
/// never navigates away from the console.
#[tauri::command]
pub fn open_external(url: String) -> Result<(), ApiError> {
    let invalid = |m: String| ApiError { code: ErrorCode::InvalidInput, message: m };
    if !(url.starts_with("https://") || url.starts_with("http://")) || url.chars().any(char::is_whitespace) {
        return Err(invalid(format!("url: only http(s) links open in the browser, not {url:?}")));
    }
    #[cfg(target_os = "macos")]
    let mut cmd = std::process::Command::new("open");
    #[cfg(target_os = "windows")]
    let mut cmd = {
        let mut c = std::process::Command::new("rundll32");
        c.arg("url.dll,FileProtocolHandler");
        c
    };
    #[cfg(not(any(target_os = "macos", target_os = "windows")))]
    let mut cmd = std::process::Command::new("xdg-open");
    cmd.arg(&url).spawn().map(drop).map_err(|e| ApiError { code: ErrorCode::Io, message: format!("cannot open a browser for {url}: {e}") })
}
