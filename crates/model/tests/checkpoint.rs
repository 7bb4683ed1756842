//! The layers load and save themselves (`hbt_model::checkpoint`): every tensor of a real
//! checkpoint is taken by exactly one layer, once, and the walk back writes each under the
//! same name, shape, dtype and bytes. Checked against the safetensors file itself, read
//! here with the `safetensors` crate, not through hbt's loader.

mod common;

use std::collections::BTreeMap;

use hbt_model::bert::Bert;
use hbt_model::burn::prelude::Device;
use hbt_model::config::EncoderConfig;
use hbt_model::weights::{SaveDtype, WeightMap, export_tensors};
use safetensors::{Dtype, SafeTensors, View};

/// The checkpoint's own name for a tensor, without the architecture's prefix.
fn bare(name: &str) -> &str {
    name.strip_prefix("bert.")
        .or_else(|| name.strip_prefix("roberta."))
        .unwrap_or(name)
}

fn round_trip(dir: &std::path::Path) {
    let path = dir.join("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    // Buffers that are not weights (`position_ids`) are skipped on load, on purpose.
    let weights: BTreeMap<String, _> = file
        .tensors()
        .into_iter()
        .filter(|(n, _)| !n.ends_with("position_ids"))
        .map(|(n, v)| (bare(&n).to_string(), v))
        .collect();
    assert!(weights.len() > 50, "{}: only {} tensors", path.display(), weights.len());

    let config = EncoderConfig::from_file(&dir.join("config.json")).unwrap();
    let mut map = WeightMap {
        origin: path.clone(),
        ..Default::default()
    };
    map.add_safetensors(&bytes, &path).unwrap();
    let bert = Bert::load(&config, &mut map, &Device::flex(), false, false, false).unwrap();

    // Read exactly once: each weight of the file taken by one layer, none twice, none left.
    let mut taken = map.taken.clone();
    taken.sort();
    let before = taken.len();
    taken.dedup();
    assert_eq!(taken.len(), before, "a tensor was taken twice");
    assert_eq!(taken, weights.keys().cloned().collect::<Vec<_>>());
    assert!(map.tensors.is_empty(), "left over: {:?}", map.tensors.keys());

    // Written back: the same names, and for an f32 file the same bytes.
    let dtype = match weights.values().next().unwrap().dtype() {
        Dtype::F32 => SaveDtype::F32,
        Dtype::F16 => SaveDtype::F16,
        d => panic!("fixture in {d:?}"),
    };
    let out = export_tensors(&bert, dtype).unwrap();
    assert_eq!(out.keys().collect::<Vec<_>>(), weights.keys().collect::<Vec<_>>());
    for (name, view) in &weights {
        let back = &out[name];
        assert_eq!((&back).shape(), view.shape(), "{name}: shape");
        assert_eq!((&back).dtype(), view.dtype(), "{name}: dtype");
        assert!((&back).data().as_ref() == view.data(), "{name}: bytes differ");
    }
}

#[test]
fn e5_checkpoint_is_read_once_and_written_back_byte_for_byte() {
    round_trip(&common::e5_dir());
}

#[test]
fn minilm_checkpoint_is_read_once_and_written_back_byte_for_byte() {
    round_trip(&common::minilm_dir());
}
