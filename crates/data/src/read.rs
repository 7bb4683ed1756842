//! Readers: a training data set from JSON Lines, Parquet (one file, or a directory of shards
//! as Hugging Face publishes them), a `datasets.Dataset.save_to_disk` directory (Arrow IPC),
//! a LAReQA folder or a BEIR folder — decided by what the path is.
//!
//! Columns: `query` (or `anchor`, `question`), `positive` (or `passage`, `answer`, `context`), optional
//! `negatives` / `negative` (a string or a list) or `negative_1`, `negative_2`… (as
//! sentence-transformers' n-tuples have them), `id`, `lang`, `query_lang`, `passage_lang`,
//! `doc`. [`Columns`] maps other names.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Mutex;

use crate::error::{DataError, Result};
use crate::pairs::{Builder, Format, LineStore, MAX_ROW_BYTES, PairData, Place, RawRow, Row};

/// A column's role in a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Query,
    Positive,
    Negatives,
    Id,
    Lang,
    QueryLang,
    PassageLang,
    Doc,
}

impl Role {
    pub(crate) const ALL: [Role; 8] = [
        Role::Query,
        Role::Positive,
        Role::Negatives,
        Role::Id,
        Role::Lang,
        Role::QueryLang,
        Role::PassageLang,
        Role::Doc,
    ];
    fn name(self) -> &'static str {
        match self {
            Role::Query => "query",
            Role::Positive => "positive",
            Role::Negatives => "negatives",
            Role::Id => "id",
            Role::Lang => "lang",
            Role::QueryLang => "query_lang",
            Role::PassageLang => "passage_lang",
            Role::Doc => "doc",
        }
    }
    fn aliases(self) -> &'static [&'static str] {
        match self {
            Role::Query => &["query", "anchor", "question"],
            Role::Positive => &["positive", "passage", "answer", "context"],
            Role::Negatives => &["negatives", "negative"],
            Role::Id => &["id"],
            Role::Lang => &["lang", "language"],
            Role::QueryLang => &["query_lang"],
            Role::PassageLang => &["passage_lang"],
            Role::Doc => &["doc"],
        }
    }
}

/// Which column plays which role: the defaults and their aliases, or names given with
/// `--columns query=q,positive=ctx`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Columns {
    pub(crate) given: BTreeMap<Role, String>,
}

impl std::str::FromStr for Columns {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Self> {
        let mut given = BTreeMap::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (role, name) = part.split_once('=').ok_or_else(|| {
                DataError::Invalid(format!("--columns: `{part}` is not ROLE=NAME (e.g. query=question)"))
            })?;
            let r = Role::ALL
                .iter()
                .find(|r| r.name() == role.trim() || (role.trim() == "negative" && **r == Role::Negatives))
                .ok_or_else(|| {
                    DataError::Invalid(format!(
                        "--columns: unknown role `{role}` (query, positive, negatives, id, lang, query_lang, passage_lang, doc)"
                    ))
                })?;
            given.insert(*r, name.trim().to_string());
        }
        Ok(Self { given })
    }
}

impl Columns {
    pub(crate) fn names(&self, r: Role) -> Vec<&str> {
        match self.given.get(&r) {
            Some(n) => vec![n.as_str()],
            None => r.aliases().to_vec(),
        }
    }
    pub(crate) fn describe(&self, r: Role) -> String {
        let n = self.names(r);
        match n.len() {
            1 => format!("`{}`", n[0]),
            _ => format!(
                "`{}` (or {})",
                n[0],
                n[1..].iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ")
            ),
        }
    }
}

/// How to read a data set.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    pub columns: Columns,
    /// The split of a sharded Parquet or `save_to_disk` directory (`train`).
    pub split: String,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            columns: Columns::default(),
            split: "train".into(),
        }
    }
}

/// A string shortened for a message.
pub fn clip(s: &str, n: usize) -> String {
    let mut out: String = s.chars().take(n).collect();
    if s.chars().count() > n {
        out.push('…');
    }
    out
}

