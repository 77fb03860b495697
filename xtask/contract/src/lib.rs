//! The contract pipeline shared by `cargo xtask` and the surface tests.
//!
//! upstream document --[`filter`]--> public operations --[`normalize`]--> OpenAPI 3.0.3
//! that progenitor reads. [`surface`] extracts the reviewable public surface of a
//! normalized document and [`drift`] compares two of them; [`example`] makes a
//! value for one of its schemas (the sandbox's answers, the conformance calls).

pub mod drift;
pub mod example;
pub mod filter;
pub mod import;
pub mod normalize;
pub mod overlay;
pub mod surface;
