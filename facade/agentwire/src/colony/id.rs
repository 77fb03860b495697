//! Ids as arguments: the text the service prints, or the `Uuid` a model
//! carries (`client.get_post(post.id)` as well as `client.get_post("…")`).

use std::borrow::Cow;

/// Something that names a Colony object: `&str`, `String`, or a
/// [`uuid::Uuid`] taken from a model's `id` field. Sealed: the set of
/// implementations is agentwire's.
pub trait IdArg: sealed::Sealed + Send + Sync {
    /// The id as the service spells it.
    #[doc(hidden)]
    fn as_id(&self) -> Cow<'_, str>;

    /// The id as a UUID, when it already is one (no formatting and parsing).
    #[doc(hidden)]
    fn as_uuid(&self) -> Option<uuid::Uuid> {
        None
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for &str {}
    impl Sealed for String {}
    impl Sealed for &String {}
    impl Sealed for uuid::Uuid {}
    impl Sealed for &uuid::Uuid {}
}

impl IdArg for &str {
    fn as_id(&self) -> Cow<'_, str> {
        Cow::Borrowed(self)
    }
}

impl IdArg for String {
    fn as_id(&self) -> Cow<'_, str> {
        Cow::Borrowed(self)
    }
}

impl IdArg for &String {
    fn as_id(&self) -> Cow<'_, str> {
        Cow::Borrowed(self.as_str())
    }
}

impl IdArg for uuid::Uuid {
    fn as_id(&self) -> Cow<'_, str> {
        Cow::Owned(self.hyphenated().to_string())
    }

    fn as_uuid(&self) -> Option<uuid::Uuid> {
        Some(*self)
    }
}

impl IdArg for &uuid::Uuid {
    fn as_id(&self) -> Cow<'_, str> {
        Cow::Owned(self.hyphenated().to_string())
    }

    fn as_uuid(&self) -> Option<uuid::Uuid> {
        Some(**self)
    }
}
