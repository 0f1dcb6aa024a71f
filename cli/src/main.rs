//! `muster`: preview and plan directory syncs into a mail gateway.
//!
//! ```text
//! muster demo                      # the main job against a local emulator, nothing to set up
//! muster plan --csv users.csv --stack us1 --org example.com --login admin@example.com
//! muster plan … --format json --out plan.json && muster apply … --plan plan.json --state state.json
//! muster export --stack us1 --org example.com --login admin@example.com --out backup.csv
//! muster fleet plan orgs/ && muster fleet apply orgs/   # one config per organisation, many at once
//! muster emulator --seed seed.json # a local gateway for trying things out
//! ```
//!
//! The password is read from `MUSTER_PASSWORD` (or `--password-file`), never
//! from the command line, where other users of the machine could see it.

mod args;
mod commands;
mod error;
mod exit;
mod fleet;
mod interrupt;
mod out;
mod progress;
mod settings;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command, ConfigCommand};
use crate::error::CliError;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = init_diagnostics() {
        return report(&e);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return report(&CliError::Runtime(e)),
    };
    // `apply` stops cleanly on a signal (journal and state written, the
    // resume command printed), and so does `fleet`, which then starts no
    // other organisation; every other command just ends with the
    // signal's code, since it has written nothing yet.
    let graceful = matches!(cli.command, Command::Apply(_) | Command::Fleet(_));
    let interrupt = interrupt::Interrupt::default();
    let outcome = runtime.block_on(async {
        let signalled = if graceful {
            tokio::spawn(interrupt.clone().listen());
            None
        } else {
            Some(interrupted())
        };
        let run = async {
            match cli.command {
                Command::Demo(args) => commands::demo(args).await,
                Command::Plan(args) => commands::plan(*args).await,
                Command::Apply(args) => commands::apply(args, &interrupt).await,
                Command::Show(args) => commands::show(args),
                Command::Approve(args) => commands::approve(args),
                Command::Discover(args) => commands::discover(args).await,
                Command::Export(args) => commands::export(args).await,
                Command::Emulator(args) => commands::emulator(args).await,
                Command::Config(ConfigCommand::Check(args)) => commands::config_check(args).await,
                Command::Init(args) => commands::init(args),
                Command::Conflicts(command) => commands::conflicts(*command).await,
                Command::Exempt(args) => commands::exempt(args),
                Command::Unexempt(args) => commands::unexempt(args),
                Command::Restore(args) => commands::restore(args).await,
                Command::Fleet(command) => fleet::fleet(command, &interrupt).await,
            }
        };
        match signalled {
            Some(signalled) => tokio::select! {
                outcome = run => outcome,
                signal = signalled => Err(signal),
            },
            None => run.await,
        }
    });
    match outcome {
        Ok(code) => code,
        Err(e) => report(&e),
    }
}

/// Sends the libraries' diagnostics to stderr when `MUSTER_LOG` is set (a
/// `tracing` filter: `info` shows each gateway and Graph request with its status and
/// any retry wait, `muster_gateway=debug` why it was retried). Off by
/// default: the command's own output already says what happened; this is
/// for finding out why it took as long as it did. Nothing the libraries log
/// holds a password or token.
fn init_diagnostics() -> Result<(), CliError> {
    let Some(filter) = std::env::var_os("MUSTER_LOG") else {
        return Ok(());
    };
    let filter = tracing_subscriber::EnvFilter::try_new(filter.to_string_lossy())
        .map_err(CliError::LogFilter)?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        // A request is a span: printed when it ends, with its status and duration.
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_writer(|| SanitizedLines(std::io::stderr()))
        // No colour codes: every byte of a log line goes through the
        // sanitiser, which would show them as escapes.
        .with_ansi(false)
        .init();
    Ok(())
}

/// Writes each log line through muster's one sanitiser: a field quoting a
/// server's answer or a directory value cannot move the cursor or start a
/// line of its own. The formatter hands over one whole line (ending in a
/// newline) per write.
struct SanitizedLines<W>(W);

impl<W: std::io::Write> std::io::Write for SanitizedLines<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let (line, end) = match text.strip_suffix('\n') {
            Some(line) => (line, "\n"),
            None => (&*text, ""),
        };
        write!(self.0, "{}{end}", muster::core::sanitize(line))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// Resolves when SIGINT (Ctrl-C) or SIGTERM arrives: the run stops there
/// with 130 or 143, saying so on stderr. The handlers are installed when
/// this is called, not when the future is first polled: a signal that
/// comes before must not kill the process the default way, silently.
fn interrupted() -> impl std::future::Future<Output = CliError> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let handlers = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        );
        async move {
            let (Ok(mut int), Ok(mut term)) = handlers else {
                return std::future::pending().await;
            };
            tokio::select! {
                _ = int.recv() => CliError::Interrupted { signal: "SIGINT", code: 130 },
                _ = term.recv() => CliError::Interrupted { signal: "SIGTERM", code: 143 },
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
        CliError::Interrupted {
            signal: "Ctrl-C",
            code: 130,
        }
    }
}

/// Prints an error and its causes on one line, and picks the exit code
/// (the table in `exit.rs`, [`CliError::exit_code`]).
fn report(error: &CliError) -> ExitCode {
    eprintln!("muster: {}", error.one_line());
    ExitCode::from(error.exit_code())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::SanitizedLines;

    #[test]
    fn a_log_line_cannot_carry_a_control_sequence_or_a_line_of_its_own() {
        let mut out = SanitizedLines(Vec::new());
        out.write_all(b"INFO request error=\"ann\x1b[2K\nSummary: 0\"\n")
            .unwrap();
        assert_eq!(
            String::from_utf8(out.0).unwrap(),
            "INFO request error=\"ann\\x1b[2K\\nSummary: 0\"\n"
        );
    }
}
