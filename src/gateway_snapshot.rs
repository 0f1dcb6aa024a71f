//! Reading the gateway side of a plan: what it holds and what it is.

use muster_gateway::{Client, Error};
use muster_reconcile::{Capabilities, GatewayListing, TargetProfile};

/// The gateway side of [`reconcile::plan`](crate::reconcile::plan): its
/// accounts and its profile, read in one go.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct GatewaySnapshot {
    /// Every account of the organisation (the planner's `current`).
    pub listing: GatewayListing,
    /// Registered domains, licences, capabilities and login (the planner's `target`).
    pub target: TargetProfile,
    /// True when the login is read-only: a plan can be previewed, not applied.
    pub read_only_login: bool,
}

/// Reads the gateway's profile and its accounts for planning.
///
/// `stack` names the gateway installation (`us1`, `eu1`, or a label for a
/// local emulator); it is stamped on muster's state, so a state file is never
/// applied to another installation. The login is checked first; the profile
/// and the accounts are then read at once.
///
/// Only Essentials v1 has an organisation resource with registered domains;
/// on other dialects this returns the client's [`Error::Unsupported`] rather
/// than a profile without domains, which the planner would refuse anyway.
///
/// ```no_run
/// # async fn demo() -> Result<(), muster::gateway::Error> {
/// use muster::gateway::{Client, SecretString};
/// let client = Client::builder()
///     .essentials("us1", "example.com")
///     .credentials("admin@example.com", SecretString::from("..."))
///     .build()?;
/// let gateway = muster::read_gateway(&client, "us1").await?;
/// println!("{} accounts", gateway.listing.accounts.len());
/// # Ok(())
/// # }
/// ```
///
/// # Errors
/// Any error of the client's calls (`/me`, the organisation, the user list).
pub async fn read_gateway(client: &Client, stack: &str) -> Result<GatewaySnapshot, Error> {
    // The login first, so a wrong password or a revoked login is said as
    // such; then the profile and the accounts together (the listing is the
    // long read, the profile is in by the time it is).
    let identity = client.verify().await?;
    let users = client.users();
    let (org, accounts) = futures::try_join!(client.org(), users.list_accounts())?;
    let dialect = client.capabilities();
    let mut target = TargetProfile::new(stack, org.primary_domain.as_str()).with_capabilities(
        Capabilities::default()
            .with_groups(dialect.groups)
            .with_bulk_create(dialect.bulk_create)
            // Only fields the dialect stores are planned: a change the
            // gateway drops would be proposed again on every run.
            .with_fields(dialect.fields),
    );
    // A domain name the gateway reports that does not parse is left out: the
    // planner then refuses to manage it, which is the safe direction.
    for domain in &org.domains {
        if let Ok(parsed) = domain.name.parse() {
            target = target.with_domain(parsed);
        }
    }
    if let Some(send) = org.send_welcome_email {
        target = target.with_welcome_letters(send);
    }
    if let Some(licences) = org.user_licenses {
        target = target.with_licences(licences);
    }
    if let Ok(login) = identity.login.parse() {
        target = target.with_login(login);
    }
    Ok(GatewaySnapshot {
        listing: GatewayListing::complete(accounts),
        target,
        read_only_login: identity.read_only,
    })
}
