//! The intake writer: where webhooks, polls and registry checks meet. One task decides all runs,
//! so one push starts one run however many times it is delivered (see [`crate::store::runs`]).

//!
//! Must not depend on other services but [`crate::services::bus`] and
//! [`crate::services::commit_status`].

use std::sync::Arc;

use crate::adapters::forge::status::RunState;
use crate::domain::events::EngineEvent;
use crate::domain::project::Project;
use crate::domain::run::{Change, Outcome, Source, Trigger, Verdict};
use crate::services::bus::{Events, Flag, Wake};
use crate::services::commit_status::Reporter;
use crate::store::Store;
use crate::{Error, ErrorCode, Result};

/// Where ref changes (from a webhook, a poll, a registry) are handed in, a cheap handle: the
/// writer's queue, the events, the runner's wake-up, the auto-deploy switch and the commit
/// status reporter (a queued run shows "pending" on its commit).
#[derive(Clone)]
pub struct Intake {
    queue: tokio::sync::mpsc::Sender<Job>,
    events: Events,
    wake: Wake,
    paused: Flag,
    reporter: Reporter,
}

impl Intake {
    /// Starts the writer over `store`; the handle queues jobs for it.
    pub fn start(store: Store, events: Events, wake: Wake, paused: Flag, reporter: Reporter) -> Intake {
        let (queue, jobs) = tokio::sync::mpsc::channel(1024);
        tokio::spawn(writer(store, jobs));
        Intake { queue, events, wake, paused, reporter }
    }

    /// Hands ref changes to the intake: runs start at most once.
    pub async fn accept_changes(&self, project: Arc<Project>, changes: Vec<Change>, trigger: Trigger, source: Source) -> Result<Verdict> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = Job { project: project.clone(), changes, trigger, source, paused: self.paused.get(), reply };
        let gone = || Error::new(ErrorCode::Internal, "the engine is stopping; nothing was queued");
        self.queue.send(job).await.map_err(|_| gone())?;
        let verdict = answer.await.map_err(|_| gone())??;
        self.events.emit(EngineEvent::DeliveryRecorded {
            id: verdict.delivery,
            project_id: Some(project.id.clone()),
            outcome: verdict.outcome,
        });
        if verdict.outcome != Outcome::Queued {
            return Ok(verdict);
        }
        for run_id in &verdict.run_ids {
            self.events.emit(EngineEvent::RunChanged { run_id: *run_id });
        }
        self.wake.wake();
        if project.token_ref.is_some() {
            // The forge shows "pending" on the commit while the run waits; off the hot path.
            for run in verdict.run_ids.clone() {
                let reporter = self.reporter.clone();
                tokio::spawn(async move { reporter.report(run, RunState::Pending, "queued").await });
            }
        }
        Ok(verdict)
    }

    /// Records a delivery refused before intake (4xx/5xx), so the inbox shows it with its reason.
    pub async fn record_rejected_delivery(&self, project_id: Option<&str>, source: &Source, status: u16, reason: &str) -> Result<i64> {
        let id = crate::store::runs::record_rejection(&self.reporter.store, project_id, source, status, reason).await?;
        self.events.emit(EngineEvent::DeliveryRecorded { id, project_id: project_id.map(String::from), outcome: Outcome::Rejected });
        Ok(id)
    }
}

/// One delivery waiting for the intake writer.
struct Job {
    project: Arc<Project>,
    changes: Vec<Change>,
    trigger: Trigger,
    source: Source,
    paused: bool,
    reply: tokio::sync::oneshot::Sender<Result<Verdict>>,
}

/// Most deliveries written in one transaction: bounds the wait of the first one in a burst.
const MAX_BATCH: usize = 128;

/// The intake writer: the only code that decides runs. Jobs are handled strictly one after the
/// other (that is what makes duplicates impossible), and whatever arrived together shares one
/// transaction, so a burst costs one commit instead of one each (group commit). Every job is
/// answered only after its transaction committed: a 202 is on disk.
async fn writer(store: Store, mut jobs: tokio::sync::mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while jobs.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let results = write_batch(&store, &batch).await;
        for (job, result) in batch.drain(..).zip(results) {
            let _ = job.reply.send(result);
        }
    }
}

async fn write_batch(store: &Store, batch: &[Job]) -> Vec<Result<Verdict>> {
    let fail_all = |e: &crate::Error| -> Vec<Result<Verdict>> { batch.iter().map(|_| Err(crate::Error::from(e.to_api()))).collect() };
    let mut tx = match store.write_tx().await {
        Ok(tx) => tx,
        Err(e) => return fail_all(&e),
    };
    let mut verdicts = Vec::with_capacity(batch.len());
    for job in batch {
        match crate::store::runs::accept_in(&mut tx, &job.project, &job.changes, job.trigger, &job.source, job.paused).await {
            Ok(v) => verdicts.push(v),
            // A half-written job must not be committed with the others: none of them is.
            Err(e) => return fail_all(&e),
        }
    }
    match tx.commit().await {
        Ok(()) => verdicts.into_iter().map(Ok).collect(),
        Err(e) => fail_all(&e.into()),
    }
}
