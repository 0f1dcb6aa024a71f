//! `plan()` against a floor, in the same run.
//!
//! For 100,000 and 1,000,000 accounts on each side (3 aliases each, 10 %
//! changed, 1 % missing on each side) this measures:
//! - the floor: a bare join over the same `muster-core` types (a map from
//!   normalised primary to account, then the owned fields and the sorted
//!   aliases compared), once with std's SipHash map and once with a
//!   word-at-a-time hash like the planner's index uses;
//! - for context, the std floor plus the one input it leaves out and every
//!   planner must read: muster's state (which accounts the directory made),
//!   a second join by address;
//! - `plan()` with every rule;
//! - `benches/python_diff.py`, a rule-less pure-Python diff of equivalent
//!   data, run through `python3` when it is installed.
//!
//! Times are the best of several runs of the call alone, the floors' and
//! the plan's interleaved (each result is dropped after the clock stops; the
//! plan's drop time is printed on its own line); allocations are counted by an
//! instrumented global allocator; peak memory is the growth of the peak RSS
//! during the measured call (Linux `clear_refs`). Run with
//! `cargo bench --bench plan` (`-- 100000` for the small size only).
//!
//! The inputs sit in memory as muster receives them (see `generate`): where
//! the records lie moves the floor and the plan by tens of percent on this
//! machine, in opposite directions at the two sizes, so the layout is the
//! real one rather than whichever flatters the ratio.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use muster_core::{
    Account, DirectoryEntry, DirectorySnapshot, Domain, EmailAddress, Field, FieldSet, Origin,
};
use muster_reconcile::{Desired, GatewayListing, Plan, Policy, SyncState, TargetProfile, plan};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

fn email(s: &str) -> EmailAddress {
    s.parse().expect("generated addresses are valid")
}

fn aliases(i: usize, changed: bool) -> Vec<EmailAddress> {
    (0..3)
        .map(|k| {
            if changed && i % 20 == 3 && k == 2 {
                email(&format!("user{i}.new@example.org"))
            } else {
                email(&format!("user{i}.a{k}@example.org"))
            }
        })
        .collect()
}

fn names(i: usize) -> (String, String) {
    (format!("First{}", i % 1000), format!("Last{}", i % 997))
}

fn department(i: usize, changed: bool) -> Option<String> {
    Some(format!("Dept{}", i % 7 + usize::from(changed)))
}

struct Inputs {
    desired: Desired,
    current: GatewayListing,
    state: SyncState,
}

/// The same shapes as `python_diff.py`: account `i` is missing from the
/// directory when `i % 100 == 0`, missing from the gateway when
/// `i % 100 == 50`, and changed when `i % 10 == 3`.
///
/// Built the way muster receives them: the gateway listing and the
/// directory are read separately (one after the other, not account by
/// account side by side in memory), and the state is loaded from its JSON
/// file, as the CLI and the Python package load it.
fn generate(n: usize) -> Inputs {
    let mut accounts = Vec::with_capacity(n);
    let mut state = SyncState::new("us1", "example.com");
    for i in (0..n).filter(|i| i % 100 != 50) {
        let primary = email(&format!("User{i}@Example.com"));
        let (first, last) = names(i);
        let mut a = Account::new(primary.clone())
            .with_names(&first, &last)
            .with_aliases(aliases(i, false));
        a.department = department(i, false);
        state.set_origin(primary, Origin::Directory("ldap".into()));
        accounts.push(a);
    }
    let mut entries = Vec::with_capacity(n);
    for i in (0..n).filter(|i| i % 100 != 0) {
        let changed = i % 10 == 3;
        let (first, last) = names(i);
        let mut e = DirectoryEntry::new(email(&format!("User{i}@Example.com")))
            .with_names(&first, &last)
            .with_aliases(aliases(i, changed));
        e.department = department(i, changed);
        entries.push(e);
    }
    state.last_run = Some(Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0).unwrap());
    let json = state.to_json();
    drop(state);
    let state = SyncState::from_json(&json, "us1", "example.com").expect("the state reads back");
    let provided = FieldSet::from_iter([
        Field::FirstName,
        Field::LastName,
        Field::Aliases,
        Field::Department,
    ]);
    Inputs {
        desired: Desired::new(DirectorySnapshot::new("ldap", provided).with_entries(entries)),
        current: GatewayListing::complete(accounts),
        state,
    }
}

/// A word-at-a-time hash, so the floor is not slowed by SipHash where the planner is not.
#[derive(Default)]
struct WordHash(u64);

