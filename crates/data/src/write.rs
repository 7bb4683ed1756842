//! Writers: a data set as JSON Lines or Parquet, in the column names the readers take
//! (`id`, `query_lang`, `passage_lang`, `doc`, `query`, `positive`, `negatives`), so that
//! what `hbt data convert` writes reads back to the same rows, groups and split.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{ListBuilder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};

use crate::error::{DataError, Result};
use crate::pairs::PairData;

/// One row as the writers see it.
struct Out {
    id: Option<String>,
    query_lang: String,
    passage_lang: String,
    doc: Option<String>,
    row: crate::pairs::Row,
}

fn rows<'a>(d: &'a PairData, negatives: Option<&'a [Vec<String>]>) -> impl Iterator<Item = Result<Out>> + 'a {
    (0..d.row_count()).map(move |r| {
        let (q, p) = d.row_langs(r);
        let mut row = d.row(r)?;
        if let Some(n) = negatives {
            row.negatives = n[r].clone();
        }
        Ok(Out {
            id: d.has_ids().then(|| d.group_id(d.row_group(r))),
            query_lang: d.langs[q as usize].clone(),
            passage_lang: d.langs[p as usize].clone(),
            doc: d.row_doc(r).map(|x| d.doc_name(x as usize).to_string()),
            row,
        })
    })
}

/// The data set written by `out`'s extension (`.parquet`; otherwise JSON Lines), each row's
/// negatives replaced by `negatives[row]` where given (`hbt mine`).
pub fn write(d: &PairData, out: &Path, negatives: Option<&[Vec<String>]>) -> Result<usize> {
    if let Some(n) = negatives
        && n.len() != d.row_count()
    {
        return Err(DataError::Invalid(format!(
            "{} negatives lists for {} rows",
            n.len(),
            d.row_count()
        )));
    }
    if out.extension().is_some_and(|e| e == "parquet") {
        write_parquet_with(d, out, negatives)
    } else {
        write_jsonl_with(d, out, negatives)
    }
}

/// Write to `tmp` beside `out`, then rename: a failed conversion leaves no half file.
fn atomically(out: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let tmp = out.with_extension(format!(
        "{}.part",
        out.extension()
            .map(|e| e.to_string_lossy().into_owned())
            .unwrap_or_default()
    ));
    let r = write(&tmp);
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
        return r;
    }
    std::fs::rename(&tmp, out).map_err(|e| DataError::io(out, e))
}

/// JSON Lines (gzip-compressed when `out` ends in `.gz`).
pub fn write_jsonl(d: &PairData, out: &Path) -> Result<usize> {
    write_jsonl_with(d, out, None)
}

fn write_jsonl_with(d: &PairData, out: &Path, negatives: Option<&[Vec<String>]>) -> Result<usize> {
    let mut n = 0;
    atomically(out, |tmp| {
        let f = std::fs::File::create(tmp).map_err(|e| DataError::io(tmp, e))?;
        let mut w: Box<dyn Write> = if out.to_string_lossy().ends_with(".gz") {
            Box::new(flate2::write::GzEncoder::new(
                std::io::BufWriter::new(f),
                flate2::Compression::default(),
            ))
        } else {
            Box::new(std::io::BufWriter::with_capacity(1 << 20, f))
        };
        for o in rows(d, negatives) {
            let o = o?;
            let mut m = serde_json::Map::new();
            if let Some(id) = o.id {
                m.insert("id".into(), id.into());
            }
            if o.query_lang == o.passage_lang {
                m.insert("lang".into(), o.query_lang.into());
            } else {
                m.insert("query_lang".into(), o.query_lang.into());
                m.insert("passage_lang".into(), o.passage_lang.into());
            }
            if let Some(doc) = o.doc {
                m.insert("doc".into(), doc.into());
            }
            m.insert("query".into(), o.row.query.into());
            m.insert("positive".into(), o.row.positive.into());
            if !o.row.negatives.is_empty() {
                m.insert("negatives".into(), o.row.negatives.into());
            }
            serde_json::to_writer(&mut w, &serde_json::Value::Object(m))
                .map_err(|e| DataError::Invalid(e.to_string()))?;
            w.write_all(b"\n").map_err(|e| DataError::io(tmp, e))?;
            n += 1;
        }
        w.flush().map_err(|e| DataError::io(tmp, e))?;
        drop(w);
        Ok(())
    })?;
    Ok(n)
}

/// Parquet (Snappy), in row groups of 64k rows.
pub fn write_parquet(d: &PairData, out: &Path) -> Result<usize> {
    write_parquet_with(d, out, None)
}

fn write_parquet_with(d: &PairData, out: &Path, negatives: Option<&[Vec<String>]>) -> Result<usize> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, true),
        Field::new("query_lang", DataType::Utf8, false),
        Field::new("passage_lang", DataType::Utf8, false),
        Field::new("doc", DataType::Utf8, true),
        Field::new("query", DataType::Utf8, false),
        Field::new("positive", DataType::Utf8, false),
        Field::new(
            "negatives",
            DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
            true,
        ),
    ]));
    let mut n = 0;
    atomically(out, |tmp| {
        let f = std::fs::File::create(tmp).map_err(|e| DataError::io(tmp, e))?;
        let props = parquet::file::properties::WriterProperties::builder()
            .set_compression(parquet::basic::Compression::SNAPPY)
            .build();
        let pq = |e: parquet::errors::ParquetError| DataError::Corpus {
            path: tmp.to_path_buf(),
            message: e.to_string(),
        };
        let mut w = parquet::arrow::ArrowWriter::try_new(f, schema.clone(), Some(props)).map_err(pq)?;
        let mut it = rows(d, negatives).peekable();
        while it.peek().is_some() {
            let mut cols: Vec<StringBuilder> = (0..6).map(|_| StringBuilder::new()).collect();
            let mut negs = ListBuilder::new(StringBuilder::new());
            for o in it.by_ref().take(1 << 16) {
                let o = o?;
                cols[0].append_option(o.id);
                cols[1].append_value(o.query_lang);
                cols[2].append_value(o.passage_lang);
                cols[3].append_option(o.doc);
                cols[4].append_value(o.row.query);
                cols[5].append_value(o.row.positive);
                for x in &o.row.negatives {
                    negs.values().append_value(x);
                }
                negs.append(true);
                n += 1;
            }
            let mut arrays: Vec<ArrayRef> = cols.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef).collect();
            arrays.push(Arc::new(negs.finish()));
            let batch = RecordBatch::try_new(schema.clone(), arrays).map_err(|e| DataError::Invalid(e.to_string()))?;
            w.write(&batch).map_err(pq)?;
        }
        w.close().map_err(pq)?;
        Ok(())
    })?;
    Ok(n)
}
