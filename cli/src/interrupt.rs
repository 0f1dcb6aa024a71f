//! SIGINT and SIGTERM during `apply`: stop sending, let what is in flight
//! finish, save what succeeded, say how to resume; a second Ctrl-C exits
//! at once.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use muster::Stop;

/// How long the changes in flight may take after SIGTERM: Kubernetes kills
/// a pod 30 s after it, and the journal and state must be written before.
pub(crate) const TERM_GRACE: Duration = Duration::from_secs(10);

/// A signal that arrived: its name and the exit code it ends the run with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Caught {
    pub(crate) signal: &'static str,
    pub(crate) code: u8,
}

/// What `apply` shares with the signal listener: the executor's [`Stop`],
/// and which signal asked for it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Interrupt {
    pub(crate) stop: Stop,
    caught: Arc<Mutex<Option<Caught>>>,
}

impl Interrupt {
    /// The first signal that arrived, if one did.
    pub(crate) fn caught(&self) -> Option<Caught> {
        *self.caught.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Listens until the process ends: the first SIGINT or SIGTERM asks the
    /// run to stop (SIGTERM with [`TERM_GRACE`]); a second Ctrl-C exits at
    /// once (the journal is written as each change ends, so nothing is
    /// lost but the state of this run, which the resume rebuilds); a
    /// SIGTERM after a Ctrl-C only starts the grace period.
    ///
    /// The handlers are installed when this is called, not when the
    /// returned future first runs: a signal that arrives before then must
    /// not kill the process the default way, with nothing written.
    #[cfg(unix)]
    pub(crate) fn listen(self) -> impl std::future::Future<Output = ()> + Send {
        use tokio::signal::unix::{SignalKind, signal};
        let handlers = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        );
        async move {
            let (Ok(int), Ok(term)) = handlers else {
                return;
            };
            self.listen_on(int, term).await;
        }
    }

    #[cfg(unix)]
    async fn listen_on(
        self,
        mut int: tokio::signal::unix::Signal,
        mut term: tokio::signal::unix::Signal,
    ) {
        let first = tokio::select! {
            _ = int.recv() => Caught { signal: "SIGINT", code: 130 },
            _ = term.recv() => Caught { signal: "SIGTERM", code: 143 },
        };
        *self.caught.lock().unwrap_or_else(PoisonError::into_inner) = Some(first);
        let grace = (first.code == 143).then_some(TERM_GRACE);
        eprintln!(
            "muster: {}: stopping: nothing new is sent, the changes in flight finish{}; Ctrl-C again exits at once",
            first.signal,
            if grace.is_some() {
                " (10 s at most)"
            } else {
                ""
            }
        );
        self.stop.request(grace);
        loop {
            tokio::select! {
                _ = int.recv() => {
                    eprintln!("muster: interrupted again: exiting now; the journal is safe, run the same command to resume");
                    std::process::exit(i32::from(first.code));
                }
                _ = term.recv() => self.stop.request(Some(TERM_GRACE)),
            }
        }
    }

    /// Elsewhere: the first Ctrl-C stops the run, a second exits.
    #[cfg(not(unix))]
    pub(crate) async fn listen(self) {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        let first = Caught {
            signal: "Ctrl-C",
            code: 130,
        };
        *self.caught.lock().unwrap_or_else(PoisonError::into_inner) = Some(first);
        self.stop.request(None);
        let _ = tokio::signal::ctrl_c().await;
        std::process::exit(i32::from(first.code));
    }
}

/// The command line that resumes this run: the same one (the password is
/// never on it), each word quoted for a POSIX shell when it needs to be.
pub(crate) fn resume_command() -> String {
    let words: Vec<String> = std::env::args_os()
        .enumerate()
        .map(|(i, word)| {
            let word = if i == 0 {
                "muster".to_owned()
            } else {
                word.to_string_lossy().into_owned()
            };
            let plain = !word.is_empty()
                && word
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+%#".contains(c));
            if plain {
                word
            } else {
                format!("'{}'", word.replace('\'', "'\\''"))
            }
        })
        .collect();
    words.join(" ")
}
