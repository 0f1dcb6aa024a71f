//! The fingerprint of a plan's content: every value serde sees, fed to the
//! hash as serde walks it.
//!
//! Not a hash of the JSON: escaping and number formatting would cost more
//! than the hashing (at a million accounts a plan has a hundred thousand
//! changes, and the executor checks the fingerprint again before applying).
//! The walk is self-delimiting, so different content cannot feed the hash
//! the same inputs: strings carry their length, options and enum variants a
//! tag, sequences and maps a marker before each element and one at the end,
//! and struct fields a mark saying whether they were written or skipped (a
//! skipped optional field leaves no gap that another field could fill).

use std::fmt::Display;

use serde::Serialize;
use serde::ser;

use crate::fingerprint::WordHash;

/// The fingerprint of `content`: a 64-bit hash of its encoding, as sixteen
/// hex digits. Not cryptographic: it names a plan (in journals, in reports)
/// and detects a plan that was changed after it was made; it does not
/// authenticate one.
pub(crate) fn fingerprint<T: Serialize + ?Sized>(content: &T) -> String {
    // Every plan type serialises; an error here would be a serde bug.
    let hash = walk(content, WordHash::new());
    format!("{:016x}", hash.finish())
}

/// Feeds each value to the hash as serde walks it: the walk is the same for
/// the same content, so no bytes need buffering.
struct ContentHasher<S>(S);

/// Where the walk goes: the fingerprint's fast hash, or a plan signature's MAC.
pub(crate) trait Sink {
    /// One 64-bit word (a tag, a number).
    fn word(&mut self, w: u64);
    /// Bytes and their length: consecutive texts cannot run into each other.
    fn text(&mut self, bytes: &[u8]);
}

impl Sink for WordHash {
    fn word(&mut self, w: u64) {
        WordHash::word(self, w);
    }
    fn text(&mut self, bytes: &[u8]) {
        self.text_bytes(bytes);
    }
}

impl<S: Sink> ContentHasher<S> {
    fn tag(&mut self, tag: u8) {
        self.0.word(u64::from(tag));
    }

    fn number(&mut self, n: u64) {
        self.0.word(n);
    }

    /// Mixes the length in too.
    fn text(&mut self, s: &[u8]) {
        self.0.text(s);
    }
}

/// Walks `content` into `sink`, with the same self-delimiting encoding as
/// [`fingerprint`] (a plan signature's MAC reads the content this way).
pub(crate) fn walk<T: Serialize + ?Sized, S: Sink>(content: &T, sink: S) -> S {
    let mut h = ContentHasher(sink);
    content.serialize(&mut h).expect("plan content serialises");
    h.0
}

// Tags; the values only have to differ where they can meet.
const NONE: u8 = 0;
const SOME: u8 = 1;
const ELEMENT: u8 = 2;
const END: u8 = 3;
const FIELD: u8 = 4;
const SKIPPED: u8 = 5;

/// Why content could not be hashed (only a type's own `Serialize` can say so).
#[derive(Debug)]
pub(crate) struct HashError(String);

impl Display for HashError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HashError {}

impl ser::Error for HashError {
    fn custom<T: Display>(msg: T) -> Self {
        HashError(msg.to_string())
    }
}

type Done = Result<(), HashError>;

