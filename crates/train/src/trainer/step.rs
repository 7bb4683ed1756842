//! One optimisation step: InfoNCE over the batch's in-batch negatives, optionally through
//! gradient caching, then global-norm clipping and AdamW.

use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::prelude::*;
use hbt_data::sampler::Batch;
use hbt_model::TextKind;

use super::{TrainData, Trainer};
use crate::error::Result;
use crate::loss::info_nce;

impl Trainer {
    /// One optimisation step on a batch; returns the loss.
    pub fn step(&mut self, data: &TrainData, batch: &Batch, lr: f64) -> Result<f64> {
        let (q, p, h) = data.texts(&data.train, batch, self.cfg.hard_negatives);
        let dev = self.enc.device.clone();
        let (loss, grads) = match self.cfg.micro_batch.filter(|&m| m < q.len()) {
            None => {
                let qv = self.embed(&self.enc.bert, &q, TextKind::Query, &dev)?;
                let pv = self.embed(&self.enc.bert, &p, TextKind::Passage, &dev)?;
                let hv = if h.is_empty() {
                    None
                } else {
                    Some(self.embed(&self.enc.bert, &h, TextKind::Passage, &dev)?)
                };
                let loss = info_nce(qv, pv, hv, self.cfg.temperature, self.cfg.symmetric);
                let value = loss.clone().into_scalar::<f32>() as f64;
                let grads = GradientsParams::from_grads(loss.backward(), &self.enc.bert);
                (value, grads)
            }
            Some(m) => self.grad_cache_step(&q, &p, &h, m)?,
        };
        let mut grads = grads;
        self.last_grad_norm = Some(match self.cfg.grad_clip {
            Some(c) => crate::clip::clip_global_norm(&self.enc.bert, &mut grads, c),
            None => crate::clip::global_norm(&self.enc.bert, &grads),
        });
        self.enc.bert = self.optim.step(lr, self.enc.bert.clone(), grads);
        Ok(loss)
    }

    /// Gradient caching (Gao et al. 2021): embed the whole batch without gradients, take the
    /// loss's gradient with respect to the embeddings, then re-run each micro-batch with
    /// gradients and back-propagate `<embedding, cached gradient>`. Exact full-batch
    /// negatives at the memory of one micro-batch, for one extra forward pass.
    fn grad_cache_step(&self, q: &[String], p: &[String], h: &[String], m: usize) -> Result<(f64, GradientsParams)> {
        let dev = self.enc.device.clone();
        let plain = dev.clone().without_autodiff();
        let frozen = self.enc.bert.valid();
        let embed_all = |texts: &[String], kind: TextKind| -> Result<Tensor<2>> {
            let parts: Vec<Tensor<2>> = texts
                .chunks(m)
                .map(|c| self.embed(&frozen, c, kind, &plain))
                .collect::<Result<_>>()?;
            Ok(Tensor::cat(parts, 0))
        };
        // Micro-batches of texts sorted by token length, so each pads only to texts of
        // about its own length; the loss sees the embeddings back in batch order.
        let sorted = |texts: &[String], kind: TextKind| -> Result<(Vec<String>, Tensor<2>, Tensor<2>)> {
            let lengths = self.tokenize(texts, kind)?.lengths;
            let mut order: Vec<usize> = (0..texts.len()).collect();
            order.sort_by_key(|&i| std::cmp::Reverse(lengths[i]));
            let mut inverse = vec![0i64; order.len()];
            for (j, &i) in order.iter().enumerate() {
                inverse[i] = j as i64;
            }
            let texts: Vec<String> = order.iter().map(|&i| texts[i].clone()).collect();
            let leaf = Tensor::<2>::from_data(embed_all(&texts, kind)?.into_data(), &dev).require_grad();
            let n = inverse.len();
            let in_order = leaf
                .clone()
                .select(0, Tensor::<1, Int>::from_data(TensorData::new(inverse, [n]), &dev));
            Ok((texts, leaf, in_order))
        };
        let (qs, ql, qv) = sorted(q, TextKind::Query)?;
        let (ps, pl, pv) = sorted(p, TextKind::Passage)?;
        let hard = if h.is_empty() {
            None
        } else {
            Some(sorted(h, TextKind::Passage)?)
        };
        let loss = info_nce(
            qv,
            pv,
            hard.as_ref().map(|x| x.2.clone()),
            self.cfg.temperature,
            self.cfg.symmetric,
        );
        let value = loss.clone().into_scalar::<f32>() as f64;
        let g = loss.backward();
        let cached = |t: &Tensor<2>| t.grad(&g).map(|x| Tensor::<2>::from_data(x.into_data(), &dev));
        let (gq, gp) = (cached(&ql), cached(&pl));
        let gh = hard.as_ref().and_then(|x| cached(&x.1));
        let hs: &[String] = hard.as_ref().map(|x| x.0.as_slice()).unwrap_or(&[]);
        let mut acc = GradientsAccumulator::new();
        for (texts, kind, grad) in [
            (qs.as_slice(), TextKind::Query, gq),
            (ps.as_slice(), TextKind::Passage, gp),
            (hs, TextKind::Passage, gh),
        ] {
            let Some(grad) = grad else { continue };
            for (i, c) in texts.chunks(m).enumerate() {
                let e = self.embed(&self.enc.bert, c, kind, &dev)?;
                let rows = c.len();
                let gslice = grad.clone().slice(s![i * m..i * m + rows, ..]);
                let surrogate = (e * gslice).sum();
                acc.accumulate(
                    &self.enc.bert,
                    GradientsParams::from_grads(surrogate.backward(), &self.enc.bert),
                );
            }
        }
        Ok((value, acc.grads()))
    }
}
