#[path = "../../../../tests/support/roots.rs"]
mod roots;
pub use roots::*;
