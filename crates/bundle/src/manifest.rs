//! The static bundle that `hbt export` writes and the web app reads: a model directory, a
//! small corpus with its passage vectors precomputed, and optionally an eval report.
//!
//! ```text
//! BUNDLE/manifest.json          what is where, sizes (the app's progress bar), vocabulary
//! BUNDLE/model/…                an HF + sentence-transformers directory (f16 by default);
//!                               with an on-demand vocabulary, its word table in
//!                               model/word-rows.bin, read a few rows at a time
//!                               (`hbt_model::words`), and the pieces in tokenizer.pieces
//! BUNDLE/corpus.json            passages (id, language, text) and questions with answers
//! BUNDLE/embeddings.safetensors `passages`: [n, dim] f16, unit length, in corpus order
//!                               (or int8 with `passages_scale`, one scale a passage)
//! BUNDLE/report.json            optional: the `hbt eval` report shown as charts
//! ```
//!
//! Only parsing lives here (it compiles for the browser); writing is `hbt-pipeline`'s export.

use std::path::Path;

use serde::{Deserialize, Serialize};

use hbt_model::ModelError;

use crate::Result;

/// Written into every manifest; a reader refuses anything else.
pub const FORMAT: &str = "hbt-bundle/1";
pub const MANIFEST: &str = "manifest.json";
pub use crate::passage_vectors::{
    EMBEDDINGS_TENSOR, embeddings_safetensors, embeddings_safetensors_q8, read_embeddings,
};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub format: String,
    /// The program and version that wrote it.
    pub created_by: String,
    pub model: BundleModel,
    pub corpus: String,
    pub embeddings: String,
    #[serde(default)]
    pub report: Option<String>,
    /// Languages of the passages, in display order.
    pub languages: Vec<String>,
    pub passages: usize,
    pub questions: usize,
    pub dim: usize,
    /// Where the passages came from (a path or a benchmark name).
    pub source: String,
    /// Every file of the bundle with its size, for progress bars and integrity checks.
    pub files: Vec<BundleFile>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BundleModel {
    /// Folder of the model inside the bundle.
    pub dir: String,
    /// A name for people (the source model directory's name).
    pub label: String,
    /// `f16` or `f32`.
    pub dtype: String,
    /// Files of the model folder, relative to it, that a reader downloads whole (an
    /// on-demand vocabulary's rows file is not among them).
    pub files: Vec<String>,
    #[serde(default)]
    pub vocab: Option<VocabInfo>,
    /// How the vocabulary ships: the full table, pruned to some languages, or on demand.
    #[serde(default)]
    pub vocab_kind: VocabKind,
    /// With an on-demand vocabulary: where its rows are and how a reader pages them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub word_rows: Option<WordRowsInfo>,
}

/// How a bundle's vocabulary ships (`hbt export --vocab`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VocabKind {
    /// Every row of the table in `model.safetensors`.
    #[default]
    Full,
    /// Only the rows some texts and word lists need (offline bundles).
    Pruned,
    /// The table in a rows file fetched as queries need it; the full tokenizer.
    OnDemand,
}

impl VocabKind {
    pub fn label(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::Pruned => "pruned",
            Self::OnDemand => "on-demand",
        }
    }
}

impl std::str::FromStr for VocabKind {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "full" => Ok(Self::Full),
            "pruned" => Ok(Self::Pruned),
            "on-demand" => Ok(Self::OnDemand),
            o => Err(format!("unknown vocabulary kind `{o}` (full, pruned, on-demand)")),
        }
    }
}

