//! Start at login: the OS's own mechanism runs `slipwayd serve --tray` when the user logs in (the
//! engine and its tray; never the window). Linux and the BSDs: an XDG autostart entry in
//! `$XDG_CONFIG_HOME/autostart`; macOS: a LaunchAgent in `~/Library/LaunchAgents`; Windows: a
//! value under `HKCU\Software\Microsoft\Windows\CurrentVersion\Run`.
//!
//! Must not depend on other adapters.

use std::path::Path;
#[cfg(not(windows))]
use std::path::PathBuf;

use crate::Result;
#[cfg(not(windows))]
use crate::{Error, ErrorCode};

/// The entry's name: the XDG file name, the LaunchAgent label, the Run value.
const NAME: &str = "dev.slipway.engine";

/// Where the entry is (or would be), for messages.
pub fn location() -> Result<String> {
    #[cfg(windows)]
    let found = Ok(format!(r"HKCU\Software\Microsoft\Windows\CurrentVersion\Run\{NAME}"));
    #[cfg(not(windows))]
    let found = entry_path().map(|p| p.display().to_string());
    found
}

/// Whether the entry exists.
pub fn enabled() -> Result<bool> {
    #[cfg(windows)]
    let found = windows::get().map(|v| v.is_some());
    #[cfg(target_os = "macos")]
    let found = entry_path().map(|p| p.exists());
    #[cfg(not(any(windows, target_os = "macos")))]
    let found = entry_path().map(|p| match std::fs::read_to_string(&p) {
        Ok(text) => !hidden(&text),
        Err(_) => system_entry().is_some(),
    });
    found
}

/// Writes the entry so that `exe serve --tray` runs at login (with `data_dir` when given), or
/// removes it.
pub fn set(on: bool, exe: &Path, data_dir: Option<&Path>) -> Result<()> {
    #[cfg(windows)]
    let done = windows::set(on, exe, data_dir);
    #[cfg(not(windows))]
    let done = set_file(on, exe, data_dir);
    done
}

#[cfg(not(windows))]
fn set_file(on: bool, exe: &Path, data_dir: Option<&Path>) -> Result<()> {
    let path = entry_path()?;
    #[cfg(not(target_os = "macos"))]
    if !on && system_entry().is_some() {
        // The package's entry runs for every user unless this user's entry of the same name
        // hides it (XDG Autostart: the user's directory comes first).
        return write_entry(&path, &format!("{}Hidden=true\n", entry(exe, data_dir)));
    }
    if !on {
        return match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(&path, e)),
        };
    }
    write_entry(&path, &entry(exe, data_dir))
}

#[cfg(not(windows))]
fn write_entry(path: &Path, text: &str) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    }
    std::fs::write(path, text).map_err(|e| io(path, e))
}

/// The entry a package installs for every user (`/etc/xdg/autostart`, or the autostart folder
/// of another `$XDG_CONFIG_DIRS` entry), with the same name as the user's own.
#[cfg(not(any(windows, target_os = "macos")))]
fn system_entry() -> Option<PathBuf> {
    let dirs = std::env::var("XDG_CONFIG_DIRS").ok().filter(|d| !d.is_empty()).unwrap_or_else(|| "/etc/xdg".into());
    dirs.split(':').map(|d| Path::new(d).join("autostart").join(format!("{NAME}.desktop"))).find(|p| p.exists())
}

/// Whether a desktop entry is hidden, i.e. turned off for this user (`Hidden=true` in the
/// `[Desktop Entry]` group; a later key of the same name wins).
#[cfg(not(any(windows, target_os = "macos")))]
fn hidden(text: &str) -> bool {
    let mut in_entry = false;
    let mut hidden = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_entry = line == "[Desktop Entry]";
        } else if let Some(v) = line.strip_prefix("Hidden").map(str::trim_start).and_then(|l| l.strip_prefix('=')) {
            if in_entry {
                hidden = v.trim() == "true";
            }
        }
    }
    hidden
}

#[cfg(not(windows))]
fn io(path: &Path, e: std::io::Error) -> Error {
    Error::new(ErrorCode::Io, format!("start at login: cannot write {}: {e}", path.display()))
}

#[cfg(not(any(windows, target_os = "macos")))]
fn entry_path() -> Result<PathBuf> {
    let dir = dirs::config_dir().ok_or_else(|| Error::new(ErrorCode::Io, "start at login: no per-user config directory is known"))?;
    Ok(dir.join("autostart").join(format!("{NAME}.desktop")))
}

