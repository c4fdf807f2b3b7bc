//! The `runs`, `run_steps` and `webhook_deliveries` tables: the intake's one transaction that
//! turns a delivery into runs at most once, the inbox, run lists and details, step rows.

use sqlx::Row;

use crate::domain::metrics::RunPoint;
use crate::domain::project::{stage_id, Project};
use crate::domain::run::{
    plan, short_sha, Change, Delivery, Outcome, Plan, RunDetail, RunStatus, RunSummary, Source, StepInfo, SwitchCount, Trigger, Verdict,
};
use crate::store::{now_ms, Store};
use crate::Result;

/// Turns one delivery's changes into runs, exactly once, inside the writer's transaction.
pub async fn accept_in(
    tx: &mut sqlx::SqliteConnection,
    project: &Project,
    changes: &[Change],
    trigger: Trigger,
    source: &Source,
    paused: bool,
) -> Result<Verdict> {
    if let Some(verdict) = repeated_delivery(tx, project, changes, source).await? {
        return Ok(verdict);
    }
    let mut queued: Vec<Queued> = Vec::new();
    let mut duplicates = Vec::new();
    let mut reasons = Vec::new();
    let pins = crate::store::pins::of_project(tx, &project.id).await?;
    for p in plan(project, changes, paused, &pins) {
        match p {
            Plan::Ignore(reason) => reasons.push(reason),
            Plan::Deploy { stage, git_ref, commit, image, carrier } => {
                let sid = stage_id(&project.id, &stage.name);
                if let Err(refusal) = crate::store::environments::admit_now(&mut *tx, project, stage, &carrier, &commit).await? {
                    reasons.push(refusal.reason);
                } else if let Some((run, status)) = existing_run(tx, &sid, &commit, image).await? {
                    duplicates.push(run);
                    reasons.push(format!("{} at {} is already {status} as run {run}", stage.name, short_sha(&commit)));
                } else if !queued.iter().any(|q| q.stage_id == sid && q.commit == commit) {
                    queued.push(Queued { stage_id: sid, git_ref, commit, image });
                }
            }
        }
    }
    let (outcome, status) = match (queued.is_empty(), duplicates.is_empty()) {
        (false, _) => (Outcome::Queued, 202),
        (true, false) => (Outcome::Duplicate, 200),
        (true, true) => (Outcome::Ignored, 200),
    };
    let reason =
        if outcome == Outcome::Queued && reasons.is_empty() { format!("queued {} run(s)", queued.len()) } else { reasons.join("; ") };
    let delivery = insert_delivery(tx, project, source, changes.first(), outcome, status, &reason, duplicates.first().copied()).await?;
    let mut run_ids = Vec::new();
    for q in &queued {
        run_ids.push(insert_queued(tx, project, trigger, delivery, q).await?);
    }
    // The delivery row's run_id stays NULL for queued runs: runs.delivery_id links them, and
    // the inbox query derives it, which saves a statement on the hot path.
    if outcome == Outcome::Duplicate {
        run_ids = duplicates;
    }
    Ok(Verdict { outcome, delivery, run_ids, reason })
}

/// A run the intake is about to queue: stage, ref, and a commit (or an image digest).
struct Queued {
    stage_id: String,
    git_ref: String,
    commit: String,
    image: bool,
}

/// The same delivery again (a forge retry, a "redeliver" click) is answered as before.
async fn repeated_delivery(
    tx: &mut sqlx::SqliteConnection,
    project: &Project,
    changes: &[Change],
    source: &Source,
) -> Result<Option<Verdict>> {
    let Some(id) = &source.delivery_id else { return Ok(None) };
    let prior = sqlx::query(
        "SELECT id, run_id FROM webhook_deliveries WHERE project_id = ? AND provider = ? AND delivery_id = ? \
         AND outcome IN ('queued', 'ignored', 'duplicate') ORDER BY id LIMIT 1",
    )
    .bind(&project.id)
    .bind(&source.provider)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(prior) = prior else { return Ok(None) };
    let (prior, prior_run): (i64, Option<i64>) = (prior.get("id"), prior.get("run_id"));
    let mut run_ids: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM runs WHERE delivery_id = ? ORDER BY id").bind(prior).fetch_all(&mut *tx).await?;
    // The earlier delivery was itself a duplicate: it names the run it duplicated.
    if run_ids.is_empty() {
        run_ids.extend(prior_run);
    }
    let reason = format!("delivery {id} was received before (inbox #{prior})");
    let delivery =
        insert_delivery(tx, project, source, changes.first(), Outcome::Duplicate, 200, &reason, run_ids.first().copied()).await?;
    Ok(Some(Verdict { outcome: Outcome::Duplicate, delivery, run_ids, reason }))
}

