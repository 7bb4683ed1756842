//! Texts packed several to a row embed as the same texts padded one to a row: real
//! encoders (MiniLM: BERT positions; e5: XLM-R positions), both attention paths (Burn's
//! fused op and the additive mask training uses), every pooling.

mod common;

use common::TinySpec;
use hbt_model::{Encoder, EncoderOptions, Pooling, TextKind, TokenBatch, burn::prelude::*};

/// Lengths from a few tokens to the model's limit, several languages, none from a fixture.
const TEXTS: &[&str] = &[
    "Where was the treaty signed?",
    "¿En qué año se fundó la universidad y quién fue su primer rector?",
    "Der Fluss entspringt in den Alpen, fließt durch drei Länder und mündet nach über tausend Kilometern in die Nordsee, wo er ein breites Delta bildet, das seit Jahrhunderten besiedelt ist.",
    "水",
    "Какой город является столицей?",
    "The committee, which had met every spring since 1921, voted to move its archive to the new library; the move took eleven months, and several boxes of letters were only catalogued decades later by volunteers.",
    "ok",
    "नदी कहाँ से निकलती है?",
    "Ο ποταμός πηγάζει από τα βουνά.",
    "A",
];

fn vectors(enc: &Encoder, t: hbt_model::bert::BatchTensors) -> Vec<Vec<f32>> {
    let v = enc.forward(&t);
    let [n, d] = v.dims();
    let flat = v.into_data().try_to_vec::<f32>().unwrap();
    (0..n).map(|i| flat[i * d..(i + 1) * d].to_vec()).collect()
}

/// Padded vs packed on both attention paths; returns the packed batch's padding share.
fn check(enc: &Encoder, texts: &[&str], row_len: usize, what: &str) -> f64 {
    let dev = Device::flex();
    let batch = enc.tokenize(texts, TextKind::Query).unwrap();
    let packed = batch.pack(row_len, 8);
    assert!(packed.tokens.batch < texts.len(), "{what}: packing saved no row");
    for fused in [true, false] {
        let mut padded = enc.to_device(&batch, &dev);
        padded.fused_attention = fused;
        let mut rows = enc.to_device_packed(&packed, &dev);
        rows.fused_attention = fused;
        let (a, b) = (vectors(enc, padded), vectors(enc, rows));
        assert_eq!(a.len(), b.len());
        // Cut into parts of two rows (gradient caching's micro-batches): each text as in
        // the whole packing, bit for bit but for the pass's size.
        for (texts, part) in packed.split_rows(2) {
            let mut t = enc.to_device_packed(&part, &dev);
            t.fused_attention = fused;
            for (v, &i) in vectors(enc, t).iter().zip(&texts) {
                let worst = v.iter().zip(&b[i]).map(|(p, q)| (p - q).abs()).fold(0f32, f32::max);
                assert!(worst <= 1e-5, "{what}: text {i} in a two-row part differs by {worst}");
            }
        }
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            let worst = x.iter().zip(y).map(|(p, q)| (p - q).abs()).fold(0f32, f32::max);
            let scale = x.iter().map(|p| p.abs()).fold(0f32, f32::max);
            assert!(
                worst <= 2e-5 * scale.max(1.0) && y.iter().all(|q| q.is_finite()),
                "{what} (fused attention {fused}), text {i}: packed differs from padded by {worst}"
            );
        }
    }
    let (slots, real) = packed.tokens.slots();
    1.0 - real as f64 / slots as f64
}

#[test]
fn real_encoders_embed_packed_rows_as_padded_ones() {
    for (name, dir) in [("MiniLM", common::minilm_dir()), ("e5-small", common::e5_dir())] {
        let enc = Encoder::load(&dir, &Device::flex(), &EncoderOptions::default()).unwrap();
        let share = check(&enc, TEXTS, 0, name);
        let padded = enc.tokenize(TEXTS, TextKind::Query).unwrap();
        let (slots, real) = padded.slots();
        eprintln!(
            "{name}: padding {:.0}% of the padded batch's slots, {:.0}% of the packed rows'",
            100.0 * (1.0 - real as f64 / slots as f64),
            100.0 * share
        );
        // Rows longer than the longest text: more texts a row.
        check(&enc, TEXTS, 256, &format!("{name}, 256-token rows"));
    }
}