impl Hasher for WordHash {
    fn write(&mut self, bytes: &[u8]) {
        for c in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..c.len()].copy_from_slice(c);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(b))
                .wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// What a join with none of the rules finds: creates, updates, deletes
/// (and, when the state was read, how many accounts it says the directory made).
#[derive(Debug, Default, PartialEq)]
struct Diff {
    creates: Vec<usize>,
    updates: Vec<usize>,
    deletes: Vec<usize>,
    owned: usize,
}

/// The floor: map normalised primary → account, compare the owned fields
/// and the sorted aliases. With `state`, also the one thing every planner
/// must read beside the two sides and the floor does not: which gateway
/// accounts the state says the directory made (a second join, by address).
fn floor<S: std::hash::BuildHasher + Default>(
    desired: &[DirectoryEntry],
    current: &[Account],
    state: Option<&SyncState>,
) -> Diff {
    let mut by_primary: HashMap<&str, usize, S> =
        HashMap::with_capacity_and_hasher(current.len(), S::default());
    for (i, a) in current.iter().enumerate() {
        by_primary.insert(a.primary_email.normalized(), i);
    }
    let mut seen = vec![false; current.len()];
    let mut diff = Diff::default();
    for (j, e) in desired.iter().enumerate() {
        match by_primary.get(e.primary_email.normalized()) {
            None => diff.creates.push(j),
            Some(&i) => {
                seen[i] = true;
                let a = &current[i];
                if a.first_name != e.first_name
                    || a.last_name != e.last_name
                    || a.department != e.department
                    || a.aliases != e.aliases
                {
                    diff.updates.push(i);
                }
            }
        }
    }
    diff.deletes = seen
        .iter()
        .enumerate()
        .filter(|(_, s)| !**s)
        .map(|(i, _)| i)
        .collect();
    for (email, known) in state.iter().flat_map(|s| &s.accounts) {
        if by_primary.contains_key(email.normalized()) {
            diff.owned += usize::from(matches!(&known.origin, Origin::Directory(s) if s == "ldap"));
        }
    }
    diff
}

struct Measure {
    best: Duration,
    allocations: usize,
    allocated_mb: f64,
    peak_growth_mb: Option<f64>,
}

fn rss_kb(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The first run of `f`: its time, allocations and peak-RSS growth.
fn first_run<T>(f: &mut impl FnMut() -> T) -> Measure {
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let rss_before = rss_kb("VmRSS:");
    let region = Region::new(GLOBAL);
    let start = Instant::now();
    let out = black_box(f());
    let best = start.elapsed();
    let stats = region.change();
    let peak = rss_kb("VmHWM:");
    drop(out);
    let peak_growth_mb = match (reset, rss_before, peak) {
        (true, Some(before), Some(peak)) => Some(peak.saturating_sub(before) as f64 / 1024.0),
        _ => None,
    };
    Measure {
        best,
        allocations: stats.allocations + stats.reallocations,
        allocated_mb: stats.bytes_allocated as f64 / 1_048_576.0,
        peak_growth_mb,
    }
}

/// One more run of `f`, timed alone as the first was (dropping the result
/// is timed separately, see `run`); keeps the best time.
fn run_again<T>(m: &mut Measure, f: &mut impl FnMut() -> T) {
    let start = Instant::now();
    let out = black_box(f());
    m.best = m.best.min(start.elapsed());
    drop(out);
}

fn show(name: &str, m: &Measure) {
    let peak = m
        .peak_growth_mb
        .map_or("n/a".to_owned(), |p| format!("{p:.0} MB"));
    println!(
        "  {name:<22} {:>9.1} ms  {:>10} allocations  {:>8.1} MB allocated  peak RSS +{peak}",
        m.best.as_secs_f64() * 1000.0,
        m.allocations,
        m.allocated_mb
    );
}

fn python(n: usize) -> Option<f64> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/python_diff.py");
    let out = std::process::Command::new("python3")
        .arg(script)
        .arg(n.to_string())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    println!("  {}", text.trim());
    let seconds = text
        .split_whitespace()
        .find_map(|w| w.strip_prefix("seconds="))?;
    seconds.parse().ok()
}

/// The gateway profile, policy and clock every measured plan uses.
struct Setting {
    target: TargetProfile,
    policy: Policy,
    now: chrono::DateTime<Utc>,
}

impl Setting {
    fn new() -> Self {
        let domain: Domain = "example.com".parse().unwrap();
        let org: Domain = "example.org".parse().unwrap();
        let target = TargetProfile::new("us1", "example.com")
            .with_domain(domain.clone())
            .with_domain(org.clone());
        let policy = Policy::builder()
            .managed_domain(domain)
            .managed_domain(org)
            .build();
        let now = Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap();
        Setting {
            target,
            policy,
            now,
        }
    }

