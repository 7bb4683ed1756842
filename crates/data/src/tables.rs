//! Tables: Parquet files (one, or a directory of shards chosen by split) and `datasets`
//! `save_to_disk` folders (Arrow IPC), read through the Apache Arrow crates into rows.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, Schema};

use crate::error::{DataError, Result};
use crate::pairs::{Builder, Format, MAX_ROW_BYTES, PairData, Place, RawRow, Row};
use crate::read::{Columns, ReadOptions, Role, name_of};

/// Parquet files under a directory, sorted.
pub(crate) fn parquet_files(dir: &Path) -> Result<Vec<PathBuf>> {
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

pub(crate) fn load_parquet(path: &Path, opts: &ReadOptions) -> Result<PairData> {
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
pub(crate) fn load_arrow(path: &Path, opts: &ReadOptions) -> Result<PairData> {
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
