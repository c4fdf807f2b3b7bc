//! A release as a Swarm service spec: what Swarm's own rolling update is told (see
//! [`super::swarm`]). Pure: the spec is decided from the stage's settings alone.

use std::collections::HashMap;

use bollard::models::{
    EndpointSpec, EndpointSpecModeEnum, HealthConfig, NetworkAttachmentConfig, ServiceSpec, ServiceSpecMode, ServiceSpecModeReplicated,
    ServiceSpecRollbackConfig, ServiceSpecRollbackConfigFailureActionEnum, ServiceSpecRollbackConfigOrderEnum, ServiceSpecUpdateConfig,
    ServiceSpecUpdateConfigFailureActionEnum, ServiceSpecUpdateConfigOrderEnum, TaskSpec, TaskSpecContainerSpec, TaskSpecPlacement,
};

use crate::domain::deploy::{Health, HealthKind};
use crate::domain::project::Strategy;

/// What a Swarm task's container is labelled as: not `app`, so that reconcile, which removes
/// app containers no release owns, leaves Swarm's tasks to Swarm.
pub(super) const TASK_ROLE: &str = "swarm-task";

/// What one release's service spec is made of.
pub(super) struct SpecInput<'a> {
    pub name: &'a str,
    pub network: &'a str,
    pub image: &'a str,
    pub labels: HashMap<String, String>,
    pub env: Vec<String>,
    pub command: Option<Vec<String>>,
    pub replicas: u32,
    pub port: Option<u16>,
    pub health: &'a Health,
    pub strategy: Strategy,
    pub batch_size: u32,
    pub monitor_secs: u32,
    pub drain_secs: u32,
    /// Changes on every deploy, so that a deploy of an unchanged spec (a rollback to the same
    /// image) still rolls the tasks.
    pub force: u64,
    /// The Swarm node the image was sent to: tasks are placed there (other nodes would not have
    /// the image until Slipway pushes to a registry).
    pub node: Option<String>,
}

const NS: i64 = 1_000_000;

/// The service spec for a release. Blue-green starts every new task before the old ones stop;
/// rolling replaces `batch_size` at a time; recreate stops first. Swarm watches each new task
/// for `monitor_secs` and rolls the whole update back on a failure.
pub(super) fn spec(i: &SpecInput<'_>) -> ServiceSpec {
    let replicas = i.replicas.max(1) as i64;
    let (parallelism, order, back_order) = match i.strategy {
        Strategy::Recreate => (replicas, ServiceSpecUpdateConfigOrderEnum::STOP_FIRST, ServiceSpecRollbackConfigOrderEnum::STOP_FIRST),
        Strategy::Rolling => {
            (i.batch_size.max(1) as i64, ServiceSpecUpdateConfigOrderEnum::START_FIRST, ServiceSpecRollbackConfigOrderEnum::START_FIRST)
        }
        Strategy::BlueGreen | Strategy::Canary => {
            (replicas, ServiceSpecUpdateConfigOrderEnum::START_FIRST, ServiceSpecRollbackConfigOrderEnum::START_FIRST)
        }
    };
    let monitor = (i.monitor_secs.max(1) as i64) * 1000 * NS;
    let mut task_labels = i.labels.clone();
    task_labels.insert(super::edge::ROLE_LABEL.to_string(), TASK_ROLE.to_string());
    ServiceSpec {
        name: Some(i.name.to_string()),
        labels: Some(i.labels.clone()),
        task_template: Some(TaskSpec {
            container_spec: Some(TaskSpecContainerSpec {
                image: Some(i.image.to_string()),
                labels: Some(task_labels),
                args: i.command.clone(),
                env: Some(i.env.clone()),
                health_check: health_check(i.health, i.port),
                stop_grace_period: Some((i.drain_secs.max(1) as i64) * 1000 * NS),
                ..Default::default()
            }),
            networks: Some(vec![NetworkAttachmentConfig { target: Some(i.network.to_string()), ..Default::default() }]),
            force_update: Some(i.force),
            placement: i
                .node
                .as_ref()
                .map(|n| TaskSpecPlacement { constraints: Some(vec![format!("node.id=={n}")]), ..Default::default() }),
            ..Default::default()
        }),
        mode: Some(ServiceSpecMode { replicated: Some(ServiceSpecModeReplicated { replicas: Some(replicas) }), ..Default::default() }),
        update_config: Some(ServiceSpecUpdateConfig {
            parallelism: Some(parallelism),
            delay: Some(0),
            failure_action: Some(ServiceSpecUpdateConfigFailureActionEnum::ROLLBACK),
            monitor: Some(monitor),
            max_failure_ratio: Some(0.0),
            order: Some(order),
        }),
        rollback_config: Some(ServiceSpecRollbackConfig {
            parallelism: Some(0),
            delay: Some(0),
            failure_action: Some(ServiceSpecRollbackConfigFailureActionEnum::PAUSE),
            monitor: Some(monitor),
            max_failure_ratio: Some(0.0),
            order: Some(back_order),
        }),
        endpoint_spec: Some(EndpointSpec { mode: Some(EndpointSpecModeEnum::DNSRR), ports: None }),
        ..Default::default()
    }
}

