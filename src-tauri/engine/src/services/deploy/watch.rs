//! The health watch: after its deploy ended, every stage's live release is probed on the
//! stage's interval, from inside its host as the health gate probes (the same checks, the same
//! settings). A container that is not running, restarted since the last round, or that Docker
//! calls `unhealthy` fails its round too. Two rounds in a row decide a state; a change is
//! recorded (incidents), sent to the window (an event) and notified once; a release that goes
//! down inside its `watch_secs` is rolled back when the stage says `on_unhealthy: rollback`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bollard::query_parameters::InspectContainerOptions;

use super::job::Kit;
use super::{edge::Edge, health};
use crate::domain::deploy::{Health, HealthKind};
use crate::domain::events::EngineEvent;
use crate::domain::notice::NoticeKind;
use crate::domain::project::{stage_id, Project, Stage};
use crate::domain::release::{Release, ReleaseStatus};
use crate::domain::run::RunStatus;
use crate::domain::target::release_hosts;
use crate::domain::watch::{no_auto_rollback, observe, state_of, Change, LiveHealth, LiveState, Tracker};
use crate::services::bus::{Events, Shutdown, Wake};
use crate::services::notify::Notifier;
use crate::store::now_ms;

/// How long a container counts as failing after Docker restarted it: a crash loop keeps
/// restarting it, so it stays failing; one restart is forgotten after this.
const RESTART_MEMORY: Duration = Duration::from_secs(30);

#[derive(Clone, Copy)]
struct Restarts {
    count: i64,
    rose: Option<Instant>,
}

/// What the watch keeps per stage between rounds.
struct Entry {
    release: i64,
    tracker: Tracker,
    /// Docker's restart count per container at the last round, and when it last rose.
    restarts: HashMap<String, Restarts>,
    health: Option<LiveHealth>,
    next: Instant,
}

#[derive(Clone)]
pub struct Watch {
    kit: Kit,
    notifier: Notifier,
    events: Events,
    wake: Wake,
    shutdown: Shutdown,
    stages: Arc<Mutex<HashMap<String, Entry>>>,
}

impl Watch {
    pub fn new(kit: Kit, notifier: Notifier, events: Events, wake: Wake, shutdown: Shutdown) -> Watch {
        Watch { kit, notifier, events, wake, shutdown, stages: Arc::default() }
    }

    /// The latest word on stage `sid`'s live release.
    pub fn health(&self, sid: &str) -> Option<LiveHealth> {
        self.stages.lock().unwrap().get(sid).and_then(|e| e.health.clone())
    }

    pub async fn run(self) {
        loop {
            if self.shutdown.sleep_or_stop(Duration::from_secs(1)).await {
                return;
            }
            let Ok(projects) = crate::store::projects::list(self.kit.store()).await else { continue };
            for p in &projects {
                // A Swarm stage is watched by Swarm: its healthcheck restarts a failing task.
                let watched = |s: &&Stage| s.rollout.watch_interval_secs > 0 && s.target != crate::domain::project::StageTarget::Swarm;
                for s in p.stages.iter().filter(watched) {
                    if let Err(e) = self.stage(p, s).await {
                        tracing::warn!(project = %p.id, stage = %s.name, "health watch: {e}");
                    }
                }
            }
            let known: Vec<String> = projects.iter().flat_map(|p| p.stages.iter().map(|s| stage_id(&p.id, &s.name))).collect();
            self.stages.lock().unwrap().retain(|sid, _| known.contains(sid));
        }
    }

