//! Releases: what each stage runs, numbered per stage, with the image and a snapshot of the
//! config that produced it, so a rollback or a promotion redeploys exactly that.

pub use slipway_protocol::release::{CommitLine, PendingPromotion, Release, ReleaseConfig, ReleaseStatus};
