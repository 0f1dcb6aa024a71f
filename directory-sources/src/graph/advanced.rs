//! Which `$filter`s need Graph's advanced queries (pure).
//!
//! Directory objects answer some filter forms only from a separate index,
//! and only when asked for it: the `ConsistencyLevel: eventual` header
//! *and* `$count=true` ("Advanced query capabilities on Microsoft Entra ID
//! objects", `concepts/aad-advanced-queries.md`). Without them Graph
//! answers `400 Request_UnsupportedQuery`. Asking for them when a filter
//! does not need them costs only a little freshness (the index can lag a
//! recent change by a moment), so the detection errs on the side of asking.

/// Microsoft's page on advanced queries, named in the error for a filter
/// Graph refuses.
pub(crate) const ADVANCED_QUERIES_DOC: &str =
    "https://learn.microsoft.com/graph/aad-advanced-queries";

/// The operators and functions that only advanced queries support on
/// directory objects: `ne`, `not`, `endsWith`, counting a collection
/// (`assignedLicenses/$count eq 0`), and comparing with `null`.
const ADVANCED_ONLY: [&str; 5] = ["ne", "not", "endswith", "$count", "null"];

/// True when `filter` uses a form that needs advanced queries. String
/// literals are skipped (`department eq 'not ne'` needs none), with `''`
/// read as a quote inside one.
pub(crate) fn needs_advanced_query(filter: &str) -> bool {
    let mut code = String::with_capacity(filter.len());
    let mut chars = filter.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        match (in_string, c) {
            (false, '\'') => {
                in_string = true;
                code.push(' ');
            }
            (true, '\'') if chars.peek() == Some(&'\'') => {
                chars.next();
            }
            (true, '\'') => in_string = false,
            (true, _) => {}
            (false, c) => code.push(c),
        }
    }
    code.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
        .any(|word| ADVANCED_ONLY.iter().any(|a| word.eq_ignore_ascii_case(a)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_forms_the_docs_name_need_advanced_queries() {
        for filter in [
            "userType ne 'Guest'",
            "NOT(userType eq 'Guest')",
            "not startsWith(mail,'svc')",
            "endswith(mail,'@example.com')",
            "endsWith(mail,'@example.com')",
            "assignedLicenses/$count eq 0",
            "companyName eq null",
            "accountEnabled eq true and department ne 'Sales'",
        ] {
            assert!(needs_advanced_query(filter), "{filter}");
        }
    }

    #[test]
    fn plain_filters_and_words_inside_strings_need_none() {
        for filter in [
            "accountEnabled eq true",
            "startsWith(displayName,'A')",
            "department eq 'not ne null'",
            "companyName eq 'O''Brien ne'",
            "proxyAddresses/any(p:p eq 'smtp:ann@example.com')",
            "userType in ('Member')",
            "displayName eq 'Nell'",
            "",
        ] {
            assert!(!needs_advanced_query(filter), "{filter}");
        }
        // After an escaped quote the string goes on; after its end, code again.
        assert!(needs_advanced_query(
            "companyName eq 'O''Brien' and mail ne null"
        ));
    }
}
