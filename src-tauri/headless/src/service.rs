//! `slipwayd install-service`: Slipway as a systemd service, so the engine runs from boot (or
//! from login, `--user`), restarts when it fails, and on a server keeps its secrets key as an
//! encrypted systemd credential (host key or TPM) rather than in a file beside the data.

use std::path::{Path, PathBuf};
use std::process::Command;

use slipway_engine::{Error, ErrorCode};

/// The credential name the engine reads from `$CREDENTIALS_DIRECTORY`.
const CREDENTIAL: &str = slipway_engine::adapters::keychain::key::CREDENTIAL;
/// Where the system service keeps its data (`StateDirectory=slipway`).
pub const SYSTEM_DATA_DIR: &str = "/var/lib/slipway";

pub struct Install {
    /// A user service (`~/.config/systemd/user`) instead of a system one.
    pub user: bool,
    /// Everything is written under this directory instead of `/` (packaging, tests).
    pub root: Option<PathBuf>,
    /// The unit a package ships: in `/usr/lib/systemd/system`, with the secrets key in a file.
    /// A package cannot seal the key (the credential is bound to the host key or TPM of the
    /// machine that seals it); `install-service --system` on the target seals one, and its unit
    /// in `/etc/systemd/system` overrides the packaged one.
    pub package: bool,
}

/// Writes the unit (and, for a system service, the encrypted secrets key when systemd-creds is
/// there) and returns what to run next.
pub fn install(opts: &Install) -> Result<String, Error> {
    let exe = program_path(std::env::current_exe()?, opts.root.as_deref());
    let under = |p: &Path| match &opts.root {
        Some(root) => root.join(p.strip_prefix("/").unwrap_or(p)),
        None => p.to_path_buf(),
    };
    if opts.user {
        let config = dirs::config_dir().ok_or_else(|| invalid("no per-user config directory is known here"))?;
        let unit_path = under(&config.join("systemd/user/slipway.service"));
        write(&unit_path, &user_unit(&exe))?;
        return Ok(format!(
            "wrote {}\nnext:\n  systemctl --user daemon-reload\n  systemctl --user enable --now slipway\n  \
             loginctl enable-linger $USER   # keep it running after you log out\n  slipwayd status",
            unit_path.display()
        ));
    }
    let unit_dir = if opts.package { "/usr/lib/systemd/system" } else { "/etc/systemd/system" };
    let unit_path = under(&Path::new(unit_dir).join("slipway.service"));
    let cred_path = Path::new("/etc/slipway/secrets-key.cred");
    let cred = match !opts.package && seal_key(&under(cred_path))? {
        true => Some(cred_path),
        false => None,
    };
    write(&unit_path, &system_unit(&exe, cred))?;
    let key_line = match cred {
        Some(c) => format!("the secrets key is sealed by systemd-creds in {}", under(c).display()),
        None => "systemd-creds is not here: the secrets key will be /var/lib/slipway-key/secrets.key (0600)".to_string(),
    };
    Ok(format!(
        "wrote {}\n{key_line}\nnext:\n  systemctl daemon-reload\n  systemctl enable --now slipway\n  \
         SLIPWAY_DATA_DIR=/var/lib/slipway slipwayd status",
        unit_path.display()
    ))
}

/// The program the unit runs. Under `--root` (packaging), a program inside the root is named by
/// where it will be once the root is `/`.
fn program_path(exe: PathBuf, root: Option<&Path>) -> PathBuf {
    match root.and_then(|r| exe.strip_prefix(r).ok()) {
        Some(inside) => Path::new("/").join(inside),
        None => exe,
    }
}

