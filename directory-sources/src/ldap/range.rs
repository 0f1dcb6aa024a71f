//! Ranged retrieval of big multi-valued attributes (AD's `member`).
//!
//! Active Directory answers at most `MaxValRange` (1500) values of one
//! attribute per request. A group with more members comes back as
//! `member;range=0-1499` instead of `member`, and the client asks the group
//! again for `member;range=1500-*`, until an answer ends in `-*`. A client
//! that reads only the first answer sees a group of exactly 1500 members;
//! the planner would then take everyone else out of it. So every answer is
//! checked here — it continues where the last ended, holds as many values as
//! it says — and anything else is a [`RangeProblem`], never a shorter list.
//!
//! [`chunk`] is pure; [`read_rest`] is the loop that sends the follow-up
//! requests, given a function that sends one (so it is tested against a
//! fake server here, since OpenLDAP never answers in ranges).

use std::fmt;

use super::attributes::Object;

/// What one answer says about an attribute's values.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Chunk<'a> {
    /// These are the last (or all) values.
    Last(&'a [String]),
    /// These values; the rest is to be asked for with the attribute
    /// description `next` (`member;range=1500-*`), starting at value `start`.
    More {
        /// The values in this answer.
        values: &'a [String],
        /// The attribute description to request next.
        next: String,
        /// The index of the first value the next answer must hold.
        start: u64,
    },
}

/// Why an answer cannot be continued: the value list would be incomplete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RangeProblem {
    /// The attribute description as the server sent it (or the one asked for).
    pub(crate) description: String,
    /// What was wrong with it.
    pub(crate) reason: String,
}

impl fmt::Display for RangeProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The description is the server's: shown sanitized, as is any
        // attribute name or index quoted in the reason.
        write!(
            f,
            "`{}`: {}",
            muster_core::Sanitized(&self.description),
            self.reason
        )
    }
}

/// Reads `attribute`'s values out of one answer's attributes (any case),
/// where `start` is the index of the first value this answer must hold:
/// 0 for the object's search result, the previous chunk's `start` for a
/// follow-up (whose request is `Chunk::More::next`).
///
/// # Errors
/// A [`RangeProblem`] when the answer cannot be trusted to continue the
/// list exactly: several value sets, a range that is not `range=<n>-<m|*>`,
/// one that does not start at `start`, ends before it begins or holds a
/// different number of values than it spans, a follow-up answer without a
/// range (or without the attribute at all).
pub(crate) fn chunk<'a, I>(
    attributes: I,
    attribute: &str,
    start: u64,
) -> Result<Chunk<'a>, RangeProblem>
where
    I: IntoIterator<Item = (&'a str, &'a [String])>,
{
    let mut found = attributes.into_iter().filter(|(description, _)| {
        description
            .split(';')
            .next()
            .is_some_and(|base| base.eq_ignore_ascii_case(attribute))
    });
    let Some((description, values)) = found.next() else {
        if start == 0 {
            // The object has no value at all: an empty list, complete.
            return Ok(Chunk::Last(&[]));
        }
        return Err(RangeProblem {
            description: format!("{attribute};range={start}-*"),
            reason:
                "the server answered without these values (did the list change while it was read?)"
                    .to_owned(),
        });
    };
    let problem = |reason: String| RangeProblem {
        description: description.to_owned(),
        reason,
    };
    if let Some((other, _)) = found.next() {
        return Err(problem(format!(
            "sent together with `{}`: two value sets for one attribute",
            muster_core::Sanitized(other)
        )));
    }
    let options: Vec<&str> = description.split(';').skip(1).collect();
    if options.is_empty() {
        return if start == 0 {
            Ok(Chunk::Last(values))
        } else {
            Err(problem(format!(
                "no range in the answer to a request for values from {start} on"
            )))
        };
    }
    let [option] = options.as_slice() else {
        return Err(problem(
            "expected exactly one option, `range=<first>-<last or *>`".to_owned(),
        ));
    };
    let range = option
        .get(..6)
        .filter(|name| name.eq_ignore_ascii_case("range="))
        .and_then(|_| option[6..].split_once('-'))
        .ok_or_else(|| problem("expected `range=<first>-<last or *>`".to_owned()))?;
    let number = |text: &str| {
        // Digits only: `u64::from_str` would also take a leading `+`.
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(problem(format!(
                "`{}` is not a value index",
                muster_core::Sanitized(text)
            )));
        }
        text.parse::<u64>().map_err(|_| {
            problem(format!(
                "`{}` is not a value index",
                muster_core::Sanitized(text)
            ))
        })
    };
    let first = number(range.0)?;
    if first != start {
        return Err(problem(format!(
            "starts at value {first}, expected {start}: values would be missing or repeated"
        )));
    }
    if range.1 == "*" {
        return Ok(Chunk::Last(values));
    }
    let last = number(range.1)?;
    if last < first {
        return Err(problem(format!("ends at {last}, before it starts")));
    }
    let count = values.len() as u64;
    // `last - first + 1` could overflow; `count - 1` cannot once count > 0.
    if count == 0 || last - first != count - 1 {
        return Err(problem(format!(
            "{count} values for the range {first}-{last}"
        )));
    }
    let next_start = last
        .checked_add(1)
        .ok_or_else(|| problem("the range cannot continue past the last index".to_owned()))?;
    let base = description.split(';').next().unwrap_or(attribute);
    Ok(Chunk::More {
        values,
        next: format!("{base};range={next_start}-*"),
        start: next_start,
    })
}

