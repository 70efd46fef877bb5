//! ssefeed: the news wire of the social and solidarity economy.
//!
//! Data flows through one module per stage, glued together by [`pipeline`]:
//!
//! ```text
//! config ─┐
//!         ▼
//! schedule → fetch → extract → normalize → store → publish → serve
//! ```
//!
//! Every stage hands plain data to the next; none reaches into another's
//! internals. `main.rs` only parses arguments and maps results to exit codes.

pub mod check;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod dates;
pub mod extract;
pub mod fetch;
pub mod metrics;
pub mod normalize;
pub mod opml_import;
pub mod pipeline;
pub mod publish;
pub mod schedule;
pub mod serve;
pub mod status;
pub mod store;
pub mod text;
pub mod websub;
