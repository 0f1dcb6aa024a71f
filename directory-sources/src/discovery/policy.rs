//! When an observed address becomes a candidate: threshold, window, expiry,
//! managed domains, counted directions, blocked patterns.

use chrono::{DateTime, TimeDelta, Utc};
use muster_core::{Domain, EmailAddress};

use super::ledger::LedgerEntry;
use super::observation::Direction;

/// Role and bounce addresses that are never candidates by default: RFC 2142
/// role mailboxes, no-reply senders, bounce and BATV/SRS return paths. Mail
/// reaches them, but nobody should get a licence for them.
pub const DEFAULT_BLOCKED: [&str; 15] = [
    "postmaster@",
    "abuse@",
    "hostmaster@",
    "webmaster@",
    "mailer-daemon@",
    "root@",
    "noreply@",
    "no-reply@",
    "donotreply@",
    "do-not-reply@",
    "bounce*@",
    "*-bounces@",
    "prvs=*@",
    "srs0=*@",
    "srs1=*@",
];

/// Whether candidates are handed to the planner or only listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CandidateUse {
    /// Candidates become entries of the snapshot: the planner creates them.
    #[default]
    CreateUsers,
    /// Candidates are only listed ([`crate::DiscoverySource::candidates`]);
    /// the snapshot carries only what an administrator decided.
    ReportOnly,
}

/// How the ledger turns into candidates.
///
/// The numbers are muster's own starting points, not Proofpoint's: the
/// gateway's SMTP Discovery threshold ("a specified number of valid
/// messages") and its expiry are not published. Defaults: 5 messages within
/// 30 days, inbound only; addresses not seen for 90 days are forgotten;
/// [`DEFAULT_BLOCKED`] blocked; candidates become users.
///
/// ```
/// use chrono::TimeDelta;
/// use muster_directory::{CandidateUse, Direction, DiscoveryPolicy};
/// let policy = DiscoveryPolicy::new(["example.com".parse()?])
///     .min_messages(3)
///     .window(TimeDelta::days(21))
///     .directions([Direction::Inbound, Direction::Outbound])
///     .block("scanner@")
///     .candidates(CandidateUse::ReportOnly);
/// assert!(policy.blocks(&"NoReply@example.com".parse()?));
/// assert!(policy.blocks(&"scanner@example.com".parse()?));
/// assert!(policy.manages(&"ann@EXAMPLE.com".parse()?));
/// assert!(!policy.manages(&"ann@sub.example.com".parse()?));
/// # Ok::<(), muster_core::AddressError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
#[non_exhaustive]
pub struct DiscoveryPolicy {
    pub(crate) min_messages: u64,
    pub(crate) window: TimeDelta,
    pub(crate) expiry: TimeDelta,
    pub(crate) managed: Vec<Domain>,
    pub(crate) inbound: bool,
    pub(crate) outbound: bool,
    pub(crate) blocked: Vec<String>,
    pub(crate) candidates: CandidateUse,
}

impl DiscoveryPolicy {
    /// The default policy for addresses in `managed_domains` (compared
    /// exactly, IDN and punycode alike: a subdomain is another domain, as it
    /// is on the gateway). No managed domain means no candidates.
    pub fn new(managed_domains: impl IntoIterator<Item = Domain>) -> Self {
        DiscoveryPolicy {
            min_messages: 5,
            window: TimeDelta::days(30),
            expiry: TimeDelta::days(90),
            managed: managed_domains.into_iter().collect(),
            inbound: true,
            outbound: false,
            blocked: DEFAULT_BLOCKED.iter().map(|p| pattern(p)).collect(),
            candidates: CandidateUse::CreateUsers,
        }
    }

    /// How many counted messages within the window make a candidate (0 is taken as 1).
    pub fn min_messages(mut self, messages: u64) -> Self {
        self.min_messages = messages.max(1);
        self
    }

    /// How far back from `now` messages count towards the threshold, by the
    /// (UTC) day of each observation's last message (a negative span is taken as 0:
    /// only today's messages count).
    pub fn window(mut self, window: TimeDelta) -> Self {
        self.window = window.max(TimeDelta::zero());
        self
    }

    /// How long an address may go unseen before [`crate::DiscoveryLedger::expire`]
    /// forgets it. Keep it at least as long as the window: day counts older
    /// than the expiry are dropped too.
    pub fn expiry(mut self, expiry: TimeDelta) -> Self {
        self.expiry = expiry.max(TimeDelta::zero());
        self
    }

    /// Which directions count towards the threshold (inbound by default).
    /// Counting outbound too is like the gateway's "auto-add new users
    /// detected via outbound"; with `min_messages(1)` one sent message is enough.
    pub fn directions(mut self, directions: impl IntoIterator<Item = Direction>) -> Self {
        self.inbound = false;
        self.outbound = false;
        for d in directions {
            match d {
                Direction::Inbound => self.inbound = true,
                Direction::Outbound => self.outbound = true,
            }
        }
        self
    }

