//! XQuAD-R / MLQA-R scoring: every (query language, candidate language) task, the
//! multilingual pool per query language, and language bias.
//!
//! Each language's questions and candidates are embedded once. For a query language X, the
//! candidates of all languages sit side by side in one matrix `C` (on the device); query
//! chunks `Q_c` give score rows `Q_c · Cᵀ` of shape `[chunk, N]`, from which every task
//! with X as query language is scored: the (X, Y) tasks read the Y segment of a row, the
//! multilingual task reads the whole row. Only one `[chunk, N]` block is alive at a time,
//! never a full queries × candidates matrix.

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use hbt_data::{CandidateInput, Corpus, TaskKind, build_tasks};
use hbt_model::burn::prelude::*;
use hbt_model::{Encoder, TextKind};
use indicatif::{ProgressBar, ProgressStyle};

use crate::embed::{Vectors, embed_all};
use crate::error::{EvalError, Result};
use crate::metrics::{ap_at_k, average_precision, mean, rank_of, recall_at_k, rr_at_k, top_k};
use crate::report::{MultiResult, PoolQueries, Report, Summary, TaskQueries, TaskResult};
use crate::trec::RunFile;

#[derive(Debug, Clone)]
pub struct LareqaOptions {
    pub input: CandidateInput,
    /// Queries per score block.
    pub chunk: usize,
    /// Write TREC run and qrels files per task here.
    pub runs: Option<std::path::PathBuf>,
    /// Candidates kept per query in TREC runs.
    pub run_depth: usize,
    pub show_progress: bool,
}

impl Default for LareqaOptions {
    fn default() -> Self {
        Self {
            input: CandidateInput::Sentence,
            chunk: 128,
            runs: None,
            run_depth: 100,
            show_progress: true,
        }
    }
}

/// Embedded questions and candidates, per language (in the corpus' language order).
pub struct EmbeddedCorpus {
    pub questions: Vec<Vectors>,
    pub candidates: Vec<Vectors>,
}