/// An on-demand vocabulary's rows file, as a reader fetches it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WordRowsInfo {
    /// Path inside the bundle (also in [`Manifest::files`], with its size and hash).
    pub path: String,
    pub layout: hbt_model::words::RowsLayout,
    /// Rows a page: the unit a reader fetches and caches.
    pub page_rows: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct VocabInfo {
    pub before: usize,
    pub after: usize,
    /// `model.safetensors` bytes without and with pruning (same dtype).
    pub weights_bytes_full: u64,
    pub weights_bytes_pruned: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BundleFile {
    pub path: String,
    pub bytes: u64,
    /// Hex SHA-256 of the file: the browser keys its Cache API copy by it, so a changed
    /// file is downloaded again and an unchanged one never is. Absent in older bundles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Passage {
    pub id: String,
    pub lang: String,
    pub text: String,
    /// A docs site's section: where it is (`page.html#anchor`), and its page and section
    /// titles (`hbt export --docs`). Absent for benchmark passages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section: Option<String>,
    /// Hex SHA-256 of what was embedded (model files and text): a later export re-embeds
    /// only the passages whose hash changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
}

/// A question with known answers in the bundle (LAReQA: the answer sentence in every
/// language, i.e. its parallel passages).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BundleQuestion {
    pub id: String,
    pub lang: String,
    pub text: String,
    /// Indices into [`BundleCorpus::passages`].
    pub answers: Vec<usize>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct BundleCorpus {
    pub passages: Vec<Passage>,
    #[serde(default)]
    pub questions: Vec<BundleQuestion>,
}

fn json<T: for<'de> Deserialize<'de>>(bytes: &[u8], origin: &Path) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|source| ModelError::Json {
        path: origin.to_path_buf(),
        source,
    })
}

impl Manifest {
    pub fn parse(bytes: &[u8], origin: &Path) -> Result<Self> {
        let v: serde_json::Value = json(bytes, origin)?;
        match v.get("format").and_then(|f| f.as_str()) {
            Some(FORMAT) => {}
            Some(other) => {
                return Err(ModelError::config(
                    origin,
                    format!("bundle format `{other}` is not supported (this build reads `{FORMAT}`)"),
                ));
            }
            None => {
                return Err(ModelError::config(
                    origin,
                    "not an hbt bundle manifest (no `format` field)",
                ));
            }
        }
        let m: Manifest = json(bytes, origin)?;
        if m.dim == 0 || m.passages == 0 {
            return Err(ModelError::config(origin, "the bundle has no passages"));
        }
        match (&m.model.vocab_kind, &m.model.word_rows) {
            (VocabKind::OnDemand, None) => {
                return Err(ModelError::config(
                    origin,
                    "an on-demand vocabulary without `word_rows` (where its rows are)",
                ));
            }
            (VocabKind::OnDemand, Some(w)) => {
                let listed = m.file(&w.path).map(|f| f.bytes);
                if listed != Some(w.layout.file_bytes()) {
                    return Err(ModelError::config(
                        origin,
                        format!(
                            "`{}` should be listed with {} bytes ({} rows of {}), the manifest says {listed:?}",
                            w.path,
                            w.layout.file_bytes(),
                            w.layout.rows,
                            w.layout.record
                        ),
                    ));
                }
                if w.page_rows == 0 {
                    return Err(ModelError::config(origin, "`word_rows.page_rows` is 0"));
                }
            }
            _ => {}
        }
        Ok(m)
    }

    pub fn total_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.bytes).sum()
    }

    /// Bytes a reader downloads before its first answer: every file but an on-demand
    /// vocabulary's rows.
    pub fn download_bytes(&self) -> u64 {
        let rows = self.model.word_rows.as_ref().map(|w| w.path.as_str());
        self.files
            .iter()
            .filter(|f| Some(f.path.as_str()) != rows)
            .map(|f| f.bytes)
            .sum()
    }

    /// The entry of a bundle file (its size and hash), if the manifest lists it.
    pub fn file(&self, path: &str) -> Option<&BundleFile> {
        self.files.iter().find(|f| f.path == path)
    }
}

impl BundleCorpus {
    /// Parse and check that every answer points at a passage.
    pub fn parse(bytes: &[u8], origin: &Path) -> Result<Self> {
        let c: BundleCorpus = json(bytes, origin)?;
        for q in &c.questions {
            if let Some(&a) = q.answers.iter().find(|&&a| a >= c.passages.len()) {
                return Err(ModelError::config(
                    origin,
                    format!(
                        "question {} names passage {a}, but there are {}",
                        q.id,
                        c.passages.len()
                    ),
                ));
            }
        }
        Ok(c)
    }

    /// Languages in order of first appearance.
    pub fn languages(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for p in &self.passages {
            if !out.contains(&p.lang) {
                out.push(p.lang.clone());
            }
        }
        out
    }
}

/// The most passages a visitor's file may hold: each is embedded in the browser (about a
/// second per 8 on a laptop CPU), so a larger file belongs in `hbt export`.
pub const MAX_USER_PASSAGES: usize = 20_000;

