//! `muster::config`: every setting of the SDK reachable from the file, and
//! every mistake in the file named by its line and key.

use muster::config::{Config, SourceSettings};
use muster::reconcile::Policy;

const MINIMAL_SOURCE: &str = r#"
[gateway]
org = "example.com"

[[source]]
name = "staff"
role = "authoritative"
kind = "csv"
path = "staff.csv"
"#;

/// Every `[policy]` key and the HR rule set to something other than its default.
const EVERY_POLICY_KEY: &str = r#"
[hr]
path = "hr.csv"
action = "flag"
allow = ["ceo@example.com"]

[policy]
managed_domains = ["example.org"]
mode = "supplemental"
new_user_role = "silent_user"
welcome_letters = false
delete_delay = "30d"
min_absent_runs = 5
on_flag = "deactivate"
exceptions = ["printer@example.com"]
sync_disabled_users = true
unknown_origin = "flag_unmatched"
threshold = { count = 7, percent = 3 }
create_limit = { count = 40, percent = 5 }
owned_fields = ["first_name"]
bulk_size = 50
hold_deletions_for_unread_records = false

[policy.kinds]
contact = "functional_account"

[[policy.additions]]
email = "scanner@example.com"
first_name = "Scanner"
"#;

/// A field of [`Policy`] deliberately without a config key, and why.
const NOT_IN_THE_FILE: &[(&str, &str)] = &[(
    "threshold_override",
    "an approval of one reviewed plan, given on the command line; a file that kept it would approve every plan",
)];

#[test]
fn a_config_that_sets_every_key_changes_every_policy_field() {
    let text = format!("{MINIMAL_SOURCE}{EVERY_POLICY_KEY}");
    let config = Config::from_toml(&text, "/srv/muster/example.com.toml").unwrap();
    config.check().unwrap();
    let got = serde_json::to_value(config.policy().unwrap()).unwrap();
    let default = serde_json::to_value(Policy::default()).unwrap();
    let fields = default.as_object().unwrap();
    assert!(fields.len() >= 18, "{fields:?}");
    for (field, default_value) in fields {
        if NOT_IN_THE_FILE.iter().any(|(f, _)| f == field) {
            assert_eq!(&got[field], default_value, "{field}");
            continue;
        }
        assert_ne!(
            &got[field], default_value,
            "Policy::{field} is not reached from the config file: add its key to [policy] \
             (and to EVERY_POLICY_KEY), or list it in NOT_IN_THE_FILE with the reason"
        );
    }
}

#[test]
fn the_resolved_config_of_every_key_reads_back_as_itself() {
    let text = format!("{MINIMAL_SOURCE}{EVERY_POLICY_KEY}");
    let config = Config::from_toml(&text, "/srv/muster/example.com.toml").unwrap();
    let printed = config.with_defaults().unwrap().to_toml().unwrap();
    let again = Config::from_toml(&printed, "/srv/muster/example.com.toml").unwrap();
    assert_eq!(
        again.policy().unwrap(),
        config.policy().unwrap(),
        "{printed}"
    );
}

/// Every key of every source kind, set.
const EVERY_SOURCE_KEY: &str = r#"
[[source]]
name = "ad"
role = "authoritative"
kind = "ldap"
url = "ldaps://dc1.example.com"
base = "OU=Staff,DC=example,DC=com"
bind_dn = "CN=muster,OU=Service,DC=example,DC=com"
password_file = "ldap.secret"
filter = "(objectClass=user)"
require = { department = "Sales" }
group_filter = "(objectClass=group)"
objects = "both"
starttls = false
allow_plaintext = true
ca_file = "ca.pem"
ca_only = true
page_size = 500
timeout_seconds = 10
attributes = { preset = "inet_org_person", notes = "description", primary_group_id = "" }

[[source]]
name = "entra"
role = "supplemental"
kind = "graph"
tenant = "contoso.onmicrosoft.com"
client_id = "app"
password_env = "ENTRA_SECRET"
require = { department = "Sales" }
advanced_query = true
groups = ["g1"]
mail_groups = true
guests = "contact"
read_account_enabled = true
cursor = "entra.cursor.json"
cloud = "us_government"
scope = "https://graph.microsoft.us/.default"
external_members = "skip"
authority = "https://login.microsoftonline.us"
graph_url = "https://graph.microsoft.us/v1.0"
max_retries = 2
max_retry_after_seconds = 60
timeout_seconds = 30

[[source]]
name = "contractors"
role = "supplemental"
kind = "csv"
path = "contractors.csv"
layout = "legacy"
header = "absent"
encoding = "windows-1252"
delimiter = "semicolon"

[[source]]
name = "hr-export"
role = "supplemental"
kind = "mapped-csv"
path = "people.csv"
primary = "E-mail"
columns = { first_name = "Given", aliases = ["Alias 1", "Alias 2"] }
optional_columns = { mobile = "Cell" }
separators = { aliases = ";" }
encoding = "utf-8"
delimiter = "tab"

[[source]]
name = "legacy"
role = "supplemental"
kind = "postini"
users = "users.csv"
aliases = "aliases.csv"
user_columns = { primary = "mail", first_name = "first" }
alias_columns = { user_id = "owner" }
encoding = "utf-8"
delimiter = "comma"

[[source]]
name = "discovered"
role = "supplemental"
kind = "discovery"
ledger = "ledger.json"
min_messages = 9
window_days = 10
expiry_days = 20
directions = ["inbound", "outbound"]
blocked = ["scanner@"]
candidates = "report_only"
"#;

