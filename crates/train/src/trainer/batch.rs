//! A sampler's batch as the texts a step embeds.

use hbt_data::sampler::{Batch, PairSpace};
use hbt_data::{Corpus, split};

use crate::config::TrainConfig;
use crate::error::{Result, TrainError};

/// The training and dev pair spaces of the corpora.
pub struct TrainData {
    pub corpora: Vec<Corpus>,
    pub train: Vec<PairSpace>,
    pub dev: Vec<PairSpace>,
}

impl TrainData {
    pub fn new(corpora: Vec<Corpus>, cfg: &TrainConfig) -> Result<Self> {
        if corpora.is_empty() {
            return Err(TrainError::Config("no training corpus given".into()));
        }
        let mut train = Vec::new();
        let mut dev = Vec::new();
        for c in &corpora {
            for l in &cfg.train_langs {
                if !c.langs.contains_key(l) && corpora.iter().all(|c| !c.langs.contains_key(l)) {
                    return Err(TrainError::Config(format!(
                        "--train-langs: `{l}` is in none of the training corpora"
                    )));
                }
            }
            let langs = if cfg.train_langs.is_empty() {
                None
            } else {
                Some(cfg.train_langs.as_slice())
            };
            let s = split::split_by_article(c, cfg.dev_fraction, cfg.seed);
            train.push(split::pair_space(c, Some(&s.train), langs));
            dev.push(split::pair_space(c, Some(&s.dev), langs));
        }
        if train.iter().all(|s| s.pair_count() == 0) {
            return Err(TrainError::Config(
                "the training corpus is empty: no (question, answer) pairs in the chosen languages".into(),
            ));
        }
        Ok(Self { corpora, train, dev })
    }

    /// (question, positive passage, hard negative) texts of a batch.
    pub(crate) fn texts(
        &self,
        spaces: &[PairSpace],
        batch: &Batch,
        hard: bool,
    ) -> (Vec<String>, Vec<String>, Vec<String>) {
        let mut q = Vec::new();
        let mut p = Vec::new();
        let mut h = Vec::new();
        for pair in &batch.pairs {
            let space = &spaces[pair.space];
            let corpus = &self.corpora[pair.space];
            let id = &space.groups[pair.group].id;
            let ql = &corpus.langs[&space.langs[pair.qlang as usize]];
            let pl = &corpus.langs[&space.langs[pair.plang as usize]];
            q.push(ql.questions[ql.by_id[id]].text.clone());
            let pq = &pl.questions[pl.by_id[id]];
            p.push(pl.candidates[pq.answer].text.clone());
            if hard {
                // The next sentence of the same paragraph (or the previous one at its end).
                let sents = pl.paragraphs[pq.paragraph].sentences.clone();
                let other = if pq.answer + 1 < sents.end {
                    pq.answer + 1
                } else if pq.answer > sents.start {
                    pq.answer - 1
                } else {
                    pq.answer
                };
                if other != pq.answer {
                    h.push(pl.candidates[other].text.clone());
                }
            }
        }
        (q, p, h)
    }
}