/// A run of the stage for the same commit (or image) that is queued, running or succeeded.
async fn existing_run(tx: &mut sqlx::SqliteConnection, sid: &str, commit: &str, image: bool) -> Result<Option<(i64, RunStatus)>> {
    let column = if image { "image_digest" } else { "commit_sha" };
    Ok(sqlx::query_as(&format!(
        "SELECT id, status FROM runs WHERE stage_id = ? AND {column} = ? AND status IN ('queued', 'running', 'succeeded') ORDER BY id DESC LIMIT 1",
    ))
    .bind(sid)
    .bind(commit)
    .fetch_optional(&mut *tx)
    .await?)
}

/// Queues the run, and supersedes what still waits for the same stage: a newer push wins.
async fn insert_queued(tx: &mut sqlx::SqliteConnection, project: &Project, trigger: Trigger, delivery: i64, q: &Queued) -> Result<i64> {
    let now = now_ms();
    let (commit_sha, digest) = if q.image { (None, Some(&q.commit)) } else { (Some(&q.commit), None) };
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO runs (project_id, stage_id, trigger, status, commit_sha, image_digest, ref_name, delivery_id, queued_at) \
         VALUES (?, ?, ?, 'queued', ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(&project.id)
    .bind(&q.stage_id)
    .bind(trigger)
    .bind(commit_sha)
    .bind(digest)
    .bind(&q.git_ref)
    .bind(delivery)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query("UPDATE runs SET status = 'superseded', finished_at = ?, reason = ? WHERE stage_id = ? AND status = 'queued' AND id <> ?")
        .bind(now)
        .bind(format!("superseded by run {id} ({})", short_sha(&q.commit)))
        .bind(&q.stage_id)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    Ok(id)
}

#[allow(clippy::too_many_arguments)]
async fn insert_delivery(
    tx: &mut sqlx::SqliteConnection,
    project: &Project,
    source: &Source,
    change: Option<&Change>,
    outcome: Outcome,
    status: u16,
    reason: &str,
    run_id: Option<i64>,
) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO webhook_deliveries (project_id, provider, event, delivery_id, ref_name, commit_sha, outcome, http_status, reason, run_id, received_at, duration_us) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(&project.id)
    .bind(&source.provider)
    .bind(&source.event)
    .bind(&source.delivery_id)
    .bind(change.and_then(|c| c.git_ref.clone()))
    .bind(change.and_then(|c| c.commit.clone()))
    .bind(outcome.as_str())
    .bind(status as i64)
    .bind(reason)
    .bind(run_id)
    .bind(source.received_at)
    .bind(source.started.map(|s| s.elapsed().as_micros() as i64))
    .fetch_one(&mut *tx)
    .await?)
}

/// Records a delivery that was refused before it reached a project's rules (4xx).
pub async fn record_rejection(store: &Store, project_id: Option<&str>, source: &Source, status: u16, reason: &str) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO webhook_deliveries (project_id, provider, event, delivery_id, outcome, http_status, reason, received_at, duration_us) \
         VALUES (?, ?, ?, ?, 'rejected', ?, ?, ?, ?) RETURNING id",
    )
    .bind(project_id)
    .bind((!source.provider.is_empty()).then_some(&source.provider))
    .bind((!source.event.is_empty()).then_some(&source.event))
    .bind(&source.delivery_id)
    .bind(status as i64)
    .bind(reason)
    .bind(source.received_at)
    .bind(source.started.map(|s| s.elapsed().as_micros() as i64))
    .fetch_one(store.pool())
    .await?)
}

