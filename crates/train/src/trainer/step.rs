//! One optimisation step: InfoNCE over the batch's in-batch negatives, optionally through
//! gradient caching, then global-norm clipping and AdamW.
//!
//! On several ranks the step is gradient caching over the global batch: each rank embeds
//! its own rows without the graph, the embeddings are all-gathered, every rank computes the
//! same InfoNCE over the whole global batch (so negatives come from every rank), keeps the
//! loss's gradient for its own rows, re-embeds them with the graph and back-propagates;
//! then the parameter gradients are summed over the ranks ([`super::parallel`]).

use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::prelude::*;
use hbt_data::sampler::Batch;
use hbt_model::bert::Bert;
use hbt_model::{PackedBatch, TextKind};

use super::{TrainData, Trainer};
use crate::error::Result;
use crate::loss::info_nce;

/// A side of the batch (queries, positives or hard negatives) as this rank embeds it.
struct Side {
    /// The rank's texts in the order its micro-batches take them: longest first in length
    /// groups and padded batches (each micro-batch pads only to texts of about its own
    /// length); row by row of the side's packing in packed rows.
    sorted: Vec<String>,
    /// `sorted[j]` is the rank's text `order[j]`.
    order: Vec<usize>,
    kind: TextKind,
    /// Embeddings of the rank's texts in batch order, `[n, d]` row-major.
    values: Vec<f32>,
    /// The embeddings of `sorted` with their graph, when they were computed in one piece
    /// with it (no micro-batches): the backward pass then needs no second forward.
    graph: Option<Tensor<2>>,
    /// The micro-batches, consecutive in `sorted` (empty with `graph`).
    parts: Vec<Part>,
    /// Packed rows: (slots, real tokens) of the same micro-batches padded, counted on each
    /// pass beside the rows' own slots.
    if_padded: Option<(usize, usize)>,
}

/// One micro-batch of a side: its next `len` texts of [`Side::sorted`] and, in packed rows,
/// the rows they fill (cut from the side's packing, so both passes reuse them).
struct Part {
    len: usize,
    packed: Option<PackedBatch>,
}

/// The loss's gradients with respect to the global batch's embeddings, row-major.
pub struct EmbeddingGrads {
    pub dim: usize,
    pub queries: Vec<f32>,
    pub passages: Vec<f32>,
    pub hard: Vec<f32>,
}

impl Trainer {
    /// One optimisation step on a batch; returns the loss.
    pub fn step(&mut self, data: &TrainData, batch: &Batch, lr: f64) -> Result<f64> {
        // Count this step's forward passes only (not validation's in between).
        self.take_token_slots();
        let (loss, grads, emb_grads) = if self.comm.size() > 1 {
            let local = self.local_share(batch)?;
            let (q, p, h) = data.texts(&data.train, &local, self.cfg.hard_negatives)?;
            let m = self.cfg.micro_batch.unwrap_or(q.len()).clamp(1, q.len().max(1));
            let global = self.global_tokens(data, batch)?;
            // Without micro-batches each rank pads its share as the whole batch pads: the
            // same work per text as on one device, and the same numbers.
            let pad = (m >= q.len()).then_some(global.seq);
            let (loss, grads, emb) = self.grad_cache_step(&q, &p, &h, m, pad)?;
            (loss, self.all_reduce_grads(grads, &global.rows)?, emb)
        } else {
            let (q, p, h) = data.texts(&data.train, batch, self.cfg.hard_negatives)?;
            match self.cfg.micro_batch.filter(|&m| m < q.len()) {
                None => self.full_batch_step(&q, &p, &h)?,
                Some(m) => self.grad_cache_step(&q, &p, &h, m, None)?,
            }
        };
        self.last_embedding_grads = emb_grads;
        let mut grads = grads;
        let scale = self.loss_scale();
        if scale != 1.0 {
            crate::clip::scale(&self.enc.bert, &mut grads, 1.0 / scale);
        }
        let norm = crate::clip::global_norm(&self.enc.bert, &grads);
        self.last_grad_norm = Some(norm);
        // Every rank holds the same reduced gradients, so all skip alike.
        self.last_skipped = self.scaler.as_mut().is_some_and(|s| !s.update(norm.is_finite()));
        if self.last_skipped {
            return Ok(loss);
        }
        if let Some(c) = self.cfg.grad_clip {
            crate::clip::clip_to(&self.enc.bert, &mut grads, norm, c);
        }
        self.enc.bert = self.optim.step(lr, self.enc.bert.clone(), grads);
        Ok(loss)
    }

