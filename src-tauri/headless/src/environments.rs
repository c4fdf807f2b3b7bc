//! `slipwayd environments`: every project's environments as the API serves them, as text or
//! `--json`.

use slipway_engine::http::client::Client;
use slipway_engine::Error;
use slipway_protocol::environment::{Environment, WaitState};
use slipway_protocol::ops;

pub async fn print(client: &Client, json: bool) -> Result<u8, Error> {
    let all = client.call(ops::ListEnvironments {}).await?;
    if json {
        crate::print_json(&all);
        return Ok(0);
    }
    for p in &all {
        println!("{} ({})", p.project, p.project_id);
        for e in &p.environments {
            println!("  {}", line(e));
            for w in &e.waiting {
                let from = w.from_stage.as_deref().map(|f| format!(" from {f}")).unwrap_or_default();
                println!("      ← {}{from}: {}", w.what, state(&w.state));
            }
        }
        for r in &p.rules {
            println!("  {r}");
        }
    }
    Ok(0)
}

/// `prod  productive  group qa  requires rel (soak 60 s)  live #4 abc1234567 (healthy)`
fn line(e: &Environment) -> String {
    let mut parts = vec![format!("{:<12}", e.stage)];
    parts.push(e.kind.as_str().to_string());
    if let Some(g) = &e.group {
        parts.push(format!("group {g}"));
    }
    if !e.requires.is_empty() {
        parts.push(format!("requires {} (soak {} s)", e.requires.join(", "), e.soak_secs));
    }
    parts.push(match &e.live {
        Some(l) => {
            let commit = l.commit_sha.as_deref().map(|c| &c[..c.len().min(10)]).unwrap_or("-");
            let health = e.health.as_ref().map(|h| format!(" ({})", h.state.as_str())).unwrap_or_default();
            format!("live #{} {commit}{health}", l.number)
        }
        None => "nothing live".into(),
    });
    parts.join("  ")
}

fn state(s: &WaitState) -> String {
    match s {
        WaitState::Queued => "queued".into(),
        WaitState::Running => "running".into(),
        WaitState::Soaking { ready_at } => {
            let secs = ((ready_at - slipway_engine::domain::now_ms()).max(0) + 999) / 1000;
            format!("soaking, may go in {secs} s")
        }
        WaitState::Refused { reason } => format!("refused: {reason}"),
        WaitState::Ready => "ready (waits for a click)".into(),
    }
}