#[cfg(target_os = "macos")]
fn entry_path() -> Result<PathBuf> {
    let home = dirs::home_dir().ok_or_else(|| Error::new(ErrorCode::Io, "start at login: no home directory is known"))?;
    Ok(home.join("Library/LaunchAgents").join(format!("{NAME}.plist")))
}

/// An XDG desktop entry (the Desktop Entry Specification quotes arguments with `"`).
#[cfg(not(any(windows, target_os = "macos")))]
fn entry(exe: &Path, data_dir: Option<&Path>) -> String {
    let quote = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"").replace('`', "\\`").replace('$', "\\$"));
    let mut exec = format!("{} serve --tray", quote(&exe.display().to_string()));
    if let Some(d) = data_dir {
        exec.push_str(&format!(" --data-dir {}", quote(&d.display().to_string())));
    }
    format!(
        "[Desktop Entry]\nType=Application\nName=Slipway\nComment=Slipway's deploy engine and its tray icon\nExec={exec}\n\
         Terminal=false\nX-GNOME-Autostart-enabled=true\n"
    )
}

/// A LaunchAgent that runs at load (login), not kept alive (quitting from the tray means it).
#[cfg(target_os = "macos")]
fn entry(exe: &Path, data_dir: Option<&Path>) -> String {
    let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let mut args = vec![esc(&exe.display().to_string()), "serve".into(), "--tray".into()];
    if let Some(d) = data_dir {
        args.extend(["--data-dir".into(), esc(&d.display().to_string())]);
    }
    let args: String = args.iter().map(|a| format!("    <string>{a}</string>\n")).collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \
         \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n<plist version=\"1.0\">\n<dict>\n  <key>Label</key>\n  <string>{NAME}</string>\n  \
         <key>ProgramArguments</key>\n  <array>\n{args}  </array>\n  <key>RunAtLoad</key>\n  <true/>\n</dict>\n</plist>\n"
    )
}

#[cfg(windows)]
mod windows {
    use winreg::enums::{HKEY_CURRENT_USER, KEY_READ, KEY_WRITE};
    use winreg::RegKey;

    use super::NAME;
    use crate::{Error, ErrorCode, Result};

    const RUN: &str = r"Software\Microsoft\Windows\CurrentVersion\Run";

    fn err(e: std::io::Error) -> Error {
        Error::new(ErrorCode::Io, format!(r"start at login: HKCU\{RUN}: {e}"))
    }

    pub fn get() -> Result<Option<String>> {
        let key = RegKey::predef(HKEY_CURRENT_USER).open_subkey_with_flags(RUN, KEY_READ).map_err(err)?;
        Ok(key.get_value::<String, _>(NAME).ok())
    }

    pub fn set(on: bool, exe: &std::path::Path, data_dir: Option<&std::path::Path>) -> Result<()> {
        let mut line = format!("\"{}\" serve --tray", exe.display());
        if let Some(d) = data_dir {
            line.push_str(&format!(" --data-dir \"{}\"", d.display()));
        }
        if on {
            put(&line)
        } else {
            remove()
        }
    }

    fn put(line: &str) -> Result<()> {
        let (key, _) = RegKey::predef(HKEY_CURRENT_USER).create_subkey(RUN).map_err(err)?;
        key.set_value(NAME, &line.to_string()).map_err(err)
    }

    fn remove() -> Result<()> {
        let key = RegKey::predef(HKEY_CURRENT_USER).open_subkey_with_flags(RUN, KEY_WRITE).map_err(err)?;
        match key.delete_value(NAME) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(err(e)),
        }
    }
}

#[cfg(all(test, not(any(windows, target_os = "macos"))))]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_hidden_only_by_hidden_true_in_its_desktop_entry_group() {
        let cases = [
            ("[Desktop Entry]\nExec=x\n", false),
            ("[Desktop Entry]\nHidden=true\n", true),
            ("[Desktop Entry]\nHidden = true\n", true),
            ("[Desktop Entry]\nHidden=false\n", false),
            ("[Desktop Entry]\nHidden=true\nHidden=false\n", false),
            ("[Desktop Action x]\nHidden=true\n", false),
            ("[Desktop Entry]\nHiddenFoo=true\n", false),
        ];
        for (text, want) in cases {
            assert_eq!(hidden(text), want, "{text:?}");
        }
    }

    #[test]
    fn the_entry_runs_the_engine_with_its_tray_quoted() {
        let e = entry(Path::new("/opt/my apps/slipwayd"), Some(Path::new("/data/$HOME")));
        assert!(e.contains("Exec=\"/opt/my apps/slipwayd\" serve --tray --data-dir \"/data/\\$HOME\"\n"), "{e}");
        assert!(e.starts_with("[Desktop Entry]\nType=Application\n"), "{e}");
    }
}
