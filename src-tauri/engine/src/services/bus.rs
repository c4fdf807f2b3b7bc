//! The small shared signals the services coordinate through: the event bus, the engine's
//! shutdown, the runner's wake-up and on/off switches. Each is a cheap handle (one `Arc`), and a
//! service is handed only the ones it uses.
//!
//! Must not depend on any other service: every service may depend on this.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, watch, Notify};

use crate::domain::events::EngineEvent;

/// The engine's event bus: what the window, the CLI and the notifications follow.
#[derive(Clone)]
pub struct Events(broadcast::Sender<EngineEvent>);

impl Events {
    pub fn new(capacity: usize) -> Events {
        Events(broadcast::channel(capacity).0)
    }

    pub fn emit(&self, event: EngineEvent) {
        // No subscriber is fine: nobody is watching.
        let _ = self.0.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<EngineEvent> {
        self.0.subscribe()
    }
}

/// Set once the engine starts stopping; background loops watch it between rounds.
#[derive(Clone)]
pub struct Shutdown(Arc<watch::Sender<bool>>);

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown(Arc::new(watch::channel(false).0))
    }
}

impl Shutdown {
    /// Starts the shutdown; true when it had started already.
    pub fn begin(&self) -> bool {
        self.0.send_replace(true)
    }

    /// Follows the shutdown (true once it started).
    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.0.subscribe()
    }

    /// Sleeps for `d`, or returns true as soon as the engine starts stopping.
    pub async fn sleep_or_stop(&self, d: Duration) -> bool {
        let mut stopping = self.0.subscribe();
        if *stopping.borrow() {
            return true;
        }
        tokio::select! {
            _ = tokio::time::sleep(d) => false,
            _ = stopping.wait_for(|s| *s) => true,
        }
    }
}

/// Wakes the runner when there may be new work (a run queued, a slot freed, runs released).
#[derive(Clone, Default)]
pub struct Wake(Arc<Notify>);

impl Wake {
    pub fn wake(&self) {
        self.0.notify_one();
    }

    /// Waits for a wake-up, or `d`, or the shutdown; true when the engine is stopping.
    pub async fn wait(&self, d: Duration, shutdown: &Shutdown) -> bool {
        tokio::select! {
            _ = self.0.notified() => false,
            stopping = shutdown.sleep_or_stop(d) => stopping,
        }
    }
}

/// An on/off setting several services read (auto-deploy paused, runs held).
#[derive(Clone, Default)]
pub struct Flag(Arc<AtomicBool>);

impl Flag {
    pub fn new(on: bool) -> Flag {
        Flag(Arc::new(AtomicBool::new(on)))
    }

    pub fn get(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// Sets the flag; returns what it was.
    pub fn set(&self, on: bool) -> bool {
        self.0.swap(on, Ordering::SeqCst)
    }
}
