//! Reading a config file: TOML through serde, every error pointing at its
//! line and key.
//!
//! The document is parsed once into `toml`'s spanned tree, which is what
//! every error's line comes from: serde's own errors (an unknown key, a wrong
//! type, a value outside its keywords) carry the span where they happened;
//! the checks that look across keys (two authoritative sources) find their
//! key's span in the same tree by its path.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::error::ConfigError;
use super::file::{Config, SourceConfig, SourceSettings};
use muster_reconcile::Mode;

/// Keys that would hold a secret in the file itself: refused wherever they
/// appear, before anything else is read, and without echoing the value.
const SECRET_KEYS: &[&str] = &[
    "password",
    "secret",
    "client_secret",
    "bind_password",
    "token",
    "access_token",
    "plan_key",
];

/// A config file's text, kept with the config so that a later check can
/// still name the line of the key it refuses.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ConfigText {
    pub(crate) file: PathBuf,
    pub(crate) text: String,
}

/// One step of a key's path: a table key or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    Key(String),
    Index(usize),
}

/// A key's path, printed as `source[1].filter`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct KeyPath(pub(crate) Vec<Step>);

impl KeyPath {
    /// The path `a.b.c` (no indices).
    pub(crate) fn of(keys: &[&str]) -> Self {
        KeyPath(keys.iter().map(|k| Step::Key((*k).to_owned())).collect())
    }

    /// This path, one key deeper.
    pub(crate) fn key(&self, key: &str) -> Self {
        let mut steps = self.0.clone();
        steps.push(Step::Key(key.to_owned()));
        KeyPath(steps)
    }