pub fn bar(len: usize, msg: &str, show: bool) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let b = ProgressBar::new(len as u64);
    b.set_style(
        ProgressStyle::with_template("{msg:>12} [{bar:30}] {pos}/{len} {per_sec} eta {eta}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    b.set_message(msg.to_string());
    b
}

pub fn embed_corpus(enc: &Encoder, corpus: &Corpus, opts: &LareqaOptions) -> Result<EmbeddedCorpus> {
    let total: usize = corpus
        .langs
        .values()
        .map(|d| d.questions.len() + d.candidates.len())
        .sum();
    let b = bar(total, "encoding", opts.show_progress);
    let mut questions = Vec::new();
    let mut candidates = Vec::new();
    for d in corpus.langs.values() {
        let q: Vec<String> = d.questions.iter().map(|q| q.text.clone()).collect();
        let c: Vec<String> = (0..d.candidates.len())
            .map(|i| d.candidate_text(i, opts.input))
            .collect();
        questions.push(embed_all(enc, &q, TextKind::Query, &b)?);
        candidates.push(embed_all(enc, &c, TextKind::Passage, &b)?);
    }
    b.finish_and_clear();
    Ok(EmbeddedCorpus { questions, candidates })
}

#[derive(Default, Clone)]
struct Acc {
    ap: Vec<f64>,
    ap20: Vec<f64>,
    r1: Vec<f64>,
    r10: Vec<f64>,
    rr10: Vec<f64>,
    dist: Vec<f64>,
    own: Vec<f64>,
    qids: Vec<u32>,
    rank: Vec<u32>,
    ranks: Vec<Vec<u32>>,
}

/// Score an embedded corpus on every task. `device` holds the candidate matrix.
pub fn score(
    corpus: &Corpus,
    emb: &EmbeddedCorpus,
    device: &Device,
    opts: &LareqaOptions,
) -> Result<(Vec<TaskResult>, Vec<MultiResult>)> {
    let langs: Vec<&hbt_data::lareqa::LangData> = corpus.langs.values().collect();
    let dim = emb.candidates.iter().map(|v| v.dim).max().unwrap_or(0);
    let offsets: Vec<usize> = langs
        .iter()
        .scan(0, |o, d| {
            let s = *o;
            *o += d.candidates.len();
            Some(s)
        })
        .collect();
    let total: usize = langs.iter().map(|d| d.candidates.len()).sum();
    if total == 0 {
        return Err(EvalError::Invalid("the corpus has no candidates".into()));
    }
    let mut all = Vec::with_capacity(total * dim);
    for v in &emb.candidates {
        all.extend_from_slice(&v.data);
    }
    let cand_t: Tensor<2> = Tensor::<2>::from_data(TensorData::new(all, [total, dim]), device).transpose();
    let all_ids = question_ids(corpus);
    let n = langs.len();
    let mut scores = Scores {
        langs: &langs,
        names: corpus.languages(),
        offsets,
        total,
        qindex: all_ids
            .iter()
            .enumerate()
            .map(|(i, q)| (q.as_str(), i as u32))
            .collect(),
        pair: vec![vec![Acc::default(); n]; n],
        multi: vec![Acc::default(); n],
        runs: opts.runs.as_ref().map(|_| HashMap::new()),
        run_depth: opts.run_depth,
    };
    let nq: usize = langs.iter().map(|d| d.questions.len()).sum();
    let b = bar(nq, "scoring", opts.show_progress);
    let chunk = opts.chunk.max(1);
    for x in 0..n {
        let qv = &emb.questions[x];
        let nqx = langs[x].questions.len();
        // Blocks of queries against every candidate: never the full score matrix at once.
        for start in (0..nqx).step_by(chunk) {
            let end = (start + chunk).min(nqx);
            let q = Tensor::<2>::from_data(
                TensorData::new(qv.data[start * dim..end * dim].to_vec(), [end - start, dim]),
                device,
            );
            let rows: Vec<f32> = q
                .matmul(cand_t.clone())
                .into_data()
                .try_to_vec::<f32>()
                .map_err(|e| EvalError::Invalid(format!("reading scores from the device: {e:?}")))?;
            for (k, qi) in (start..end).enumerate() {
                scores.query(x, &langs[x].questions[qi].id, &rows[k * total..(k + 1) * total]);
            }
            b.inc((end - start) as u64);
        }
    }
    b.finish_and_clear();
    if let (Some(dir), Some(runs)) = (&opts.runs, &scores.runs) {
        for ((x, y), file) in runs {
            let name = if *y == n {
                format!("{}-multi", scores.names[*x])
            } else {
                format!("{}-{}", scores.names[*x], scores.names[*y])
            };
            file.write(dir, &name)?;
        }
    }
    Ok(scores.results(corpus))
}

/// Per-query figures of every task and pool as scoring goes, and their TREC runs.
struct Scores<'a> {
    langs: &'a [&'a hbt_data::lareqa::LangData],
    names: Vec<String>,
    /// Where each language's candidates start in the pooled candidate list.
    offsets: Vec<usize>,
    total: usize,
    qindex: HashMap<&'a str, u32>,
    /// By (query language, candidate language).
    pair: Vec<Vec<Acc>>,
    /// By query language: the multilingual pool.
    multi: Vec<Acc>,
    /// By (query language, candidate language or `n` for the pool).
    runs: Option<HashMap<(usize, usize), RunFile>>,
    run_depth: usize,
}

