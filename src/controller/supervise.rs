//! Who audits: this replica alone, the holder of the leader Lease, or each live member for its share
//! of the audits. Input: the [`Setup`], how this replica coordinates with others, and the stop
//! signal. Output: the controller running (`watches`) for as long as this replica may audit, and a
//! clean hand-over at the end (in-flight audits finish within half the renew deadline, series are
//! cleared, the Lease is released or the member Lease deleted).

use std::collections::BTreeSet;
use std::sync::Arc;

use tokio::sync::watch;

use super::Error;
use super::context::Setup;
use super::lease::Elector;
use super::shard::{Membership, Shard};
use super::watches::run_controller;

/// Resolves when `stopped` turns true (or its sender is gone).
pub(super) async fn wait_for(mut stopped: watch::Receiver<bool>) {
    // An error means the sender is gone: treat it as stop.
    let _ = stopped.wait_for(|s| *s).await;
}

/// How this replica shares the work with others.
pub(super) enum Coordination {
    /// It does not: it audits everything.
    Alone,
    /// It audits everything while it holds the leader Lease.
    Elected(Elector),
    /// It audits its share of the audits while it is a live member.
    Sharded(Membership),
}

/// Runs the controller directly, as a shard, or campaigns for the Lease and runs it while leading.
pub(super) async fn supervise(
    setup: Setup,
    coordination: Coordination,
    stopped: watch::Receiver<bool>,
) -> Result<(), Error> {
    setup.health.set_ready(true);
    match coordination {
        Coordination::Alone => {
            run_controller(&setup, None, wait_for(stopped)).await;
            Ok(())
        }
        Coordination::Sharded(membership) => {
            run_sharded(&setup, &membership, stopped).await;
            Ok(())
        }
        Coordination::Elected(elector) => lead(&setup, elector, stopped).await,
    }
}

/// Campaigns for the Lease until it is won, then runs the controller while renewing it; stops
/// auditing at once when the Lease is lost (an error: the process should restart and campaign).
async fn lead(
    setup: &Setup,
    mut elector: Elector,
    stopped: watch::Receiver<bool>,
) -> Result<(), Error> {
    let timings = elector.timings();
    loop {
        if *stopped.borrow() {
            return Ok(());
        }
        match elector.try_acquire_or_renew().await {
            Ok(true) => break,
            Ok(false) => {}
            Err(err) => tracing::warn!(error = %err, "leader election attempt failed"),
        }
        tokio::select! {
            () = tokio::time::sleep(timings.retry_period) => {}
            () = wait_for(stopped.clone()) => return Ok(()),
        }
    }
    tracing::info!(identity = %elector.identity(), "became leader");
    let (halt, halted) = watch::channel(false);
    let mut controller = Box::pin(run_controller(setup, None, wait_for(halted)));
    let outcome = loop {
        tokio::select! {
            () = &mut controller => break Ok(()),
            () = wait_for(stopped.clone()) => {
                let _ = halt.send(true);
                // Finish in-flight audits, but never past the point where the Lease could lapse.
                if tokio::time::timeout(timings.renew_deadline / 2, &mut controller).await.is_err() {
                    tracing::warn!("in-flight audits cancelled at shutdown");
                }
                break Ok(());
            }
            () = tokio::time::sleep(timings.retry_period) => {
                match elector.try_acquire_or_renew().await {
                    Ok(true) => {}
                    Ok(false) => break Err(Error::LeadershipLost(elector.identity().to_owned())),
                    Err(err) if elector.within_deadline() => tracing::warn!(error = %err, "failed to renew the Lease; retrying"),
                    Err(err) => {
                        tracing::error!(error = %err, "failed to renew the Lease within the deadline");
                        break Err(Error::LeadershipLost(elector.identity().to_owned()));
                    }
                }
            }
        }
    };
    // Dropping the controller here (on loss) cancels every in-flight reconcile at once.
    drop(controller);
    setup.metrics.retain_audits(&BTreeSet::new());
    if outcome.is_ok()
        && let Err(err) = elector.release().await
    {
        tracing::warn!(error = %err, "failed to release the Lease");
    }
    outcome
}

/// Runs the controller as one shard: renews the member Lease and publishes the live members every
/// retry period, until `stopped`; then leaves (deletes the Lease) so the others take over at once.
async fn run_sharded(setup: &Setup, membership: &Membership, stopped: watch::Receiver<bool>) {
    let timings = membership.timings();
    tracing::info!(identity = %membership.identity(), "sharding the audits");
    let (view, viewed) = watch::channel(Arc::new(BTreeSet::new()));
    let (halt, halted) = watch::channel(false);
    let shard = Shard::new(membership.identity(), viewed);
    {
        let controller = run_controller(setup, Some(shard), wait_for(halted));
        let heartbeat = heartbeat(membership, &view, stopped);
        tokio::pin!(controller, heartbeat);
        tokio::select! {
            () = &mut controller => {}
            () = &mut heartbeat => {
                let _ = halt.send(true);
                // Finish in-flight audits, but never past the point where the member Lease could lapse.
                if tokio::time::timeout(timings.renew_deadline / 2, &mut controller).await.is_err() {
                    tracing::warn!("in-flight audits cancelled at shutdown");
                }
            }
        }
    }
    setup.metrics.retain_audits(&BTreeSet::new());
    if let Err(err) = membership.leave().await {
        tracing::warn!(error = %err, "failed to delete the member Lease");
    }
}

/// Renews the member Lease and publishes the live members until `stopped`. A replica that could
/// not renew and list within the renew deadline publishes no members (owns nothing): its Lease
/// may lapse, and the others then take its audits.
async fn heartbeat(
    membership: &Membership,
    view: &watch::Sender<Arc<BTreeSet<String>>>,
    stopped: watch::Receiver<bool>,
) {
    let timings = membership.timings();
    let mut last_ok: Option<tokio::time::Instant> = None;
    loop {
        let attempt = tokio::time::Instant::now();
        let refreshed = tokio::time::timeout(timings.renew_deadline, membership.refresh()).await;
        let failure = match refreshed {
            Ok(Ok(members)) => {
                last_ok = Some(attempt);
                view.send_if_modified(|current| {
                    if **current == members {
                        return false;
                    }
                    tracing::info!(members = ?members, "shard members changed");
                    *current = Arc::new(members);
                    true
                });
                None
            }
            Ok(Err(err)) => Some(err.to_string()),
            Err(_) => Some(format!("no answer within {:?}", timings.renew_deadline)),
        };
        if let Some(error) = failure {
            tracing::warn!(error = %error, "failed to refresh the shard members");
            if last_ok.is_none_or(|t| t.elapsed() >= timings.renew_deadline) {
                view.send_if_modified(|current| {
                    let had = !current.is_empty();
                    *current = Arc::new(BTreeSet::new());
                    had
                });
            }
        }
        tokio::select! {
            () = tokio::time::sleep(timings.retry_period) => {}
            () = wait_for(stopped.clone()) => return,
        }
    }
}