/// What a path holds.
pub fn format_of(path: &Path) -> Result<Format> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    if path.is_file() {
        return if name.ends_with(".jsonl") || name.ends_with(".jsonl.gz") || name.ends_with(".ndjson") {
            Ok(Format::Jsonl)
        } else if name.ends_with(".parquet") {
            Ok(Format::Parquet)
        } else if name.ends_with(".arrow") {
            Ok(Format::Arrow)
        } else {
            Err(DataError::Corpus {
                path: path.into(),
                message: "not a data file hbt reads (.jsonl, .jsonl.gz, .parquet, .arrow, or a folder)".into(),
            })
        };
    }
    if !path.is_dir() {
        return Err(DataError::io(
            path,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or directory"),
        ));
    }
    if path.join("dataset_info.json").is_file() || path.join("dataset_dict.json").is_file() {
        return Ok(Format::Arrow);
    }
    if path.join("corpus.jsonl").is_file() && path.join("queries.jsonl").is_file() {
        return Ok(Format::Beir);
    }
    if !crate::tables::parquet_files(path)?.is_empty() {
        return Ok(Format::Parquet);
    }
    Ok(Format::Lareqa)
}

/// Read a data set, whatever its format.
pub fn load(path: &Path, opts: &ReadOptions) -> Result<PairData> {
    match format_of(path)? {
        Format::Lareqa => crate::pairs::from_corpus(&crate::lareqa::load_dir(path)?),
        Format::Beir => from_beir(path, &opts.split),
        Format::Jsonl => load_jsonl(path, &opts.columns),
        Format::Parquet => crate::tables::load_parquet(path, opts),
        Format::Arrow => crate::tables::load_arrow(path, opts),
    }
}

pub(crate) fn name_of(path: &Path) -> String {
    let n = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    for ext in [".jsonl.gz", ".jsonl", ".ndjson", ".parquet", ".arrow"] {
        if let Some(s) = n.strip_suffix(ext) {
            return s.to_string();
        }
    }
    n
}

fn json_type(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "an object",
    }
}

/// One JSON Lines row (None: a blank line).
pub(crate) fn parse_line(line: &[u8], cols: &Columns, place: &Place) -> Result<Option<RawRow>> {
    if line.len() > MAX_ROW_BYTES {
        return Err(place.err(format!(
            "the row is over {} MB; rows over {} MB are refused",
            MAX_ROW_BYTES >> 20,
            MAX_ROW_BYTES >> 20
        )));
    }
    let text = std::str::from_utf8(line).map_err(|e| place.err(format!("not UTF-8: {e}")))?;
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| place.err(format!("not JSON: {e}")))?;
    let serde_json::Value::Object(obj) = v else {
        return Err(place.err(format!("a row must be a JSON object, not {}", json_type(&v))));
    };
    let get = |r: Role| cols.names(r).into_iter().find_map(|n| obj.get(n).map(|v| (n, v)));
    let string = |r: Role, required: bool| -> Result<Option<String>> {
        match get(r) {
            None | Some((_, serde_json::Value::Null)) if required => {
                Err(place.err(format!("no {} column", cols.describe(r))))
            }
            None | Some((_, serde_json::Value::Null)) => Ok(None),
            Some((_, serde_json::Value::String(s))) => Ok(Some(s.clone())),
            Some((_, serde_json::Value::Number(n))) if r == Role::Id => Ok(Some(n.to_string())),
            Some((n, v)) => Err(place.err(format!("`{n}` is {}, expected a string", json_type(v)))),
        }
    };
    let query = string(Role::Query, true)?.unwrap_or_default();
    let positive = string(Role::Positive, true)?.unwrap_or_default();
    let mut negatives = Vec::new();
    match get(Role::Negatives) {
        None | Some((_, serde_json::Value::Null)) => {}
        Some((_, serde_json::Value::String(s))) => negatives.push(s.clone()),
        Some((n, serde_json::Value::Array(a))) => {
            for (i, x) in a.iter().enumerate() {
                match x {
                    serde_json::Value::String(s) => negatives.push(s.clone()),
                    o => {
                        return Err(place.err(format!("`{n}`[{i}] is {}, expected a string", json_type(o))));
                    }
                }
            }
        }
        Some((n, v)) => {
            return Err(place.err(format!(
                "`{n}` is {}, expected a string or a list of strings",
                json_type(v)
            )));
        }
    }
    // sentence-transformers' n-tuples: negative_1, negative_2, …
    if !cols.given.contains_key(&Role::Negatives) {
        for k in 1.. {
            match obj.get(&format!("negative_{k}")) {
                Some(serde_json::Value::String(s)) => negatives.push(s.clone()),
                Some(serde_json::Value::Null) | None => break,
                Some(v) => return Err(place.err(format!("`negative_{k}` is {}, expected a string", json_type(v)))),
            }
        }
    }
    Ok(Some(RawRow {
        id: string(Role::Id, false)?,
        lang: string(Role::Lang, false)?,
        query_lang: string(Role::QueryLang, false)?,
        passage_lang: string(Role::PassageLang, false)?,
        doc: string(Role::Doc, false)?,
        row: Row {
            query,
            positive,
            negatives,
        },
    }))
}

