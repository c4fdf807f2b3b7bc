//! The tar archives that carry a run's source into its workspace volume and a build's context
//! to the builder, honouring `.dockerignore`.

use super::*;

/// Streams a tar of `root` from a blocking thread, so a large tree is never held in memory
/// whole; the stream becomes a request body through `bollard::body_try_stream`. The handle
/// reports the walk's own failure, which explains a failed request better than the aborted body
/// does.
pub(super) fn tar_stream<B: From<Vec<u8>> + Send + 'static>(
    root: PathBuf,
    filter: Filter,
) -> (impl futures::Stream<Item = Result<B, io::Error>> + Send + 'static, tokio::task::JoinHandle<Result<(), String>>) {
    let (tx, mut rx) = mpsc::channel(8);
    let walker = tokio::task::spawn_blocking(move || {
        let writer = Chunks { tx: tx.clone(), buf: Vec::with_capacity(CHUNK) };
        let result = write_tar(&root, &filter, writer);
        if result.is_err() && tx.is_closed() {
            // The request went first (cancelled, host lost); its own error says why.
            return Ok(());
        }
        if let Err(e) = &result {
            // An aborted body makes the daemon reject the upload instead of accepting a
            // truncated tree.
            let _ = tx.blocking_send(Err(io::Error::other(e.clone())));
        }
        result
    });
    let stream = futures::stream::poll_fn(move |cx| rx.poll_recv(cx));
    (stream, walker)
}

const CHUNK: usize = 64 * 1024;

/// Writes the tar into the request body in chunks. Generic over the chunk type only so that
/// bollard's `Bytes` need not be named (it comes from a crate we do not depend on).
struct Chunks<B> {
    tx: mpsc::Sender<Result<B, io::Error>>,
    buf: Vec<u8>,
}

impl<B: From<Vec<u8>>> Write for Chunks<B> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        self.tx.blocking_send(Ok(chunk.into())).map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the request was abandoned"))
    }
}

fn write_tar<B: From<Vec<u8>>>(root: &Path, filter: &Filter, writer: Chunks<B>) -> Result<(), String> {
    let mut tar = tar::Builder::new(writer);
    walk(&mut tar, root, "", filter)?;
    let mut writer = tar.into_inner().map_err(|e| format!("finishing the tar: {e}"))?;
    writer.flush().map_err(|e| format!("sending the tar: {e}"))
}

/// Appends the entries under `dir` (relative path `rel`), sorted so the tar is the same for the
/// same tree. Owners become root: the desktop's uid means nothing on the Docker host.
pub(super) fn walk<W: Write>(tar: &mut tar::Builder<W>, dir: &Path, rel: &str, filter: &Filter) -> Result<(), String> {
    let read = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut entries = read.collect::<Result<Vec<_>, _>>().map_err(|e| format!("{}: {e}", dir.display()))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            tracing::warn!("skipping {}: the name is not UTF-8", path.display());
            continue;
        };
        if name == ".git" {
            continue;
        }
        let rel = if rel.is_empty() { name } else { format!("{rel}/{name}") };
        let meta = std::fs::symlink_metadata(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let excluded = filter.excludes(&rel);
        let kind = meta.file_type();
        if kind.is_dir() {
            if !excluded {
                let mut header = header_for(&meta);
                header.set_size(0);
                tar.append_data(&mut header, format!("{rel}/"), io::empty()).map_err(|e| format!("{}: {e}", path.display()))?;
            }
            if !excluded || filter.may_include_under(&rel) {
                walk(tar, &path, &rel, filter)?;
            }
            continue;
        }
        if excluded {
            continue;
        }
        let mut header = header_for(&meta);
        if kind.is_symlink() {
            let target = std::fs::read_link(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            header.set_size(0);
            tar.append_link(&mut header, &rel, &target).map_err(|e| format!("{}: {e}", path.display()))?;
        } else if kind.is_file() {
            let file = std::fs::File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            // Exactly the size in the header, even if the file grows while it is read.
            tar.append_data(&mut header, &rel, file.take(meta.len())).map_err(|e| format!("{}: {e}", path.display()))?;
        } else {
            tracing::debug!("skipping {}: not a file, directory or symlink", path.display());
        }
    }
    Ok(())
}

