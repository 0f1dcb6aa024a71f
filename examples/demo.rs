//! The main job on an embedded default: preview a sync of a Standard CSV
//! export into a gateway, against a local gateway emulator.
//!
//! ```text
//! cargo run --example demo                 # the embedded CSV and gateway
//! cargo run --example demo -- users.csv    # your own Standard CSV
//! ```
//!
//! It starts the emulator in-process (seeded from `examples/data/demo_gateway.json`:
//! an organisation with an admin, a user whose name differs, two accounts
//! that existed before muster), reads the CSV (`examples/data/demo_users.csv`
//! unless a path is given), reads the gateway through the client, plans, and
//! prints the preview. Planning never writes: the last line shows how many
//! writes the gateway saw (none).

use std::process::ExitCode;

use muster::core::Domain;
use muster::directory::StandardCsv;
use muster::gateway::{Client, SecretString};
use muster::reconcile::{self, Desired, Policy, SyncState};
use muster_emulator::{Emulator, Seed};

const GATEWAY: &str = include_str!("data/demo_gateway.json");
const USERS_CSV: &str = include_str!("data/demo_users.csv");

#[tokio::main]
async fn main() -> ExitCode {
    match run(std::env::args().nth(1)).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", muster::core::error_chain(e.as_ref()));
            ExitCode::from(1)
        }
    }
}

async fn run(csv_path: Option<String>) -> Result<(), Box<dyn std::error::Error>> {
    let emulator = Emulator::builder()
        .seed(Seed::from_json(GATEWAY)?)
        .start()
        .await?;
    println!("gateway emulator: {}", emulator.api_v1_url());

    let users = match &csv_path {
        Some(path) => StandardCsv::new(path).read()?,
        None => StandardCsv::new("demo_users.csv").read_from(USERS_CSV.as_bytes())?,
    };
    println!(
        "directory: {} ({} entries, {} issues)",
        users.source,
        users.entries.len(),
        users.issues.len()
    );
    for issue in &users.issues {
        println!("  issue: {issue}");
    }

    let client = Client::builder()
        .essentials(&emulator.api_v1_url(), "example.com")
        .credentials("admin@example.com", SecretString::from("demo-password"))
        .build()?;
    let gateway = muster::read_gateway(&client, "local-emulator").await?;
    println!(
        "gateway: {} accounts, {} registered domains\n",
        gateway.listing.accounts.len(),
        gateway.target.registered_domains.len()
    );

    let policy = Policy::builder()
        .managed_domain("example.com".parse::<Domain>()?)
        .managed_domain("example.org".parse::<Domain>()?)
        .build();
    let state = SyncState::new("local-emulator", "example.com");
    let plan = reconcile::plan(
        &Desired::new(users),
        &gateway.listing,
        &gateway.target,
        &state,
        &policy,
        muster::chrono::Utc::now(),
    )?;
    print!("{}", reconcile::render::text(&plan));

    let writes: usize = emulator
        .requests()
        .iter()
        .filter(|r| r.method != "GET")
        .count();
    println!("\nplanning wrote nothing: the gateway saw {writes} writes");
    Ok(())
}