/// The program's path as one `ExecStart=` word: systemd splits the line at spaces, expands
/// `%` specifiers and `$` variables, and reads C-style escapes inside double quotes.
fn exec_path(exe: &Path) -> String {
    let mut out = String::from("\"");
    for c in exe.display().to_string().chars() {
        match c {
            '\\' | '"' => out.extend(['\\', c]),
            '%' => out.push_str("%%"),
            '$' => out.push_str("$$"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn user_unit(exe: &Path) -> String {
    format!(
        "[Unit]\nDescription=Slipway deploy engine\nAfter=network-online.target\n\n\
         [Service]\nExecStart={} serve\nRestart=on-failure\nRestartSec=2\nLimitNOFILE=65536\n\n\
         [Install]\nWantedBy=default.target\n",
        exec_path(exe)
    )
}

/// A system service: its own state directory (0700), the key as a credential when sealed. It
/// runs as root, as the Docker daemon's other clients do: access to the Docker socket is root's
/// power whatever the user, and an unprivileged (or `DynamicUser=`) account would have no
/// `~/.ssh` for the SSH Docker hosts and forges, which the operator configures as root.
fn system_unit(exe: &Path, cred: Option<&Path>) -> String {
    let key = match cred {
        Some(c) => format!("LoadCredentialEncrypted={CREDENTIAL}:{}\n", c.display()),
        None => "Environment=SLIPWAY_SECRETS_KEY_FILE=/var/lib/slipway-key/secrets.key\nStateDirectory=slipway-key\n".to_string(),
    };
    format!(
        "[Unit]\nDescription=Slipway deploy engine\nWants=network-online.target\nAfter=network-online.target docker.service\n\n\
         [Service]\nExecStart={} serve\nEnvironment=SLIPWAY_DATA_DIR=/var/lib/slipway\nEnvironment=SLIPWAY_SECRETS=file\n\
         StateDirectory=slipway\nStateDirectoryMode=0700\n{key}Restart=on-failure\nRestartSec=2\nLimitNOFILE=65536\n\n\
         [Install]\nWantedBy=multi-user.target\n",
        exec_path(exe)
    )
}

/// Seals a new random key with `systemd-creds` (host key, and the TPM where there is one) at
/// `path`, unless one is there already. False when systemd-creds is not available.
fn seal_key(path: &Path) -> Result<bool, Error> {
    if path.exists() {
        return Ok(true);
    }
    if Command::new("systemd-creds").arg("--version").output().map(|o| !o.status.success()).unwrap_or(true) {
        return Ok(false);
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let key = slipway_engine::adapters::keychain::Key::random();
    let mut child = Command::new("systemd-creds")
        .args(["encrypt", "--with-key=auto", &format!("--name={CREDENTIAL}"), "-"])
        .arg(path)
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("piped");
        stdin.write_all(format!("{}\n", key.to_hex()).as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        return Err(Error::new(
            ErrorCode::Io,
            format!("systemd-creds could not seal the secrets key: {}", String::from_utf8_lossy(&out.stderr).trim()),
        ));
    }
    Ok(true)
}

fn write(path: &Path, text: &str) -> Result<(), Error> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, text)?;
    Ok(())
}

fn invalid(msg: &str) -> Error {
    Error::new(ErrorCode::InvalidInput, msg.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_inside_the_packaging_root_is_named_by_its_installed_path() {
        let root = Path::new("/tmp/stage");
        assert_eq!(program_path("/tmp/stage/usr/bin/slipwayd".into(), Some(root)), Path::new("/usr/bin/slipwayd"));
        assert_eq!(program_path("/opt/slipwayd".into(), Some(root)), Path::new("/opt/slipwayd"));
        assert_eq!(program_path("/tmp/stage/usr/bin/slipwayd".into(), None), Path::new("/tmp/stage/usr/bin/slipwayd"));
    }

    #[test]
    fn the_program_path_is_one_execstart_word_whatever_it_holds() {
        for (path, want) in [
            ("/usr/bin/slipwayd", r#""/usr/bin/slipwayd""#),
            ("/opt/My Apps/slipwayd", r#""/opt/My Apps/slipwayd""#),
            ("/opt/100%/$HOME/slipwayd", r#""/opt/100%%/$$HOME/slipwayd""#),
            (r#"/opt/a"b\c/slipwayd"#, r#""/opt/a\"b\\c/slipwayd""#),
        ] {
            assert_eq!(exec_path(Path::new(path)), want, "{path}");
        }
    }
}