fn header_for(meta: &std::fs::Metadata) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_metadata_in_mode(meta, tar::HeaderMode::Complete);
    header.set_uid(0);
    header.set_gid(0);
    header
}

/// Which paths stay out of a tar: `.git` always (in [`walk`]), and for a build context the
/// `.dockerignore` patterns, with Docker's semantics: `*` and `?` within one path segment, `**`
/// across segments, a pattern matching a directory excludes what is under it, `!` re-includes,
/// the last matching pattern wins. The Dockerfile and `.dockerignore` are always sent.
pub(super) struct Filter {
    patterns: Vec<(bool, Vec<String>)>,
    keep: Vec<String>,
}

impl Filter {
    pub(super) fn source() -> Self {
        Filter { patterns: Vec::new(), keep: Vec::new() }
    }

    pub(super) fn context(dir: &Path, dockerfile: &str) -> Result<Self, ExecError> {
        let keep = vec![dockerfile.trim_start_matches("./").to_string(), ".dockerignore".to_string()];
        let text = match std::fs::read_to_string(dir.join(".dockerignore")) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(ExecError::Docker(format!("reading {}: {e}", dir.join(".dockerignore").display()))),
        };
        let mut patterns = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (negated, pattern) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, line),
            };
            let segments: Vec<String> = pattern.split('/').filter(|s| !s.is_empty() && *s != ".").map(str::to_string).collect();
            if !segments.is_empty() {
                patterns.push((negated, segments));
            }
        }
        Ok(Filter { patterns, keep })
    }

    /// Whether an excluded directory must still be walked: an exception or a kept file may
    /// bring back something inside it.
    fn may_include_under(&self, dir: &str) -> bool {
        let prefix = format!("{dir}/");
        self.patterns.iter().any(|(negated, _)| *negated) || self.keep.iter().any(|k| k.starts_with(&prefix))
    }

    fn excludes(&self, rel: &str) -> bool {
        if self.keep.iter().any(|k| k == rel) {
            return false;
        }
        let path: Vec<&str> = rel.split('/').collect();
        let mut excluded = false;
        for (negated, pattern) in &self.patterns {
            // A pattern that matches a parent directory matches everything under it.
            let hit = (1..=path.len()).any(|n| segments_match(pattern, &path[..n]));
            if hit {
                excluded = !negated;
            }
        }
        excluded
    }
}

fn segments_match(pattern: &[String], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((first, rest)) if first == "**" => (0..=path.len()).any(|skip| segments_match(rest, &path[skip..])),
        Some((first, rest)) => match path.split_first() {
            Some((segment, more)) => glob(first.as_bytes(), segment.as_bytes()) && segments_match(rest, more),
            None => false,
        },
    }
}

/// `*`, `?`, `[...]` (with `^`/`!` negation and ranges) and `\` escapes, within one segment.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|skip| glob(rest, &text[skip..])),
        Some((b'?', rest)) => !text.is_empty() && glob(rest, &text[1..]),
        Some((b'[', rest)) => {
            let Some((&c, more_text)) = text.split_first() else {
                return false;
            };
            let Some(close) = rest.iter().skip(1).position(|b| *b == b']').map(|i| i + 1) else {
                return c == b'[' && glob(rest, more_text);
            };
            let (class, after) = (&rest[..close], &rest[close + 1..]);
            let (negated, class) = match class.first() {
                Some(b'^') | Some(b'!') => (true, &class[1..]),
                _ => (false, class),
            };
            let mut hit = false;
            let mut i = 0;
            while i < class.len() {
                if i + 2 < class.len() && class[i + 1] == b'-' {
                    hit |= class[i] <= c && c <= class[i + 2];
                    i += 3;
                } else {
                    hit |= class[i] == c;
                    i += 1;
                }
            }
            hit != negated && glob(after, more_text)
        }
        Some((b'\\', rest)) if !rest.is_empty() => text.first() == rest.first() && glob(&rest[1..], &text[1..]),
        Some((&p, rest)) => text.first() == Some(&p) && glob(rest, &text[1..]),
    }
}