/// The inbox, newest first.
pub async fn deliveries(store: &Store, project_id: Option<&str>, limit: u32) -> Result<Vec<Delivery>> {
    let rows = sqlx::query(
        "SELECT d.id, d.project_id, d.provider, d.event, d.delivery_id, d.ref_name, d.commit_sha, d.outcome, d.http_status, d.reason, \
         COALESCE(d.run_id, (SELECT MIN(r.id) FROM runs r WHERE r.delivery_id = d.id)) AS run_id, d.received_at, d.duration_us, \
         EXISTS (SELECT 1 FROM delivery_bodies b WHERE b.delivery = d.id) AS replayable \
         FROM webhook_deliveries d WHERE (?1 IS NULL OR d.project_id = ?1) ORDER BY d.id DESC LIMIT ?2",
    )
    .bind(project_id)
    .bind(limit as i64)
    .fetch_all(store.pool())
    .await?;
    Ok(rows
        .iter()
        .map(|r| Delivery {
            id: r.get("id"),
            project_id: r.get("project_id"),
            provider: r.get("provider"),
            event: r.get("event"),
            delivery_id: r.get("delivery_id"),
            ref_name: r.get("ref_name"),
            commit_sha: r.get("commit_sha"),
            outcome: Outcome::parse(r.get::<&str, _>("outcome")),
            http_status: r.get::<i64, _>("http_status") as u16,
            reason: r.get("reason"),
            run_id: r.get("run_id"),
            received_at: r.get("received_at"),
            duration_us: r.get("duration_us"),
            replayable: r.get("replayable"),
        })
        .collect())
}

pub async fn runs(store: &Store, project_id: Option<&str>, limit: u32) -> Result<Vec<RunSummary>> {
    let rows = sqlx::query(
        "SELECT r.id, r.project_id, s.name AS stage, r.trigger, r.status, r.commit_sha, r.ref_name, r.reason, r.delivery_id, r.queued_at \
         FROM runs r JOIN stages s ON s.id = r.stage_id WHERE (?1 IS NULL OR r.project_id = ?1) ORDER BY r.id DESC LIMIT ?2",
    )
    .bind(project_id)
    .bind(limit as i64)
    .fetch_all(store.pool())
    .await?;
    Ok(rows.iter().map(run_summary).collect())
}

/// A run row (with its stage's name as `stage`) as lists show it.
pub(crate) fn run_summary(r: &sqlx::sqlite::SqliteRow) -> RunSummary {
    RunSummary {
        id: r.get("id"),
        project_id: r.get("project_id"),
        stage: r.get("stage"),
        trigger: r.get("trigger"),
        status: r.get("status"),
        commit_sha: r.get("commit_sha"),
        ref_name: r.get("ref_name"),
        reason: r.get("reason"),
        delivery_id: r.get("delivery_id"),
        queued_at: r.get("queued_at"),
    }
}

/// Queues a run an operator asked for. No duplicate check: redeploying a commit on purpose is
/// allowed.
pub async fn enqueue_manual(
    store: &Store,
    project: &Project,
    stage: &str,
    git_ref: Option<&str>,
    commit: &str,
    trigger: Trigger,
) -> Result<i64> {
    let sid = stage_id(&project.id, stage);
    Ok(sqlx::query_scalar("INSERT INTO runs (project_id, stage_id, trigger, status, commit_sha, ref_name, queued_at) VALUES (?, ?, ?, 'queued', ?, ?, ?) RETURNING id")
        .bind(&project.id)
        .bind(&sid)
        .bind(trigger.as_str())
        .bind(commit)
        .bind(git_ref)
        .bind(now_ms())
        .fetch_one(store.pool())
        .await?)
}

