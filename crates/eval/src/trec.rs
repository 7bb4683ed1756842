//! TREC run and qrels files, the one writer for LAReQA tasks and BEIR sets alike, so
//! trec_eval and ir_measures read every run hbt writes.

use std::fmt::Write as _;
use std::path::Path;

use crate::error::{EvalError, Result};

/// A run's lines: `qid Q0 docid rank score tag`.
#[derive(Debug, Default, Clone)]
pub struct RunFile {
    run: String,
    qrels: String,
}

impl RunFile {
    /// Ranked documents of one query, best first.
    pub fn ranked<S: std::fmt::Display>(&mut self, qid: &str, docs: impl IntoIterator<Item = (String, S)>) {
        for (rank, (doc, score)) in docs.into_iter().enumerate() {
            let _ = writeln!(self.run, "{qid} Q0 {doc} {} {score} hbt", rank + 1);
        }
    }

    /// A relevant document of one query (`qid 0 docid 1`).
    pub fn relevant(&mut self, qid: &str, doc: &str) {
        let _ = writeln!(self.qrels, "{qid} 0 {doc} 1");
    }

    /// `dir/NAME.run`, and `dir/NAME.qrels` when relevance was recorded.
    pub fn write(&self, dir: &Path, name: &str) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| EvalError::io(dir, e))?;
        let mut files = vec![("run", &self.run)];
        if !self.qrels.is_empty() {
            files.push(("qrels", &self.qrels));
        }
        for (ext, body) in files {
            let p = dir.join(format!("{name}.{ext}"));
            hbt_durable::write_atomic(&p, body.as_bytes())?;
        }
        Ok(())
    }
}
