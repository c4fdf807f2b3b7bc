//! Load through the edge for the zero-downtime checks: clients sending requests to one host
//! name the whole time, counting answers by body, failures, and when each request ended.

use std::time::{Duration, Instant};

/// Clients hammering one host name through the edge, counting answers by body and failures.
pub struct Load {
    /// What `first_seen` counts from (read by the zero-downtime benchmark).
    #[allow(dead_code)]
    pub started: Instant,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<LoadReport>>,
}

#[derive(Debug, Default, Clone)]
pub struct LoadReport {
    pub sent: u64,
    pub failed: u64,
    /// Body (trimmed) → count.
    pub bodies: std::collections::BTreeMap<String, u64>,
    pub errors: Vec<String>,
    /// When each body was first seen, from the start of the load.
    pub first_seen: std::collections::BTreeMap<String, Duration>,
    /// When each request ended (Unix ms), and whether it succeeded.
    pub ended: Vec<(i64, bool)>,
}

impl Load {
    pub fn start(port: u16, host: &str, clients: usize, keep_alive: bool) -> Load {
        Load::start_paced(port, host, clients, keep_alive, None)
    }

    /// Like `start`, with each client waiting `pace` after each response: a light load.
    pub fn start_paced(port: u16, host: &str, clients: usize, keep_alive: bool, pace: Option<Duration>) -> Load {
        Load::start_at("127.0.0.1", port, host, clients, keep_alive, pace)
    }

    /// Like `start_paced`, to the edge of another machine at `ip`.
    pub fn start_at(ip: &str, port: u16, host: &str, clients: usize, keep_alive: bool, pace: Option<Duration>) -> Load {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let started = Instant::now();
        let tasks = (0..clients)
            .map(|_| {
                let stop = stop.clone();
                let host = host.to_string();
                let url = format!("http://{ip}:{port}/");
                tokio::spawn(async move {
                    let mut b = reqwest::Client::builder().timeout(Duration::from_secs(10));
                    if !keep_alive {
                        b = b.pool_max_idle_per_host(0);
                    }
                    let client = b.build().unwrap();
                    let mut r = LoadReport::default();
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        r.sent += 1;
                        let res = client.get(&url).header("host", &host).send().await;
                        let ok = matches!(&res, Ok(resp) if resp.status().is_success());
                        match res {
                            Ok(resp) if resp.status().is_success() => {
                                let body = resp.text().await.unwrap_or_default().trim().to_string();
                                r.first_seen.entry(body.clone()).or_insert_with(|| started.elapsed());
                                *r.bodies.entry(body).or_default() += 1;
                            }
                            Ok(resp) => {
                                r.failed += 1;
                                if r.errors.len() < 5 {
                                    r.errors.push(format!("HTTP {}: {}", resp.status(), resp.text().await.unwrap_or_default().trim()));
                                }
                            }
                            Err(e) => {
                                r.failed += 1;
                                if r.errors.len() < 5 {
                                    r.errors.push(format!("{e:?}"));
                                }
                            }
                        }
                        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
                        r.ended.push((now, ok));
                        if let Some(pace) = pace {
                            tokio::time::sleep(pace).await;
                        }
                    }
                    r
                })
            })
            .collect();
        Load { started, stop, tasks }
    }

    pub async fn finish(self) -> LoadReport {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut total = LoadReport::default();
        for t in self.tasks {
            let r = t.await.unwrap();
            total.sent += r.sent;
            total.failed += r.failed;
            for (k, v) in r.bodies {
                *total.bodies.entry(k).or_default() += v;
            }
            for (k, v) in r.first_seen {
                let e = total.first_seen.entry(k).or_insert(v);
                *e = (*e).min(v);
            }
            total.errors.extend(r.errors);
            total.ended.extend(r.ended);
        }
        total
    }
}
