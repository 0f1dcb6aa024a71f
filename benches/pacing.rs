//! Learned pacing against the emulator with its limit set: does the client
//! spend exactly the gateway's budget?
//!
//! For each pair (configured budget B, gateway limit L), in scaled time (a
//! minute lasts `60 / SCALE` seconds; the client's rate, probe interval and
//! backoff and the emulator's window are all scaled alike), four workers
//! read users as fast as the limiter lets them, for one minute plus four
//! probe intervals P. The baseline is the budget that could be spent,
//! min(B, L); it prints, from the emulator's request log:
//!
//! - the rate achieved after the first minute divided by min(B, L) (goal ≥ 0.9);
//! - the 429s per probe interval after the first minute (goal ≤ 1);
//! - for a second run — a fresh client and limiter started from the rate
//!   the first one learned, saved to a file and loaded back, as a new
//!   process would — its 429s before its first probe (goal 0).
//!
//! Run with `cargo bench --bench pacing` (about a minute and a half);
//! `cargo bench --bench pacing -- 10` runs at a tenth of real time instead
//! of a twentieth. `PACING_ONLY=60` runs only the pair whose L is 60;
//! `PACING_TRACE=1` prints the limiter's rate every ten (scaled) seconds
//! and the run of statuses the gateway answered.

use std::sync::Arc;
use std::time::Duration;

use muster::gateway::{AdaptiveLimiter, Client, LearnedRate, RateLimit, RetryConfig};
use muster_emulator::{Emulator, Login, Org, RateLimit as GatewayLimit, RequestRecord};

const ORG: &str = "example.com";
const LOGIN: &str = "admin@example.com";
const PASSWORD: &str = "pacing-bench-pw";
const WORKERS: usize = 4;
const MINUTE: Duration = Duration::from_secs(60);
/// The probe interval, in unscaled time (the client's default).
const PROBE: Duration = Duration::from_secs(60);
const PAIRS: [(u32, u32); 4] = [(100, 60), (100, 100), (300, 360), (300, 300)];

struct Scaled(u32);

impl Scaled {
    fn time(&self, d: Duration) -> Duration {
        d / self.0
    }
}

fn client(emu: &Emulator, scale: &Scaled, budget: u32, learned: Option<LearnedRate>) -> Client {
    // A limiter of its own, as in a new process.
    let limit = RateLimit::per_minute(budget * scale.0).with_probe_interval(scale.time(PROBE));
    let limiter = Arc::new(AdaptiveLimiter::new(limit));
    if std::env::var_os("PACING_TRACE").is_some() {
        let (l, scale_n, tick) = (
            Arc::downgrade(&limiter),
            scale.0,
            scale.time(Duration::from_secs(10)),
        );
        tokio::spawn(async move {
            while let Some(l) = l.upgrade() {
                eprintln!(
                    "  rate {:.1}/min",
                    l.current_per_minute() / f64::from(scale_n)
                );
                drop(l);
                tokio::time::sleep(tick).await;
            }
        });
    }
    let mut builder = Client::builder()
        .essentials(emu.base_url(), ORG)
        .credentials(LOGIN, PASSWORD.into())
        .retry(
            RetryConfig::standard()
                .with_initial_backoff(scale.time(Duration::from_millis(500)))
                .with_max_backoff(scale.time(Duration::from_secs(30))),
        )
        .limiter(limiter);
    if let Some(learned) = learned {
        builder = builder.learned_rate(learned);
    }
    builder.build().expect("client")
}

/// Four workers reading one user each, until `length` has passed.
async fn drive(client: &Client, length: Duration) {
    let deadline = tokio::time::Instant::now() + length;
    let ann: muster::core::EmailAddress = "ann@example.com".parse().expect("address");
    let mut workers = Vec::new();
    for _ in 0..WORKERS {
        let client = client.clone();
        let ann = ann.clone();
        workers.push(tokio::spawn(async move {
            while tokio::time::Instant::now() < deadline {
                // A read that failed after its retries is still a request spent.
                let _ = client.users().get(&ann).await;
            }
        }));
    }
    for w in workers {
        w.await.expect("worker");
    }
}

/// Requests of the log that arrived in `[from, to)`.
fn between(
    log: &[RequestRecord],
    from: Duration,
    to: Duration,
) -> impl Iterator<Item = &RequestRecord> {
    log.iter().filter(move |r| r.at >= from && r.at < to)
}

struct Row {
    budget: u32,
    limit: u32,
    achieved_ratio: f64,
    throttled_per_probe: f64,
    second_run_throttled: usize,
    learned: Option<f64>,
}