/// Read lines of at most [`MAX_ROW_BYTES`] (a longer one is reported, not held whole).
fn next_line(r: &mut impl BufRead, buf: &mut Vec<u8>, path: &Path) -> Result<usize> {
    buf.clear();
    let n = r
        .take(MAX_ROW_BYTES as u64 + 2)
        .read_until(b'\n', buf)
        .map_err(|e| DataError::io(path, e))?;
    if buf.len() > MAX_ROW_BYTES + 1 {
        // Skip to the end of the too long line so the error can name it; its size is the
        // message.
        let mut rest = buf.len();
        loop {
            let chunk = r.fill_buf().map_err(|e| DataError::io(path, e))?;
            if chunk.is_empty() {
                break;
            }
            match chunk.iter().position(|&b| b == b'\n') {
                Some(p) => {
                    rest += p + 1;
                    r.consume(p + 1);
                    break;
                }
                None => {
                    let l = chunk.len();
                    rest += l;
                    r.consume(l);
                }
            }
        }
        return Ok(rest);
    }
    Ok(n)
}

/// A JSON Lines file (`.jsonl.gz`: decompressed on the fly). Uncompressed files stream:
/// only each row's offset is kept.
pub fn load_jsonl(path: &Path, cols: &Columns) -> Result<PairData> {
    let gz = path.to_string_lossy().ends_with(".gz");
    let f = File::open(path).map_err(|e| DataError::io(path, e))?;
    let mut r: Box<dyn BufRead> = if gz {
        Box::new(BufReader::with_capacity(1 << 20, flate2::read::MultiGzDecoder::new(f)))
    } else {
        Box::new(BufReader::with_capacity(1 << 20, f))
    };
    let mut b = Builder::new(path, Format::Jsonl, gz);
    let mut offsets = Vec::new();
    let mut buf = Vec::new();
    let (mut offset, mut line_no) = (0u64, 0usize);
    loop {
        let n = next_line(&mut r, &mut buf, path)?;
        if n == 0 {
            break;
        }
        line_no += 1;
        let place = Place {
            path,
            what: "line",
            n: line_no,
        };
        if n > MAX_ROW_BYTES + 1 {
            return Err(place.err(format!(
                "the row is {:.1} MB; rows over {} MB are refused",
                n as f64 / (1 << 20) as f64,
                MAX_ROW_BYTES >> 20
            )));
        }
        if let Some(raw) = parse_line(&buf, cols, &place)? {
            b.add(raw, &place)?;
            offsets.push(offset);
        }
        offset += n as u64;
    }
    let lines = (!gz)
        .then(|| -> Result<LineStore> {
            Ok(LineStore {
                path: path.to_path_buf(),
                offsets,
                columns: cols.clone(),
                file: Mutex::new(BufReader::with_capacity(
                    64 << 10,
                    File::open(path).map_err(|e| DataError::io(path, e))?,
                )),
            })
        })
        .transpose()?;
    b.finish(name_of(path), lines)
}

/// A BEIR folder as rows: one per judged-relevant (query, passage) of the `split` qrels
/// (title and text joined as BEIR's baselines do); each row its own group, languages detected.
fn from_beir(path: &Path, split: &str) -> Result<PairData> {
    let set = crate::beir::load_beir(path, split)?;
    let docs: std::collections::HashMap<&str, &crate::beir::Doc> =
        set.docs.iter().map(|d| (d.id.as_str(), d)).collect();
    let mut b = Builder::new(path, Format::Beir, true);
    let mut n = 0;
    for q in &set.queries {
        let Some(rels) = set.qrels.get(&q.id) else { continue };
        let mut rels: Vec<(&String, &i32)> = rels.iter().filter(|(_, s)| **s > 0).collect();
        rels.sort();
        for (did, _) in rels {
            n += 1;
            let place = Place {
                path,
                what: "judgement",
                n,
            };
            let doc = docs
                .get(did.as_str())
                .ok_or_else(|| place.err(format!("query `{}` judges `{did}`, which is not in the corpus", q.id)))?;
            let raw = RawRow {
                row: Row {
                    query: q.text.clone(),
                    positive: doc.passage(),
                    negatives: Vec::new(),
                },
                ..RawRow::default()
            };
            b.add(raw, &place)?;
        }
    }
    b.finish(name_of(path), None)
}
