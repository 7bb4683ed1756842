//! BEIR / MIRACL-style scoring: exact search, top-100 per query, nDCG@10 and Recall@100
//! computed as trec_eval computes them on a depth-100 run.

use std::collections::HashMap;
use std::time::Instant;

use hbt_data::beir::BeirSet;
use hbt_model::burn::prelude::*;
use hbt_model::{Encoder, TextKind};

use crate::embed::embed_all;
use crate::error::{EvalError, Result};
use crate::lareqa::bar;
use crate::metrics::{mean, score_query, top_k};
use crate::report::{BeirResult, Report};

pub const DEPTH: usize = 100;

/// A TREC run: per query id, (document id, score) pairs.
pub type Run = HashMap<String, Vec<(String, f64)>>;

/// Evaluate; returns the report and the depth-100 run (query id -> [(doc id, score)]).
pub fn evaluate(
    enc: &Encoder,
    set: &BeirSet,
    name: &str,
    model: &str,
    settings: serde_json::Value,
    show: bool,
) -> Result<(Report, Run)> {
    let t0 = Instant::now();
    let queries: Vec<_> = set.queries.iter().filter(|q| set.qrels.contains_key(&q.id)).collect();
    if queries.is_empty() {
        return Err(EvalError::Invalid(format!(
            "{}: no query has relevance judgements",
            set.dir.display()
        )));
    }
    let b = bar(queries.len() + set.docs.len(), "encoding", show);
    let qtexts: Vec<String> = queries.iter().map(|q| q.text.clone()).collect();
    let dtexts: Vec<String> = set.docs.iter().map(|d| d.passage()).collect();
    let qv = embed_all(enc, &qtexts, TextKind::Query, &b)?;
    let dv = embed_all(enc, &dtexts, TextKind::Passage, &b)?;
    b.finish_and_clear();
    let dim = dv.dim;
    let device = &enc.device;
    let dt: Tensor<2> = Tensor::<2>::from_data(TensorData::new(dv.data.clone(), [dv.len(), dim]), device).transpose();
    let mut run = HashMap::new();
    let mut per_query = Vec::new();
    for (ci, chunk) in queries.chunks(128).enumerate() {
        let start = ci * 128;
        let q = Tensor::<2>::from_data(
            TensorData::new(
                qv.data[start * dim..(start + chunk.len()) * dim].to_vec(),
                [chunk.len(), dim],
            ),
            device,
        );
        let rows: Vec<f32> = q
            .matmul(dt.clone())
            .into_data()
            .try_to_vec::<f32>()
            .map_err(|e| EvalError::Invalid(format!("reading scores: {e:?}")))?;
        let n = dv.len();
        for (k, query) in chunk.iter().enumerate() {
            let row = &rows[k * n..(k + 1) * n];
            let ranked: Vec<(String, f64)> = top_k(row, DEPTH)
                .into_iter()
                .map(|i| (set.docs[i].id.clone(), row[i] as f64))
                .collect();
            per_query.push(score_query(&ranked, &set.qrels[&query.id]));
            run.insert(query.id.clone(), ranked);
        }
    }
    let result = BeirResult {
        queries: per_query.len(),
        documents: set.docs.len(),
        ndcg_10: mean(per_query.iter().map(|m| m.ndcg_10)),
        recall_100: mean(per_query.iter().map(|m| m.recall_100)),
        map: mean(per_query.iter().map(|m| m.ap)),
        mrr_10: mean(per_query.iter().map(|m| m.rr_10)),
    };
    Ok((
        Report {
            hbt_report: crate::report::REPORT_VERSION,
            benchmark: format!("beir:{name}"),
            model: model.to_string(),
            data: set.dir.display().to_string(),
            settings,
            languages: Vec::new(),
            summary: None,
            tasks: Vec::new(),
            multi: Vec::new(),
            beir: Some(result),
            seconds: t0.elapsed().as_secs_f64(),
            label: None,
            question_ids: Vec::new(),
        },
        run,
    ))
}
