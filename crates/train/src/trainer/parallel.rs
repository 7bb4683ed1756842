//! What data parallelism adds to a step: each rank's share of the global batch, the
//! gradient all-reduce (dense layers whole, the word-embedding table only in the rows the
//! step touched), and the checks that keep the ranks one run (same options, same weights).

use std::collections::BTreeSet;

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::IndexingUpdateOp;
use hbt_data::sampler::Batch;
use hbt_model::TextKind;

use super::{TrainData, Trainer};
use crate::error::{Result, TrainError};

/// See [`Trainer::global_tokens`].
pub(crate) struct GlobalTokens {
    pub rows: Vec<(ParamId, Vec<i64>)>,
    pub seq: [usize; 3],
}

/// How one parameter's gradient travels.
enum Part {
    /// The whole tensor.
    Dense { shape: Vec<usize> },
    /// Only the rows a step's tokens touched (a word-embedding shard): the rest are zero
    /// on every rank, so summing them would send zeros.
    Rows { shape: Vec<usize>, rows: Vec<i64> },
}

impl Part {
    fn len(&self) -> usize {
        match self {
            Part::Dense { shape } => shape.iter().product(),
            Part::Rows { shape, rows } => rows.len() * shape[1],
        }
    }
}

/// Packs every parameter's gradient (in the module's fixed parameter order) into one
/// buffer, each preceded by a presence flag: a rank whose share never reached a shard has
/// no gradient for it, and the optimizer must then see one only if some rank had it.
struct Pack<'a> {
    grads: &'a mut GradientsParams,
    /// Word-embedding shards: parameter id and the shard's touched rows (shard-local).
    shards: &'a [(ParamId, Vec<i64>)],
    buf: Vec<f32>,
    parts: Vec<(ParamId, Part)>,
}

impl ModuleVisitor for Pack<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let shape = param.val().dims().to_vec();
        let part = match self.shards.iter().find(|(id, _)| *id == param.id) {
            Some((_, rows)) => Part::Rows {
                shape,
                rows: rows.clone(),
            },
            None => Part::Dense { shape },
        };
        let grad = self.grads.remove::<D>(param.id);
        self.buf.push(if grad.is_some() { 1.0 } else { 0.0 });
        let values: Vec<f32> = match (grad, &part) {
            (None, _) => vec![0.0; part.len()],
            (Some(g), Part::Dense { .. }) => g.into_data().try_to_vec::<f32>().expect("f32 gradients"),
            (Some(_), Part::Rows { rows, .. }) if rows.is_empty() => Vec::new(),
            (Some(g), Part::Rows { rows, .. }) => {
                let idx = Tensor::<1, Int>::from_data(TensorData::new(rows.clone(), [rows.len()]), &g.device());
                g.select(0, idx).into_data().try_to_vec::<f32>().expect("f32 gradients")
            }
        };
        self.buf.extend(values);
        self.parts.push((param.id, part));
    }
}

/// The reverse of [`Pack`] on the summed buffer.
struct Unpack<'a> {
    grads: &'a mut GradientsParams,
    buf: &'a [f32],
    at: usize,
    parts: std::vec::IntoIter<(ParamId, Part)>,
    device: Device,
}

impl ModuleVisitor for Unpack<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let (id, part) = self.parts.next().expect("the same parameters as packed");
        debug_assert_eq!(id, param.id);
        let present = self.buf[self.at] > 0.0;
        self.at += 1;
        let n = part.len();
        let values = self.buf[self.at..self.at + n].to_vec();
        self.at += n;
        if !present {
            return;
        }
        let grad: Tensor<D> = match part {
            Part::Dense { shape } => Tensor::from_data(TensorData::new(values, shape), &self.device),
            Part::Rows { shape, rows } => {
                let zeros = Tensor::<D>::zeros(shape.clone(), &self.device);
                if rows.is_empty() {
                    zeros
                } else {
                    let k = rows.len();
                    let mut vshape = shape;
                    vshape[0] = k;
                    let idx = Tensor::<1, Int>::from_data(TensorData::new(rows, [k]), &self.device);
                    let v = Tensor::<D>::from_data(TensorData::new(values, vshape), &self.device);
                    zeros.select_assign(0, idx, v, IndexingUpdateOp::Add)
                }
            }
        };
        self.grads.register(id, grad);
    }
}

/// Hashes every parameter's bytes in the module's order.
struct Checksum(crc32fast::Hasher);

impl ModuleVisitor for Checksum {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.0.update(param.val().into_data().as_bytes());
    }
}

impl Trainer {
    /// This rank's rows of the global batch: `[r·B, (r+1)·B)` with `B` = batch / ranks.
    pub(crate) fn local_share(&self, batch: &Batch) -> Result<Batch> {
        let (r, n) = (self.comm.rank(), self.comm.size());
        let b = batch.pairs.len() / n;
        if !batch.pairs.len().is_multiple_of(n) {
            return Err(TrainError::Config(format!(
                "a batch of {} pairs cannot be split evenly over {n} ranks",
                batch.pairs.len()
            )));
        }
        let mut local = batch.clone();
        local.pairs = batch.pairs[r * b..(r + 1) * b].to_vec();
        Ok(local)
    }