/// The language of passages whose file does not say (BCP 47 "undetermined").
pub const UNKNOWN_LANG: &str = "und";

/// What a passages file must hold: the one JSON-lines reader serves a visitor's dropped
/// file and `hbt export`'s corpus, which differ only in these rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PassageRules {
    /// One JSON object a line (else UTF-8 text, one passage a non-empty line).
    pub json_lines: bool,
    /// Every object must name its `id` and `lang` (a bundle's passages are answers and
    /// languages of the bias view; a visitor's may leave them out).
    pub need_id_and_lang: bool,
    /// The most passages the file may hold.
    pub max: Option<usize>,
}

impl PassageRules {
    /// A visitor's file: `*.jsonl` / `*.ndjson` are JSON lines with a `text` string and
    /// optional `lang` and `id`; anything else is text; at most [`MAX_USER_PASSAGES`].
    pub fn visitor(name: &str) -> Self {
        let lower = name.to_ascii_lowercase();
        Self {
            json_lines: lower.ends_with(".jsonl") || lower.ends_with(".ndjson"),
            need_id_and_lang: false,
            max: Some(MAX_USER_PASSAGES),
        }
    }

    /// An exported bundle's corpus: JSON lines, each with `id`, `lang` and `text`.
    pub const EXPORT: Self = Self {
        json_lines: true,
        need_id_and_lang: true,
        max: None,
    };
}

/// A visitor's own passages, from a file dropped on the page ([`PassageRules::visitor`]).
pub fn parse_user_passages(bytes: &[u8], name: &str) -> Result<Vec<Passage>> {
    parse_passages(bytes, name, PassageRules::visitor(name))
}

/// Passages from a file's bytes under `rules`. Errors name the file and line.
pub fn parse_passages(bytes: &[u8], name: &str, rules: PassageRules) -> Result<Vec<Passage>> {
    let origin = Path::new(name);
    let text = std::str::from_utf8(bytes).map_err(|e| {
        ModelError::config(
            origin,
            format!("not UTF-8 text (invalid byte at offset {})", e.valid_up_to()),
        )
    })?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let n = i + 1;
        if rules.max == Some(out.len()) {
            return Err(ModelError::config(
                origin,
                format!(
                    "more than {} passages (line {n}): split the file, or export a bundle with `hbt export`",
                    out.len()
                ),
            ));
        }
        out.push(if rules.json_lines {
            json_line(line, n, origin, rules.need_id_and_lang)?
        } else {
            Passage {
                id: format!("line {n}"),
                lang: UNKNOWN_LANG.to_string(),
                text: line.to_string(),
                ..Default::default()
            }
        });
    }
    if out.is_empty() {
        return Err(ModelError::config(origin, "no passages (the file is empty)"));
    }
    Ok(out)
}

/// One JSON-lines passage (line `n`).
fn json_line(line: &str, n: usize, origin: &Path, need_id_and_lang: bool) -> Result<Passage> {
    let v: serde_json::Value =
        serde_json::from_str(line).map_err(|e| ModelError::config(origin, format!("line {n} is not JSON: {e}")))?;
    if !v.is_object() {
        return Err(ModelError::config(
            origin,
            format!("line {n}: expected an object with a `text` field"),
        ));
    }
    let field = |k: &str| -> Result<Option<String>> {
        match v.get(k) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s.trim().to_string()).filter(|s| !s.is_empty())),
            Some(serde_json::Value::Number(x)) if k == "id" => Ok(Some(x.to_string())),
            Some(_) => Err(ModelError::config(origin, format!("line {n}: `{k}` is not a string"))),
        }
    };
    let text =
        field("text")?.ok_or_else(|| ModelError::config(origin, format!("line {n}: no `text` (or it is empty)")))?;
    let (id, lang) = (field("id")?, field("lang")?);
    if need_id_and_lang {
        for (k, v) in [("id", &id), ("lang", &lang)] {
            if v.is_none() {
                return Err(ModelError::config(
                    origin,
                    format!("line {n}: no `{k}` (a bundle's passages need `id`, `lang` and `text`)"),
                ));
            }
        }
    }
    Ok(Passage {
        id: id.unwrap_or_else(|| format!("line {n}")),
        lang: lang.unwrap_or_else(|| UNKNOWN_LANG.into()),
        text,
        ..Default::default()
    })
}
