//! The contract pipeline shared by `cargo xtask` and the surface tests.
//!
//! upstream document --[`filter`]--> public operations --[`normalize`]--> OpenAPI 3.0.3
//! that progenitor reads. [`surface`] extracts the reviewable public surface of a
//! normalized document and [`drift`] compares two of them.

pub mod drift;
pub mod filter;
pub mod normalize;
pub mod surface;
