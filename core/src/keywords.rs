//! The one spelling of an option's values.

/// Gives an option enum its one spelling: the word a config file, the
/// command line and Python all use for it (`14d`, `deactivate`), written
/// once where the enum is. Serde, `Display` and `FromStr` all go through it, so a value
/// cannot be spelt one way in a config file and another in a saved policy.
/// ```
/// #[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// enum Colour { Red, Green }
/// muster_core::keywords!(Colour, "colour", { Red => "red", Green => "green" });
/// assert_eq!("green".parse::<Colour>().unwrap(), Colour::Green);
/// assert_eq!(Colour::KEYWORDS, "red, green");
/// let e = "blue".parse::<Colour>().unwrap_err();
/// assert_eq!(e.to_string(), "`blue` is not a valid colour; expected one of: red, green");
/// ```
#[macro_export]
macro_rules! keywords {
    ($ty:ident, $what:literal, { $v0:ident => $k0:literal $(, $v:ident => $k:literal)* $(,)? }) => {
        impl $ty {
            /// Every value, in the order the docs list them.
            pub const ALL: &'static [$ty] = &[$ty::$v0 $(, $ty::$v)*];
            /// The accepted spellings, comma-separated (for help texts and errors).
            pub const KEYWORDS: &'static str = concat!($k0 $(, ", ", $k)*);

            /// The value's one spelling (config files, the command line, Python).
            #[must_use]
            pub fn keyword(self) -> &'static str {
                match self {
                    $ty::$v0 => $k0,
                    $($ty::$v => $k,)*
                }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.keyword())
            }
        }

        impl std::str::FromStr for $ty {
            type Err = $crate::UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $ty::ALL
                    .iter()
                    .copied()
                    .find(|v| v.keyword() == s)
                    .ok_or_else(|| $crate::UnknownValue {
                        value: s.to_owned(),
                        what: $what,
                        expected: $ty::KEYWORDS,
                    })
            }
        }

        impl ::serde::Serialize for $ty {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.keyword())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $ty {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = <::std::borrow::Cow<'de, str> as ::serde::Deserialize>::deserialize(deserializer)?;
                s.parse().map_err(::serde::de::Error::custom)
            }
        }
    };
}
