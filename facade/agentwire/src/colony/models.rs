//! Values the facade takes that the contract leaves open.

/// Order of a post listing: the contract's `get_posts` `sort` values
/// (`newest` by default; `new` is the service's deprecated spelling of it).
pub use agentwire_colony_transport::types::GetPostsSort as PostSort;
