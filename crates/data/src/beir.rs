//! BEIR / MIRACL layout: `corpus.jsonl` (or `.jsonl.gz`) of `{_id, title, text}` (MIRACL:
//! `docid`), `queries.jsonl` of `{_id, text}` or a topics TSV (`qid<TAB>query`), and qrels
//! as BEIR TSV (`query-id corpus-id score`, header optional) or TREC (`qid 0 docid rel`).

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{DataError, Result};

#[derive(Debug, Clone)]
pub struct Doc {
    pub id: String,
    pub title: String,
    pub text: String,
}

impl Doc {
    /// Title and text as one passage, as BEIR's dense baselines do.
    pub fn passage(&self) -> String {
        if self.title.is_empty() {
            self.text.clone()
        } else {
            format!("{} {}", self.title, self.text)
        }
    }
}

#[derive(Debug, Clone)]
pub struct Query {
    pub id: String,
    pub text: String,
}

#[derive(Debug, Clone)]
pub struct BeirSet {
    pub dir: PathBuf,
    pub docs: Vec<Doc>,
    pub queries: Vec<Query>,
    /// query id -> doc id -> graded relevance (> 0 is relevant).
    pub qrels: BTreeMap<String, HashMap<String, i32>>,
}

#[derive(Deserialize)]
struct RawDoc {
    #[serde(alias = "docid")]
    _id: String,
    #[serde(default)]
    title: String,
    text: String,
}

#[derive(Deserialize)]
struct RawQuery {
    #[serde(alias = "query_id", alias = "qid")]
    _id: String,
    #[serde(alias = "query")]
    text: String,
}

fn open(path: &Path) -> Result<Box<dyn BufRead>> {
    let f = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    let r: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::GzDecoder::new(f))
    } else {
        Box::new(f)
    };
    Ok(Box::new(BufReader::new(r)))
}

fn first_existing(dir: &Path, names: &[&str]) -> Option<PathBuf> {
    names.iter().map(|n| dir.join(n)).find(|p| p.is_file())
}

fn jsonl<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Vec<T>> {
    let mut out = Vec::new();
    for (i, line) in open(path)?.lines().enumerate() {
        let line = line.map_err(|e| DataError::io(path, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let v = serde_json::from_str(&line).map_err(|e| DataError::Format {
            path: path.to_path_buf(),
            place: format!("line {}", i + 1),
            message: e.to_string(),
        })?;
        out.push(v);
    }
    Ok(out)
}

/// Load a BEIR-style directory; `split` picks `qrels/<split>.tsv` (default `test`).
// long: the three BEIR files read in turn, each with an error naming the file and line.
pub fn load_beir(dir: &Path, split: &str) -> Result<BeirSet> {
    let missing = |what: &str| DataError::Corpus {
        path: dir.to_path_buf(),
        message: format!(
            "no {what} found (BEIR layout: corpus.jsonl[.gz], queries.jsonl or topics.tsv, qrels/{split}.tsv)"
        ),
    };
    let corpus = first_existing(dir, &["corpus.jsonl", "corpus.jsonl.gz"]).ok_or_else(|| missing("corpus"))?;
    let docs: Vec<Doc> = jsonl::<RawDoc>(&corpus)?
        .into_iter()
        .map(|d| Doc {
            id: d._id,
            title: d.title,
            text: d.text,
        })
        .collect();
    let queries = if let Some(q) = first_existing(dir, &["queries.jsonl", "queries.jsonl.gz"]) {
        jsonl::<RawQuery>(&q)?
            .into_iter()
            .map(|q| Query {
                id: q._id,
                text: q.text,
            })
            .collect()
    } else if let Some(t) = first_existing(dir, &[&format!("topics.{split}.tsv"), "topics.tsv"]) {
        let mut out = Vec::new();
        for (i, line) in open(&t)?.lines().enumerate() {
            let line = line.map_err(|e| DataError::io(&t, e))?;
            if line.trim().is_empty() {
                continue;
            }
            let (id, text) = line.split_once('\t').ok_or_else(|| DataError::Format {
                path: t.clone(),
                place: format!("line {}", i + 1),
                message: "expected `qid<TAB>query`".into(),
            })?;
            out.push(Query {
                id: id.to_string(),
                text: text.to_string(),
            });
        }
        out
    } else {
        return Err(missing("queries"));
    };
    let qrels_path = first_existing(
        dir,
        &[
            &format!("qrels/{split}.tsv"),
            &format!("qrels.{split}.tsv"),
            &format!("qrels.{split}.trec"),
            &format!("qrels/{split}.trec"),
            "qrels.tsv",
            "qrels.trec",
        ],
    )
    .ok_or_else(|| missing("qrels"))?;
    let mut qrels: BTreeMap<String, HashMap<String, i32>> = BTreeMap::new();
    for (i, line) in open(&qrels_path)?.lines().enumerate() {
        let line = line.map_err(|e| DataError::io(&qrels_path, e))?;
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.is_empty() || (i == 0 && f[0] == "query-id") {
            continue;
        }
        let (q, d, r) = match f.len() {
            3 => (f[0], f[1], f[2]),
            4 => (f[0], f[2], f[3]),
            _ => {
                return Err(DataError::Format {
                    path: qrels_path.clone(),
                    place: format!("line {}", i + 1),
                    message: "expected `qid docid rel` (TSV) or `qid 0 docid rel` (TREC)".into(),
                });
            }
        };
        let r: i32 = r.parse().map_err(|_| DataError::Format {
            path: qrels_path.clone(),
            place: format!("line {}", i + 1),
            message: format!("relevance `{r}` is not an integer"),
        })?;
        qrels.entry(q.to_string()).or_default().insert(d.to_string(), r);
    }
    let ids: std::collections::HashSet<&str> = docs.iter().map(|d| d.id.as_str()).collect();
    for (q, rels) in &qrels {
        for d in rels.keys() {
            if !ids.contains(d.as_str()) {
                return Err(DataError::Format {
                    path: qrels_path.clone(),
                    place: format!("query {q}"),
                    message: format!("judged document `{d}` is not in {}", corpus.display()),
                });
            }
        }
    }
    Ok(BeirSet {
        dir: dir.to_path_buf(),
        docs,
        queries,
        qrels,
    })
}
