//! What the bias view computes from a ranking: [`hbt_report::bias`] (tested natively there).

pub use hbt_report::bias::*;
pub use hbt_report::charts::language_colour;
pub use hbt_report::lang::display_name as language_name;