impl Scores<'_> {
    fn lang_of(&self, g: usize) -> usize {
        self.offsets.iter().rposition(|&o| o <= g).expect("offset 0 exists")
    }

    /// Doc id of pooled candidate `g` in TREC files: `LANG-INDEX`.
    fn doc(&self, g: usize) -> String {
        let y = self.lang_of(g);
        format!("{}-{}", self.names[y], g - self.offsets[y])
    }

    /// One question (`id`, asked in language `x`) with its scores against every candidate.
    fn query(&mut self, x: usize, id: &str, row: &[f32]) {
        let (langs, n) = (self.langs, self.langs.len());
        let q = self.qindex[id];
        let qid = format!("{}-{}", self.names[x], id);
        let mut rel_global = Vec::new();
        for y in 0..n {
            let Some(&j) = langs[y].by_id.get(id) else { continue };
            let ans = langs[y].questions[j].answer;
            rel_global.push(self.offsets[y] + ans);
            let seg = &row[self.offsets[y]..self.offsets[y] + langs[y].candidates.len()];
            let r = rank_of(seg, ans);
            let a = &mut self.pair[x][y];
            a.ap.push(average_precision(&[r], 1));
            a.ap20.push(ap_at_k(&[r], 1, 20));
            a.r1.push(recall_at_k(&[r], 1, 1));
            a.r10.push(recall_at_k(&[r], 1, 10));
            a.rr10.push(rr_at_k(&[r], 10));
            a.qids.push(q);
            a.rank.push(r as u32);
            if let Some(runs) = &mut self.runs {
                let e = runs.entry((x, y)).or_default();
                let top = top_k(seg, self.run_depth).into_iter();
                e.ranked(&qid, top.map(|c| (format!("{}-{c}", self.names[y]), seg[c])));
                e.relevant(&qid, &format!("{}-{ans}", self.names[y]));
            }
        }
        let mut ranks: Vec<usize> = rel_global.iter().map(|&g| rank_of(row, g)).collect();
        ranks.sort_unstable();
        let top10 = top_k(row, 10);
        let own = top10.iter().filter(|&&g| self.lang_of(g) == x).count() as f64 / top10.len().max(1) as f64;
        let a = &mut self.multi[x];
        a.qids.push(q);
        a.ranks.push(ranks.iter().map(|&r| r as u32).collect());
        a.ap.push(average_precision(&ranks, ranks.len()));
        a.ap20.push(ap_at_k(&ranks, ranks.len(), 20));
        a.r10.push(recall_at_k(&ranks, ranks.len(), 10));
        a.dist
            .push((ranks.last().unwrap_or(&0) - ranks.first().unwrap_or(&0)) as f64);
        a.own.push(own);
        if self.runs.is_some() {
            let ranked: Vec<(String, f32)> = top_k(row, self.run_depth)
                .into_iter()
                .map(|g| (self.doc(g), row[g]))
                .collect();
            let relevant: Vec<String> = rel_global.iter().map(|&g| self.doc(g)).collect();
            if let Some(runs) = &mut self.runs {
                let e = runs.entry((x, n)).or_default();
                e.ranked(&qid, ranked);
                for d in &relevant {
                    e.relevant(&qid, d);
                }
            }
        }
    }

    /// The mono/cross tasks in `build_tasks` order and the pools, averaged.
    fn results(self, corpus: &Corpus) -> (Vec<TaskResult>, Vec<MultiResult>) {
        let (langs, names, n) = (self.langs, &self.names, self.langs.len());
        let mut tasks = Vec::new();
        for t in build_tasks(corpus) {
            if t.kind == TaskKind::Multi {
                continue;
            }
            let (x, y) = (t.query_lang, t.cand_langs[0]);
            let a = &self.pair[x][y];
            tasks.push(TaskResult {
                name: t.name(names),
                kind: if t.kind == TaskKind::Mono {
                    "mono".into()
                } else {
                    "cross".into()
                },
                query_lang: names[x].clone(),
                cand_lang: names[y].clone(),
                queries: a.ap.len(),
                candidates: langs[y].candidates.len(),
                map: mean(a.ap.iter().copied()),
                map_20: mean(a.ap20.iter().copied()),
                r_1: mean(a.r1.iter().copied()),
                r_10: mean(a.r10.iter().copied()),
                mrr_10: mean(a.rr10.iter().copied()),
                per_query: Some(TaskQueries {
                    qids: a.qids.clone(),
                    ranks: a.rank.clone(),
                }),
            });
        }
        let multi = (0..n)
            .map(|x| {
                let a = &self.multi[x];
                MultiResult {
                    query_lang: names[x].clone(),
                    queries: a.ap.len(),
                    candidates: self.total,
                    map: mean(a.ap.iter().copied()),
                    map_20: mean(a.ap20.iter().copied()),
                    r_10: mean(a.r10.iter().copied()),
                    rank_distance: mean(a.dist.iter().copied()),
                    own_lang_top10: mean(a.own.iter().copied()),
                    blind_own_lang: langs[x].candidates.len() as f64 / self.total as f64,
                    per_query: Some(PoolQueries {
                        qids: a.qids.clone(),
                        ranks: a.ranks.clone(),
                    }),
                }
            })
            .collect();
        (tasks, multi)
    }
}