/// Asks for the rest of a ranged list, from `more` (the description to
/// request and its first index, as [`Chunk::More`] gave them) until an answer
/// ends in `-*`, appending the values to `values`. `fetch` sends one
/// base-scope request for one attribute description and returns the
/// object's answer (an empty [`Object`] when the object did not come back).
///
/// # Errors
/// `fetch`'s error as is (the server could not be asked); `Ok(Err(problem))`
/// when an answer cannot continue the list, and `values` is then incomplete.
pub(crate) async fn read_rest<E, F>(
    attribute: &str,
    mut more: Option<(String, u64)>,
    values: &mut Vec<String>,
    mut fetch: impl FnMut(String) -> F,
) -> Result<Result<(), RangeProblem>, E>
where
    F: Future<Output = Result<Object, E>>,
{
    while let Some((next, start)) = more.take() {
        let answer = fetch(next).await?;
        match chunk(answer.attributes(), attribute, start) {
            Ok(Chunk::Last(found)) => values.extend_from_slice(found),
            Ok(Chunk::More {
                values: found,
                next,
                start,
            }) => {
                values.extend_from_slice(found);
                more = Some((next, start));
            }
            Err(problem) => return Ok(Err(problem)),
        }
    }
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn values(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("CN=U{i},DC=x")).collect()
    }

    fn read<'a>(
        answer: &'a [(&'a str, Vec<String>)],
        start: u64,
    ) -> Result<Chunk<'a>, RangeProblem> {
        chunk(
            answer.iter().map(|(d, v)| (*d, v.as_slice())),
            "member",
            start,
        )
    }

    #[test]
    fn an_unranged_attribute_is_the_whole_list_and_a_missing_one_is_empty() {
        let answer = [("member", values(3)), ("mail", values(1))];
        assert_eq!(read(&answer, 0), Ok(Chunk::Last(&answer[0].1[..])));
        let none = [("mail", values(1))];
        assert_eq!(read(&none, 0), Ok(Chunk::Last(&[])));
    }

    #[test]
    fn a_range_asks_for_the_rest_from_the_next_index_until_it_ends_in_a_star() {
        let first = [("Member;Range=0-1499", values(1500))];
        let Ok(Chunk::More {
            values: got,
            next,
            start,
        }) = read(&first, 0)
        else {
            panic!("{:?}", read(&first, 0));
        };
        assert_eq!(got.len(), 1500);
        assert_eq!(
            next, "Member;range=1500-*",
            "the server's spelling of the name is kept"
        );
        assert_eq!(start, 1500);

        let middle = [("member;range=1500-2999", values(1500))];
        assert!(matches!(
            read(&middle, 1500),
            Ok(Chunk::More { ref next, start: 3000, .. }) if next == "member;range=3000-*"
        ));
        let last = [("member;range=3000-*", values(7))];
        assert_eq!(read(&last, 3000), Ok(Chunk::Last(&last[0].1[..])));
        // A one-value range is still a range.
        let one = [("member;range=5-5", values(1))];
        assert!(matches!(read(&one, 5), Ok(Chunk::More { start: 6, .. })));
    }

    #[test]
    fn malformed_or_inconsistent_ranges_are_problems_never_a_shorter_list() {
        /// An answer's attributes, the start it must continue, what is wrong.
        type Case<'a> = (Vec<(&'a str, Vec<String>)>, u64, &'a str);
        let cases: Vec<Case> = vec![
            (vec![("member;range=0-", values(1))], 0, "not a value index"),
            (vec![("member;range=-5", values(1))], 0, "not a value index"),
            (
                vec![("member;range=a-5", values(1))],
                0,
                "not a value index",
            ),
            (
                vec![("member;range=+0-4", values(5))],
                0,
                "not a value index",
            ),
            (
                vec![("member;range=0-x", values(1))],
                0,
                "not a value index",
            ),
            (vec![("member;range=0", values(1))], 0, "expected `range="),
            (
                vec![("member;ranges=0-1", values(2))],
                0,
                "expected `range=",
            ),
            (vec![("member;binary", values(1))], 0, "expected `range="),
            (
                vec![("member;range=0-1;x", values(2))],
                0,
                "exactly one option",
            ),
            (vec![("member;", values(1))], 0, "expected `range="),
            // Gaps and overlaps.
            (
                vec![("member;range=1-10", values(10))],
                0,
                "starts at value 1, expected 0",
            ),
            (
                vec![("member;range=1400-*", values(5))],
                1500,
                "expected 1500",
            ),
            (vec![("member;range=9-3", values(1))], 9, "before it starts"),
            // The server says 1500 values and sent fewer.
            (
                vec![("member;range=0-1499", values(1499))],
                0,
                "1499 values for the range 0-1499",
            ),
            (
                vec![("member;range=0-18446744073709551615", values(0))],
                0,
                "0 values for the range",
            ),
            (
                vec![("member;range=0-18446744073709551616", values(1))],
                0,
                "not a value index",
            ),
            // Two value sets in one answer.
            (
                vec![("member", values(2)), ("member;range=0-1", values(2))],
                0,
                "two value sets",
            ),
            // A follow-up without a range, or without the attribute.
            (vec![("member", values(2))], 1500, "no range"),
            (vec![("mail", values(1))], 1500, "without these values"),
        ];
        for (answer, start, reason) in cases {
            let problem = read(&answer, start).expect_err(&format!("{answer:?} at {start}"));
            assert!(problem.reason.contains(reason), "{answer:?}: {problem}");
            let expected = answer
                .iter()
                .find(|(d, _)| d.starts_with("member"))
                .map_or("member;range=1500-*".to_owned(), |(d, _)| (*d).to_owned());
            assert_eq!(problem.description, expected, "{problem}");
        }
    }

    #[test]
    fn the_last_index_cannot_overflow_into_a_wrapped_request() {
        // A full range ending at u64::MAX would need a next start past it.
        let huge = [(
            "member;range=18446744073709551615-18446744073709551615",
            values(1),
        )];
        let problem = read(&huge, u64::MAX).unwrap_err();
        assert!(problem.reason.contains("cannot continue"), "{problem}");
    }

    #[test]
    fn other_attributes_whose_names_start_alike_are_not_members() {
        let answer = [("memberOf", values(2)), ("memberUid;range=0-1", values(2))];
        assert_eq!(read(&answer, 0), Ok(Chunk::Last(&[])));
    }

    /// A domain controller's answer to `member;range=<start>-*` for a group
    /// of `members`, `page` values at a time (AD's MaxValRange is 1500).
    fn dc_answer(members: &[String], page: usize, request: &str) -> Object {
        let start: usize = request
            .strip_prefix("member;range=")
            .and_then(|r| r.strip_suffix("-*"))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("unexpected request {request}"));
        let end = (start + page).min(members.len());
        let description = if end == members.len() {
            format!("member;range={start}-*")
        } else {
            format!("member;range={start}-{}", end - 1)
        };
        let text = HashMap::from([(description, members[start..end].to_vec())]);
        Object::new("CN=Big,DC=x".to_owned(), text, HashMap::new())
    }

    #[tokio::test]
    async fn the_rest_of_a_big_group_is_read_range_by_range_to_the_last_member() {
        let members = values(4_321);
        let first = dc_answer(&members, 1500, "member;range=0-*");
        let Ok(Chunk::More {
            values: got,
            next,
            start,
        }) = chunk(first.attributes(), "member", 0)
        else {
            panic!("a ranged first answer");
        };
        let mut read = got.to_vec();
        let mut requests = Vec::new();
        let outcome = read_rest(
            "member",
            Some((next, start)),
            &mut read,
            |request: String| {
                let answer = dc_answer(&members, 1500, &request);
                requests.push(request);
                async move { Ok::<_, ()>(answer) }
            },
        )
        .await;
        assert_eq!(outcome, Ok(Ok(())));
        assert_eq!(requests, ["member;range=1500-*", "member;range=3000-*"]);
        assert_eq!(read, members, "every member, once, in order");
    }

    #[tokio::test]
    async fn a_follow_up_that_skips_values_or_does_not_answer_stops_with_a_problem() {
        let members = values(3_000);
        // The server jumps ahead: values 1500..1600 would be missing.
        let mut read = Vec::new();
        let outcome = read_rest(
            "member",
            Some(("member;range=1500-*".to_owned(), 1500)),
            &mut read,
            |_: String| {
                let answer = dc_answer(&members, 1500, "member;range=1600-*");
                async move { Ok::<_, ()>(answer) }
            },
        )
        .await;
        let problem = outcome.unwrap().unwrap_err();
        assert!(problem.reason.contains("expected 1500"), "{problem}");
        // The group is gone by the time its rest is asked for.
        let outcome = read_rest(
            "member",
            Some(("member;range=1500-*".to_owned(), 1500)),
            &mut read,
            |_: String| async { Ok::<_, ()>(Object::default()) },
        )
        .await;
        assert!(outcome.unwrap().is_err());
        // The server cannot be asked: the caller's error, untouched.
        let outcome = read_rest(
            "member",
            Some(("member;range=1500-*".to_owned(), 1500)),
            &mut read,
            |_: String| async { Err::<Object, _>("connection lost") },
        )
        .await;
        assert_eq!(outcome, Err("connection lost"));
    }
}
