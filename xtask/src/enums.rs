//! Open enums for the contract's named string enums.
//!
//! The normalizer turns every string `enum` into a plain string with the
//! values under `x-enum-values` (typify would make a closed enum whose
//! `Deserialize` fails on a value the service adds later). Here each named
//! schema with such values becomes a Rust enum with one variant per value and
//! an `Other(String)` variant for anything else, emitted into the generated
//! `types` module in place of typify's type (progenitor's replacement
//! setting), so that no enum value is typed by hand anywhere.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use serde_json::Value;

/// A named string enum of the contract.
pub struct OpenEnum {
    pub name: String,
    pub values: Vec<String>,
    /// Values the service still takes but announces as replaced
    /// (`x-deprecated-values`: old → new).
    pub deprecated: Vec<(String, String)>,
}

/// The contract's named string enums, by schema name.
pub fn collect(contract: &Value) -> Vec<OpenEnum> {
    let Some(schemas) = contract
        .pointer("/components/schemas")
        .and_then(Value::as_object)
    else {
        return Vec::new();
    };
    schemas
        .iter()
        .filter_map(|(name, schema)| {
            let values = schema.get("x-enum-values")?.as_array()?;
            let values: Vec<String> = values
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect();
            let deprecated = schema
                .get("x-deprecated-values")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .map(|(old, new)| (old.clone(), new.as_str().unwrap_or("").to_owned()))
                        .collect()
                })
                .unwrap_or_default();
            (!values.is_empty()).then(|| OpenEnum {
                name: name.clone(),
                values,
                deprecated,
            })
        })
        .collect()
}

/// The path typify is told to use instead of generating the type.
pub fn replacement_path(e: &OpenEnum) -> String {
    format!("crate::types::{}", e.name)
}

/// `human_request` → `HumanRequest`; `post.created` → `PostCreated`; a value
/// that starts with a digit gets a `V`; the catch-all's name is avoided.
fn variant_name(value: &str) -> String {
    let mut name = agentwire_contract::normalize::pascal(value);
    if name.is_empty() {
        name = "Empty".into();
    }
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert(0, 'V');
    }
    if name == "Other" {
        name.push_str("Value");
    }
    name
}

/// The Rust code of one open enum.
pub fn tokens(e: &OpenEnum) -> Result<TokenStream, String> {
    let ident = syn::Ident::new(&e.name, Span::call_site());
    let mut seen = std::collections::BTreeSet::new();
    let mut variants = Vec::new();
    for value in &e.values {
        let v = variant_name(value);
        if !seen.insert(v.clone()) {
            return Err(format!(
                "{}: two values make the variant name {v}; rename one in the filter",
                e.name
            ));
        }
        variants.push((syn::Ident::new(&v, Span::call_site()), value.clone()));
    }
    let docs = variants.iter().map(|(_, w)| format!("`{w}`"));
    let marks = variants.iter().map(
        |(_, w)| match e.deprecated.iter().find(|(old, _)| old == w) {
            Some((_, new)) => {
                let note = format!("the service announces `{w}` as replaced by `{new}`");
                quote!(#[deprecated(note = #note)])
            }
            None => quote!(),
        },
    );
    let names: Vec<_> = variants.iter().map(|(v, _)| v).collect();
    let wires: Vec<_> = variants.iter().map(|(_, w)| w).collect();
    let type_doc = format!(
        "One of the contract's values of `{}`, or another value the service sends.",
        e.name
    );
    Ok(quote! {
        #[doc = #type_doc]
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum #ident {
            #( #[doc = #docs] #marks #names, )*
            /// A value this version of the contract does not list.
            Other(::std::string::String),
        }
        impl #ident {
            /// The values the contract lists, in its order.
            pub const VALUES: &'static [&'static str] = &[#(#wires),*];
            /// The value as sent on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    #( Self::#names => #wires, )*
                    Self::Other(s) => s.as_str(),
                }
            }
        }
        impl ::std::convert::From<&str> for #ident {
            fn from(s: &str) -> Self {
                match s {
                    #( #wires => Self::#names, )*
                    other => Self::Other(other.to_owned()),
                }
            }
        }
        impl ::std::convert::From<::std::string::String> for #ident {
            fn from(s: ::std::string::String) -> Self {
                match s.as_str() {
                    #( #wires => Self::#names, )*
                    _ => Self::Other(s),
                }
            }
        }
        impl ::std::convert::From<&::std::string::String> for #ident {
            fn from(s: &::std::string::String) -> Self {
                Self::from(s.as_str())
            }
        }
        impl ::std::str::FromStr for #ident {
            type Err = ::std::convert::Infallible;
            fn from_str(s: &str) -> ::std::result::Result<Self, Self::Err> {
                Ok(Self::from(s))
            }
        }
        impl ::std::convert::AsRef<str> for #ident {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }
        impl ::std::fmt::Display for #ident {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl ::serde::Serialize for #ident {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> ::std::result::Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl<'de> ::serde::Deserialize<'de> for #ident {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> ::std::result::Result<Self, D::Error> {
                let s = <::std::borrow::Cow<'de, str> as ::serde::Deserialize>::deserialize(d)?;
                Ok(Self::from(s.as_ref()))
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variant_names() {
        assert_eq!(variant_name("human_request"), "HumanRequest");
        assert_eq!(variant_name("post.created"), "PostCreated");
        assert_eq!(variant_name("2fa"), "V2fa");
        assert_eq!(variant_name("other"), "OtherValue");
    }

    #[test]
    fn two_values_with_one_name_are_refused() {
        let e = OpenEnum {
            name: "Mode".into(),
            values: vec!["a_b".into(), "a.b".into()],
            deprecated: vec![],
        };
        assert!(tokens(&e).is_err());
    }
}
