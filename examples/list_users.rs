//! Lists an organisation's gateway users.
//!
//! ```text
//! MUSTER_GATEWAY=us1 MUSTER_ORG=example.com MUSTER_USER=admin@example.com \
//! MUSTER_PASSWORD=... cargo run --example list_users
//! ```
//!
//! `MUSTER_GATEWAY` is a stack name (`us1`, `eu1`, …) or a base URL (plain
//! `http://` only to a local emulator). Prints one line per user, sorted:
//! address, type, active, aliases.

use std::process::ExitCode;

use muster::gateway::{Client, Error, SecretString};

fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("set {name}"))
}

#[tokio::main]
async fn main() -> ExitCode {
    let settings = (|| {
        Ok::<_, String>((
            env("MUSTER_GATEWAY")?,
            env("MUSTER_ORG")?,
            env("MUSTER_USER")?,
            SecretString::from(env("MUSTER_PASSWORD")?),
        ))
    })();
    let (gateway, org, user, password) = match settings {
        Ok(s) => s,
        Err(message) => {
            eprintln!(
                "error: {message} (MUSTER_GATEWAY, MUSTER_ORG, MUSTER_USER, MUSTER_PASSWORD)"
            );
            return ExitCode::from(2);
        }
    };
    match list(&gateway, &org, &user, password).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", muster::core::error_chain(&e));
            ExitCode::from(1)
        }
    }
}

async fn list(gateway: &str, org: &str, user: &str, password: SecretString) -> Result<(), Error> {
    let client = Client::builder()
        .essentials(gateway, org)
        .credentials(user, password)
        .build()?;
    let mut users = client.users().list().await?;
    users.sort_by(|a, b| a.account().primary_email.cmp(&b.account().primary_email));
    for u in &users {
        let a = u.account();
        let aliases: Vec<&str> = a.aliases.iter().map(|e| e.as_str()).collect();
        println!(
            "{}\t{}\t{}\t{}",
            a.primary_email,
            a.user_type,
            if a.active { "active" } else { "inactive" },
            aliases.join(",")
        );
    }
    println!("{} users", users.len());
    Ok(())
}