    /// Blocks addresses matching `pattern` as well: `name@` is that local
    /// part in any domain, `@domain` every address there, anything else the
    /// whole address; `*` matches any run of characters. Compared with the
    /// address's lowercase (punycode) form.
    pub fn block(mut self, pattern: &str) -> Self {
        let pattern = self::pattern(pattern);
        if !self.blocked.contains(&pattern) {
            self.blocked.push(pattern);
        }
        self
    }

    /// Replaces the block list (e.g. `[]` to block nothing, not even [`DEFAULT_BLOCKED`]).
    pub fn blocked<S: AsRef<str>>(mut self, patterns: impl IntoIterator<Item = S>) -> Self {
        self.blocked = patterns.into_iter().map(|p| pattern(p.as_ref())).collect();
        self
    }

    /// Whether candidates become users or are only reported.
    pub fn candidates(mut self, candidates: CandidateUse) -> Self {
        self.candidates = candidates;
        self
    }

    /// The oldest last-seen time that is not expired at `now`.
    #[must_use]
    pub fn expired_before(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        before(now, self.expiry)
    }

    /// True when `address` is in a managed domain.
    #[must_use]
    pub fn manages(&self, address: &EmailAddress) -> bool {
        self.managed
            .iter()
            .any(|d| d.as_ascii() == address.domain_ascii())
    }

    /// True when `address` matches the block list.
    #[must_use]
    pub fn blocks(&self, address: &EmailAddress) -> bool {
        self.blocked
            .iter()
            .any(|p| glob(p.as_bytes(), address.normalized().as_bytes()))
    }

    /// The messages of `entry` that count: the counted directions, on days
    /// within the window before `now`.
    #[must_use]
    pub fn counted(&self, entry: &LedgerEntry, now: DateTime<Utc>) -> u64 {
        let from = before(now, self.window).date_naive();
        let to = now.date_naive();
        entry
            .days
            .range(from..=to)
            .map(|(_, t)| {
                let inbound = if self.inbound { t.inbound } else { 0 };
                let outbound = if self.outbound { t.outbound } else { 0 };
                inbound.saturating_add(outbound)
            })
            .fold(0u64, u64::saturating_add)
    }
}

/// `now` less `span` (not negative), or the earliest time chrono can hold:
/// a huge expiry means "never", not a panic.
fn before(now: DateTime<Utc>, span: TimeDelta) -> DateTime<Utc> {
    now.checked_sub_signed(span.max(TimeDelta::zero()))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// A pattern in its `local@domain` glob form, lowercase.
fn pattern(raw: &str) -> String {
    let p = raw.trim().to_lowercase();
    match (p.find('@'), p.ends_with('@'), p.starts_with('@')) {
        (None, _, _) => format!("{p}@*"),
        (_, true, _) => format!("{p}*"),
        (_, _, true) => format!("*{p}"),
        _ => p,
    }
}

/// Matches `text` against `pattern`, where `*` is any run of bytes.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_cover_local_part_domain_and_whole_address() {
        let policy = DiscoveryPolicy::new([]).blocked([
            "Scanner@",
            "@lists.example.com",
            "ops-*@example.com",
            "alerts",
        ]);
        let blocked = |a: &str| policy.blocks(&a.parse().unwrap());
        assert!(blocked("scanner@example.com"));
        assert!(blocked("SCANNER@other.org"));
        assert!(!blocked("scanner2@example.com"));
        assert!(blocked("anyone@Lists.Example.com"));
        assert!(!blocked("anyone@example.com"));
        assert!(blocked("ops-paging@example.com"));
        assert!(!blocked("ops-paging@example.org"));
        assert!(blocked("alerts@example.org"));
        assert!(
            !blocked("postmaster@example.com"),
            "the defaults were replaced"
        );
    }

    #[test]
    fn default_blocks_roles_and_bounces_but_not_people() {
        let policy = DiscoveryPolicy::new([]);
        for a in [
            "postmaster@example.com",
            "MAILER-DAEMON@example.com",
            "bounces+123@example.com",
            "list-bounces@example.com",
            "prvs=1234abcd=ann@example.com",
            "SRS0=abc=xy=other.org=ann@example.com",
        ] {
            assert!(policy.blocks(&a.parse().unwrap()), "{a}");
        }
        for a in [
            "ann@example.com",
            "noreplyann@example.com",
            "bob.root@example.com",
        ] {
            assert!(!policy.blocks(&a.parse().unwrap()), "{a}");
        }
    }

    #[test]
    fn negative_or_huge_spans_do_not_panic() {
        let now = DateTime::<Utc>::MIN_UTC + TimeDelta::days(1);
        let policy = DiscoveryPolicy::new([])
            .window(TimeDelta::MAX)
            .expiry(TimeDelta::days(-5));
        assert_eq!(policy.expired_before(now), now);
        assert_eq!(policy.window(TimeDelta::days(-1)).window, TimeDelta::zero());
        assert_eq!(before(now, TimeDelta::MAX), DateTime::<Utc>::MIN_UTC);
    }

    #[test]
    fn glob_backtracks() {
        assert!(glob(b"a*b*c", b"aXbYbZc"));
        assert!(!glob(b"a*b*c", b"aXbYbZ"));
        assert!(glob(b"*", b""));
        assert!(!glob(b"", b"a"));
    }
}
