//! The check-in worker: follows `schedule.json` ([`super::agenda`]), starts a delivery attempt
//! ([`super::checkin`]) on the blocking pool for each check-in that is due, and sleeps until
//! the next one. A check-in goes to the pane it names (a person named it), agent or not.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinSet;

use super::jobs::{Ctx, guarded};
use super::{Reporter, agenda, checkin, stopped};

/// With check-ins pending, the worker looks at the wall clock at least this often (a
/// suspended machine's monotonic clock stands still, so a sleep alone would deliver late).
const CLOCK_CHECK: Duration = Duration::from_secs(60);
/// Without file events for `schedule.json`, the worker looks at the file this often.
const SCHEDULE_POLL: Duration = Duration::from_secs(2);

pub async fn worker(ctx: Arc<Ctx>, reporter: Arc<dyn Reporter>, mut stop: watch::Receiver<bool>) {
    let log = ctx.log();
    let mut agenda = agenda::Agenda::new(&ctx.state);
    let (tx, mut changed) = tokio::sync::mpsc::unbounded_channel();
    let file_watch = match agenda::watch_file(&ctx.state, tx) {
        Ok(w) => Some(w),
        Err(e) => {
            reporter.line(&format!(
                "cannot watch {} ({e}); looking at it every {}s",
                ctx.state.join(crate::schedule::FILE_NAME).display(),
                SCHEDULE_POLL.as_secs()
            ));
            None
        }
    };
    let mut running: JoinSet<(u64, Vec<String>)> = JoinSet::new();
    loop {
        for line in agenda.refresh(&log) {
            reporter.line(&line);
        }
        for id in agenda.due(jiff::Timestamp::now()) {
            agenda.inflight.insert(id);
            let ctx = ctx.clone();
            running
                .spawn_blocking(move || (id, guarded("check-in", || checkin::attempt(&ctx, id))));
        }
        let mono = Instant::now();
        let wake = [
            agenda.next_wake(jiff::Timestamp::now(), mono),
            (!agenda.is_empty()).then(|| mono + CLOCK_CHECK),
            file_watch.is_none().then(|| mono + SCHEDULE_POLL),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(mono + Duration::from_secs(3600));
        tokio::select! {
            Some(()) = changed.recv() => {}
            Some(done) = running.join_next(), if !running.is_empty() => {
                finished(&*reporter, &mut agenda, done);
            }
            _ = tokio::time::sleep_until(wake.into()) => {}
            _ = stopped(&mut stop) => break,
        }
    }
    ctx.stop.store(true, Ordering::Relaxed);
    while let Some(done) = running.join_next().await {
        finished(&*reporter, &mut agenda, done);
    }
}

fn finished(
    reporter: &dyn Reporter,
    agenda: &mut agenda::Agenda,
    done: Result<(u64, Vec<String>), tokio::task::JoinError>,
) {
    let lines = match done {
        Ok((id, lines)) => {
            agenda.finished(id);
            lines
        }
        Err(e) => vec![format!("a check-in job failed: {e}")],
    };
    for line in lines {
        reporter.line(&line);
    }
}
