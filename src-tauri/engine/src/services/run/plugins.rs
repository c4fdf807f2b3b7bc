//! The plugin contract at run time (`docs/plugins.md`; the values are in
//! [`crate::domain::plugins`]): the `SLIPWAY_*` environment of every step, a plugin step's
//! input from the store, and its output read back into the store.

use super::*;
use crate::domain::plugins::{self, Facts};

/// What a step of this run is told, and the labels its containers carry.
pub(super) struct Scope<'a> {
    pub labels: &'a HashMap<String, String>,
    pub facts: Facts<'a>,
    /// The network its containers join (after-deploy steps: the release's); None: the default.
    pub network: Option<String>,
}

/// A plugin step's input (the latest publication of each of the project's other plugins)
/// and where its output is read from.
pub(super) async fn prepare(ctx: &Job<'_>, project: &Project, plugin: &str) -> Result<(Option<Vec<u8>>, Option<(String, usize)>)> {
    let others = crate::store::plugins::latest_of_others(ctx.kit.store(), &project.id, plugin).await?;
    let tar = plugins::input_archive(&others)?;
    let names: Vec<&str> = others.iter().map(|r| r.plugin.as_str()).collect();
    let said = if names.is_empty() { "nothing yet".to_string() } else { names.join(", ") };
    ctx.log(None, format!("plugin {plugin}: input from this project's other plugins: {said}")).await;
    Ok((Some(tar), Some((plugins::OUTPUT_DIR.to_string(), plugins::MAX_OUTPUT_BYTES))))
}

/// Reads what the plugin wrote and keeps it with the run; Err(why) fails the step.
pub(super) async fn publish(
    ctx: &Job<'_>,
    step: i64,
    scope: &Scope<'_>,
    plugin: &str,
    collected: Option<std::result::Result<Vec<u8>, String>>,
    secrets: &[String],
) -> Result<std::result::Result<(), String>> {
    let tar = match collected {
        Some(Ok(tar)) => tar,
        Some(Err(why)) => return Ok(Err(format!("plugin {plugin}: {why}"))),
        None => return Ok(Err(format!("plugin {plugin}: its output directory could not be read"))),
    };
    let mut out = match plugins::read_output(&tar) {
        Ok(out) => out,
        Err(why) => return Ok(Err(format!("plugin {plugin}: {why}"))),
    };
    if plugins::mask_secrets(&mut out, secrets) {
        ctx.log(Some(step), format!("plugin {plugin}: its data held a secret's value, kept as ***")).await;
    }
    if !out.ignored.is_empty() {
        let files = out.ignored.join(", ");
        ctx.log(Some(step), format!("plugin {plugin}: not kept (only data.json and metrics.json are): {files}")).await;
    }
    let at = crate::store::plugins::Origin {
        project: scope.facts.project,
        run: ctx.run_id,
        stage: &scope.facts.stage.name,
        plugin,
        commit: scope.facts.commit,
    };
    crate::store::plugins::insert(ctx.kit.store(), &at, &out).await?;
    let metrics: Vec<String> = out.metrics.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let data = if out.data.is_null() { "no data".to_string() } else { format!("data of {} bytes", out.data.to_string().len()) };
    ctx.log(Some(step), format!("plugin {plugin} published {data} and {} metric(s): {}", metrics.len(), metrics.join(", "))).await;
    Ok(Ok(()))
}
