//! Query and passage prefixes: models such as e5 were trained with `query: ` and
//! `passage: ` before each text, and expect them at inference.

use serde::{Deserialize, Serialize};

/// Whether a text is a query or a passage: models such as e5 expect different prefixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TextKind {
    Query,
    Passage,
    /// No prefix at all.
    Plain,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prefixes {
    pub query: String,
    pub passage: String,
}

impl Prefixes {
    pub fn e5() -> Self {
        Self {
            query: "query: ".into(),
            passage: "passage: ".into(),
        }
    }
    pub fn apply(&self, kind: TextKind, text: &str) -> String {
        match kind {
            TextKind::Query => format!("{}{text}", self.query),
            TextKind::Passage => format!("{}{text}", self.passage),
            TextKind::Plain => text.to_string(),
        }
    }
}