pub async fn run_detail(store: &Store, id: i64) -> Result<RunDetail> {
    let row = sqlx::query(
        "SELECT r.id, r.project_id, s.name AS stage, r.trigger, r.status, r.commit_sha, r.ref_name, r.reason, r.delivery_id, r.queued_at, \
         r.config_source, r.image_digest, r.started_at, r.finished_at, r.switch_requests, r.switch_failed, r.switch_from, r.switch_to \
         FROM runs r JOIN stages s ON s.id = r.stage_id WHERE r.id = ?",
    )
    .bind(id)
    .fetch_optional(store.pool())
    .await?
    .ok_or_else(|| crate::Error::new(crate::ErrorCode::NotFound, format!("no run {id}")))?;
    let steps = sqlx::query("SELECT id, position, name, kind, status, exit_code, message, started_at, finished_at FROM run_steps WHERE run_id = ? ORDER BY position")
        .bind(id)
        .fetch_all(store.pool())
        .await?
        .iter()
        .map(|r| StepInfo {
            id: r.get("id"),
            position: r.get("position"),
            name: r.get("name"),
            kind: r.get("kind"),
            status: r.get("status"),
            exit_code: r.get("exit_code"),
            message: r.get("message"),
            started_at: r.get("started_at"),
            finished_at: r.get("finished_at"),
        })
        .collect();
    Ok(RunDetail {
        run: run_summary(&row),
        steps,
        config_source: row.get("config_source"),
        image: row.get("image_digest"),
        started_at: row.get("started_at"),
        finished_at: row.get("finished_at"),
        switch: row.get::<Option<i64>, _>("switch_requests").map(|requests| SwitchCount {
            requests,
            failed: row.get::<Option<i64>, _>("switch_failed").unwrap_or(0),
            from: row.get::<Option<i64>, _>("switch_from").unwrap_or(0),
            to: row.get::<Option<i64>, _>("switch_to").unwrap_or(0),
        }),
        history: crate::store::history::of_run(store, id).await?,
        log_lines: crate::store::logs::count(store, id).await?,
        pipeline: crate::store::templates::executed(store, id).await?,
        plugins: crate::store::plugins::of_run(store, id).await?,
    })
}

