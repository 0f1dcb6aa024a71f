//! Property tests for the laws the rest of muster relies on.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use muster_core::{EmailAddress, neutralize_cell, proxy_addresses};
use proptest::prelude::*;

fn hash_of<T: Hash>(t: &T) -> u64 {
    let mut h = DefaultHasher::new();
    t.hash(&mut h);
    h.finish()
}

/// Addresses with mixed case, plus signs, dots, and sometimes an IDN domain.
fn address() -> impl Strategy<Value = String> {
    let local = "[a-zA-Z0-9][a-zA-Z0-9+_'-]{0,10}(\\.[a-zA-Z0-9]{1,5})?";
    let domain = prop_oneof![
        "[a-zA-Z][a-zA-Z0-9-]{0,8}[a-zA-Z0-9]\\.(com|ORG|Co\\.Uk|example)",
        Just("bücher.example".to_string()),
        Just("xn--bcher-kva.example".to_string()),
        Just("BÜCHER.example".to_string()),
    ];
    (local, domain).prop_map(|(l, d)| format!("{l}@{d}"))
}

/// Randomly re-cases ASCII letters.
fn recase(s: &str, mask: u64) -> String {
    s.chars()
        .enumerate()
        .map(|(i, c)| {
            if mask >> (i % 64) & 1 == 1 {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

proptest! {
    #[test]
    fn equal_addresses_hash_equal(a in address(), b in address(), mask in any::<u64>()) {
        let x: EmailAddress = a.parse().unwrap();
        let y: EmailAddress = b.parse().unwrap();
        if x == y {
            prop_assert_eq!(hash_of(&x), hash_of(&y));
        }
        let recased: EmailAddress = recase(&a, mask).parse().unwrap();
        prop_assert_eq!(&x, &recased);
        prop_assert_eq!(hash_of(&x), hash_of(&recased));
    }

    #[test]
    fn ordering_agrees_with_equality(a in address(), b in address()) {
        let x: EmailAddress = a.parse().unwrap();
        let y: EmailAddress = b.parse().unwrap();
        prop_assert_eq!(x == y, x.cmp(&y) == std::cmp::Ordering::Equal);
        prop_assert_eq!(x.cmp(&y), y.cmp(&x).reverse());
    }

    #[test]
    fn display_keeps_the_spelling_and_reparses_equal(a in address()) {
        let x: EmailAddress = a.parse().unwrap();
        prop_assert_eq!(x.to_string(), a.clone());
        let again: EmailAddress = x.to_string().parse().unwrap();
        prop_assert_eq!(&again, &x);
        let json = serde_json::to_string(&x).unwrap();
        let back: EmailAddress = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(back.as_str(), x.as_str());
    }

    #[test]
    fn parsing_arbitrary_text_never_panics(s in "\\PC{0,80}") {
        let _ = s.parse::<EmailAddress>();
    }

    #[test]
    fn proxy_addresses_is_order_independent(mut values in proptest::collection::vec(
        (prop_oneof![Just("SMTP:"), Just("smtp:"), Just("X500:"), Just("sip:")], address())
            .prop_map(|(p, a)| format!("{p}{a}")), 0..6), seed in any::<u64>()) {
        let forward = proxy_addresses(values.iter().map(String::as_str));
        let len = values.len();
        if len > 1 { values.rotate_left((seed as usize) % len); }
        let rotated = proxy_addresses(values.iter().map(String::as_str));
        prop_assert_eq!(forward.primary, rotated.primary);
        prop_assert_eq!(forward.aliases, rotated.aliases);
    }

    #[test]
    fn neutralised_cells_never_start_dangerously(s in "\\PC{0,20}") {
        let out = neutralize_cell(&s);
        let first = out.chars().next();
        prop_assert!(!matches!(first, Some('=' | '+' | '-' | '@' | '\t' | '\r')));
        prop_assert!(out.ends_with(&*s));
    }
}