impl<S: Sink> ser::Serializer for &mut ContentHasher<S> {
    type Ok = ();
    type Error = HashError;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    fn serialize_bool(self, v: bool) -> Done {
        self.tag(u8::from(v));
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Done {
        self.serialize_i64(v.into())
    }
    fn serialize_i16(self, v: i16) -> Done {
        self.serialize_i64(v.into())
    }
    fn serialize_i32(self, v: i32) -> Done {
        self.serialize_i64(v.into())
    }
    fn serialize_i64(self, v: i64) -> Done {
        self.number(v as u64);
        Ok(())
    }
    fn serialize_u8(self, v: u8) -> Done {
        self.serialize_u64(v.into())
    }
    fn serialize_u16(self, v: u16) -> Done {
        self.serialize_u64(v.into())
    }
    fn serialize_u32(self, v: u32) -> Done {
        self.serialize_u64(v.into())
    }
    fn serialize_u64(self, v: u64) -> Done {
        self.number(v);
        Ok(())
    }
    fn serialize_f32(self, v: f32) -> Done {
        self.serialize_f64(v.into())
    }
    fn serialize_f64(self, v: f64) -> Done {
        self.number(v.to_bits());
        Ok(())
    }
    fn serialize_char(self, v: char) -> Done {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_str(self, v: &str) -> Done {
        self.text(v.as_bytes());
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Done {
        self.text(v);
        Ok(())
    }
    /// Dates and other `Display` values, piece by piece as they format
    /// (the same value formats in the same pieces), without a `String`.
    fn collect_str<T: Display + ?Sized>(self, value: &T) -> Done {
        struct Pieces<'h, S>(&'h mut ContentHasher<S>);
        impl<S: Sink> std::fmt::Write for Pieces<'_, S> {
            fn write_str(&mut self, s: &str) -> std::fmt::Result {
                self.0.tag(ELEMENT);
                self.0.text(s.as_bytes());
                Ok(())
            }
        }
        std::fmt::write(&mut Pieces(self), format_args!("{value}"))
            .map_err(|_| <HashError as ser::Error>::custom("a value failed to format"))?;
        self.tag(END);
        Ok(())
    }
    fn serialize_none(self) -> Done {
        self.tag(NONE);
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Done {
        self.tag(SOME);
        value.serialize(self)
    }
    fn serialize_unit(self) -> Done {
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Done {
        Ok(())
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Done {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Done {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Done {
        self.text(variant.as_bytes());
        value.serialize(self)
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Self, HashError> {
        Ok(self)
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self, HashError> {
        Ok(self)
    }
    fn serialize_tuple_struct(self, _name: &'static str, _len: usize) -> Result<Self, HashError> {
        Ok(self)
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Self, HashError> {
        self.text(variant.as_bytes());
        Ok(self)
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self, HashError> {
        Ok(self)
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Self, HashError> {
        Ok(self)
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Self, HashError> {
        self.text(variant.as_bytes());
        Ok(self)
    }
}

/// Sequences and maps: a marker before each element, one at the end.
impl<S: Sink> ser::SerializeSeq for &mut ContentHasher<S> {
    type Ok = ();
    type Error = HashError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Done {
        self.tag(ELEMENT);
        value.serialize(&mut **self)
    }
    fn end(self) -> Done {
        self.tag(END);
        Ok(())
    }
}

impl<S: Sink> ser::SerializeMap for &mut ContentHasher<S> {
    type Ok = ();
    type Error = HashError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Done {
        self.tag(ELEMENT);
        key.serialize(&mut **self)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Done {
        value.serialize(&mut **self)
    }
    fn end(self) -> Done {
        self.tag(END);
        Ok(())
    }
}

/// Tuples have a fixed arity: their elements follow one another.
macro_rules! fixed_arity {
    ($($trait:ident),*) => {$(
        impl<S: Sink> ser::$trait for &mut ContentHasher<S> {
            type Ok = ();
            type Error = HashError;
            fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Done {
                value.serialize(&mut **self)
            }
            fn end(self) -> Done {
                Ok(())
            }
        }
    )*};
}
fixed_arity!(SerializeTupleStruct, SerializeTupleVariant);

impl<S: Sink> ser::SerializeTuple for &mut ContentHasher<S> {
    type Ok = ();
    type Error = HashError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Done {
        value.serialize(&mut **self)
    }
    fn end(self) -> Done {
        Ok(())
    }
}

/// Structs: serde visits every field in declaration order, writing or
/// skipping it, so a field is known by its position: each is marked written
/// or skipped, and no name needs hashing.
macro_rules! positional_fields {
    ($($trait:ident),*) => {$(
        impl<S: Sink> ser::$trait for &mut ContentHasher<S> {
            type Ok = ();
            type Error = HashError;
            fn serialize_field<T: Serialize + ?Sized>(&mut self, _key: &'static str, value: &T) -> Done {
                self.tag(FIELD);
                value.serialize(&mut **self)
            }
            fn skip_field(&mut self, _key: &'static str) -> Done {
                self.tag(SKIPPED);
                Ok(())
            }
            fn end(self) -> Done {
                self.tag(END);
                Ok(())
            }
        }
    )*};
}
positional_fields!(SerializeStruct, SerializeStructVariant);

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[derive(Serialize)]
    struct Item {
        name: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        note: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        other: Option<String>,
        tags: Vec<String>,
    }

    fn item(name: &str, note: Option<&str>, other: Option<&str>, tags: &[&str]) -> Item {
        Item {
            name: name.into(),
            note: note.map(Into::into),
            other: other.map(Into::into),
            tags: tags.iter().map(|t| (*t).into()).collect(),
        }
    }

    #[test]
    fn different_content_gives_different_fingerprints() {
        let base = fingerprint(&item("a", Some("x"), None, &["t"]));
        assert_eq!(base.len(), 16);
        assert_eq!(fingerprint(&item("a", Some("x"), None, &["t"])), base);
        for other in [
            item("b", Some("x"), None, &["t"]),
            // The same text in the other skipped field.
            item("a", None, Some("x"), &["t"]),
            item("a", Some("x"), None, &["t", ""]),
            item("a", Some("x"), None, &[]),
            item("a", Some(""), None, &["t"]),
            // Texts that would run into each other without their lengths.
            item("at", Some("x"), None, &[""]),
        ] {
            assert_ne!(fingerprint(&other), base);
        }
        let seqs: [Vec<Vec<u8>>; 3] = [
            vec![vec![1, 2]],
            vec![vec![1], vec![2]],
            vec![vec![1, 2], vec![]],
        ];
        let hashes: Vec<String> = seqs.iter().map(fingerprint).collect();
        assert_ne!(hashes[0], hashes[1]);
        assert_ne!(hashes[0], hashes[2]);
        let map = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect()
        };
        assert_ne!(
            fingerprint(&map(&[("a", "b")])),
            fingerprint(&map(&[("ab", "")]))
        );
    }

    #[test]
    fn long_content_follows_every_value() {
        let texts: Vec<String> = (0..400).map(|i| format!("user{i}@example.com")).collect();
        let base = fingerprint(&texts);
        for i in [0, 57, 199, 399] {
            let mut edited = texts.clone();
            edited[i].push('x');
            assert_ne!(fingerprint(&edited), base, "text {i}");
            let mut swapped = texts.clone();
            swapped.swap(i, (i + 1) % texts.len());
            assert_ne!(fingerprint(&swapped), base, "order at {i}");
        }
    }
}