    /// What the loss is multiplied by before the backward pass (1 without f16).
    fn loss_scale(&self) -> f64 {
        self.scaler.as_ref().map_or(1.0, |s| s.scale)
    }

    /// The whole batch through the graph at once.
    fn full_batch_step(
        &self,
        q: &[String],
        p: &[String],
        h: &[String],
    ) -> Result<(f64, GradientsParams, Option<EmbeddingGrads>)> {
        let dev = self.enc.device.clone();
        let qv = self.embed(&self.enc.bert, q, TextKind::Query, &dev)?;
        let pv = self.embed(&self.enc.bert, p, TextKind::Passage, &dev)?;
        let hv = if h.is_empty() {
            None
        } else {
            Some(self.embed(&self.enc.bert, h, TextKind::Passage, &dev)?)
        };
        // The embeddings' gradients are only wanted by the debug dump: a second, detached
        // loss gives them without changing the step.
        let emb = match self.capture_embedding_grads {
            true => {
                let leaf = |t: &Tensor<2>| Tensor::<2>::from_data(t.clone().into_data(), &dev).require_grad();
                let (ql, pl, hl) = (leaf(&qv), leaf(&pv), hv.as_ref().map(leaf));
                let g = info_nce(
                    ql.clone(),
                    pl.clone(),
                    hl.clone(),
                    self.cfg.temperature,
                    self.cfg.symmetric,
                )
                .backward();
                let rows = |t: Option<&Tensor<2>>| -> Vec<f32> {
                    t.and_then(|t| t.grad(&g))
                        .map(|x| x.into_data().try_to_vec::<f32>().expect("f32 gradients"))
                        .unwrap_or_default()
                };
                Some(EmbeddingGrads {
                    dim: qv.dims()[1],
                    queries: rows(Some(&ql)),
                    passages: rows(Some(&pl)),
                    hard: rows(hl.as_ref()),
                })
            }
            false => None,
        };
        let loss = info_nce(qv, pv, hv, self.cfg.temperature, self.cfg.symmetric);
        let value = loss.clone().into_scalar::<f32>() as f64;
        let grads = GradientsParams::from_grads(loss.mul_scalar(self.loss_scale()).backward(), &self.enc.bert);
        Ok((value, grads, emb))
    }

