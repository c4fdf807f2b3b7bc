//! The intake writer: where webhooks, polls and registry checks meet. One task decides all runs,
//! so one push starts one run however many times it is delivered (see [`crate::store::runs`]).

use crate::domain::project::Project;
use crate::domain::run::{Change, Source, Trigger, Verdict};
use crate::store::Store;
use crate::Result;

/// One delivery waiting for the intake writer.
pub struct Job {
    pub project: std::sync::Arc<Project>,
    pub changes: Vec<Change>,
    pub trigger: Trigger,
    pub source: Source,
    pub paused: bool,
    pub reply: tokio::sync::oneshot::Sender<Result<Verdict>>,
}

/// Most deliveries written in one transaction: bounds the wait of the first one in a burst.
const MAX_BATCH: usize = 128;

/// The intake writer: the only code that decides runs. Jobs are handled strictly one after the
/// other (that is what makes duplicates impossible), and whatever arrived together shares one
/// transaction, so a burst costs one commit instead of one each (group commit). Every job is
/// answered only after its transaction committed: a 202 is on disk.
pub async fn writer(store: Store, mut jobs: tokio::sync::mpsc::Receiver<Job>) {
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