    /// What every rank knows of the whole global batch without a message, from
    /// tokenizing all of it: the word-embedding rows any rank's share reads (as each
    /// shard's local rows), and the padded length of its queries, positives and hard
    /// negatives (how one device would pad them).
    pub(crate) fn global_tokens(&self, data: &TrainData, batch: &Batch) -> Result<GlobalTokens> {
        let (q, p, h) = data.texts(&data.train, batch, self.cfg.hard_negatives)?;
        let mut ids = BTreeSet::new();
        let mut seq = [0usize; 3];
        for (i, (texts, kind)) in [(&q, TextKind::Query), (&p, TextKind::Passage), (&h, TextKind::Passage)]
            .into_iter()
            .enumerate()
        {
            if texts.is_empty() {
                continue;
            }
            let t = self.tokenize(texts, kind)?;
            seq[i] = t.seq;
            ids.extend(t.ids);
        }
        let mut rows = Vec::new();
        let mut start = 0usize;
        for shard in &self.enc.bert.embeddings.word {
            let n = shard.weight.val().dims()[0];
            let end = start + n;
            let local: Vec<i64> = ids
                .range(start as u32..end as u32)
                .map(|&i| (i as usize - start) as i64)
                .collect();
            rows.push((shard.weight.id, local));
            start = end;
        }
        Ok(GlobalTokens { rows, seq })
    }

    /// Sums the gradients over the ranks (in buckets, [`crate::collective`]).
    pub(crate) fn all_reduce_grads(
        &self,
        mut grads: GradientsParams,
        shards: &[(ParamId, Vec<i64>)],
    ) -> Result<GradientsParams> {
        let mut pack = Pack {
            grads: &mut grads,
            shards,
            buf: Vec::new(),
            parts: Vec::new(),
        };
        self.enc.bert.visit(&mut pack);
        let Pack { mut buf, parts, .. } = pack;
        self.communicate(|c| c.all_reduce_sum(&mut buf));
        let mut st = self.comm_stats.get();
        st.reduced_bytes += (buf.len() * 4) as u64;
        self.comm_stats.set(st);
        let mut out = GradientsParams::new();
        self.enc.bert.visit(&mut Unpack {
            grads: &mut out,
            buf: &buf,
            at: 0,
            parts: parts.into_iter(),
            device: self.enc.device.clone().without_autodiff(),
        });
        Ok(out)
    }

    /// A checksum of the weights (CRC-32 of every parameter's bytes, in order).
    pub fn weights_checksum(&self) -> u64 {
        let mut c = Checksum(crc32fast::Hasher::new());
        self.enc.bert.visit(&mut c);
        c.0.finalize() as u64
    }

    /// Stops the run with a clear error unless every rank's weights are the same.
    pub(crate) fn check_weights_agree(&self, when: &str) -> Result<()> {
        let mine = self.weights_checksum();
        let all = self.communicate(|c| c.all_gather_u64(mine));
        disagreement(&all).map_or(Ok(()), |r| {
            Err(TrainError::Ranks(format!(
                "{when}, rank {r}'s weights differ from rank 0's (checksum {:08x} vs {:08x}): every rank must load the same --model and checkpoint, and run the same backend",
                all[r], all[0]
            )))
        })
    }

    /// Stops the run with a clear error unless every rank runs the same options.
    pub(crate) fn check_options_agree(&self) -> Result<()> {
        let json = serde_json::to_vec(&self.cfg).expect("config serialises");
        let all = self.communicate(|c| c.all_gather_u64(crc32fast::hash(&json) as u64));
        disagreement(&all).map_or(Ok(()), |r| {
            Err(TrainError::Ranks(format!(
                "rank {r} was started with other training options than rank 0: start every rank with the same command line"
            )))
        })
    }

    /// Whether any rank asks to stop: all then stop after the same step.
    pub(crate) fn any_rank_stops(&self, mine: bool) -> bool {
        self.communicate(|c| c.all_gather_u64(mine as u64)).contains(&1)
    }

    /// Rank 0's value, on every rank (validation losses decide early stopping: every rank
    /// must decide alike even where floats differ across machines).
    pub(crate) fn rank0_value(&self, value: Option<f64>) -> Option<f64> {
        let bits = value.map_or(u64::MAX, f64::to_bits);
        let all = self.communicate(|c| c.all_gather_u64(bits));
        (all[0] != u64::MAX).then(|| f64::from_bits(all[0]))
    }
}

/// The first rank whose value differs from rank 0's.
fn disagreement(all: &[u64]) -> Option<usize> {
    all.iter().position(|&v| v != all[0])
}
