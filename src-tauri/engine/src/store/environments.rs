//! What environment rules read from the store: where a commit has been live, and which ref
//! carried a run.

use sqlx::Row;

use crate::domain::environments::{admit, gated, Carrier, Passage, Refusal};
use crate::domain::project::{Project, Stage};
use crate::Result;

/// Whether `commit`, carried by `carrier`, may reach `stage` now: the rules decided over the
/// commit's releases as the store has them (inside the intake's transaction, or not). Projects
/// without rules or predecessors skip the store.
pub async fn admit_now<'e, E: sqlx::SqliteExecutor<'e>>(
    ex: E,
    project: &Project,
    stage: &Stage,
    carrier: &Carrier,
    commit: &str,
) -> Result<std::result::Result<(), Refusal>> {
    if !gated(project) {
        return Ok(Ok(()));
    }
    let passages = passages(ex, &project.id, commit).await?;
    Ok(admit(project, stage, carrier, &carrier.label(commit), &passages, crate::store::now_ms()))
}

/// Every release of `commit` (a git commit, or an image digest) on the project's stages, each
/// with whether the health watch has an incident open on its stage.
async fn passages<'e, E: sqlx::SqliteExecutor<'e>>(ex: E, project: &str, commit: &str) -> Result<Vec<Passage>> {
    let rows = sqlx::query(
        "SELECT s.name, r.status, r.created_at, r.finished_at, \
         EXISTS (SELECT 1 FROM incidents i WHERE i.stage_id = r.stage_id AND i.release_number = r.number AND i.ended_at IS NULL) AS failing, \
         COALESCE((SELECT SUM(COALESCE(i.ended_at, ?3) - i.started_at) FROM incidents i \
                   WHERE i.stage_id = r.stage_id AND i.release_number = r.number), 0) AS unhealthy_ms, \
         EXISTS (SELECT 1 FROM runs u WHERE u.id = r.run_id AND u.status = 'failed') AS run_failed \
         FROM releases r JOIN stages s ON s.id = r.stage_id \
         WHERE s.project_id = ?1 AND (r.commit_sha = ?2 OR r.image = ?2 OR r.image LIKE '%@' || ?2)",
    )
    .bind(project)
    .bind(commit)
    .bind(crate::store::now_ms())
    .fetch_all(ex)
    .await?;
    Ok(rows
        .iter()
        .map(|r| Passage {
            stage: r.get("name"),
            status: r.get("status"),
            live_from: r.get("created_at"),
            live_until: r.get("finished_at"),
            failing: r.get("failing"),
            unhealthy_ms: r.get("unhealthy_ms"),
            run_failed: r.get("run_failed"),
        })
        .collect())
}

/// The ref the run was started for (`refs/tags/v1`), if it named one.
pub async fn run_ref(store: &crate::store::Store, run: Option<i64>) -> Result<Option<String>> {
    let Some(run) = run else { return Ok(None) };
    Ok(sqlx::query_scalar("SELECT ref_name FROM runs WHERE id = ?").bind(run).fetch_optional(store.pool()).await?.flatten())
}

/// Whether release `release` was ever sent to stage `stage_id` (a promotion or rollback run
/// for it, whatever became of it): an automatic promotion is tried once, not at every start.
pub async fn release_sent(store: &crate::store::Store, stage_id: &str, release: i64) -> Result<bool> {
    Ok(sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM runs WHERE stage_id = ? AND release_id = ?)")
        .bind(stage_id)
        .bind(release)
        .fetch_one(store.pool())
        .await?)
}
