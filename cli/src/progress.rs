//! What a long apply shows while it runs: on a terminal a progress bar
//! (done / total, the rate, an ETA from the limiter's budget, applied /
//! stale / failed), elsewhere one line every N changes or M seconds. Fed
//! by the executor's progress events ([`muster::Progress`]); the clock is
//! injected, so the tests need no real time.

use std::io::Write;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use muster::{Outcome, Progress};

/// Off a terminal: a line after this many changes…
pub(crate) const LINE_EVERY_CHANGES: usize = 100;
/// …or when this long has passed since the last line, whichever comes first.
pub(crate) const LINE_EVERY: Duration = Duration::from_secs(10);

/// The time, as the renderer reads it (a fake one in tests).
pub(crate) trait Clock: Send {
    fn now(&self) -> Instant;
}

/// The system's monotonic clock.
pub(crate) struct SystemClock;

/// The display `apply` uses: a bar when standard error is a terminal,
/// lines otherwise (and always lines into a fleet's per-organisation log).
/// The ETA reads the limiter's budget at each event: the rate it learned
/// from the gateway's 429s, else the configured one.
pub(crate) fn for_apply(
    plan: &muster::reconcile::Plan,
    client: &muster::gateway::Client,
    configured: u32,
    out: &crate::out::Out,
) -> Renderer {
    use std::io::IsTerminal;
    let limiter = client.limiter().clone();
    let budget = Box::new(move || {
        limiter
            .learned_rate(std::time::SystemTime::now())
            .map_or(f64::from(configured), |r| r.per_minute())
    });
    let total = plan.changes.len();
    let requests = plan.summary.api_calls;
    if let Some(log) = out.log_writer() {
        Renderer::lines(log, total, requests, budget, Box::new(SystemClock))
    } else if std::io::stderr().is_terminal() {
        Renderer::bar(
            ProgressDrawTarget::stderr(),
            total,
            requests,
            budget,
            Box::new(SystemClock),
        )
    } else {
        Renderer::lines(
            Box::new(std::io::stderr()),
            total,
            requests,
            budget,
            Box::new(SystemClock),
        )
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// The counts a progress display shows, kept from the events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    pub(crate) total: usize,
    pub(crate) done: usize,
    pub(crate) applied: usize,
    pub(crate) stale: usize,
    pub(crate) failed: usize,
}

impl Tally {
    fn record(&mut self, event: &Progress<'_>) -> bool {
        let Progress::Finished {
            outcome,
            done,
            total,
            ..
        } = event
        else {
            return false;
        };
        self.done = *done;
        self.total = *total;
        match outcome {
            Outcome::Applied | Outcome::AlreadyApplied => self.applied += 1,
            Outcome::Stale { .. } => self.stale += 1,
            Outcome::Failed { .. } => self.failed += 1,
            _ => {}
        }
        true
    }
}

/// Turns events into what a person reads, with the rate and the ETA.
pub(crate) struct Renderer {
    tally: Tally,
    clock: Box<dyn Clock>,
    started: Instant,
    /// Requests the plan sends per change, on average (its summary's estimate).
    requests_per_change: f64,
    /// The limiter's budget now, in requests per minute (it adapts to 429s).
    budget: Box<dyn Fn() -> f64 + Send>,
    sink: Sink,
}

enum Sink {
    Bar(ProgressBar),
    Lines {
        out: Box<dyn Write + Send>,
        last_line: Instant,
        last_done: usize,
    },
}

impl Renderer {
    /// A bar drawn on `target` (stderr, or indicatif's in-memory terminal in tests).
    pub(crate) fn bar(
        target: ProgressDrawTarget,
        total: usize,
        requests: u64,
        budget: Box<dyn Fn() -> f64 + Send>,
        clock: Box<dyn Clock>,
    ) -> Renderer {
        let bar = ProgressBar::with_draw_target(Some(total as u64), target);
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Renderer::new(Sink::Bar(bar), total, requests, budget, clock)
    }

    /// One line on `out` every [`LINE_EVERY_CHANGES`] changes or [`LINE_EVERY`].
    pub(crate) fn lines(
        out: Box<dyn Write + Send>,
        total: usize,
        requests: u64,
        budget: Box<dyn Fn() -> f64 + Send>,
        clock: Box<dyn Clock>,
    ) -> Renderer {
        let now = clock.now();
        let sink = Sink::Lines {
            out,
            last_line: now,
            last_done: 0,
        };
        Renderer::new(sink, total, requests, budget, clock)
    }

    fn new(
        sink: Sink,
        total: usize,
        requests: u64,
        budget: Box<dyn Fn() -> f64 + Send>,
        clock: Box<dyn Clock>,
    ) -> Renderer {
        let started = clock.now();
        Renderer {
            tally: Tally {
                total,
                ..Tally::default()
            },
            clock,
            started,
            requests_per_change: if total == 0 {
                0.0
            } else {
                requests as f64 / total as f64
            },
            budget,
            sink,
        }
    }

    /// The status after the counts: rate, ETA, outcomes.
    fn status(&self) -> String {
        let t = &self.tally;
        let elapsed = self.clock.now().saturating_duration_since(self.started);
        let rate = if elapsed.is_zero() {
            0.0
        } else {
            t.done as f64 / elapsed.as_secs_f64()
        };
        format!(
            "{rate:.1}/s, ETA {}; applied {}, stale {}, failed {}",
            eta_text(self.eta()),
            t.applied,
            t.stale,
            t.failed
        )
    }

    /// The time the rest needs at the limiter's budget: the requests left
    /// (the plan's estimate per change) over the requests per second the
    /// limiter allows now. The budget, not the rate so far, decides it
    /// once a run is paced.
    fn eta(&self) -> Option<Duration> {
        let left = self.tally.total.saturating_sub(self.tally.done) as f64;
        let per_second = (self.budget)() / 60.0;
        (per_second > 0.0)
            .then(|| Duration::from_secs_f64(left * self.requests_per_change / per_second))
    }

    /// One executor event.
    pub(crate) fn event(&mut self, event: &Progress<'_>) {
        if !self.tally.record(event) {
            return;
        }
        let status = self.status();
        let now = self.clock.now();
        let line = self.line(&status);
        let t = &self.tally;
        match &mut self.sink {
            Sink::Bar(bar) => {
                bar.set_position(t.done as u64);
                bar.set_message(status);
            }
            Sink::Lines {
                out,
                last_line,
                last_done,
            } => {
                // A short run says nothing (its report follows at once).
                let due = t.done - *last_done >= LINE_EVERY_CHANGES
                    || now.saturating_duration_since(*last_line) >= LINE_EVERY;
                if due {
                    let _ = writeln!(out, "{line}");
                    *last_line = now;
                    *last_done = t.done;
                }
            }
        }
    }

    fn line(&self, status: &str) -> String {
        format!(
            "progress: {}/{} changes, {status}",
            self.tally.done, self.tally.total
        )
    }

    /// The run ended: the bar is cleared (the report follows).
    pub(crate) fn finish(&mut self) {
        if let Sink::Bar(bar) = &self.sink {
            bar.finish_and_clear();
        }
    }
}

/// `1h02m`, `3m07s`, `42s`, or `?` when the budget is unknown.
fn eta_text(eta: Option<Duration>) -> String {
    let Some(eta) = eta else {
        return "?".to_owned();
    };
    let s = eta.as_secs();
    match (s / 3600, s % 3600 / 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m{s:02}s"),
        (h, m, _) => format!("{h}h{m:02}m"),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use indicatif::{InMemoryTerm, TermLike};
    use muster::reconcile::AccountChange;

    use super::*;

    /// A clock the test moves by hand.
    #[derive(Clone)]
    struct FakeClock(Arc<Mutex<Instant>>);

    impl FakeClock {
        fn new() -> Self {
            FakeClock(Arc::new(Mutex::new(Instant::now())))
        }
        fn advance(&self, by: Duration) {
            *self.0.lock().unwrap() += by;
        }
    }

    impl Clock for FakeClock {
        fn now(&self) -> Instant {
            *self.0.lock().unwrap()
        }
    }

    /// A sink the test can read back.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// One change of a real plan (its contents do not matter here).
    fn change() -> AccountChange {
        use muster::core::{Account, DirectoryEntry, DirectorySnapshot, Field, FieldSet};
        use muster::reconcile::{Desired, GatewayListing, Policy, SyncState, TargetProfile};
        let domain: muster::core::Domain = "example.com".parse().unwrap();
        let target = TargetProfile::new("us1", "example.com").with_domain(domain.clone());
        let policy = Policy::builder().managed_domain(domain).build();
        let source = DirectorySnapshot::new("csv", FieldSet::from_iter([Field::FirstName]))
            .with_entries(vec![DirectoryEntry::new(
                "ann@example.com".parse().unwrap(),
            )]);
        let gateway =
            GatewayListing::complete(vec![Account::new("bob@example.com".parse().unwrap())]);
        let now = muster::chrono::DateTime::parse_from_rfc3339("2026-11-02T09:00:00Z")
            .unwrap()
            .to_utc();
        let plan = muster::reconcile::plan(
            &Desired::new(source),
            &gateway,
            &target,
            &SyncState::new("us1", "example.com"),
            &policy,
            now,
        )
        .unwrap();
        plan.changes[0].clone()
    }

    fn finish(
        r: &mut Renderer,
        change: &AccountChange,
        outcome: Outcome,
        done: usize,
        total: usize,
    ) {
        r.event(&Progress::Finished {
            change,
            outcome: &outcome,
            done,
            total,
        });
    }

    #[test]
    fn off_a_terminal_a_line_comes_every_hundred_changes_or_ten_seconds() {
        let clock = FakeClock::new();
        let out = Shared::default();
        // 250 changes, 2 requests each, at 120 requests a minute.
        let mut r = Renderer::lines(
            Box::new(out.clone()),
            250,
            500,
            Box::new(|| 120.0),
            Box::new(clock.clone()),
        );
        let c = change();
        for done in 1..=99 {
            clock.advance(Duration::from_millis(50));
            finish(&mut r, &c, Outcome::Applied, done, 250);
        }
        assert_eq!(
            String::from_utf8(out.0.lock().unwrap().clone()).unwrap(),
            ""
        );
        clock.advance(Duration::from_millis(50));
        finish(&mut r, &c, Outcome::Applied, 100, 250);
        // 100 changes in 5 s; 150 left at 2 requests each, 2 requests a second: 2m30s.
        assert_eq!(
            String::from_utf8(out.0.lock().unwrap().clone()).unwrap(),
            "progress: 100/250 changes, 20.0/s, ETA 2m30s; applied 100, stale 0, failed 0\n"
        );
        out.0.lock().unwrap().clear();
        // Ten quiet seconds: a line although only two changes finished.
        clock.advance(Duration::from_secs(9));
        finish(&mut r, &c, Outcome::Stale { reason: "x".into() }, 101, 250);
        clock.advance(Duration::from_secs(1));
        finish(
            &mut r,
            &c,
            Outcome::Failed {
                error: "x".into(),
                retryable: false,
            },
            102,
            250,
        );
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert_eq!(
            text,
            "progress: 102/250 changes, 6.8/s, ETA 2m28s; applied 100, stale 1, failed 1\n"
        );
        out.0.lock().unwrap().clear();
        for done in 103..=250 {
            finish(&mut r, &c, Outcome::Applied, done, 250);
        }
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        // Once, at change 202: a hundred since the last line.
        assert_eq!(
            text,
            "progress: 202/250 changes, 13.5/s, ETA 48s; applied 200, stale 1, failed 1\n"
        );
    }

    #[test]
    fn on_a_terminal_the_bar_shows_done_of_total_rate_eta_and_outcomes() {
        let clock = FakeClock::new();
        let term = InMemoryTerm::new(4, 120);
        let target = ProgressDrawTarget::term_like(Box::new(term.clone()));
        let budget = Arc::new(Mutex::new(100.0));
        let live = budget.clone();
        let mut r = Renderer::bar(
            target,
            2000,
            2000,
            Box::new(move || *live.lock().unwrap()),
            Box::new(clock.clone()),
        );
        let c = change();
        for done in 1..=10 {
            clock.advance(Duration::from_millis(600));
            finish(&mut r, &c, Outcome::Applied, done, 2000);
        }
        // indicatif redraws at most every so often; force the last state out.
        if let Sink::Bar(bar) = &r.sink {
            bar.tick();
        }
        let screen = term.contents();
        assert!(screen.contains("10/2000"), "{screen}");
        // 1,990 requests left at 100 a minute: 19m54s.
        assert!(
            screen.contains("1.7/s, ETA 19m54s; applied 10, stale 0, failed 0"),
            "{screen}"
        );
        // The limiter slowed down after a 429: the ETA follows its budget.
        *budget.lock().unwrap() = 50.0;
        clock.advance(Duration::from_millis(600));
        finish(&mut r, &c, Outcome::Applied, 11, 2000);
        if let Sink::Bar(bar) = &r.sink {
            bar.tick();
        }
        let screen = term.contents();
        assert!(screen.contains("11/2000"), "{screen}");
        assert!(screen.contains("ETA 39m46s"), "{screen}");
        r.finish();
        assert_eq!(term.contents().trim(), "");
        let _ = term.width();
    }
}
