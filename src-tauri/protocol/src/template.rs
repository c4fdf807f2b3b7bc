//! Pipeline templates: shared steps and build kept by Slipway, which a repository's
//! `slipway.yml` extends (`extends: node-service`) and overrides step by step; and what a run
//! that extended one actually executed.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// A template as lists show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct TemplateInfo {
    pub name: String,
    /// Goes up by one each time an import changes it.
    #[ts(type = "number")]
    pub version: i64,
    pub description: Option<String>,
    /// Its steps' names, in order.
    pub steps: Vec<String>,
    /// Whether it builds an image.
    pub builds: bool,
    #[ts(type = "number")]
    pub updated_at: i64,
}

/// Where a step of a run that extended a template came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum StepOrigin {
    /// The template's step, as the template has it.
    Template,
    /// The template has a step of this name; the repository's `slipway.yml` replaced it.
    Replaced,
    /// The repository's own step, added to the template's.
    Added,
}

named!(StepOrigin { Template => "template", Replaced => "replaced", Added => "added" });

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct StepSource {
    pub name: String,
    pub origin: StepOrigin,
}

/// What a run executed when its `slipway.yml` extended a template: which template at which
/// version, where each step came from, and the merged pipeline as YAML (kept with the run,
/// so a later version of the template does not change what the run says it did).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ExecutedPipeline {
    pub template: String,
    #[ts(type = "number")]
    pub version: i64,
    pub steps: Vec<StepSource>,
    /// Steps of the template the repository removed (`remove:`).
    pub removed: Vec<String>,
    pub yaml: String,
}
