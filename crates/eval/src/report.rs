//! The report types live in hbt-report (serde only, shared with the browser app).

pub use hbt_report::report::*;
