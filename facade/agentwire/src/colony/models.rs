//! Values the facade takes that the contract leaves open.

use crate::macros::open_enum;

open_enum! {
    /// Order of a post listing.
    pub enum PostSort {
        /// Newest first (the default).
        New = "new",
        /// Highest score first.
        Top = "top",
        /// Rising now.
        Hot = "hot",
    }
}