async fn pair(scale: &Scaled, budget: u32, limit: u32) -> Row {
    let window = scale.time(MINUTE);
    let emu = Emulator::builder()
        .org(Org::new(ORG).user(serde_json::json!({"primary_email": "ann@example.com"})))
        .login(Login::org_admin(LOGIN, PASSWORD, ORG))
        .rate_limit(GatewayLimit::new(limit, window))
        .start()
        .await
        .expect("emulator");
    let probe = scale.time(PROBE);
    let probes = 4;
    let length = window + probe * probes;

    let first = client(&emu, scale, budget, None);
    drive(&first, length).await;
    let log = emu.requests();
    let (from, to) = (window, length);
    if std::env::var_os("PACING_TRACE").is_some() {
        let mut runs: Vec<(u16, usize, Duration)> = Vec::new();
        for r in between(&log, from, to) {
            match runs.last_mut() {
                Some((s, n, _)) if *s == r.status => *n += 1,
                _ => runs.push((r.status, 1, r.at)),
            }
        }
        for (s, n, at) in runs.iter().take(60) {
            eprint!("{s}x{n}@{:.2} ", at.as_secs_f64());
        }
        eprintln!();
    }
    let ok = between(&log, from, to).filter(|r| r.status == 200).count();
    let throttled = between(&log, from, to).filter(|r| r.status == 429).count();
    let minutes = (to - from).as_secs_f64() / window.as_secs_f64();
    let achieved_ratio = ok as f64 / minutes / f64::from(budget.min(limit));
    let throttled_per_probe = throttled as f64 / f64::from(probes);

    // The learned rate goes through a file, as between two processes.
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(first.limiter_key().file_name());
    let learned = first.learned_rate();
    if let Some(l) = &learned {
        l.save(&path).expect("saved");
    }
    drop(first);
    let loaded = LearnedRate::load(&path).expect("loaded");
    // The gateway's window empties, as it would between two runs.
    tokio::time::sleep(window).await;
    emu.clear_observations();
    let started = emu_now(&emu).await;
    let second = client(&emu, scale, budget, loaded);
    drive(&second, probe).await;
    let second_run_throttled = between(&emu.requests(), started, started + probe)
        .filter(|r| r.status == 429)
        .count();
    Row {
        budget,
        limit,
        achieved_ratio,
        throttled_per_probe,
        second_run_throttled,
        // Per unscaled minute.
        learned: loaded.map(|l| l.per_minute() / f64::from(scale.0)),
    }
}

/// The emulator's "now" (time since it started), read from the log time
/// of one unauthenticated request: answered 401 before the rate limit, so
/// it spends none of the budget.
async fn emu_now(emu: &Emulator) -> Duration {
    use std::io::{Read, Write};
    let addr = emu.base_url().trim_start_matches("http://").to_owned();
    let sent = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        let mut s = std::net::TcpStream::connect(&addr)?;
        write!(
            s,
            "GET /api/v1/me HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )?;
        s.read_to_end(&mut Vec::new())?;
        Ok(())
    });
    sent.await.expect("joined").expect("request");
    let at = emu.requests().last().map(|r| r.at).unwrap_or_default();
    emu.clear_observations();
    at
}

fn main() {
    let scale = Scaled(
        std::env::args()
            .skip(1)
            .find_map(|a| a.parse().ok())
            .unwrap_or(20),
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "learned pacing, time scaled 1/{} (P = {:?} unscaled, {} workers)",
        scale.0, PROBE, WORKERS
    );
    println!(
        "{:>4} {:>4}  {:>22}  {:>22}  {:>28}  {:>14}",
        "B",
        "L",
        "achieved / min(B,L)",
        "429s per P (after 1')",
        "2nd run 429s before probe",
        "learned /min"
    );
    let only: Option<u32> = std::env::var("PACING_ONLY")
        .ok()
        .and_then(|v| v.parse().ok());
    for (budget, limit) in PAIRS
        .into_iter()
        .filter(|(_, l)| only.is_none_or(|o| o == *l))
    {
        let row = rt.block_on(pair(&scale, budget, limit));
        let learned = row
            .learned
            .map_or_else(|| "-".to_owned(), |l| format!("{l:.1}"));
        println!(
            "{:>4} {:>4}  {:>22.3}  {:>22.2}  {:>28}  {:>14}",
            row.budget,
            row.limit,
            row.achieved_ratio,
            row.throttled_per_probe,
            row.second_run_throttled,
            learned
        );
    }
    println!("goals: achieved ≥ 0.9, 429s per P ≤ 1, second run 0");
}
