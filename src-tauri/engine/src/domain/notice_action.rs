//! What a desktop notification offers besides its text, and what each of its buttons asks of
//! the engine. Pure: the notifier shows the buttons, the engine (or a remote tray) carries out
//! the [`NoticeAction`].

use crate::domain::notice::{Notice, NoticeKind};
use crate::domain::release::{Release, ReleaseStatus};

/// The action key a click on a notification's body invokes (freedesktop's "default").
pub const DEFAULT: &str = "default";
pub const ROLLBACK: &str = "rollback";

/// The buttons of `n`, as (action key, label); the first is what a click on the body does.
pub fn buttons(n: &Notice) -> Vec<(&'static str, &'static str)> {
    match n.kind {
        NoticeKind::Failed | NoticeKind::RolledBack => vec![(DEFAULT, "Open run"), (ROLLBACK, "Roll back")],
        NoticeKind::AwaitingPromotion => vec![(DEFAULT, "Review & promote")],
        NoticeKind::StageDown | NoticeKind::StageDegraded => vec![(DEFAULT, "Open")],
        _ if n.run_id.is_some() => vec![(DEFAULT, "Open run")],
        _ => vec![],
    }
}

/// What an invoked button asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoticeAction {
    OpenRun(i64),
    /// Back to the stage's previous release ([`previous_release`]); `run` is the notice's run,
    /// opened instead where the stage asks for a confirmation.
    RollBack {
        project: String,
        stage: String,
        run: Option<i64>,
    },
    /// The promote confirm dialog: a notification never promotes on its own.
    ReviewPromote {
        project: String,
        stage: String,
    },
    /// The window, on the stage's project.
    Open {
        project: String,
        stage: String,
    },
}

/// The action behind button `key` of notice `n`; None for a key it does not offer.
pub fn action_for(n: &Notice, key: &str) -> Option<NoticeAction> {
    if !buttons(n).iter().any(|(k, _)| *k == key) {
        return None;
    }
    let (project, stage) = (n.project.clone(), n.stage.clone());
    Some(match (n.kind, key) {
        (_, ROLLBACK) => NoticeAction::RollBack { project, stage, run: n.run_id },
        (NoticeKind::AwaitingPromotion, _) => NoticeAction::ReviewPromote { project, stage },
        (NoticeKind::StageDown | NoticeKind::StageDegraded, _) => NoticeAction::Open { project, stage },
        _ => NoticeAction::OpenRun(n.run_id?),
    })
}

/// The release a "Roll back" goes to: the newest one the live release replaced and whose image
/// is kept (`releases` as (number, status), newest first, as the store lists them). A release
/// that was itself rolled back from is not what anyone means by "the previous one".
pub fn previous_release(releases: &[(i64, ReleaseStatus)]) -> Option<i64> {
    let live = releases.iter().position(|(_, s)| *s == ReleaseStatus::Live)?;
    releases[live + 1..].iter().find(|(_, s)| *s == ReleaseStatus::Retired).map(|(n, _)| *n)
}

/// [`previous_release`] of a stage's releases as the API lists them.
pub fn previous_of(releases: &[Release]) -> Option<i64> {
    previous_release(&releases.iter().map(|r| (r.number, r.status)).collect::<Vec<_>>())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(kind: NoticeKind, run_id: Option<i64>) -> Notice {
        Notice {
            kind,
            project: "web".into(),
            stage: "prod".into(),
            run_id,
            status: String::new(),
            commit: None,
            reason: None,
            title: String::new(),
            body: String::new(),
            url: None,
        }
    }

    #[test]
    fn a_failed_or_rolled_back_deploy_offers_open_run_and_roll_back() {
        for kind in [NoticeKind::Failed, NoticeKind::RolledBack] {
            let n = notice(kind, Some(7));
            assert_eq!(buttons(&n), vec![("default", "Open run"), ("rollback", "Roll back")]);
            assert_eq!(action_for(&n, "default"), Some(NoticeAction::OpenRun(7)));
            assert_eq!(
                action_for(&n, "rollback"),
                Some(NoticeAction::RollBack { project: "web".into(), stage: "prod".into(), run: Some(7) })
            );
        }
    }

    #[test]
    fn a_release_waiting_for_promotion_only_opens_the_confirm_dialog() {
        let n = notice(NoticeKind::AwaitingPromotion, Some(3));
        assert_eq!(buttons(&n), vec![("default", "Review & promote")]);
        assert_eq!(action_for(&n, "default"), Some(NoticeAction::ReviewPromote { project: "web".into(), stage: "prod".into() }));
        assert_eq!(action_for(&n, "rollback"), None, "no button, no action");
    }

    #[test]
    fn a_stage_that_went_down_offers_open() {
        let n = notice(NoticeKind::StageDown, None);
        assert_eq!(buttons(&n), vec![("default", "Open")]);
        assert_eq!(action_for(&n, "default"), Some(NoticeAction::Open { project: "web".into(), stage: "prod".into() }));
    }

    #[test]
    fn a_notice_without_a_run_has_nothing_to_open() {
        assert!(buttons(&notice(NoticeKind::Test, None)).is_empty());
        assert_eq!(action_for(&notice(NoticeKind::Recovered, Some(9)), "default"), Some(NoticeAction::OpenRun(9)));
    }

    #[test]
    fn roll_back_goes_to_the_newest_retired_release_before_the_live_one() {
        use ReleaseStatus::*;
        type Case = (&'static [(i64, ReleaseStatus)], Option<i64>);
        let cases: &[Case] = &[
            (&[(3, Live), (2, Retired), (1, Retired)], Some(2)),
            (&[(4, Live), (3, RolledBack), (2, Retired)], Some(2)),
            (&[(3, Live), (2, Pruned), (1, Retired)], Some(1)),
            (&[(3, Retired), (2, Live), (1, Retired)], Some(1)),
            (&[(1, Live)], None),
            (&[(2, Retired), (1, Retired)], None),
        ];
        for (list, want) in cases {
            assert_eq!(previous_release(list), *want, "{list:?}");
        }
    }
}
