//! What the compose tests share: reading a compose file of a directory the way the engine reads
//! one of a checkout (files by path from the root; the text files under a path).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use slipway_engine::domain::compose::{load, Input, Loaded};

/// `tests/fixtures/<name>` of the repository.
pub fn fixtures(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures").join(name)
}

fn read_in(dir: &Path) -> impl Fn(&str) -> Result<Option<String>, String> + '_ {
    move |rel: &str| match std::fs::read_to_string(dir.join(rel)) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

fn files_in(dir: &Path) -> impl Fn(&str) -> Result<Vec<(String, String)>, String> + '_ {
    move |rel: &str| {
        let path = dir.join(rel);
        if path.is_file() {
            return Ok(vec![(String::new(), std::fs::read_to_string(&path).map_err(|e| e.to_string())?)]);
        }
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&path).map_err(|e| format!("{rel}: {e}"))? {
            let entry = entry.map_err(|e| e.to_string())?;
            if entry.path().is_file() {
                out.push((
                    entry.file_name().to_string_lossy().into_owned(),
                    std::fs::read_to_string(entry.path()).map_err(|e| e.to_string())?,
                ));
            }
        }
        Ok(out)
    }
}

/// Reads `files[0]` of `dir` with the later `files` merged onto it, for stage `dev` of project
/// `corpus`, with `env` as the project's environment.
pub fn read_files(dir: &Path, files: &[&str], env: &BTreeMap<String, String>) -> Result<Loaded, String> {
    let text = std::fs::read_to_string(dir.join(files[0])).map_err(|e| format!("{}: {e}", files[0]))?;
    let overrides: Vec<(String, String)> =
        files[1..].iter().map(|f| (f.to_string(), std::fs::read_to_string(dir.join(f)).unwrap())).collect();
    let (read, under) = (read_in(dir), files_in(dir));
    let input = Input {
        file: files[0],
        text: &text,
        read: &read,
        files_under: &under,
        overrides: &overrides,
        env,
        secrets: &[],
        stage: "dev",
        project: "corpus",
        network: "slipway-x-corpus-dev",
    };
    load(&input).map_err(|e| e.to_string())
}
