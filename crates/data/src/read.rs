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
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, Schema};

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
    const ALL: [Role; 8] = [
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
    given: BTreeMap<Role, String>,
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
    fn names(&self, r: Role) -> Vec<&str> {
        match self.given.get(&r) {
            Some(n) => vec![n.as_str()],
            None => r.aliases().to_vec(),
        }
    }
    fn describe(&self, r: Role) -> String {
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
    if !parquet_files(path)?.is_empty() {
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
        Format::Parquet => load_parquet(path, opts),
        Format::Arrow => load_arrow(path, opts),
    }
}

fn name_of(path: &Path) -> String {
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

/// Parquet files under a directory, sorted.
fn parquet_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    let mut seen = 0;
    while let Some(d) = stack.pop() {
        seen += 1;
        if seen > 10_000 {
            return Err(DataError::Corpus {
                path: dir.into(),
                message: "more than 10,000 folders under it (a link loop?)".into(),
            });
        }
        for e in std::fs::read_dir(&d).map_err(|e| DataError::io(&d, e))? {
            let e = e.map_err(|e| DataError::io(&d, e))?;
            let p = e.path();
            let ft = e.file_type().map_err(|e| DataError::io(&p, e))?;
            if ft.is_dir() && !e.file_name().to_string_lossy().starts_with('.') {
                stack.push(p);
            } else if ft.is_file() && p.extension().is_some_and(|x| x == "parquet") {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The split a shard belongs to: `train-00000-of-00004.parquet`, `train.parquet`, or a
/// folder named for the split (`default/train/0000.parquet`).
fn shard_split(dir: &Path, p: &Path) -> Option<String> {
    let stem = p.file_stem()?.to_string_lossy().into_owned();
    if let Some((split, _)) = stem.split_once('-')
        && !split.is_empty()
        && !split.chars().all(|c| c.is_ascii_digit())
    {
        return Some(split.to_string());
    }
    let parent = p.parent()?;
    if parent != dir && stem.chars().all(|c| c.is_ascii_digit()) {
        return Some(parent.file_name()?.to_string_lossy().into_owned());
    }
    Some(stem)
}

fn load_parquet(path: &Path, opts: &ReadOptions) -> Result<PairData> {
    let files = if path.is_file() {
        vec![path.to_path_buf()]
    } else {
        let all = parquet_files(path)?;
        let mine: Vec<PathBuf> = all
            .iter()
            .filter(|p| shard_split(path, p).as_deref() == Some(opts.split.as_str()))
            .cloned()
            .collect();
        if mine.is_empty() {
            let mut splits: Vec<String> = all.iter().filter_map(|p| shard_split(path, p)).collect();
            splits.sort();
            splits.dedup();
            return Err(DataError::Corpus {
                path: path.into(),
                message: format!(
                    "no Parquet shard of split `{}` (it has: {}); choose one with --split",
                    opts.split,
                    splits.join(", ")
                ),
            });
        }
        mine
    };
    let mut b = Builder::new(path, Format::Parquet, true);
    let mut first: Option<(PathBuf, Schema)> = None;
    for f in &files {
        let file = File::open(f).map_err(|e| DataError::io(f, e))?;
        let bad = |e: parquet::errors::ParquetError| DataError::Corpus {
            path: f.clone(),
            message: format!("not a readable Parquet file: {e}"),
        };
        let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).map_err(bad)?;
        let schema = builder.schema().as_ref().clone();
        same_schema(&mut first, f, &schema)?;
        let cols = resolve(&schema, &opts.columns, f)?;
        let reader = builder.with_batch_size(8192).build().map_err(bad)?;
        let mut row = 0;
        for batch in reader {
            let batch = batch.map_err(|e| DataError::Corpus {
                path: f.clone(),
                message: format!("a damaged Parquet file (after row {row}): {e}"),
            })?;
            add_batch(&mut b, &batch, &cols, f, &mut row)?;
        }
    }
    let name = if path.is_file() {
        name_of(path)
    } else {
        format!("{}:{}", name_of(path), opts.split)
    };
    b.finish(name, None)
}

fn same_schema(first: &mut Option<(PathBuf, Schema)>, f: &Path, s: &Schema) -> Result<()> {
    match first {
        None => *first = Some((f.to_path_buf(), s.clone())),
        Some((p0, s0)) => {
            let fields = |s: &Schema| -> Vec<(String, DataType)> {
                s.fields()
                    .iter()
                    .map(|x| (x.name().clone(), x.data_type().clone()))
                    .collect()
            };
            if fields(s0) != fields(s) {
                return Err(DataError::Corpus {
                    path: f.into(),
                    message: format!(
                        "its columns differ from the first shard's ({}): {:?} vs {:?}",
                        p0.display(),
                        fields(s),
                        fields(s0)
                    ),
                });
            }
        }
    }
    Ok(())
}

/// Column indices by role, checked against the schema's types.
struct Resolved {
    idx: BTreeMap<Role, (usize, String)>,
    extra_negatives: Vec<usize>,
}

fn resolve(schema: &Schema, cols: &Columns, f: &Path) -> Result<Resolved> {
    let mut idx = BTreeMap::new();
    for r in Role::ALL {
        if let Some((i, n)) = cols
            .names(r)
            .into_iter()
            .find_map(|n| schema.index_of(n).ok().map(|i| (i, n.to_string())))
        {
            let t = schema.field(i).data_type();
            let ok = match r {
                Role::Negatives => {
                    is_str(t) || matches!(t, DataType::List(x) | DataType::LargeList(x) if is_str(x.data_type()))
                }
                Role::Id => is_str(t) || t.is_integer(),
                _ => is_str(t),
            };
            if !ok {
                return Err(DataError::Corpus {
                    path: f.into(),
                    message: format!(
                        "column `{n}` is {t}, expected {}",
                        match r {
                            Role::Negatives => "a string or a list of strings",
                            Role::Id => "a string or an integer",
                            _ => "a string",
                        }
                    ),
                });
            }
            idx.insert(r, (i, n));
        } else if matches!(r, Role::Query | Role::Positive) {
            return Err(DataError::Corpus {
                path: f.into(),
                message: format!(
                    "no {} column (it has: {})",
                    cols.describe(r),
                    schema
                        .fields()
                        .iter()
                        .map(|x| x.name().as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
    }
    let mut extra_negatives = Vec::new();
    if !cols.given.contains_key(&Role::Negatives) {
        for k in 1.. {
            match schema.index_of(&format!("negative_{k}")) {
                Ok(i) if is_str(schema.field(i).data_type()) => extra_negatives.push(i),
                _ => break,
            }
        }
    }
    Ok(Resolved { idx, extra_negatives })
}

fn is_str(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

/// A string cell (None: null).
fn str_at(a: &dyn Array, i: usize) -> Option<String> {
    use arrow_array::cast::AsArray;
    if a.is_null(i) {
        return None;
    }
    Some(match a.data_type() {
        DataType::Utf8 => a.as_string::<i32>().value(i).to_string(),
        DataType::LargeUtf8 => a.as_string::<i64>().value(i).to_string(),
        DataType::Utf8View => a.as_string_view().value(i).to_string(),
        DataType::Int64 => a.as_primitive::<arrow_array::types::Int64Type>().value(i).to_string(),
        DataType::Int32 => a.as_primitive::<arrow_array::types::Int32Type>().value(i).to_string(),
        DataType::UInt64 => a.as_primitive::<arrow_array::types::UInt64Type>().value(i).to_string(),
        DataType::UInt32 => a.as_primitive::<arrow_array::types::UInt32Type>().value(i).to_string(),
        DataType::Int16 => a.as_primitive::<arrow_array::types::Int16Type>().value(i).to_string(),
        DataType::UInt16 => a.as_primitive::<arrow_array::types::UInt16Type>().value(i).to_string(),
        DataType::Int8 => a.as_primitive::<arrow_array::types::Int8Type>().value(i).to_string(),
        DataType::UInt8 => a.as_primitive::<arrow_array::types::UInt8Type>().value(i).to_string(),
        _ => return None,
    })
}

fn add_batch(b: &mut Builder, batch: &RecordBatch, cols: &Resolved, f: &Path, row: &mut usize) -> Result<()> {
    use arrow_array::cast::AsArray;
    let col = |r: Role| cols.idx.get(&r).map(|(i, _)| batch.column(*i).as_ref());
    for i in 0..batch.num_rows() {
        *row += 1;
        let place = Place {
            path: f,
            what: "row",
            n: *row,
        };
        let text = |r: Role| col(r).and_then(|a| str_at(a, i));
        let required = |r: Role| text(r).ok_or_else(|| place.err(format!("`{}` is null", cols.idx[&r].1)));
        let mut negatives = Vec::new();
        if let Some(a) = col(Role::Negatives)
            && !a.is_null(i)
        {
            let list = match a.data_type() {
                DataType::List(_) => Some(a.as_list::<i32>().value(i)),
                DataType::LargeList(_) => Some(a.as_list::<i64>().value(i)),
                _ => None,
            };
            match list {
                Some(l) => {
                    for k in 0..l.len() {
                        negatives
                            .push(str_at(l.as_ref(), k).ok_or_else(|| {
                                place.err(format!("`{}`[{k}] is null", cols.idx[&Role::Negatives].1))
                            })?);
                    }
                }
                None => negatives.extend(str_at(a, i)),
            }
        }
        for &k in &cols.extra_negatives {
            match str_at(batch.column(k).as_ref(), i) {
                Some(s) => negatives.push(s),
                None => break,
            }
        }
        let raw = RawRow {
            id: text(Role::Id),
            lang: text(Role::Lang),
            query_lang: text(Role::QueryLang),
            passage_lang: text(Role::PassageLang),
            doc: text(Role::Doc),
            row: Row {
                query: required(Role::Query)?,
                positive: required(Role::Positive)?,
                negatives,
            },
        };
        let size =
            raw.row.query.len() + raw.row.positive.len() + raw.row.negatives.iter().map(String::len).sum::<usize>();
        if size > MAX_ROW_BYTES {
            return Err(place.err(format!(
                "the row is {:.1} MB; rows over {} MB are refused",
                size as f64 / (1 << 20) as f64,
                MAX_ROW_BYTES >> 20
            )));
        }
        b.add(raw, &place)?;
    }
    Ok(())
}

/// `datasets.Dataset.save_to_disk`: `state.json` names the Arrow IPC stream files in order;
/// a `DatasetDict` has one such folder per split.
fn load_arrow(path: &Path, opts: &ReadOptions) -> Result<PairData> {
    let (dir, files) = if path.is_file() {
        (
            path.parent().unwrap_or(Path::new(".")).to_path_buf(),
            vec![path.to_path_buf()],
        )
    } else {
        let dir = if path.join("dataset_dict.json").is_file() {
            let d = path.join(&opts.split);
            if !d.is_dir() {
                return Err(DataError::Corpus {
                    path: path.into(),
                    message: format!("no split `{}` in this DatasetDict; choose one with --split", opts.split),
                });
            }
            d
        } else {
            path.to_path_buf()
        };
        let state = dir.join("state.json");
        let files = match std::fs::read(&state) {
            Ok(bytes) => {
                #[derive(serde::Deserialize)]
                struct State {
                    #[serde(rename = "_data_files")]
                    data_files: Vec<DataFile>,
                }
                #[derive(serde::Deserialize)]
                struct DataFile {
                    filename: String,
                }
                let s: State = serde_json::from_slice(&bytes).map_err(|e| DataError::json(&state, e))?;
                s.data_files.into_iter().map(|d| dir.join(d.filename)).collect()
            }
            Err(_) => {
                let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
                    .map_err(|e| DataError::io(&dir, e))?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "arrow"))
                    .collect();
                v.sort();
                v
            }
        };
        (dir, files)
    };
    if files.is_empty() {
        return Err(DataError::Corpus {
            path: dir,
            message: "no .arrow files".into(),
        });
    }
    let mut b = Builder::new(path, Format::Arrow, true);
    let mut first = None;
    for f in &files {
        let file = File::open(f).map_err(|e| DataError::io(f, e))?;
        let bad = |e: arrow_schema::ArrowError| DataError::Corpus {
            path: f.clone(),
            message: format!("not a readable Arrow IPC file: {e}"),
        };
        let mut head = [0u8; 6];
        let is_file_format = File::open(f).and_then(|mut x| x.read_exact(&mut head)).is_ok() && &head == b"ARROW1";
        let batches: Box<dyn Iterator<Item = std::result::Result<RecordBatch, arrow_schema::ArrowError>>>;
        let schema;
        if is_file_format {
            let r = arrow_ipc::reader::FileReader::try_new(file, None).map_err(bad)?;
            schema = r.schema().as_ref().clone();
            batches = Box::new(r);
        } else {
            let r = arrow_ipc::reader::StreamReader::try_new(BufReader::new(file), None).map_err(bad)?;
            schema = r.schema().as_ref().clone();
            batches = Box::new(r);
        }
        same_schema(&mut first, f, &schema)?;
        let cols = resolve(&schema, &opts.columns, f)?;
        let mut row = 0;
        for batch in batches {
            let batch = batch.map_err(|e| DataError::Corpus {
                path: f.clone(),
                message: format!("a damaged Arrow file (after row {row}): {e}"),
            })?;
            add_batch(&mut b, &batch, &cols, f, &mut row)?;
        }
    }
    b.finish(name_of(path), None)
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