    /// One stage, if its round is due: not while a run of it is queued or running (its own
    /// health gate watches then), and never before its live release exists.
    async fn stage(&self, p: &Project, s: &Stage) -> crate::Result<()> {
        let sid = stage_id(&p.id, &s.name);
        let store = self.kit.store();
        let due = self.stages.lock().unwrap().get(&sid).is_none_or(|e| Instant::now() >= e.next);
        if !due {
            return Ok(());
        }
        let Some(live) = crate::store::releases::live(store, &sid).await? else {
            self.stages.lock().unwrap().remove(&sid);
            return Ok(());
        };
        let interval = Duration::from_secs(s.rollout.watch_interval_secs.into());
        if crate::store::runs::newest_of_stage(store, &sid, &[RunStatus::Queued, RunStatus::Running]).await?.is_some() {
            self.stages.lock().unwrap().remove(&sid);
            return Ok(());
        }
        let hosts = release_hosts(&live, p);
        let mut edges = Vec::new();
        for host in &hosts {
            let Ok(docker) = self.kit.docker_on(host).await else {
                // The hosts service reports a lost host; the watch waits for it.
                return Ok(());
            };
            // Several hosts run the same container names: results and restarts say which.
            let label = if hosts.len() > 1 { format!("{host}: ") } else { String::new() };
            edges.push((label, self.kit.routes().edge(&docker, self.kit.instance_id(), host)));
        }
        let before = {
            let mut stages = self.stages.lock().unwrap();
            let e = stages.entry(sid.clone()).or_insert_with(|| fresh(live.number));
            if e.release != live.number {
                *e = fresh(live.number);
            }
            e.next = Instant::now() + interval;
            e.restarts.clone()
        };
        let (results, restarts) = round(&edges, &live, &before).await;
        let state = state_of(&results);
        let what = results.iter().find_map(|r| r.as_ref().err().cloned());
        let change = {
            let mut stages = self.stages.lock().unwrap();
            let Some(e) = stages.get_mut(&sid) else { return Ok(()) };
            e.restarts = restarts;
            let change = observe(&mut e.tracker, state);
            if change.is_some() {
                e.health = Some(LiveHealth { state, release: live.number, since: now_ms(), what: what.clone() });
            } else if let Some(h) = e.health.as_mut().filter(|h| h.state == state) {
                h.what = what.clone();
            }
            change
        };
        if let Some(change) = change {
            self.changed(p, s, &live, change, what.as_deref()).await?;
        }
        Ok(())
    }

    async fn changed(&self, p: &Project, s: &Stage, live: &Release, change: Change, what: Option<&str>) -> crate::Result<()> {
        let sid = stage_id(&p.id, &s.name);
        let store = self.kit.store();
        let now = now_ms();
        let (notice, state) = match change {
            Change::Settled(LiveState::Healthy) => (None, LiveState::Healthy),
            Change::Recovered => (Some(NoticeKind::StageRecovered), LiveState::Healthy),
            Change::Settled(st) | Change::Worse(st) | Change::Better(st) => {
                (Some(if st == LiveState::Down { NoticeKind::StageDown } else { NoticeKind::StageDegraded }), st)
            }
        };
        tracing::info!(project = %p.id, stage = %s.name, release = live.number, state = state.as_str(), what, "health watch");
        crate::store::incidents::close(store, &sid, now).await?;
        if state != LiveState::Healthy {
            crate::store::incidents::open(store, &sid, live.number, state, now, what.unwrap_or("")).await?;
        }
        self.events.emit(EngineEvent::LiveHealthChanged { project_id: p.id.clone(), stage: s.name.clone(), state });
        if let Some(kind) = notice {
            self.notifier.notify_stage(&p.id, &s.name, kind, live.number, what).await;
        }
        if state == LiveState::Down {
            self.maybe_roll_back(p, s, live, what.unwrap_or("it does not answer")).await?;
        }
        Ok(())
    }

    /// `on_unhealthy: rollback`: the previous retained release, through the normal rollback
    /// run (which pins the stage, so this happens once until a person acts).
    async fn maybe_roll_back(&self, p: &Project, s: &Stage, live: &Release, what: &str) -> crate::Result<()> {
        let store = self.kit.store();
        let sid = stage_id(&p.id, &s.name);
        let pin = crate::store::pins::get(store, &sid).await?;
        let previous = crate::store::releases::list(store, &p.id, &s.name)
            .await?
            .into_iter()
            .filter(|r| r.number < live.number && matches!(r.status, ReleaseStatus::Retired | ReleaseStatus::RolledBack))
            .map(|r| r.number)
            .max();
        let live_for = now_ms() - live.created_at;
        let r = &s.rollout;
        if let Some(why) = no_auto_rollback(r.on_unhealthy, LiveState::Down, live_for, r.watch_secs, pin.as_ref(), previous) {
            tracing::info!(project = %p.id, stage = %s.name, "release {} is down; not rolled back on its own: {why}", live.number);
            return Ok(());
        }
        let Some(target) = previous else { return Ok(()) };
        let why = format!("release {} went down {} s after it went live: {what}", live.number, live_for / 1000);
        let by = crate::store::releases::RollbackBy::Watch(&why);
        let id = crate::store::releases::enqueue_rollback(store, p, &s.name, target, by).await?;
        tracing::warn!(project = %p.id, stage = %s.name, run = id, "health watch: rolling back to release {target}: {why}");
        self.events.emit(EngineEvent::RunChanged { run_id: id });
        self.wake.wake();
        Ok(())
    }
}