/// Macro averages over tasks, as the paper reports them.
pub fn summarize(tasks: &[TaskResult], multi: &[MultiResult]) -> Summary {
    let of =
        |kind: &str, f: fn(&TaskResult) -> f64| mean(tasks.iter().filter(|t| t.kind == kind && t.queries > 0).map(f));
    Summary {
        mono_map: of("mono", |t| t.map),
        cross_map: of("cross", |t| t.map),
        multi_map: mean(multi.iter().map(|m| m.map)),
        mono_r_1: of("mono", |t| t.r_1),
        cross_r_1: of("cross", |t| t.r_1),
        multi_r_10: mean(multi.iter().map(|m| m.r_10)),
        mono_map_20: of("mono", |t| t.map_20),
        cross_map_20: of("cross", |t| t.map_20),
        multi_map_20: mean(multi.iter().map(|m| m.map_20)),
        rank_distance: mean(multi.iter().map(|m| m.rank_distance)),
        own_lang_top10: mean(multi.iter().map(|m| m.own_lang_top10)),
        blind_own_lang: mean(multi.iter().map(|m| m.blind_own_lang)),
    }
}

/// Embed and score a LAReQA corpus; the report records model, data and settings.
pub fn evaluate(
    enc: &Encoder,
    corpus: &Corpus,
    benchmark: &str,
    model: &str,
    settings: serde_json::Value,
    opts: &LareqaOptions,
) -> Result<Report> {
    let t0 = Instant::now();
    let emb = embed_corpus(enc, corpus, opts)?;
    let (tasks, multi) = score(corpus, &emb, &enc.device, opts)?;
    let summary = summarize(&tasks, &multi);
    let question_ids = question_ids(corpus);
    Ok(Report {
        hbt_report: crate::report::REPORT_VERSION,
        benchmark: benchmark.to_string(),
        model: model.to_string(),
        data: corpus.dir.display().to_string(),
        settings,
        languages: corpus.languages(),
        summary: Some(summary),
        tasks,
        multi,
        beir: None,
        seconds: t0.elapsed().as_secs_f64(),
        label: None,
        question_ids,
    })
}

/// Every question id of the corpus, sorted: what per-query results index.
pub fn question_ids(corpus: &Corpus) -> Vec<String> {
    let mut ids: Vec<String> = corpus
        .langs
        .values()
        .flat_map(|d| d.questions.iter().map(|q| q.id.clone()))
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// Validate the languages a user asked for against a corpus directory.
pub fn select_languages(corpus: Corpus, langs: Option<&[String]>, path: &Path) -> Result<Corpus> {
    match langs {
        None => Ok(corpus),
        Some(ls) => {
            for l in ls {
                if !hbt_data::lang::is_known(l) {
                    return Err(EvalError::Invalid(format!(
                        "unknown language code `{l}` (given to --languages for {})",
                        path.display()
                    )));
                }
            }
            Ok(corpus.restrict(ls)?)
        }
    }
}
