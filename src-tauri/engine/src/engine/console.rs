//! Operations the console offers besides the basic ones: re-running a run, replaying a kept
//! delivery, and listing forge accounts (without their tokens).

use crate::domain::events::{EngineEvent, ForgeAccount};
use crate::domain::run::{Delivery, Trigger};
use crate::engine::Core;
use crate::engine::Engine;
use crate::store::{accounts, deliveries, runs};
use crate::{Error, ErrorCode, Result};

impl Engine {
    /// Queues the same stage at the same commit again (a manual run). Rollbacks and promotions
    /// are started again from the release list, where the release they put back is chosen.
    pub async fn rerun(&self, run_id: i64) -> Result<i64> {
        let old = self.run_detail(run_id).await?.run;
        if matches!(old.trigger.as_str(), "rollback" | "promote" | "registry") {
            return Err(Error::new(
                ErrorCode::InvalidInput,
                format!("run {run_id} is a {}: start it again from the stage's release list", old.trigger),
            ));
        }
        let commit = old
            .commit_sha
            .as_deref()
            .ok_or_else(|| Error::new(ErrorCode::InvalidInput, format!("run {run_id} names no commit to run again")))?;
        let project = self.project(&old.project_id).await?;
        let Some(stage) = project.stages.iter().find(|s| s.name == old.stage) else {
            return Err(Error::new(ErrorCode::NotFound, format!("project {} no longer has stage {:?}", project.id, old.stage)));
        };
        // A re-run is a manual deploy: the same confirmation, rules and pin stand in its way.
        if stage.confirm_manual {
            return Err(Error::new(
                ErrorCode::ConfirmationRequired,
                format!(
                    "{} has confirm_manual: deploy {} there from the deploy form, which asks for the confirmation",
                    stage.name,
                    &commit[..commit.len().min(10)]
                ),
            ));
        }
        let carrier = crate::domain::environments::Carrier::from_ref(old.ref_name.as_deref());
        crate::services::environments::require(self.store(), &project, stage, &carrier, commit).await?;
        self.pass_pin(&project.id, &stage.name, false, "a re-run").await?;
        let id = runs::enqueue_manual(self.store(), &project, &old.stage, old.ref_name.as_deref(), commit, Trigger::Manual).await?;
        tracing::info!(run = id, of = run_id, "re-run queued");
        self.emit(EngineEvent::RunChanged { run_id: id });
        self.wake_runner();
        Ok(id)
    }

    /// Sends a kept delivery through the webhook path again, as if the forge had redelivered it
    /// (same headers and body, signature included), under a fresh delivery id that says it was
    /// replayed here. Returns the new inbox row.
    pub async fn redeliver(&self, delivery: i64) -> Result<Delivery> {
        let kept = deliveries::kept(self.store(), delivery)
            .await?
            .ok_or_else(|| Error::new(ErrorCode::NotFound, format!("delivery {delivery}: its body is not kept (Slipway keeps the bodies of the last 200 deliveries that reached a project)")))?;
        let project = kept
            .project_id
            .ok_or_else(|| Error::new(ErrorCode::InvalidInput, format!("delivery {delivery} belongs to no project (any more)")))?;
        let body = kept.body;
        let kept: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&kept.headers_json).unwrap_or_default();
        let mut headers = axum::http::HeaderMap::new();
        for (name, value) in kept {
            if let (Ok(n), Some(Ok(v))) =
                (axum::http::HeaderName::try_from(name.as_str()), value.as_str().map(axum::http::HeaderValue::from_str))
            {
                headers.insert(n, v);
            }
        }
        // The stored delivery carries no proof of the secret: sign it again with the current one.
        if let Some(provider) = crate::adapters::forge::webhook::detect(&headers) {
            let secret = self.hooks().webhook_secret(&project).await?;
            crate::adapters::forge::webhook::sign(provider, &mut headers, &body, secret.as_bytes());
        }
        let (_, id) = self.hooks().handle(project.clone(), headers, axum::body::Body::from(body), Some(delivery)).await;
        let id = id.ok_or_else(|| Error::new(ErrorCode::Internal, "the redelivery was not recorded in the inbox"))?;
        let rows = self.deliveries(Some(&project), 50).await?;
        rows.into_iter().find(|d| d.id == id).ok_or_else(|| Error::new(ErrorCode::Internal, "the redelivery's inbox row is missing"))
    }

    /// Forge accounts by name; their tokens stay in the keychain and are never read back here.
    pub async fn forge_accounts(&self) -> Result<Vec<ForgeAccount>> {
        accounts::forge_accounts(self.store()).await
    }
}

/// Turns the store's step changes into [`EngineEvent::StepChanged`], so the run view and the
/// dashboard show the step a run is in without asking.
pub(crate) async fn forward_step_changes(engine: Core) {
    use tokio::sync::broadcast::error::RecvError;
    let mut steps = engine.store().step_changes();
    loop {
        match steps.recv().await {
            Ok(run_id) => engine.emit(EngineEvent::StepChanged { run_id }),
            Err(RecvError::Lagged(_)) => continue,
            Err(RecvError::Closed) => return,
        }
    }
}
