//! Retrieval scored while training (`hbt train --eval-data`): the evaluation a run calls
//! every `--eval-every` steps, by what the data is.
//!
//! * a LAReQA folder: LAReQA's mAP for the mono, cross and multilingual pools
//!   (`mono_map`, `cross_map`, `multi_map`) and the multilingual pool's R@10;
//! * a BEIR folder: `ndcg@10`, `recall@100`, `map`, `mrr@10`;
//! * any other data set (JSON Lines, Parquet, Arrow): its rows as a BEIR set — each row's
//!   query against every distinct positive, the positives of its group (in any language)
//!   relevant — scored the same way.

use std::collections::BTreeMap;
use std::path::Path;

use hbt_data::pairs::Format;
use hbt_data::{PairData, ReadOptions};
use hbt_train::Evaluation;

use crate::error::Result;

/// The evaluation of `path`, loaded once.
pub fn evaluation(path: &Path, read: &ReadOptions) -> Result<Evaluation<'static>> {
    let name = path.display().to_string();
    Ok(match hbt_data::read::format_of(path)? {
        Format::Lareqa => {
            let corpus = hbt_data::load_dir(path)?;
            let name2 = name.clone();
            Evaluation {
                name,
                run: Box::new(move |enc| {
                    let opts = hbt_eval::lareqa::LareqaOptions {
                        show_progress: false,
                        ..Default::default()
                    };
                    let r = hbt_eval::lareqa::evaluate(enc, &corpus, "lareqa", &name2, serde_json::Value::Null, &opts)
                        .map_err(|e| hbt_train::TrainError::Config(format!("--eval-data {name2}: {e}")))?;
                    let s = r.summary.unwrap_or_default();
                    Ok(BTreeMap::from([
                        ("mono_map".to_string(), s.mono_map),
                        ("cross_map".to_string(), s.cross_map),
                        ("multi_map".to_string(), s.multi_map),
                        ("multi_r@10".to_string(), s.multi_r_10),
                    ]))
                }),
            }
        }
        f => {
            let set = if f == Format::Beir {
                hbt_data::beir::load_beir(path, "test")?
            } else {
                as_beir(&hbt_data::read::load(path, read)?)?
            };
            let name2 = name.clone();
            Evaluation {
                name,
                run: Box::new(move |enc| {
                    let (r, _) = hbt_eval::beir::evaluate(enc, &set, "eval", &name2, serde_json::Value::Null, false)
                        .map_err(|e| hbt_train::TrainError::Config(format!("--eval-data {name2}: {e}")))?;
                    let b = r
                        .beir
                        .ok_or_else(|| hbt_train::TrainError::Config(format!("--eval-data {name2}: no scores")))?;
                    Ok(BTreeMap::from([
                        ("ndcg@10".to_string(), b.ndcg_10),
                        ("recall@100".to_string(), b.recall_100),
                        ("map".to_string(), b.map),
                        ("mrr@10".to_string(), b.mrr_10),
                    ]))
                }),
            }
        }
    })
}

/// Rows as a retrieval set: queries `q<row>`, distinct positives `p<k>`, a query's relevant
/// passages every positive of its group.
pub fn as_beir(d: &PairData) -> Result<hbt_data::beir::BeirSet> {
    let mut docs = Vec::new();
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut of_group: Vec<Vec<usize>> = vec![Vec::new(); d.group_count()];
    let mut queries = Vec::new();
    for r in 0..d.row_count() {
        let row = d.row(r)?;
        let k = *index.entry(row.positive.clone()).or_insert_with(|| {
            docs.push(hbt_data::beir::Doc {
                id: format!("p{}", docs.len()),
                title: String::new(),
                text: row.positive.clone(),
            });
            docs.len() - 1
        });
        let g = d.row_group(r);
        if !of_group[g].contains(&k) {
            of_group[g].push(k);
        }
        queries.push(hbt_data::beir::Query {
            id: format!("q{r}"),
            text: row.query,
        });
    }
    let qrels = (0..d.row_count())
        .map(|r| {
            let rel = of_group[d.row_group(r)].iter().map(|k| (format!("p{k}"), 1)).collect();
            (format!("q{r}"), rel)
        })
        .collect();
    Ok(hbt_data::beir::BeirSet {
        dir: d.source.clone(),
        docs,
        queries,
        qrels,
    })
}
