//! `muster-emulator --seed seed.json --port 8025`: a local gateway for manual
//! testing and for test suites in other languages.

use std::process::ExitCode;

use muster_emulator::{Emulator, Seed};

const USAGE: &str = "usage: muster-emulator [--seed FILE.json] [--port N]";

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("muster-emulator: {message}");
            ExitCode::from(2)
        }
    }
}

async fn run() -> Result<(), String> {
    let mut builder = Emulator::builder();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| format!("{arg} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--seed" => {
                let seed = Seed::from_file(value()?).map_err(|e| muster_core::error_chain(&e))?;
                builder = builder.seed(seed);
            }
            "--port" => {
                let v = value()?;
                let port = v
                    .parse()
                    .map_err(|_| format!("--port: `{v}` is not a port number"))?;
                builder = builder.port(port);
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    let emulator = builder
        .start()
        .await
        .map_err(|e| muster_core::error_chain(&e))?;
    println!("{}", emulator.base_url());
    std::future::pending::<()>().await;
    Ok(())
}