#[test]
fn cls_and_pooler_pooling_pick_each_texts_own_first_token() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = TinySpec {
        pooler: true,
        ..Default::default()
    };
    common::write_tiny(tmp.path(), &spec, 3, "roberta.");
    let texts = [
        "a b c",
        "the cat sat on the mat",
        "der hund",
        "x",
        "el perro a b c d e le chat",
    ];
    for pooling in [Pooling::Mean, Pooling::Cls, Pooling::Pooler] {
        let o = EncoderOptions {
            pooling: Some(pooling),
            ..Default::default()
        };
        let enc = Encoder::load(tmp.path(), &Device::flex(), &o).unwrap();
        check(&enc, &texts, 0, &format!("tiny XLM-R, {pooling} pooling"));
    }
}

#[test]
fn packing_places_every_token_once_and_rows_hold_what_fits() {
    let mut state = 0x9e3779b97f4a7c15u64;
    let mut next = |m: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % m as u64) as usize
    };
    for case in 0..200 {
        let n = 1 + next(40);
        let seq = 2 + next(120);
        let lengths: Vec<usize> = (0..n).map(|_| 1 + next(seq)).collect();
        let mut b = TokenBatch {
            batch: n,
            seq,
            ids: vec![1; n * seq],
            mask: vec![0; n * seq],
            lengths: lengths.clone(),
            truncated: vec![false; n],
        };
        for (i, &l) in lengths.iter().enumerate() {
            for j in 0..l {
                b.ids[i * seq + j] = (1000 * i + j + 2) as u32;
                b.mask[i * seq + j] = 1;
            }
        }
        let row_len = [0, seq, 2 * seq][next(3)];
        let p = b.pack(row_len, 8);
        let t = &p.tokens;
        assert!(t.seq >= row_len && t.seq >= *lengths.iter().max().unwrap() && t.seq.is_multiple_of(8));
        let mut seen = vec![0u8; t.batch * t.seq];
        for (i, s) in p.spans.iter().enumerate() {
            assert_eq!(s.len, lengths[i], "case {case}");
            assert!(s.start + s.len <= t.seq);
            let at = s.row * t.seq + s.start;
            assert_eq!(&t.ids[at..at + s.len], b.row_ids(i), "case {case}, text {i}");
            for k in at..at + s.len {
                seen[k] += 1;
                assert_eq!(t.mask[k], 1);
            }
        }
        assert!(seen.iter().all(|&c| c <= 1), "case {case}: texts overlap");
        let real: usize = lengths.iter().sum();
        assert_eq!(t.mask.iter().filter(|&&m| m == 1).count(), real);
        assert_eq!(t.lengths.iter().sum::<usize>(), real);
        // First fit: no two rows could have been one.
        let mut used = t.lengths.clone();
        used.sort_unstable();
        if used.len() > 1 {
            assert!(used[0] + used[1] > t.seq, "case {case}: rows {used:?} of {}", t.seq);
        }
        assert!(t.batch <= n);
        // Parts of k rows: every text once, in its own rows' order, with its own tokens.
        let k = 1 + next(5);
        let parts = p.split_rows(k);
        assert_eq!(parts.len(), t.batch.div_ceil(k), "case {case}");
        let mut placed = vec![0u8; n];
        for (j, (texts, part)) in parts.iter().enumerate() {
            let pt = &part.tokens;
            assert!(pt.batch <= k && pt.seq == t.seq, "case {case}, part {j}");
            assert_eq!(
                pt.ids[..],
                t.ids[j * k * t.seq..j * k * t.seq + pt.batch * t.seq],
                "case {case}"
            );
            assert_eq!(texts.len(), part.spans.len());
            assert!(part.per_row <= p.per_row);
            for (s, &i) in part.spans.iter().zip(texts) {
                placed[i] += 1;
                let at = s.row * pt.seq + s.start;
                assert_eq!(&pt.ids[at..at + s.len], b.row_ids(i), "case {case}, part {j}, text {i}");
            }
        }
        assert!(placed.iter().all(|&c| c == 1), "case {case}: {placed:?}");
    }
}