/// Records what the run's switch cost in requests.
pub async fn set_switch(store: &Store, run_id: i64, c: &SwitchCount) -> Result<()> {
    let mut tx = store.write_tx().await?;
    sqlx::query("UPDATE runs SET switch_requests = ?, switch_failed = ?, switch_from = ?, switch_to = ? WHERE id = ?")
        .bind(c.requests)
        .bind(c.failed)
        .bind(c.from)
        .bind(c.to)
        .bind(run_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Failed requests per deploy of a stage that counted them, oldest first (the metrics chart).
pub async fn switch_costs(store: &Store, stage_id: &str, since: i64) -> Result<Vec<(i64, i64, i64)>> {
    Ok(sqlx::query_as(
        "SELECT id, switch_requests, switch_failed FROM runs WHERE stage_id = ? AND switch_requests IS NOT NULL AND queued_at >= ? ORDER BY id",
    )
    .bind(stage_id)
    .bind(since)
    .fetch_all(store.pool())
    .await?)
}

/// Cancels a run that has not started yet; returns false when it is not queued.
pub async fn cancel_queued(store: &Store, id: i64) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE runs SET status = 'cancelled', finished_at = ?, reason = 'cancelled before it started' WHERE id = ? AND status = 'queued'",
    )
    .bind(now_ms())
    .bind(id)
    .execute(store.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

const RUN_COLUMNS: &str = "SELECT r.id, r.project_id, s.name AS stage, r.trigger, r.status, r.commit_sha, r.ref_name, r.reason, r.delivery_id, r.queued_at FROM runs r JOIN stages s ON s.id = r.stage_id";

fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// The newest run of a stage in one of `statuses`.
pub async fn newest_of_stage(store: &Store, stage_id: &str, statuses: &[RunStatus]) -> Result<Option<RunSummary>> {
    let sql = format!("{RUN_COLUMNS} WHERE r.stage_id = ? AND r.status IN ({}) ORDER BY r.id DESC LIMIT 1", placeholders(statuses.len()));
    let mut q = sqlx::query(&sql).bind(stage_id);
    for s in statuses {
        q = q.bind(*s);
    }
    Ok(q.fetch_optional(store.pool()).await?.map(|r| run_summary(&r)))
}

/// The name of the step a run is running now, if any.
pub async fn running_step_name(store: &Store, run_id: i64) -> Result<Option<String>> {
    Ok(sqlx::query_scalar("SELECT name FROM run_steps WHERE run_id = ? AND status = 'running' ORDER BY position DESC LIMIT 1")
        .bind(run_id)
        .fetch_optional(store.pool())
        .await?)
}

/// The runs of a stage that finished at or after `since` (ms), oldest first, as metrics need them.
pub async fn finished_since(store: &Store, stage_id: &str, since: i64) -> Result<Vec<RunPoint>> {
    Ok(sqlx::query("SELECT status, started_at, finished_at FROM runs WHERE stage_id = ? AND finished_at >= ? ORDER BY finished_at, id")
        .bind(stage_id)
        .bind(since)
        .fetch_all(store.pool())
        .await?
        .iter()
        .map(|r| RunPoint { status: r.get("status"), started_at: r.get("started_at"), finished_at: r.get("finished_at") })
        .collect())
}

/// The newest `n` runs of every project.
pub async fn recent(store: &Store, n: u32) -> Result<Vec<RunSummary>> {
    Ok(sqlx::query(&format!("{RUN_COLUMNS} ORDER BY r.id DESC LIMIT ?"))
        .bind(n as i64)
        .fetch_all(store.pool())
        .await?
        .iter()
        .map(run_summary)
        .collect())
}

/// Ids of the runs (of any stage) that finished at or after `since` (ms), in the order they did.
pub async fn ended_since(store: &Store, since: i64) -> Result<Vec<i64>> {
    Ok(sqlx::query_scalar("SELECT id FROM runs WHERE finished_at >= ? ORDER BY finished_at, id")
        .bind(since)
        .fetch_all(store.pool())
        .await?)
}

/// A finished run as a notification needs it.
pub struct Ended {
    pub summary: RunSummary,
    pub stage_id: String,
    pub finished_at: Option<i64>,
}

pub async fn ended(store: &Store, id: i64) -> Result<Option<Ended>> {
    let row = sqlx::query(&format!("{RUN_COLUMNS_WITH_STAGE_ID} WHERE r.id = ?")).bind(id).fetch_optional(store.pool()).await?;
    Ok(row.map(|r| Ended { summary: run_summary(&r), stage_id: r.get("stage_id"), finished_at: r.get("finished_at") }))
}

const RUN_COLUMNS_WITH_STAGE_ID: &str = "SELECT r.id, r.project_id, s.name AS stage, r.trigger, r.status, r.commit_sha, r.ref_name, r.reason, r.delivery_id, r.queued_at, r.stage_id, r.finished_at FROM runs r JOIN stages s ON s.id = r.stage_id";

/// How the run of the same stage that finished just before run `id` (at `finished_at`) ended.
pub async fn previous_end(store: &Store, stage_id: &str, id: i64, finished_at: i64) -> Result<Option<RunStatus>> {
    Ok(sqlx::query_scalar(
        "SELECT status FROM runs WHERE stage_id = ?1 AND id != ?2 AND finished_at IS NOT NULL \
         AND status IN ('succeeded', 'failed', 'interrupted', 'rolled_back') \
         AND (finished_at < ?3 OR (finished_at = ?3 AND id < ?2)) ORDER BY finished_at DESC, id DESC LIMIT 1",
    )
    .bind(stage_id)
    .bind(id)
    .bind(finished_at)
    .fetch_optional(store.pool())
    .await?)
}

/// Marks every run still "running" as interrupted with `reason` (their running steps cancelled,
/// pending ones skipped), and returns their ids. Crash recovery calls it at start.
pub async fn interrupt_running(store: &Store, reason: &str) -> Result<Vec<i64>> {
    let now = now_ms();
    let mut tx = store.write_tx().await?;
    let ids: Vec<i64> =
        sqlx::query_scalar("UPDATE runs SET status = 'interrupted', finished_at = ?, reason = ? WHERE status = 'running' RETURNING id")
            .bind(now)
            .bind(reason)
            .fetch_all(&mut *tx)
            .await?;
    for id in &ids {
        sqlx::query(
            "UPDATE run_steps SET status = CASE WHEN status = 'running' THEN 'cancelled' ELSE 'skipped' END, finished_at = ? \
             WHERE run_id = ? AND status IN ('running', 'pending')",
        )
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(ids)
}

/// Atomically takes the oldest queued run whose stage has nothing running, and marks it running.
pub async fn claim_next(store: &Store) -> Result<Option<i64>> {
    Ok(sqlx::query_scalar(
        "UPDATE runs SET status = 'running', started_at = ?1 WHERE id = ( \
           SELECT r.id FROM runs r WHERE r.status = 'queued' \
           AND NOT EXISTS (SELECT 1 FROM runs x WHERE x.stage_id = r.stage_id AND x.status = 'running') \
           ORDER BY r.id LIMIT 1) RETURNING id",
    )
    .bind(now_ms())
    .fetch_optional(store.pool())
    .await?)
}

/// Ends run `run_id` with `status` and `reason` (shown everywhere).
pub async fn finish(store: &Store, run_id: i64, status: RunStatus, reason: &str) -> Result<()> {
    sqlx::query("UPDATE runs SET status = ?, reason = ?, finished_at = ? WHERE id = ?")
        .bind(status)
        .bind(reason)
        .bind(now_ms())
        .bind(run_id)
        .execute(store.pool())
        .await?;
    Ok(())
}

/// What the runner needs to execute a run.
pub struct Work {
    pub project_id: String,
    pub stage: String,
    pub commit: Option<String>,
    /// The image a registry run deploys (pinned by digest).
    pub digest: Option<String>,
    pub git_ref: Option<String>,
    pub trigger: Trigger,
    /// The release a rollback or promotion puts back.
    pub release_id: Option<i64>,
}

pub async fn work(store: &Store, run_id: i64) -> Result<Work> {
    let row = sqlx::query(
        "SELECT r.project_id, r.commit_sha, r.image_digest, r.ref_name, r.trigger, r.release_id, s.name AS stage \
         FROM runs r JOIN stages s ON s.id = r.stage_id WHERE r.id = ?",
    )
    .bind(run_id)
    .fetch_optional(store.pool())
    .await?
    .ok_or_else(|| crate::Error::new(crate::ErrorCode::NotFound, format!("no run {run_id}")))?;
    Ok(Work {
        project_id: row.get("project_id"),
        stage: row.get("stage"),
        commit: row.get("commit_sha"),
        digest: row.get("image_digest"),
        git_ref: row.get("ref_name"),
        trigger: row.get("trigger"),
        release_id: row.get("release_id"),
    })
}

/// Where the run's pipeline came from (`slipway.yml`, a Dockerfile, a compose file).
pub async fn set_config_source(store: &Store, run_id: i64, source: &str) -> Result<()> {
    sqlx::query("UPDATE runs SET config_source = ? WHERE id = ?").bind(source).bind(run_id).execute(store.pool()).await?;
    Ok(())
}

/// The image the run built or pulled.
pub async fn set_image(store: &Store, run_id: i64, image: &str) -> Result<()> {
    sqlx::query("UPDATE runs SET image_digest = ? WHERE id = ?").bind(image).bind(run_id).execute(store.pool()).await?;
    Ok(())
}

/// Every queued or running run, oldest first: what is on its way to a stage.
pub async fn unfinished(store: &Store) -> Result<Vec<RunSummary>> {
    let rows = sqlx::query(&format!("{RUN_COLUMNS} WHERE r.status IN ('queued', 'running') ORDER BY r.id")).fetch_all(store.pool()).await?;
    Ok(rows.iter().map(run_summary).collect())
}
