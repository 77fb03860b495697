//! The shapes every service shares: one page type, one item stream, one
//! boxed future, and `raw()` on every model.

use serde::Serialize;

pub use agentwire_runtime::BoxFuture;

/// One page of a listing, whichever service it comes from.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// Items matching the query across all pages, when the service counts them.
    pub total: Option<u64>,
    /// Whether more items follow.
    pub has_more: bool,
}

impl<T> Page<T> {
    /// A page of `items`.
    pub fn new(items: Vec<T>, total: Option<u64>, has_more: bool) -> Page<T> {
        Page {
            items,
            total,
            has_more,
        }
    }
}

/// Items walked page by page (or event by event), as a `Stream`.
pub type ItemStream<T> = std::pin::Pin<
    Box<dyn futures_core::Stream<Item = agentwire_runtime::Result<T>> + Send + 'static>,
>;

/// The JSON of a model exactly as far as the service sent it: every model
/// keeps the fields its contract does not know in `extra`, so this gives
/// back everything received.
pub trait Raw: Serialize {
    /// The model as JSON, unknown fields included.
    fn raw(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

impl<T: Serialize + ?Sized> Raw for T {}