    /// This path, one index deeper.
    pub(crate) fn index(&self, index: usize) -> Self {
        let mut steps = self.0.clone();
        steps.push(Step::Index(index));
        KeyPath(steps)
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            match step {
                Step::Key(k) if i == 0 => f.write_str(k)?,
                Step::Key(k) => write!(f, ".{k}")?,
                Step::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

impl ConfigText {
    /// An error at `path`: its line is found in the text by the path.
    pub(crate) fn error(&self, path: &KeyPath, problem: impl Into<String>) -> ConfigError {
        let line = DeTable::parse(&self.text)
            .ok()
            .and_then(|root| span_of(root.get_ref(), &path.0))
            .map(|span| line_of(&self.text, span.start));
        ConfigError::Invalid {
            file: Some(self.file.clone()),
            line,
            key: path.to_string(),
            problem: problem.into(),
        }
    }

    fn at(&self, span: Option<Range<usize>>, key: String, problem: String) -> ConfigError {
        ConfigError::Invalid {
            file: Some(self.file.clone()),
            line: span.map(|s| line_of(&self.text, s.start)),
            key,
            problem,
        }
    }
}

/// An error about a setting that came from no file (a flag, the environment).
pub(crate) fn unlocated(key: impl fmt::Display, problem: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        file: None,
        line: None,
        key: key.to_string(),
        problem: problem.into(),
    }
}

/// The 1-based line of byte `offset`.
fn line_of(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    text.as_bytes()[..offset]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// Where `path` is in the document: the key's own span for a key, the
/// element's for an index.
fn span_of(root: &DeTable<'_>, path: &[Step]) -> Option<Range<usize>> {
    let mut table = root;
    let mut value: Option<&Spanned<DeValue<'_>>> = None;
    let mut span = None;
    for step in path {
        match step {
            Step::Key(k) => {
                if let Some(v) = value {
                    table = match v.get_ref() {
                        DeValue::Table(t) => t,
                        _ => return span,
                    };
                }
                let Some((key, v)) = table.get_key_value(k.as_str()) else {
                    return span;
                };
                span = Some(key.span());
                value = Some(v);
            }
            Step::Index(i) => {
                let DeValue::Array(items) = value?.get_ref() else {
                    return span;
                };
                let item = items.get(*i)?;
                span = Some(item.span());
                value = Some(item);
            }
        }
    }
    span
}

/// Reads a config from `text`, as if from `file`; relative paths are
/// resolved against `file`'s folder.
pub(crate) fn parse(text: &str, file: &Path) -> Result<Config, ConfigError> {
    let located = Arc::new(ConfigText {
        file: file.to_owned(),
        text: text.to_owned(),
    });
    let root = DeTable::parse(text).map_err(|e| {
        located.at(
            e.span(),
            "(syntax)".to_owned(),
            e.message().trim().to_owned(),
        )
    })?;
    refuse_literal_secrets(&located, root.get_ref(), &KeyPath::default())?;
    let span = root.span();
    let mut table = root.into_inner();
    let sources = table.remove("source");
    let mut config: Config = deserialize(&located, Spanned::new(span, table), &KeyPath::default())?;
    if let Some(sources) = sources {
        let path = KeyPath::of(&["source"]);
        let sources_span = sources.span();
        let DeValue::Array(items) = sources.into_inner() else {
            return Err(located.at(
                Some(sources_span),
                path.to_string(),
                "expected `[[source]]` tables".to_owned(),
            ));
        };
        for (i, item) in items.into_iter().enumerate() {
            config.sources.push(source(&located, item, &path.index(i))?);
        }
    }
    let folder = file.parent().unwrap_or(Path::new("."));
    config.rebase(folder);
    config.text = Some(located);
    Ok(config)
}

/// A value through serde, its errors at their line and key.
fn deserialize<T: DeserializeOwned>(
    located: &ConfigText,
    table: Spanned<DeTable<'_>>,
    prefix: &KeyPath,
) -> Result<T, ConfigError> {
    let deserializer = toml::Deserializer::from(table);
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let mut path = prefix.clone();
        for segment in e.path().iter() {
            path = match segment {
                serde_path_to_error::Segment::Seq { index } => path.index(*index),
                serde_path_to_error::Segment::Map { key } => path.key(key),
                serde_path_to_error::Segment::Enum { variant } => path.key(variant),
                _ => path,
            };
        }
        let inner = e.into_inner();
        let problem = inner.message().trim().to_owned();
        // The error's own span is the spot serde stopped at; a path that is
        // found in the document is the key itself, which reads better.
        let span = DeTable::parse(&located.text)
            .ok()
            .and_then(|root| span_of(root.get_ref(), &path.0))
            .filter(|_| !path.0.is_empty())
            .or(inner.span());
        located.at(span, display_key(&path), problem)
    })
}

/// The key an error names: the path, or the document itself.
fn display_key(path: &KeyPath) -> String {
    if path.0.is_empty() {
        "(top level)".to_owned()
    } else {
        path.to_string()
    }
}

/// One `[[source]]`: its name, role and kind, then the kind's own keys
/// (an unknown key lists the keys of that kind).
fn source(
    located: &ConfigText,
    item: Spanned<DeValue<'_>>,
    path: &KeyPath,
) -> Result<SourceConfig, ConfigError> {
    let span = item.span();
    let DeValue::Table(mut table) = item.into_inner() else {
        return Err(located.at(
            Some(span),
            path.to_string(),
            "expected a `[[source]]` table".to_owned(),
        ));
    };
    let mut word = |key: &str, what: &str| -> Result<String, ConfigError> {
        match table.remove(key) {
            None => Err(located.at(
                Some(span.clone()),
                path.key(key).to_string(),
                format!("missing: every source needs a `{key}` ({what})"),
            )),
            Some(value) => match value.get_ref() {
                DeValue::String(s) => Ok(s.to_string()),
                _ => Err(located.at(
                    Some(value.span()),
                    path.key(key).to_string(),
                    format!("expected a string ({what})"),
                )),
            },
        }
    };
    let name = word(
        "name",
        "its stable identity: the state records the accounts it brings under it",
    )?;
    let role = word("role", "`authoritative` or `supplemental`")?;
    let kind = word("kind", SourceSettings::KINDS)?;
    let role: Mode = role
        .parse()
        .map_err(|e: muster_core::UnknownValue| located.error(&path.key("role"), e.to_string()))?;
    if name.trim().is_empty() {
        return Err(located.error(&path.key("name"), "expected a name, not an empty string"));
    }
    let rest = Spanned::new(span, table);
    let settings = match kind.as_str() {
        "ldap" => SourceSettings::Ldap(deserialize(located, rest, path)?),
        "graph" => SourceSettings::Graph(deserialize(located, rest, path)?),
        "csv" => SourceSettings::Csv(deserialize(located, rest, path)?),
        "mapped-csv" => SourceSettings::MappedCsv(deserialize(located, rest, path)?),
        "postini" => SourceSettings::Postini(deserialize(located, rest, path)?),
        "discovery" => SourceSettings::Discovery(deserialize(located, rest, path)?),
        other => {
            return Err(located.error(
                &path.key("kind"),
                format!(
                    "`{other}` is not a source kind; expected one of: {}",
                    SourceSettings::KINDS
                ),
            ));
        }
    };
    Ok(SourceConfig::new(name, role, settings))
}

/// Refuses a secret written into the file (`password = "…"`): it would end
/// up in backups, diffs and support tickets. The value is never shown.
fn refuse_literal_secrets(
    located: &ConfigText,
    table: &DeTable<'_>,
    path: &KeyPath,
) -> Result<(), ConfigError> {
    for (key, value) in table.iter() {
        let here = path.key(key.get_ref());
        if SECRET_KEYS.contains(&key.get_ref().as_ref()) {
            return Err(located.at(
                Some(key.span()),
                here.to_string(),
                "a secret is never written in the config file (it would end up in backups, \
                 diffs and tickets): name it with `password_env` (an environment variable) \
                 or `password_file` (a file holding it)"
                    .to_owned(),
            ));
        }
        refuse_in_value(located, value.get_ref(), &here)?;
    }
    Ok(())
}

fn refuse_in_value(
    located: &ConfigText,
    value: &DeValue<'_>,
    path: &KeyPath,
) -> Result<(), ConfigError> {
    match value {
        DeValue::Table(t) => refuse_literal_secrets(located, t, path),
        DeValue::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, item)| refuse_in_value(located, item.get_ref(), &path.index(i))),
        _ => Ok(()),
    }
}