    /// Embeds one side of the rank's share: in micro-batches of `m` without the graph, or
    /// (`keep_graph`) in one piece with it. `min_seq`: pad to at least this many tokens.
    /// Packed rows cut the side's packing into parts of `m` rows: each pass holds at most
    /// the slots of `m` texts of the longest length — what the first micro-batch of `m`
    /// texts holds otherwise — and short texts share its rows.
    fn embed_side(&self, texts: &[String], kind: TextKind, m: usize, keep_graph: bool, min_seq: usize) -> Result<Side> {
        let plain = self.enc.device.clone().without_autodiff();
        let frozen = self.enc.bert.valid();
        let mut side = Side {
            sorted: Vec::new(),
            order: Vec::new(),
            kind,
            values: Vec::new(),
            graph: None,
            parts: Vec::new(),
            if_padded: None,
        };
        if texts.is_empty() {
            return Ok(side);
        }
        let batch = self.tokenize(texts, kind)?;
        let packed = self.cfg.batching == crate::config::Batching::Packed;
        if packed && !keep_graph {
            for (idx, part) in batch.pack(0, self.enc.tokenizer.pad_multiple).split_rows(m) {
                side.order.extend_from_slice(&idx);
                side.parts.push(Part {
                    len: idx.len(),
                    packed: Some(part),
                });
            }
        } else {
            side.order = (0..texts.len()).collect();
            side.order.sort_by_key(|&i| std::cmp::Reverse(batch.lengths[i]));
            if !keep_graph {
                side.parts = side
                    .order
                    .chunks(m)
                    .map(|c| Part {
                        len: c.len(),
                        packed: None,
                    })
                    .collect();
            }
        }
        side.sorted = side.order.iter().map(|&i| texts[i].clone()).collect();
        let mut inverse = vec![0i64; side.order.len()];
        for (j, &i) in side.order.iter().enumerate() {
            inverse[i] = j as i64;
        }
        let n = inverse.len();
        if keep_graph {
            let dev = self.enc.device.clone();
            // Padded as the whole batch pads (the numbers of one device, bit for bit) unless
            // the run embeds in length groups or packed rows, which equal it only to float
            // rounding anyway.
            let e = if self.cfg.batching != crate::config::Batching::Padded {
                self.embed(&self.enc.bert, &side.sorted, kind, &dev)?
            } else {
                self.embed_padded(&self.enc.bert, &side.sorted, kind, &dev, min_seq)?
            };
            let idx = Tensor::<1, Int>::from_data(TensorData::new(inverse, [n]), &dev);
            side.values = e
                .clone()
                .detach()
                .select(0, idx)
                .into_data()
                .try_to_vec::<f32>()
                .expect("f32 embeddings");
            side.graph = Some(e);
            return Ok(side);
        }
        if packed {
            // Padded micro-batches of `m` texts longest first: the slots packing saves.
            let mut lengths = batch.lengths.clone();
            lengths.sort_unstable_by(|a, b| b.cmp(a));
            let pad = self.enc.tokenizer.pad_multiple.max(1);
            let padded = lengths.chunks(m).map(|c| c.len() * c[0].next_multiple_of(pad)).sum();
            let real = lengths.iter().sum();
            self.count_slots(0, padded, real);
            side.if_padded = Some((padded, real));
        }
        let mut parts = Vec::with_capacity(side.parts.len());
        let mut at = 0;
        for part in &side.parts {
            parts.push(self.embed_part(&frozen, &side.sorted[at..at + part.len], part, kind, &plain)?);
            at += part.len;
        }
        let in_order =
            Tensor::cat(parts, 0).select(0, Tensor::<1, Int>::from_data(TensorData::new(inverse, [n]), &plain));
        side.values = in_order.into_data().try_to_vec::<f32>().expect("f32 embeddings");
        Ok(side)
    }

    /// A micro-batch's vectors: its packed rows as they are, else its texts as the run lays
    /// them out.
    fn embed_part(
        &self,
        bert: &Bert,
        texts: &[String],
        part: &Part,
        kind: TextKind,
        device: &Device,
    ) -> Result<Tensor<2>> {
        match &part.packed {
            Some(p) => {
                self.count_slots(p.tokens.slots().0, 0, 0);
                Ok(self.enc.forward_with(bert, &self.enc.to_device_packed(p, device)))
            }
            None => self.embed(bert, texts, kind, device),
        }
    }

