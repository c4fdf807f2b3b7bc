//! The `releases` table: what each stage runs, numbered per stage; and the runs a rollback or
//! a promotion queues.

use sqlx::Row;

use crate::domain::deploy::{DeployConfig, Rollout};
use crate::domain::project::{stage_id, Project, Strategy};
use crate::domain::release::{Release, ReleaseConfig, ReleaseStatus};
use crate::store::{now_ms, Store};
use crate::{Error, ErrorCode, Result};

const SELECT: &str = "SELECT r.id, s.project_id, s.name AS stage, r.number, r.run_id, r.commit_sha, r.image, r.digests_json, r.containers_json, r.hosts_json, r.config_json, r.status, r.promoted_from, r.created_at FROM releases r JOIN stages s ON s.id = r.stage_id";

fn from_row(r: &sqlx::sqlite::SqliteRow) -> Release {
    Release {
        id: r.get("id"),
        project_id: r.get("project_id"),
        stage: r.get("stage"),
        number: r.get("number"),
        run_id: r.get("run_id"),
        commit_sha: r.get("commit_sha"),
        image: r.get::<Option<String>, _>("image").unwrap_or_default(),
        digests: serde_json::from_str(r.get("digests_json")).unwrap_or_default(),
        containers: r.get::<Option<&str>, _>("containers_json").and_then(|j| serde_json::from_str(j).ok()).unwrap_or_default(),
        hosts: r.get::<Option<&str>, _>("hosts_json").and_then(|j| serde_json::from_str(j).ok()).unwrap_or_default(),
        config: serde_json::from_str(r.get("config_json")).unwrap_or_else(|_| ReleaseConfig {
            deploy: DeployConfig::default(),
            strategy: Strategy::default(),
            rollout: Rollout::default(),
            compose: None,
        }),
        status: r.get("status"),
        promoted_from: r.get("promoted_from"),
        created_at: r.get("created_at"),
    }
}

/// Newest first.
pub async fn list(store: &Store, project: &str, stage: &str) -> Result<Vec<Release>> {
    let rows = sqlx::query(&format!("{SELECT} WHERE r.stage_id = ? ORDER BY r.number DESC"))
        .bind(stage_id(project, stage))
        .fetch_all(store.pool())
        .await?;
    Ok(rows.iter().map(from_row).collect())
}

pub async fn get(store: &Store, id: i64) -> Result<Release> {
    let row = sqlx::query(&format!("{SELECT} WHERE r.id = ?")).bind(id).fetch_optional(store.pool()).await?;
    row.map(|r| from_row(&r)).ok_or_else(|| Error::new(ErrorCode::NotFound, format!("no release with id {id}")))
}

pub async fn by_number(store: &Store, project: &str, stage: &str, number: i64) -> Result<Release> {
    let row = sqlx::query(&format!("{SELECT} WHERE r.stage_id = ? AND r.number = ?"))
        .bind(stage_id(project, stage))
        .bind(number)
        .fetch_optional(store.pool())
        .await?;
    row.map(|r| from_row(&r)).ok_or_else(|| Error::new(ErrorCode::NotFound, format!("{project}/{stage} has no release {number}")))
}

pub async fn live(store: &Store, stage_id: &str) -> Result<Option<Release>> {
    let row =
        sqlx::query(&format!("{SELECT} WHERE r.stage_id = ? AND r.status = 'live'")).bind(stage_id).fetch_optional(store.pool()).await?;
    Ok(row.map(|r| from_row(&r)))
}

/// Every live release, for rebuilding the edge's routes at start.
pub async fn all_live(store: &Store) -> Result<Vec<Release>> {
    let rows = sqlx::query(&format!("{SELECT} WHERE r.status = 'live'")).fetch_all(store.pool()).await?;
    Ok(rows.iter().map(from_row).collect())
}

pub async fn next_number(store: &Store, stage_id: &str) -> Result<i64> {
    let n: Option<i64> =
        sqlx::query_scalar("SELECT MAX(number) FROM releases WHERE stage_id = ?").bind(stage_id).fetch_one(store.pool()).await?;
    Ok(n.unwrap_or(0) + 1)
}

pub struct NewRelease<'a> {
    pub stage_id: &'a str,
    pub number: i64,
    pub run_id: i64,
    pub commit_sha: Option<&'a str>,
    pub image: &'a str,
    /// Image per service (a single service is `app`).
    pub digests: &'a std::collections::BTreeMap<String, String>,
    pub containers: &'a std::collections::BTreeMap<String, Vec<String>>,
    /// The stage's hosts when it names them (the same containers run on each).
    pub hosts: &'a [String],
    pub config: &'a ReleaseConfig,
    pub promoted_from: Option<i64>,
    /// A rollback marks the release it replaces `rolled_back` instead of `retired`.
    pub replaces_as: ReleaseStatus,
}

