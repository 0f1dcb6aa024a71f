//! The one spelling of each source option's values, as config files, the
//! command line and Python write them.

use muster_core::keywords;

use crate::{
    CandidateUse, Delimiter, Encoding, ExternalMembers, GraphCloud, GuestPolicy, HeaderRow,
    LdapObjects, StandardLayout,
};

keywords!(LdapObjects, "LDAP object selection", {
    Users => "users",
    Groups => "groups",
    Both => "both",
});

keywords!(StandardLayout, "Standard CSV layout", {
    Auto => "auto",
    Current => "current",
    Legacy => "legacy",
});

keywords!(HeaderRow, "header-row setting", {
    Auto => "auto",
    Present => "present",
    Absent => "absent",
});

keywords!(Encoding, "encoding", {
    Auto => "auto",
    Utf8 => "utf-8",
    Windows1252 => "windows-1252",
});

keywords!(Delimiter, "delimiter", {
    Auto => "auto",
    Comma => "comma",
    Semicolon => "semicolon",
    Tab => "tab",
});

keywords!(CandidateUse, "candidate use", {
    CreateUsers => "create_users",
    ReportOnly => "report_only",
});

keywords!(GuestPolicy, "guest policy", {
    Skip => "skip",
    Contact => "contact",
});

keywords!(GraphCloud, "Graph cloud", {
    Global => "global",
    UsGovernment => "us_government",
    UsGovernmentDod => "us_government_dod",
    China => "china",
});

keywords!(ExternalMembers, "external-member policy", {
    Sync => "sync",
    Skip => "skip",
});
