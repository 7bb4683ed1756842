//! A bundle's passage vectors (`embeddings.safetensors`): f16, or int8 with one scale a
//! passage (half the bytes); read natively and in the browser.

use std::path::Path;

use hbt_model::ModelError;

use crate::Result;

/// The tensor name of the passage vectors in `embeddings.safetensors`.
pub const EMBEDDINGS_TENSOR: &str = "passages";

/// Passage vectors `[n, dim]` row-major from `embeddings.safetensors` (f16, f32, or int8
/// with one scale a row in `passages_scale`).
pub fn read_embeddings(bytes: &[u8], origin: &Path) -> Result<(usize, usize, Vec<f32>)> {
    let err = |message: String| ModelError::Safetensors {
        path: origin.to_path_buf(),
        message,
    };
    let st = safetensors::SafeTensors::deserialize(bytes).map_err(|e| err(e.to_string()))?;
    let t = st
        .tensor(EMBEDDINGS_TENSOR)
        .map_err(|_| err(format!("no tensor `{EMBEDDINGS_TENSOR}`")))?;
    let [n, dim] = t.shape() else {
        return Err(err(format!(
            "`{EMBEDDINGS_TENSOR}` has shape {:?}, not [n, dim]",
            t.shape()
        )));
    };
    let data: Vec<f32> = match t.dtype() {
        safetensors::Dtype::F16 => t
            .data()
            .chunks_exact(2)
            .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        safetensors::Dtype::F32 => t
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        safetensors::Dtype::I8 => {
            let name = format!("{EMBEDDINGS_TENSOR}{}", hbt_model::weights::SCALE_SUFFIX);
            let s = st
                .tensor(&name)
                .map_err(|_| err(format!("`{EMBEDDINGS_TENSOR}` is int8 but `{name}` is missing")))?;
            if s.dtype() != safetensors::Dtype::F32 || s.shape() != [*n] {
                return Err(err(format!("`{name}` should be F32 [{n}]")));
            }
            let scales: Vec<f32> = s
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            t.data()
                .chunks_exact((*dim).max(1))
                .zip(&scales)
                .flat_map(|(row, &sc)| row.iter().map(move |&q| q as i8 as f32 * sc))
                .collect()
        }
        d => {
            return Err(err(format!(
                "`{EMBEDDINGS_TENSOR}` has dtype {d:?}; expected F16, F32 or I8"
            )));
        }
    };
    Ok((*n, *dim, data))
}

/// The `embeddings.safetensors` image for passage vectors in int8, one scale a passage
/// (half the bytes of f16).
pub fn embeddings_safetensors_q8(n: usize, dim: usize, data: &[f32]) -> Result<Vec<u8>> {
    let (q, scales) = hbt_model::weights::quantize_rows(data, dim);
    let q: Vec<u8> = q.iter().map(|&v| v as u8).collect();
    let s: Vec<u8> = scales.iter().flat_map(|v| v.to_le_bytes()).collect();
    let qv = safetensors::tensor::TensorView::new(safetensors::Dtype::I8, vec![n, dim], &q)
        .map_err(|e| ModelError::Backend(format!("passage vectors: {e}")))?;
    let sv = safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![n], &s)
        .map_err(|e| ModelError::Backend(format!("passage vectors: {e}")))?;
    let scale_name = format!("{EMBEDDINGS_TENSOR}{}", hbt_model::weights::SCALE_SUFFIX);
    safetensors::serialize([(EMBEDDINGS_TENSOR, qv), (scale_name.as_str(), sv)], None)
        .map_err(|e| ModelError::Backend(format!("serializing passage vectors: {e}")))
}

/// The `embeddings.safetensors` image for passage vectors, stored as f16.
pub fn embeddings_safetensors(n: usize, dim: usize, data: &[f32]) -> Result<Vec<u8>> {
    let bytes: Vec<u8> = data
        .iter()
        .flat_map(|v| half::f16::from_f32(*v).to_le_bytes())
        .collect();
    let view = safetensors::tensor::TensorView::new(safetensors::Dtype::F16, vec![n, dim], &bytes)
        .map_err(|e| ModelError::Backend(format!("passage vectors: {e}")))?;
    safetensors::serialize([(EMBEDDINGS_TENSOR, view)], None)
        .map_err(|e| ModelError::Backend(format!("serializing passage vectors: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int8_passage_vectors_keep_their_direction_and_need_their_scales() {
        let (n, dim) = (20, 384);
        // Deterministic unit vectors with a few large components, as sentence vectors have.
        let mut data: Vec<f32> = (0..n * dim)
            .map(|i| (((i * 7919) % 1009) as f32 / 1009.0 - 0.5) * if i % 97 == 0 { 8.0 } else { 1.0 })
            .collect();
        for row in data.chunks_mut(dim) {
            let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
            row.iter_mut().for_each(|v| *v /= norm);
        }
        let q8 = embeddings_safetensors_q8(n, dim, &data).unwrap();
        let f16 = embeddings_safetensors(n, dim, &data).unwrap();
        assert!(q8.len() * 10 < f16.len() * 6, "{} vs {} bytes", q8.len(), f16.len());
        let (rn, rd, back) = read_embeddings(&q8, Path::new("e")).unwrap();
        assert_eq!((rn, rd), (n, dim));
        for (a, b) in data.chunks(dim).zip(back.chunks(dim)) {
            let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
            let nb = b.iter().map(|v| v * v).sum::<f32>().sqrt();
            // Spiky rows (a component 8× the rest) are the hard case; real e5 vectors: 0.99995.
            assert!(dot / nb > 0.9995, "cosine {}", dot / nb);
        }
        // Without its scales an int8 tensor is refused, not read as raw integers.
        let q: Vec<u8> = vec![1; n * dim];
        let v = safetensors::tensor::TensorView::new(safetensors::Dtype::I8, vec![n, dim], &q).unwrap();
        let lone = safetensors::serialize([(EMBEDDINGS_TENSOR, v)], None).unwrap();
        let e = read_embeddings(&lone, Path::new("e.safetensors"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("passages_scale"), "{e}");
    }
}