#[test]
fn every_source_key_is_read_and_leaves_no_default_to_fill() {
    let text = format!("[gateway]\norg = \"example.com\"\n{EVERY_SOURCE_KEY}");
    let config = Config::from_toml(&text, "/srv/muster/example.com.toml").unwrap();
    config.check().unwrap();
    assert_eq!(config.sources.len(), 6);
    // Every key was given, so filling in the defaults changes no source.
    let full = config.with_defaults().unwrap();
    assert_eq!(full.sources, config.sources);
    // Relative paths are the config folder's.
    match &config.sources[2].settings {
        SourceSettings::Csv(csv) => {
            assert_eq!(
                csv.path,
                std::path::Path::new("/srv/muster/contractors.csv")
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn each_mistake_names_its_line_and_key_and_what_was_expected() {
    let cases: &[(&str, &str)] = &[
        (
            "[[source]]\nname = \"a\"\nrole = \"authoritative\"\nkind = \"csv\"\npath = \"a.csv\"\nfilter = \"x\"\n",
            "m.toml:6: source[0].filter: unknown field `filter`, expected one of `path`, `layout`, `header`, `encoding`, `delimiter`",
        ),
        (
            "[[source]]\nname = \"a\"\nrole = \"authoritative\"\nkind = \"nis\"\n",
            "m.toml:4: source[0].kind: `nis` is not a source kind; expected one of: ldap, graph, csv, mapped-csv, postini, discovery",
        ),
        (
            "[[source]]\nrole = \"authoritative\"\nkind = \"csv\"\npath = \"a.csv\"\n",
            "m.toml:1: source[0].name: missing: every source needs a `name`",
        ),
        (
            "[[source]]\nname = \"a\"\nrole = \"authoritative\"\nkind = \"ldap\"\nurl = \"ldaps://dc\"\nbase = \"dc=x\"\nca_only = true\n",
            "m.toml:7: source[0].ca_only: needs `ca_file`",
        ),
        (
            "password_env = \"P\"\npassword_file = \"p.txt\"\n[[source]]\nname = \"a\"\nrole = \"authoritative\"\nkind = \"csv\"\npath = \"a.csv\"\n",
            "m.toml:2: gateway.password_file: both `password_env` and `password_file` are set: keep one",
        ),
        (
            "[[source]]\nname = \"a\"\nrole = \"authoritative\"\nkind = \"ldap\"\nurl = \"ldaps://dc\"\nbase = \"dc=x\"\nattributes = { surname = \"sn\" }\n",
            "m.toml:7: source[0].attributes.surname: unknown attribute-map key; expected `preset` or one of: mail,",
        ),
        (
            "[[source]]\nname = \"a\"\nrole = \"supplemental\"\nkind = \"csv\"\npath = \"a.csv\"\n",
            "m.toml:3: source[0].role: no source is authoritative",
        ),
        (
            "[[source]]\nname = \"a\"\nrole = \"authoritative\"\nkind = \"csv\"\npath = \"a.csv\"\n[[source]]\nname = \"a\"\nrole = \"supplemental\"\nkind = \"csv\"\npath = \"b.csv\"\n",
            "m.toml:7: source[1].name: `a` names two sources",
        ),
        (
            "[[source]]\nname = \"a\"\nrole = \"authoritative\"\nkind = \"graph\"\ntenant = \"t\"\nclient_id = \"c\"\nclient_secret = \"s3cr3t\"\n",
            "m.toml:7: source[0].client_secret: a secret is never written in the config file",
        ),
        (
            "[policy.kinds]\nuser_mailbox = \"silent_user\"\n[[source]]\nname = \"a\"\nrole = \"authoritative\"\nkind = \"csv\"\npath = \"a.csv\"\n",
            "m.toml:2: policy.kinds.user_mailbox: user mailboxes get the type of `new_user_role`",
        ),
        (
            "[hr]\npath = \"hr.csv\"\n",
            "m.toml:1: hr: missing field `action`",
        ),
    ];
    for (text, says) in cases {
        // Each case goes on after a `[gateway]` of two lines.
        let text = format!("[gateway]\norg = \"example.com\"\n{text}");
        // Shift the expected line by the two gateway lines added above.
        let (file, rest) = says.split_once(':').unwrap();
        let (line, rest) = rest.split_once(':').unwrap();
        let line: usize = line.parse().unwrap();
        let expected = format!("{file}:{}:{rest}", line + 2);
        let got = Config::from_toml(&text, "m.toml")
            .and_then(|c| c.check().and_then(|()| c.policy().map(drop)))
            .expect_err(says)
            .to_string();
        assert!(
            got.starts_with(&expected),
            "\n got: {got}\nwant: {expected}"
        );
        assert!(!got.contains("s3cr3t"), "{got}");
    }
}

/// The journal of an apply: the one given, else one per plan in
/// `files.journals`, else none; its folder is made (owner-only) either way,
/// so a first run on a fresh volume is not refused for a missing folder.
#[test]
fn the_journal_is_the_given_one_or_the_plans_in_files_journals_and_its_folder_is_made() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("org.toml");
    let without = Config::from_toml(MINIMAL_SOURCE, &path).unwrap();
    assert_eq!(without.journal_for("abc", None).unwrap(), None);
    let given = dir.path().join("new/deeper/run.journal");
    assert_eq!(
        without.journal_for("abc", Some(given.clone())).unwrap(),
        Some(given.clone())
    );
    assert!(given.parent().unwrap().is_dir());
    let text = format!("{MINIMAL_SOURCE}\n[files]\njournals = \"journals/\"\n");
    let with = Config::from_toml(&text, &path).unwrap();
    let journal = with.journal_for("abc", None).unwrap().unwrap();
    assert_eq!(journal, dir.path().join("journals").join("abc.journal"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("journals"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
    }
    // Given wins over the folder.
    assert_eq!(
        with.journal_for("abc", Some(given.clone())).unwrap(),
        Some(given)
    );
}