    /// The measured call.
    fn plan(&self, inputs: &Inputs) -> Plan {
        plan(
            &inputs.desired,
            &inputs.current,
            &self.target,
            &inputs.state,
            &self.policy,
            self.now,
        )
        .expect("the generated inputs plan")
    }
}

fn run(n: usize, runs: usize) {
    println!(
        "\n{n} accounts on each side (3 aliases each, 10 % changed, 1 % missing on each side)"
    );
    let inputs = generate(n);
    let setting = Setting::new();
    let entries = &inputs.desired.authoritative.entries;
    let accounts = &inputs.current.accounts;

    let mut run_std_floor =
        || floor::<std::collections::hash_map::RandomState>(entries, accounts, None);
    let mut run_fx_floor = || floor::<BuildHasherDefault<WordHash>>(entries, accounts, None);
    let mut run_state_floor =
        || floor::<std::collections::hash_map::RandomState>(entries, accounts, Some(&inputs.state));
    let mut run_plan = || setting.plan(&inputs);
    let mut std_floor = first_run(&mut run_std_floor);
    let mut fx_floor = first_run(&mut run_fx_floor);
    let mut state_floor = first_run(&mut run_state_floor);
    let mut planned = first_run(&mut run_plan);
    // Interleaved: a slow spell of this shared machine (it comes and goes
    // within a minute) then hits the floor and the plan alike, instead of
    // whichever happened to run during it.
    for _ in 1..runs {
        run_again(&mut std_floor, &mut run_std_floor);
        run_again(&mut fx_floor, &mut run_fx_floor);
        run_again(&mut state_floor, &mut run_state_floor);
        run_again(&mut planned, &mut run_plan);
    }

    let check = floor::<BuildHasherDefault<WordHash>>(entries, accounts, Some(&inputs.state));
    assert_eq!(check.owned, accounts.len(), "the state owns every account");
    let p = setting.plan(&inputs);
    assert_eq!(
        p.summary.changes.get("create").copied().unwrap_or(0),
        check.creates.len()
    );
    assert_eq!(
        p.summary.changes.get("flag").copied().unwrap_or(0),
        check.deletes.len()
    );
    assert_eq!(
        p.summary.changes.get("update").copied().unwrap_or(0),
        check.updates.len()
    );

    let start = Instant::now();
    drop(black_box(p));
    let dropped = start.elapsed();

    show("floor (std HashMap)", &std_floor);
    show("floor (word hash)", &fx_floor);
    show("floor + state read", &state_floor);
    show("plan()", &planned);
    println!(
        "  (dropping the plan afterwards: {:.1} ms, not in the plan() time)",
        dropped.as_secs_f64() * 1000.0
    );
    let ratio = |a: &Measure, b: &Measure| a.best.as_secs_f64() / b.best.as_secs_f64();
    println!(
        "  ratio plan/floor: {:.2}x (std floor), {:.2}x (word-hash floor); goal <= 1.5x",
        ratio(&planned, &std_floor),
        ratio(&planned, &fx_floor)
    );
    println!(
        "  (for context, not the goal: the floor reads no state; with the state read, \
         the floor takes {:.2}x its time and plan() is {:.2}x that)",
        ratio(&state_floor, &std_floor),
        ratio(&planned, &state_floor)
    );
    match python(n) {
        Some(py) => println!(
            "  ratio plan/python: {:.2}x (python {:.0} ms; goal < 1x)",
            planned.best.as_secs_f64() / py,
            py * 1000.0
        ),
        None => println!("  python3 not found: python diff skipped"),
    }
}

/// `cargo bench --bench plan -- profile N [ITERATIONS]`: only `plan()`,
/// ten times unless told, for a profiler.
fn profile(n: usize, iterations: usize) {
    let inputs = generate(n);
    let setting = Setting::new();
    for _ in 0..iterations {
        let start = Instant::now();
        black_box(setting.plan(&inputs));
        println!("plan: {:?}", start.elapsed());
    }
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some("profile") {
        let number = |at: usize, default: usize| {
            std::env::args()
                .nth(at)
                .and_then(|a| a.parse().ok())
                .unwrap_or(default)
        };
        profile(number(2, 100_000), number(3, 10));
        return;
    }
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![100_000, 1_000_000]
    } else {
        sizes
    };
    for n in sizes {
        run(n, if n > 200_000 { 3 } else { 9 });
    }
}
