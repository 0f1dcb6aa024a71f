//! Splitting AD / Graph `proxyAddresses` into a primary address and aliases.

use serde::{Deserialize, Serialize};

use crate::address_set::AddressSet;
use crate::email::{AddressError, EmailAddress};

/// The addresses found in a `proxyAddresses` attribute.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ProxyAddresses {
    /// The one `SMTP:` (uppercase) address, if exactly one was present.
    pub primary: Option<EmailAddress>,
    /// The `smtp:` (lowercase) addresses, without the primary.
    pub aliases: AddressSet,
    /// Values that could not be used. Non-SMTP types (X500:, x400:, SIP:, …) are
    /// not problems; they are skipped silently.
    pub problems: Vec<ProxyAddressProblem>,
}

/// A `proxyAddresses` value muster could not use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyAddressProblem {
    /// More than one uppercase `SMTP:` value. LDAP does not order values, so
    /// picking one would depend on the server's whim: no primary is taken.
    #[error("several primary SMTP: addresses ({}); expected exactly one", .0.join(", "))]
    SeveralPrimaries(Vec<String>),
    /// An `SMTP:`/`smtp:` value whose address does not parse.
    #[error("`{value}` is not a usable address: {reason}")]
    InvalidAddress {
        /// The whole value, prefix included.
        value: String,
        /// Why the address was rejected.
        reason: String,
    },
}

/// Splits `proxyAddresses` values.
///
/// `SMTP:` (uppercase) marks the primary reply address, `smtp:` (lowercase) a
/// secondary one; any other prefix (`X500:`, `x400:`, `SIP:`, `FAX:`) is not an
/// email address and is skipped. A space after the colon (Graph's example
/// `"SMTP: bob@contoso.com"`) is tolerated.
///
/// - No uppercase value: no primary from this attribute (the caller falls back to `mail`).
/// - Several uppercase values: no primary, all of them become aliases, and a
///   [`ProxyAddressProblem::SeveralPrimaries`] is reported. Exchange would take
///   "the last", but LDAP value order is not guaranteed.
///
/// ```
/// use muster_core::proxy_addresses;
/// let p = proxy_addresses(["SMTP:ann@example.com", "smtp:a@example.com", "X500:/o=Org/cn=ann"]);
/// assert_eq!(p.primary.unwrap().as_str(), "ann@example.com");
/// assert_eq!(p.aliases.len(), 1);
/// assert!(p.problems.is_empty());
/// ```
pub fn proxy_addresses<'a, I>(values: I) -> ProxyAddresses
where
    I: IntoIterator<Item = &'a str>,
{
    let mut primaries: Vec<EmailAddress> = Vec::new();
    let mut out = ProxyAddresses::default();
    for value in values {
        let Some((prefix, rest)) = value.split_once(':') else {
            continue;
        };
        let is_primary = match prefix.trim() {
            "SMTP" => true,
            p if p.eq_ignore_ascii_case("smtp") => false,
            _ => continue,
        };
        match EmailAddress::parse(rest) {
            Ok(address) if is_primary => {
                if !primaries.contains(&address) {
                    primaries.push(address);
                }
            }
            Ok(address) => {
                out.aliases.insert(address);
            }
            Err(err) => out.problems.push(invalid(value, &err)),
        }
    }
    match primaries.len() {
        0 => {}
        1 => out.primary = primaries.pop(),
        _ => {
            primaries.sort();
            out.problems.push(ProxyAddressProblem::SeveralPrimaries(
                primaries.iter().map(ToString::to_string).collect(),
            ));
            out.aliases.extend(primaries);
        }
    }
    if let Some(primary) = &out.primary {
        out.aliases.remove(primary);
    }
    out
}

fn invalid(value: &str, err: &AddressError) -> ProxyAddressProblem {
    ProxyAddressProblem::InvalidAddress {
        value: crate::snapshot::excerpt(value),
        reason: err.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> EmailAddress {
        s.parse().unwrap()
    }

    #[test]
    fn one_uppercase_is_primary_lowercase_are_aliases_others_ignored() {
        let p = proxy_addresses([
            "smtp:ann.alias@example.com",
            "X500:/o=ExchangeLabs/ou=Exchange/cn=Recipients/cn=ann",
            "SMTP:Ann@Example.com",
            "x400:c=US;a= ;p=Org;o=Exchange;s=Ann",
            "SIP:ann@example.com",
            "FAX:+15551234",
            "smtp:ann@example.mail.onmicrosoft.com",
        ]);
        assert_eq!(p.primary.as_ref().unwrap().as_str(), "Ann@Example.com");
        assert_eq!(
            p.aliases,
            AddressSet::from([
                a("ann.alias@example.com"),
                a("ann@example.mail.onmicrosoft.com")
            ])
        );
        assert!(p.problems.is_empty());
    }

    #[test]
    fn no_uppercase_means_no_primary() {
        let p = proxy_addresses(["smtp:a@example.com", "smtp:b@example.com"]);
        assert_eq!(p.primary, None);
        assert_eq!(p.aliases.len(), 2);
        assert!(p.problems.is_empty());
    }

    #[test]
    fn two_uppercase_is_an_issue_not_a_pick() {
        let forward = proxy_addresses(["SMTP:a@example.com", "SMTP:b@example.com"]);
        let backward = proxy_addresses(["SMTP:b@example.com", "SMTP:a@example.com"]);
        assert_eq!(forward, backward, "result must not depend on value order");
        assert_eq!(forward.primary, None);
        assert_eq!(
            forward.aliases,
            AddressSet::from([a("a@example.com"), a("b@example.com")])
        );
        assert_eq!(
            forward.problems,
            vec![ProxyAddressProblem::SeveralPrimaries(vec![
                "a@example.com".into(),
                "b@example.com".into()
            ])]
        );
        assert!(
            forward.problems[0]
                .to_string()
                .contains("expected exactly one")
        );
    }

    #[test]
    fn same_primary_twice_in_different_case_is_one_primary() {
        let p = proxy_addresses(["SMTP:a@example.com", "SMTP:A@EXAMPLE.COM"]);
        assert_eq!(p.primary, Some(a("a@example.com")));
        assert!(p.problems.is_empty());
    }

    #[test]
    fn graph_style_space_after_colon_and_primary_not_repeated_as_alias() {
        let p = proxy_addresses([
            "SMTP: bob@contoso.com",
            "smtp: bob@contoso.com",
            "smtp: bob@sales.contoso.com",
        ]);
        assert_eq!(p.primary, Some(a("bob@contoso.com")));
        assert_eq!(p.aliases, AddressSet::from([a("bob@sales.contoso.com")]));
    }

    #[test]
    fn invalid_smtp_value_is_reported_and_the_rest_kept() {
        let p = proxy_addresses(["SMTP:good@example.com", "smtp:not an address", "novalue"]);
        assert_eq!(p.primary, Some(a("good@example.com")));
        assert!(
            matches!(&p.problems[..], [ProxyAddressProblem::InvalidAddress { value, .. }] if value == "smtp:not an address")
        );
    }
}