fn fresh(release: i64) -> Entry {
    Entry { release, tracker: Tracker { shown: None, pending: None }, restarts: HashMap::new(), health: None, next: Instant::now() }
}

/// Probes every container of `live` on each of its hosts' edges; returns each one's result and
/// Docker's restart counts (by the host's label and the container's name).
async fn round(
    edges: &[(String, Edge)],
    live: &Release,
    before: &HashMap<String, Restarts>,
) -> (Vec<Result<(), String>>, HashMap<String, Restarts>) {
    let (mut results, mut restarts) = (Vec::new(), HashMap::new());
    for (label, edge) in edges {
        for (service, names) in &live.containers {
            let (port, h) = check_for(live, service);
            for name in names {
                let key = format!("{label}{name}");
                let (result, count) = container(edge, name, port, &h, before.get(&key).copied()).await;
                if let Some(c) = count {
                    restarts.insert(key, c);
                }
                results.push(result.map_err(|why| format!("{label}{why}")));
            }
        }
    }
    (results, restarts)
}

/// The check for one service of the release, as its health gate had it.
fn check_for(live: &Release, service: &str) -> (Option<u16>, Health) {
    let base = live.config.deploy.health.clone();
    let Some(stack) = &live.config.compose else { return (live.config.deploy.port, base) };
    let Some(s) = stack.services.iter().find(|s| s.name == service) else {
        return (None, Health { kind: HealthKind::None, ..base });
    };
    let own = super::compose::own_check(s).is_some();
    match (own, s.port) {
        (true, _) => (s.port, Health { kind: HealthKind::Docker, ..base }),
        (false, Some(port)) => (Some(port), base),
        (false, None) => (None, Health { kind: HealthKind::None, ..base }),
    }
}

/// One container: running, not restarted since the last round, not `unhealthy`, then the
/// stage's own check. Returns the result and the restart count seen.
async fn container(
    edge: &Edge,
    name: &str,
    port: Option<u16>,
    h: &Health,
    before: Option<Restarts>,
) -> (Result<(), String>, Option<Restarts>) {
    let inspected =
        tokio::time::timeout(Duration::from_secs(10), edge.docker.inspect_container(name, None::<InspectContainerOptions>)).await;
    let c = match inspected {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => return (Err(format!("{name}: {e}")), None),
        Err(_) => return (Err(format!("{name}: the Docker host did not answer within 10 s")), None),
    };
    let rose = match (c.restart_count, before) {
        (Some(now), Some(b)) if now > b.count => Some(Instant::now()),
        (_, b) => b.and_then(|b| b.rose),
    };
    let count = c.restart_count.map(|n| Restarts { count: n, rose });
    let restarted = c.restart_count.unwrap_or(0);
    let st = c.state.unwrap_or_default();
    if st.restarting == Some(true) || st.running != Some(true) {
        let how = if st.restarting == Some(true) {
            "is restarting".to_string()
        } else {
            format!("is not running (exit code {})", st.exit_code.unwrap_or(-1))
        };
        return (Err(format!("{name} {how}, restarted {restarted} time(s)")), count);
    }
    if let Some(at) = rose.filter(|at| at.elapsed() < RESTART_MEMORY) {
        let ago = at.elapsed().as_secs();
        return (Err(format!("{name} keeps restarting: Docker restarted it {ago} s ago ({restarted} restarts in all)")), count);
    }
    if let Some(hs) = st.health.as_ref().filter(|hs| hs.status == Some(bollard::models::HealthStatusEnum::UNHEALTHY)) {
        let out = hs.log.as_ref().and_then(|l| l.last()).and_then(|l| l.output.clone()).unwrap_or_default();
        return (Err(format!("Docker reports {name} unhealthy: {}", out.trim())), count);
    }
    if h.kind == HealthKind::Docker || h.kind == HealthKind::None {
        return (Ok(()), count);
    }
    (health::probe(edge, name, port, h).await.map_err(|e| e.to_string()), count)
}
