//! The contrastive loss: InfoNCE over in-batch negatives (plus optional hard negatives)
//! with a temperature, and an optional symmetric passage → query term.

use burn::prelude::*;
use burn::tensor::activation::log_softmax;

/// Mean cross-entropy of each row against its diagonal entry (row i's positive is column i).
fn ce_diagonal(logits: Tensor<2>) -> Tensor<1> {
    let [b, m] = logits.dims();
    let mut eye = vec![0.0f32; b * m];
    for i in 0..b {
        eye[i * m + i] = 1.0;
    }
    let eye = Tensor::<2>::from_data(TensorData::new(eye, [b, m]), &logits.device());
    (log_softmax(logits, 1) * eye).sum().neg().div_scalar(b as f64)
}

/// InfoNCE for query vectors `q` `[b, d]` and their positives `p` `[b, d]`; every other
/// positive (and every row of `hard`, `[h, d]`) is a negative for each query. Scores are
/// dot products (cosines for normalised vectors) divided by `temperature`. With `symmetric`,
/// the passage → query direction (in-batch queries as negatives) is averaged in.
pub fn info_nce(q: Tensor<2>, p: Tensor<2>, hard: Option<Tensor<2>>, temperature: f64, symmetric: bool) -> Tensor<1> {
    let candidates = match hard {
        Some(h) => Tensor::cat(vec![p.clone(), h], 0),
        None => p.clone(),
    };
    let forward = ce_diagonal(q.clone().matmul(candidates.transpose()).div_scalar(temperature));
    if symmetric {
        let backward = ce_diagonal(p.matmul(q.transpose()).div_scalar(temperature));
        (forward + backward).div_scalar(2.0)
    } else {
        forward
    }
}