    /// Gradient caching (Gao et al. 2021): embed the whole batch without gradients, take the
    /// loss's gradient with respect to the embeddings, then re-run each micro-batch with
    /// gradients and back-propagate `<embedding, cached gradient>`. Exact full-batch
    /// negatives at the memory of one micro-batch, for one extra forward pass. Across ranks,
    /// the embeddings are all-gathered in between, so the loss is the global batch's.
    fn grad_cache_step(
        &self,
        q: &[String],
        p: &[String],
        h: &[String],
        m: usize,
        pad: Option<[usize; 3]>,
    ) -> Result<(f64, GradientsParams, Option<EmbeddingGrads>)> {
        let dev = self.enc.device.clone();
        // Across ranks without micro-batches (`pad`), the first forward keeps its graph.
        let keep = pad.is_some();
        let seq = pad.unwrap_or_default();
        let sides = [
            self.embed_side(q, TextKind::Query, m, keep, seq[0])?,
            self.embed_side(p, TextKind::Passage, m, keep, seq[1])?,
            self.embed_side(h, TextKind::Passage, m, keep, seq[2])?,
        ];
        let dim = self.enc.config.hidden_size;
        // One all-gather for all three sides: each rank sends [queries; positives; hard].
        let local: Vec<f32> = sides.iter().flat_map(|s| s.values.iter().copied()).collect();
        let (all, counts) = self.communicate(|c| c.all_gather(&local));
        let mut st = self.comm_stats.get();
        st.gathered_bytes += (local.len() * 4) as u64;
        self.comm_stats.set(st);
        let rows = q.len();
        let (mut gq, mut gp, mut gh) = (Vec::new(), Vec::new(), Vec::new());
        let mut at = 0;
        // Where this rank's hard negatives start among the global batch's.
        let mut own_hard_at = 0;
        for (r, &count) in counts.iter().enumerate() {
            let part = &all[at..at + count];
            let hard_rows = count / dim - 2 * rows;
            gq.extend_from_slice(&part[..rows * dim]);
            gp.extend_from_slice(&part[rows * dim..2 * rows * dim]);
            gh.extend_from_slice(&part[2 * rows * dim..]);
            if r < self.comm.rank() {
                own_hard_at += hard_rows;
            }
            at += count;
        }
        let leaf = |v: Vec<f32>| {
            let n = v.len() / dim;
            Tensor::<2>::from_data(TensorData::new(v, [n, dim]), &dev).require_grad()
        };
        let (ql, pl) = (leaf(gq), leaf(gp));
        let hl = (!gh.is_empty()).then(|| leaf(gh));
        let loss = info_nce(
            ql.clone(),
            pl.clone(),
            hl.clone(),
            self.cfg.temperature,
            self.cfg.symmetric,
        );
        let value = loss.clone().into_scalar::<f32>() as f64;
        let g = loss.backward();
        let grad_of = |t: Option<&Tensor<2>>| {
            t.and_then(|t| t.grad(&g))
                .map(|x| Tensor::<2>::from_data(x.into_data(), &dev))
        };
        let global = [grad_of(Some(&ql)), grad_of(Some(&pl)), grad_of(hl.as_ref())];
        let emb = self.capture_embedding_grads.then(|| {
            let v = |t: &Option<Tensor<2>>| {
                t.as_ref()
                    .map(|t| t.clone().into_data().try_to_vec::<f32>().expect("f32 gradients"))
                    .unwrap_or_default()
            };
            EmbeddingGrads {
                dim,
                queries: v(&global[0]),
                passages: v(&global[1]),
                hard: v(&global[2]),
            }
        });
        let first = self.comm.rank() * rows;
        let mut acc = GradientsAccumulator::new();
        for ((side, grad), start) in sides.iter().zip(global).zip([first, first, own_hard_at]) {
            if let (Some(grad), false) = (grad, side.sorted.is_empty()) {
                self.backward_side(side, grad, start, &mut acc)?;
            }
        }
        Ok((value, acc.grads(), emb))
    }

    /// Back-propagates the loss's gradient `grad` (the global batch's rows of this side;
    /// the rank's own start at `start`) through the side, micro-batch by micro-batch.
    fn backward_side(
        &self,
        side: &Side,
        grad: Tensor<2>,
        start: usize,
        acc: &mut GradientsAccumulator<Bert>,
    ) -> Result<()> {
        let dev = self.enc.device.clone();
        // This rank's rows, in the order its micro-batches run.
        let n = side.order.len();
        let order: Vec<i64> = side.order.iter().map(|&i| (start + i) as i64).collect();
        let grad = grad.select(0, Tensor::<1, Int>::from_data(TensorData::new(order, [n]), &dev));
        let mut accumulate = |e: Tensor<2>, g: Tensor<2>| {
            let surrogate = (e * g).sum().mul_scalar(self.loss_scale());
            acc.accumulate(
                &self.enc.bert,
                GradientsParams::from_grads(surrogate.backward(), &self.enc.bert),
            );
        };
        if let Some(e) = &side.graph {
            accumulate(e.clone(), grad);
            return Ok(());
        }
        if let Some((padded, real)) = side.if_padded {
            self.count_slots(0, padded, real);
        }
        let mut at = 0;
        for part in &side.parts {
            let e = self.embed_part(&self.enc.bert, &side.sorted[at..at + part.len], part, side.kind, &dev)?;
            accumulate(e, grad.clone().slice(s![at..at + part.len, ..]));
            at += part.len;
        }
        Ok(())
    }
}
