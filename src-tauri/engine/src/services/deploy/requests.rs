//! What a deploy cost in requests, counted by Caddy itself: the edge's front Caddy (the one that
//! owns the port and is never reloaded, so it sees every request as the client does) writes a
//! JSON access log. A deploy notes the log's length when the new release starts and again when
//! the drain ends, and counts the lines in between for the stage's host name: all of them, and
//! those answered 5xx. (Caddy's Prometheus counters would be the other source, but the router
//! that a switch reloads starts them from zero, and the front labels no host it does not serve
//! by name.)

use std::time::Duration;

use super::edge::Edge;
use super::job::Job;
use crate::domain::run::SwitchCount;
use crate::store::now_ms;

/// The front Caddy's access log in the edge container; rolled by Caddy at 10 MiB.
pub use crate::domain::edge::ACCESS_LOG;

/// Where the log stood when the window opened.
pub struct Mark {
    line: u64,
    at: i64,
}

/// The access log's length now; Err with why there is no count (an edge made before the log).
pub async fn mark(edge: &Edge) -> Result<Mark, String> {
    let asked = now_ms();
    let script = format!(
        "grep -q '{ACCESS_LOG}' /etc/caddy/Front.caddyfile || exit 3; [ -f {ACCESS_LOG} ] || {{ echo 0; exit 0; }}; wc -l < {ACCESS_LOG}"
    );
    let out = edge.run(&["sh", "-c", &script], Duration::from_secs(10)).await.map_err(|e| e.to_string())?;
    if out.code == 3 {
        return Err(
            "the edge was made by an older Slipway and keeps no access log (remove its container; the next deploy makes a new one)".into(),
        );
    }
    let line = out.text.trim().parse().map_err(|_| format!("reading the edge's access log: {}", out.text.trim()))?;
    // The length was read somewhere inside the exec: its midpoint is the window's edge.
    Ok(Mark { line, at: (asked + now_ms()) / 2 })
}

/// The requests for `host` logged since `from`.
async fn count(edge: &Edge, host: &str, from: Mark) -> Result<SwitchCount, String> {
    let asked = now_ms();
    // One pass: the lines after the mark for the host, and the 5xx among them, and the length
    // (shorter than the mark: Caddy rolled the log in between).
    let needle = format!("\"host\":\"{host}\"");
    let script = format!(
        "[ -f {ACCESS_LOG} ] || {{ echo 0 0 0; exit 0; }}; awk -v a={} -v h='{}' 'NR > a && index($0, h) {{ n++; if ($0 ~ /\"status\":5[0-9][0-9]/) f++ }} END {{ print n + 0, f + 0, NR }}' {ACCESS_LOG}",
        from.line,
        needle.replace('\'', "")
    );
    let out = edge.run(&["sh", "-c", &script], Duration::from_secs(30)).await.map_err(|e| e.to_string())?;
    let to = (asked + now_ms()) / 2;
    let nums: Vec<i64> = out.text.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    let [requests, failed, lines] = nums[..] else { return Err(format!("reading the edge's access log: {}", out.text.trim())) };
    if (lines as u64) < from.line {
        return Err("the edge's access log was rolled during the switch".into());
    }
    Ok(SwitchCount { requests, failed, from: from.at, to })
}

/// Closes the window opened by `mark`: counts `host`'s requests on this edge since, and says
/// it in the run's log (`on`: the Docker host's name in front, when a stage has several).
pub async fn close(ctx: &Job<'_>, edge: &Edge, host: &str, mark: Result<Mark, String>, on: &str) -> Option<SwitchCount> {
    let counted = match mark {
        Ok(m) => count(edge, host, m).await,
        Err(why) => Err(why),
    };
    match counted {
        Ok(c) => {
            let words =
                format!("{on}{} requests during the switch, {} failed (counted by the edge)", thousands(c.requests), thousands(c.failed));
            ctx.log(None, words).await;
            Some(c)
        }
        Err(why) => {
            ctx.log(None, format!("{on}no request count for this switch: {why}")).await;
            None
        }
    }
}

/// Records the switch's count with the run: over all its hosts, the requests and failures
/// added up, from the first window's start to the last one's end.
pub async fn record(ctx: &Job<'_>, counts: &[SwitchCount]) {
    let Some(first) = counts.first() else { return };
    let total = SwitchCount {
        requests: counts.iter().map(|c| c.requests).sum(),
        failed: counts.iter().map(|c| c.failed).sum(),
        from: counts.iter().map(|c| c.from).min().unwrap_or(first.from),
        to: counts.iter().map(|c| c.to).max().unwrap_or(first.to),
    };
    if let Err(e) = crate::store::runs::set_switch(ctx.kit.store(), ctx.run_id, &total).await {
        tracing::warn!(run = ctx.run_id, "the switch's request count was not stored: {e}");
    }
}

/// `1904` → `1,904`.
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        out.insert(0, '-');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_written_with_thousands_separators() {
        for (n, want) in [(0, "0"), (999, "999"), (1904, "1,904"), (1_000_000, "1,000,000"), (-1234, "-1,234")] {
            assert_eq!(thousands(n), want);
        }
    }
}
