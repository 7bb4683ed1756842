//! A sampler's batch as the texts a step embeds.

use std::sync::Arc;

use hbt_data::PairData;
use hbt_data::sampler::{Batch, PairSpace};
use hbt_data::split;

use crate::config::TrainConfig;
use crate::error::{Result, TrainError};

/// The training and dev pair spaces of the data sets.
pub struct TrainData {
    pub corpora: Vec<Arc<PairData>>,
    pub train: Vec<PairSpace>,
    pub dev: Vec<PairSpace>,
}

impl TrainData {
    pub fn new(corpora: Vec<Arc<PairData>>, cfg: &TrainConfig) -> Result<Self> {
        if corpora.is_empty() {
            return Err(TrainError::Config("no training corpus given".into()));
        }
        for l in &cfg.train_langs {
            if corpora.iter().all(|c| !c.langs.contains(l)) {
                return Err(TrainError::Config(format!(
                    "--train-langs: `{l}` is in none of the training corpora"
                )));
            }
        }
        let langs = (!cfg.train_langs.is_empty()).then_some(cfg.train_langs.as_slice());
        let mut train = Vec::new();
        let mut dev = Vec::new();
        for c in &corpora {
            let is_dev = split::split_groups(c, cfg.dev_fraction, cfg.seed);
            train.push(split::pairs_space(c, Some(&|g| !is_dev[g]), langs));
            dev.push(split::pairs_space(c, Some(&|g| is_dev[g]), langs));
        }
        if train.iter().all(|s| s.pair_count() == 0) {
            return Err(TrainError::Config(
                "the training corpus is empty: no (question, answer) pairs in the chosen languages".into(),
            ));
        }
        let data = Self { corpora, train, dev };
        data.check_sampler(cfg)?;
        Ok(data)
    }

    /// Refuse data that cannot make the batches asked for, before any training.
    fn check_sampler(&self, cfg: &TrainConfig) -> Result<()> {
        use hbt_data::SamplerName;
        let cross: usize = self.train.iter().map(PairSpace::cross_pair_count).sum();
        let mono = self.train.iter().map(PairSpace::pair_count).sum::<usize>() - cross;
        let needs_cross = match cfg.sampler {
            SamplerName::Cross => true,
            SamplerName::Hybrid => cfg.alpha < 1.0,
            _ => false,
        };
        let needs_mono = match cfg.sampler {
            SamplerName::Mono | SamplerName::XX => true,
            SamplerName::Hybrid => cfg.alpha > 0.0,
            SamplerName::Cross => false,
        };
        let names = || {
            self.corpora
                .iter()
                .map(|c| c.source.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        if needs_cross && cross == 0 {
            let example = self
                .corpora
                .iter()
                .find(|c| c.has_ids())
                .and_then(|c| (0..c.group_count()).next().map(|g| (c, g)))
                .map(|(c, g)| {
                    format!(
                        " (every id has one language, e.g. `{}` has only `{}`)",
                        c.group_id(g),
                        c.langs[c.entries(g)[0].lang as usize]
                    )
                })
                .unwrap_or_default();
            return Err(TrainError::Config(format!(
                "{}: --sampler {} needs X-Y pairs, and this data has none{example}: no row has query_lang ≠ passage_lang \
                 and no `id` is shared by rows of two languages. Add ids that link translations, or train with --sampler mono",
                names(),
                cfg.sampler
            )));
        }
        if needs_mono && mono == 0 {
            return Err(TrainError::Config(format!(
                "{}: --sampler {} needs pairs with query and passage in one language, and this data has none; \
                 train with --sampler cross",
                names(),
                cfg.sampler
            )));
        }
        Ok(())
    }

    /// (question, positive passage, hard negative) texts of a batch: a pair's query is its
    /// group's query in the query language, its passage the group's passage in the passage
    /// language, its hard negative that row's first negative (where it has one).
    pub(crate) fn texts(
        &self,
        spaces: &[PairSpace],
        batch: &Batch,
        hard: bool,
    ) -> Result<(Vec<String>, Vec<String>, Vec<String>)> {
        let mut q = Vec::new();
        let mut p = Vec::new();
        let mut h = Vec::new();
        for pair in &batch.pairs {
            let space = &spaces[pair.space];
            let data = &self.corpora[pair.space];
            let g = space.groups[pair.group].index as usize;
            let missing = || TrainError::Config(format!("{}: group {g} lost a language", data.source.display()));
            let qrow = data.row_of(g, pair.qlang, true).ok_or_else(missing)?;
            let prow = data.row_of(g, pair.plang, false).ok_or_else(missing)?;
            q.push(data.row(qrow)?.query);
            let row = data.row(prow)?;
            p.push(row.positive);
            if hard && let Some(n) = row.negatives.into_iter().next() {
                h.push(n);
            }
        }
        Ok((q, p, h))
    }
}
