//! Where a run's output goes: this process's standard output and error
//! (one organisation's command), or one organisation's log (a run inside
//! `muster fleet`, where many organisations run at once and their lines
//! must not mix on the terminal).

use std::fmt::Display;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use crate::error::CliError;

/// A run's two streams: what a command prints (the preview, the report)
/// and what it says on the side (warnings, estimates, what was saved).
#[derive(Debug, Clone, Default)]
pub(crate) enum Out {
    /// Standard output and standard error, as every single-organisation
    /// command writes them.
    #[default]
    Terminal,
    /// One file for both, in the order written.
    Log(Arc<Mutex<std::fs::File>>),
}

impl Out {
    /// Creates (or empties) the log at `path`, readable by its owner only:
    /// it holds directory data, like the plans.
    pub(crate) fn log(path: &Path) -> Result<Out, CliError> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(path).map_err(|source| CliError::File {
            action: "cannot write the log",
            path: path.to_owned(),
            source,
        })?;
        Ok(Out::Log(Arc::new(Mutex::new(file))))
    }

    /// What the command prints (`print!`): the preview, the report.
    pub(crate) fn print(&self, text: &str) {
        match self {
            Out::Terminal => print!("{text}"),
            Out::Log(file) => {
                // A log that cannot be written loses lines, never the run.
                let _ = file
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .write_all(text.as_bytes());
            }
        }
    }

    /// One line said on the side (`eprintln!`): warnings, estimates, what
    /// was saved. The caller sanitises outside text, as for the terminal.
    pub(crate) fn say(&self, line: impl Display) {
        match self {
            Out::Terminal => eprintln!("{line}"),
            Out::Log(_) => self.print(&format!("{line}\n")),
        }
    }

    /// Where a progress display writes, when this is a log.
    pub(crate) fn log_writer(&self) -> Option<Box<dyn Write + Send>> {
        match self {
            Out::Terminal => None,
            Out::Log(file) => Some(Box::new(LogWriter(file.clone()))),
        }
    }
}

/// A log as a [`Write`] (the progress lines).
struct LogWriter(Arc<Mutex<std::fs::File>>);

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .flush()
    }
}
