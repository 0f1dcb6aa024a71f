//! One line for an error and everything that caused it.

/// `error: cause: root cause` — the way every muster binary, binding and
/// report prints an error. A cause whose text the line already holds (some
/// errors repeat their source in their own message) is said once.
///
/// ```
/// let io = std::io::Error::other("connection refused");
/// let outer = std::io::Error::new(std::io::ErrorKind::Other, io);
/// assert_eq!(muster_core::error_chain(&outer), "connection refused");
/// ```
#[must_use]
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let part = cause.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::error_chain;

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|l| l as _)
        }
    }

    #[test]
    fn every_cause_is_named_once_in_order() {
        let root = Layer("connection refused", None);
        let mid = Layer("GET /api/v1/me failed", Some(Box::new(root)));
        let top = Layer("cannot read the gateway", Some(Box::new(mid)));
        assert_eq!(
            error_chain(&top),
            "cannot read the gateway: GET /api/v1/me failed: connection refused"
        );
        let repeats = Layer(
            "transport: connection refused",
            Some(Box::new(Layer("connection refused", None))),
        );
        assert_eq!(error_chain(&repeats), "transport: connection refused");
    }
}