/// The stage's health check as a Docker healthcheck, which Swarm gates each task on. HTTP and
/// TCP checks run inside the task (`wget`, `nc`: the image must have them, as busybox and
/// most distributions do); `docker` keeps the image's own HEALTHCHECK.
fn health_check(h: &Health, port: Option<u16>) -> Option<HealthConfig> {
    let test = match (h.kind, port) {
        (HealthKind::Docker, _) => return None,
        (HealthKind::Http, Some(port)) => {
            vec!["CMD-SHELL".to_string(), format!("wget -q -O /dev/null 'http://127.0.0.1:{port}{}' || exit 1", h.path.replace('\'', ""))]
        }
        (HealthKind::Tcp, Some(port)) => vec!["CMD-SHELL".to_string(), format!("nc -z 127.0.0.1 {port} || exit 1")],
        (HealthKind::None, _) | (_, None) => vec!["NONE".to_string()],
    };
    Some(HealthConfig {
        test: Some(test),
        interval: Some(h.interval_ms.max(100) as i64 * NS),
        timeout: Some(h.timeout_ms.max(100) as i64 * NS),
        retries: Some(h.retries.max(1) as i64),
        start_period: Some(h.start_period_ms as i64 * NS),
        start_interval: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(strategy: Strategy, health: &Health) -> SpecInput<'_> {
        SpecInput {
            name: "slipway-i-web-dev",
            network: "slipway-i-swarm",
            image: "slipway.invalid/web-dev:run-7",
            labels: HashMap::new(),
            env: vec!["A=1".into()],
            command: None,
            replicas: 3,
            port: Some(8080),
            health,
            strategy,
            batch_size: 1,
            monitor_secs: 5,
            drain_secs: 2,
            force: 7,
            node: Some("n1".into()),
        }
    }

    #[test]
    fn swarm_rolls_start_first_and_rolls_back_on_failure() {
        let h = Health { path: "/health".into(), ..Health::default() };
        let s = spec(&input(Strategy::BlueGreen, &h));
        let u = s.update_config.unwrap();
        assert_eq!(u.order, Some(ServiceSpecUpdateConfigOrderEnum::START_FIRST));
        assert_eq!(u.failure_action, Some(ServiceSpecUpdateConfigFailureActionEnum::ROLLBACK));
        assert_eq!((u.parallelism, u.monitor), (Some(3), Some(5_000_000_000)), "blue-green starts every new task first");
        assert_eq!(s.endpoint_spec.unwrap().mode, Some(EndpointSpecModeEnum::DNSRR));
        assert_eq!(s.mode.unwrap().replicated.unwrap().replicas, Some(3));
        let task = s.task_template.unwrap();
        assert_eq!(task.force_update, Some(7));
        assert_eq!(task.placement.unwrap().constraints, Some(vec!["node.id==n1".to_string()]), "tasks go where the image is");
        let c = task.container_spec.unwrap();
        assert_eq!(c.labels.unwrap()[super::super::edge::ROLE_LABEL], TASK_ROLE);
        let test = c.health_check.unwrap().test.unwrap();
        assert_eq!(test[1], "wget -q -O /dev/null 'http://127.0.0.1:8080/health' || exit 1");
    }

    #[test]
    fn rolling_replaces_a_batch_at_a_time_and_recreate_stops_first() {
        let h = Health::default();
        assert_eq!(spec(&input(Strategy::Rolling, &h)).update_config.unwrap().parallelism, Some(1));
        let r = spec(&input(Strategy::Recreate, &h)).update_config.unwrap();
        assert_eq!(r.order, Some(ServiceSpecUpdateConfigOrderEnum::STOP_FIRST));
    }

    #[test]
    fn the_images_own_healthcheck_is_kept_and_none_turns_it_off() {
        let docker = Health { kind: HealthKind::Docker, ..Health::default() };
        assert_eq!(health_check(&docker, Some(80)), None);
        let none = Health { kind: HealthKind::None, ..Health::default() };
        assert_eq!(health_check(&none, Some(80)).unwrap().test.unwrap(), vec!["NONE".to_string()]);
        let tcp = Health { kind: HealthKind::Tcp, ..Health::default() };
        assert_eq!(health_check(&tcp, Some(5432)).unwrap().test.unwrap()[1], "nc -z 127.0.0.1 5432 || exit 1");
    }
}
