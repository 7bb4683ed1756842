//! A packed batch on the device: each text's position ids restarting at its start, the
//! block-diagonal mask that keeps it to itself and the weights that pool it alone. The
//! packing itself (which text goes in which row) is host data: [`hbt_tokenizer::PackedBatch`].

use burn::prelude::*;
use hbt_tokenizer::PackedBatch;

use crate::bert::PackedLayout;
use crate::config::EncoderConfig;
use crate::pooling::Pooling;

/// The rows' position ids (`[rows · seq]`, on the host) and the layout the forward pass
/// and pooling read.
pub(crate) fn layout(
    packed: &PackedBatch,
    config: &EncoderConfig,
    pooling: Pooling,
    device: &Device,
) -> (Vec<i64>, PackedLayout) {
    let (rows, len, k) = (packed.tokens.batch, packed.tokens.seq, packed.per_row.max(1));
    let mut positions = vec![config.position_ids(&[0])[0]; rows * len];
    // Segment of each slot: 0 for padding, text index + 1 otherwise.
    let mut segment = vec![0i64; rows * len];
    let mut weights = vec![0f32; rows * k * len];
    let mut texts = Vec::with_capacity(packed.spans.len());
    let mut next = vec![0usize; rows];
    for (i, s) in packed.spans.iter().enumerate() {
        let at = s.row * len + s.start;
        positions[at..at + s.len].copy_from_slice(&config.position_ids(&vec![1; s.len]));
        segment[at..at + s.len].fill(i as i64 + 1);
        let slot = s.row * k + next[s.row];
        next[s.row] += 1;
        texts.push(slot as i64);
        let w = &mut weights[slot * len + s.start..slot * len + s.start + s.len];
        match pooling {
            Pooling::Mean => w.fill(1.0 / s.len.max(1) as f32),
            Pooling::Cls | Pooling::Pooler => {
                if let Some(first) = w.first_mut() {
                    *first = 1.0;
                }
            }
        }
    }
    let segment = Tensor::<2, Int>::from_data(TensorData::new(segment, [rows, len]), device);
    let query = segment.clone().reshape([rows, 1, len, 1]).expand([rows, 1, len, len]);
    let key = segment.reshape([rows, 1, 1, len]).expand([rows, 1, len, len]);
    let n = texts.len();
    let layout = PackedLayout {
        blocked: query.not_equal(key),
        weights: Tensor::from_data(TensorData::new(weights, [rows, k, len]), device),
        texts: Tensor::from_data(TensorData::new(texts, [n]), device),
    };
    (positions, layout)
}
