//! `slipwayd templates`: the pipeline templates a `slipway.yml` can extend. List them, import
//! one from a file (its version goes up when the text changed), export or remove one.

use std::path::PathBuf;

use clap::Subcommand;
use slipway_engine::http::client::Client;
use slipway_engine::{Error, ErrorCode};
use slipway_protocol::ops;

#[derive(Subcommand)]
pub enum TemplateAction {
    /// Every template with its version and steps (the default).
    List,
    /// Add a template from a YAML file ("-" reads standard input), or replace the one of its name.
    Import { file: PathBuf },
    /// Print a template's YAML as it was imported.
    Export { name: String },
    /// Remove a template (runs that extended it keep what they executed).
    Rm { name: String },
}

pub async fn run(client: &Client, action: TemplateAction, json: bool) -> Result<u8, Error> {
    match action {
        TemplateAction::List => {
            let all = client.call(ops::ListTemplates {}).await?;
            if json {
                crate::print_json(&all);
            }
            for t in all.iter().filter(|_| !json) {
                let build = if t.builds { ", then build" } else { "" };
                println!("{} v{}: {}{build}", t.name, t.version, t.steps.join(", "));
            }
        }
        TemplateAction::Import { file } => {
            let yaml = if file.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())?
            } else {
                std::fs::read_to_string(&file)
                    .map_err(|e| Error::new(ErrorCode::InvalidInput, format!("cannot read the template file {}: {e}", file.display())))?
            };
            let t = client.call(ops::ImportTemplate { yaml }).await?;
            if json {
                crate::print_json(&t);
            } else {
                println!("template {} is at version {}", t.name, t.version);
            }
        }
        TemplateAction::Export { name } => print!("{}", client.call(ops::ExportTemplate { name }).await?),
        TemplateAction::Rm { name } => {
            client.call(ops::DeleteTemplate { name: name.clone() }).await?;
            if !json {
                println!("template {name} removed");
            }
        }
    }
    Ok(0)
}