/// Records a release as live and retires the one it replaces, in one transaction: the store
/// never names two live releases, or none while one serves.
pub async fn confirm(store: &Store, r: NewRelease<'_>) -> Result<i64> {
    let mut tx = store.write_tx().await?;
    sqlx::query("UPDATE releases SET status = ?, finished_at = ? WHERE stage_id = ? AND status = 'live'")
        .bind(r.replaces_as)
        .bind(now_ms())
        .bind(r.stage_id)
        .execute(&mut *tx)
        .await?;
    let digests = serde_json::to_string(r.digests).unwrap_or_default();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO releases (stage_id, number, run_id, commit_sha, digests_json, config_json, status, created_at, image, promoted_from, containers_json, hosts_json) VALUES (?, ?, ?, ?, ?, ?, 'live', ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(r.stage_id)
    .bind(r.number)
    .bind(r.run_id)
    .bind(r.commit_sha)
    .bind(digests)
    .bind(serde_json::to_string(r.config).unwrap_or_default())
    .bind(now_ms())
    .bind(r.image)
    .bind(r.promoted_from)
    .bind(serde_json::to_string(r.containers).unwrap_or_default())
    .bind(serde_json::to_string(r.hosts).unwrap_or_default())
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Releases past the newest `keep` of a stage whose image no retained release (of any stage)
/// still uses: their images can go. Marks them pruned and returns their images.
pub async fn prune(store: &Store, stage_id: &str, keep: u32) -> Result<Vec<String>> {
    let mut tx = store.write_tx().await?;
    let old: Vec<(i64, Option<String>)> = sqlx::query_as("SELECT id, image FROM releases WHERE stage_id = ? AND status != 'pruned' AND status != 'live' ORDER BY number DESC LIMIT -1 OFFSET ?")
        .bind(stage_id)
        .bind(keep.saturating_sub(1) as i64)
        .fetch_all(&mut *tx)
        .await?;
    let mut images = Vec::new();
    for (id, image) in old {
        sqlx::query("UPDATE releases SET status = 'pruned' WHERE id = ?").bind(id).execute(&mut *tx).await?;
        if let Some(image) = image {
            let used: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM releases WHERE image = ? AND status != 'pruned'")
                .bind(&image)
                .fetch_one(&mut *tx)
                .await?;
            if used == 0 && !images.contains(&image) {
                images.push(image);
            }
        }
    }
    tx.commit().await?;
    Ok(images)
}

/// Who asked for a rollback: a person, the health watch (with what it saw), or a run's own
/// check after its release went live (what failed).
pub enum RollbackBy<'a> {
    Person,
    Watch(&'a str),
    Check(&'a str),
}

/// Queues a run that redeploys `number` of `stage` as it was, and pins the stage at it (in the
/// same transaction): the next push must not undo the rollback.
pub async fn enqueue_rollback(store: &Store, project: &Project, stage: &str, number: i64, by: RollbackBy<'_>) -> Result<i64> {
    let target = by_number(store, &project.id, stage, number).await?;
    if target.status == ReleaseStatus::Pruned {
        return Err(Error::new(
            ErrorCode::InvalidInput,
            format!("release {number} of {}/{stage} cannot be rolled back to: its image was pruned (Slipway keeps the images of the last {} releases)", project.id, target.config.rollout.keep_releases),
        ));
    }
    if target.status == ReleaseStatus::Live {
        return Err(Error::new(ErrorCode::InvalidInput, format!("release {number} is what {}/{stage} runs now", project.id)));
    }
    let sid = stage_id(&project.id, stage);
    let reason = match live(store, &sid).await? {
        Some(l) => format!("rollback of release {}", l.number),
        None => "a rollback".to_string(),
    };
    let mut tx = store.write_tx().await?;
    let (auto, why) = match by {
        RollbackBy::Person => (false, None),
        RollbackBy::Watch(what) => (true, Some(format!("the health watch: {what}"))),
        RollbackBy::Check(what) => (true, Some(what.to_string())),
    };
    let id = enqueue(&mut tx, project, stage, "rollback", &target, why.as_deref()).await?;
    crate::store::pins::set_in(&mut tx, &sid, number, &reason, auto).await?;
    tx.commit().await?;
    Ok(id)
}

/// Queues a run that deploys the live release of the stage `stage` promotes from.
pub async fn enqueue_promote(store: &Store, project: &Project, stage: &str) -> Result<(i64, Release)> {
    let s = project
        .stages
        .iter()
        .find(|s| s.name == stage)
        .ok_or_else(|| Error::new(ErrorCode::NotFound, format!("{} has no stage {stage:?}", project.id)))?;
    let from = s.promote_from.as_deref().ok_or_else(|| {
        Error::new(ErrorCode::InvalidInput, format!("stage {stage} has no promote_from: it is deployed from its own pushes"))
    })?;
    let source = live(store, &stage_id(&project.id, from))
        .await?
        .ok_or_else(|| Error::new(ErrorCode::InvalidInput, format!("{from} has no live release to promote")))?;
    let mut tx = store.write_tx().await?;
    let id = enqueue(&mut tx, project, stage, "promote", &source, None).await?;
    tx.commit().await?;
    Ok((id, source))
}

async fn enqueue(
    tx: &mut sqlx::SqliteConnection,
    project: &Project,
    stage: &str,
    trigger: &str,
    release: &Release,
    why: Option<&str>,
) -> Result<i64> {
    let mut reason = format!("{trigger} to {} release {}", release.stage, release.number);
    if let Some(why) = why {
        reason.push_str(&format!(" ({why})"));
    }
    // The run carries the ref its release was made for, so environment rules still know a
    // tag for a tag when it is promoted on.
    Ok(sqlx::query_scalar("INSERT INTO runs (project_id, stage_id, trigger, status, commit_sha, image_digest, release_id, queued_at, reason, ref_name) VALUES (?, ?, ?, 'queued', ?, ?, ?, ?, ?, (SELECT ref_name FROM runs WHERE id = ?)) RETURNING id")
        .bind(&project.id)
        .bind(stage_id(&project.id, stage))
        .bind(trigger)
        .bind(&release.commit_sha)
        .bind(&release.image)
        .bind(release.id)
        .bind(now_ms())
        .bind(reason)
        .bind(release.run_id)
        .fetch_one(&mut *tx)
        .await?)
}
