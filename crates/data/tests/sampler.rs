//! Properties of the batch samplers, over random corpora.

use std::collections::HashSet;

use hbt_data::sampler::{BatchKind, Group, PairSpace, Sampler, SamplerKind};
use proptest::prelude::*;

fn space(groups: Vec<Vec<u16>>, n_langs: usize, name: &str) -> PairSpace {
    PairSpace {
        name: name.into(),
        langs: (0..n_langs).map(|l| format!("l{l}")).collect(),
        groups: groups
            .into_iter()
            .enumerate()
            .map(|(i, langs)| Group {
                index: i as u32,
                langs,
                passage_langs: None,
            })
            .collect(),
    }
}

/// Random corpora: 4..60 questions, each in a random non-empty subset of 2..6 languages.
fn corpus() -> impl Strategy<Value = PairSpace> {
    (2usize..6).prop_flat_map(|n| {
        prop::collection::vec(prop::collection::btree_set(0..n as u16, 1..=n), 4..60)
            .prop_map(move |gs| space(gs.into_iter().map(|s| s.into_iter().collect()).collect(), n, "c"))
    })
}

fn kind() -> impl Strategy<Value = SamplerKind> {
    prop_oneof![
        Just(SamplerKind::Mono),
        Just(SamplerKind::Cross),
        Just(SamplerKind::XX),
        (0.0f64..=1.0).prop_map(SamplerKind::Hybrid),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn batches_respect_their_kind(sp in corpus(), k in kind(), bs in 1usize..5, seed in any::<u64>()) {
        let s = Sampler::new(vec![sp.clone()], k, bs, seed).unwrap();
        let mut seen = HashSet::new();
        for b in s.epoch(0) {
            prop_assert_eq!(b.pairs.len(), bs);
            // No question id twice in a batch.
            let ids: HashSet<usize> = b.pairs.iter().map(|p| p.group).collect();
            prop_assert_eq!(ids.len(), bs);
            match b.kind {
                BatchKind::Mono => {
                    let l = b.pairs[0].qlang;
                    prop_assert!(b.pairs.iter().all(|p| p.qlang == l && p.plang == l), "mono batch mixes languages");
                }
                BatchKind::Cross => prop_assert!(b.pairs.iter().all(|p| p.qlang != p.plang), "cross pair X = Y"),
                BatchKind::XX => prop_assert!(b.pairs.iter().all(|p| p.qlang == p.plang)),
            }
            match k {
                SamplerKind::Mono => prop_assert_eq!(b.kind, BatchKind::Mono),
                SamplerKind::Cross => prop_assert_eq!(b.kind, BatchKind::Cross),
                SamplerKind::XX => prop_assert_eq!(b.kind, BatchKind::XX),
                SamplerKind::Hybrid(_) => prop_assert!(b.kind != BatchKind::XX),
            }
            for p in &b.pairs {
                // Every pair exists in the corpus, and appears at most once per epoch.
                let g = &sp.groups[p.group];
                prop_assert!(g.langs.contains(&p.qlang) && g.langs.contains(&p.plang));
                prop_assert!(seen.insert(*p), "pair used twice in one epoch");
            }
        }
    }

    #[test]
    fn same_seed_same_batches(sp in corpus(), k in kind(), seed in any::<u64>()) {
        let a = Sampler::new(vec![sp.clone()], k, 2, seed).unwrap();
        let b = Sampler::new(vec![sp], k, 2, seed).unwrap();
        prop_assert_eq!(a.epoch(0), b.epoch(0));
        prop_assert_eq!(a.epoch(3), b.epoch(3));
    }
}

#[test]
fn hybrid_mono_share_converges_to_alpha() {
    // 400 questions in all of 6 languages: plenty of both kinds of batch.
    let sp = space((0..400).map(|_| (0..6).collect()).collect(), 6, "c");
    for alpha in [0.0, 0.25, 0.5, 0.8, 1.0] {
        let s = Sampler::new(vec![sp.clone()], SamplerKind::Hybrid(alpha), 8, 42).unwrap();
        let batches: Vec<_> = s.stream(0, 0).take(4000).map(|(_, _, b)| b).collect();
        let mono = batches.iter().filter(|b| b.kind == BatchKind::Mono).count() as f64 / batches.len() as f64;
        assert!((mono - alpha).abs() < 0.03, "alpha {alpha}: mono share {mono}");
    }
}

#[test]
fn mono_languages_are_drawn_uniformly() {
    let sp = space((0..300).map(|_| (0..4).collect()).collect(), 4, "c");
    let s = Sampler::new(vec![sp], SamplerKind::Mono, 10, 1).unwrap();
    let mut counts = [0usize; 4];
    for (_, _, b) in s.stream(0, 0).take(2000) {
        counts[b.pairs[0].qlang as usize] += 1;
    }
    for c in counts {
        assert!((c as f64 / 2000.0 - 0.25).abs() < 0.04, "{counts:?}");
    }
}

#[test]
fn corpora_mix_in_proportion_to_size() {
    let big = space((0..900).map(|_| vec![0, 1]).collect(), 2, "big");
    let small = space((0..300).map(|_| vec![0, 1]).collect(), 2, "small");
    let s = Sampler::new(vec![big, small], SamplerKind::XX, 10, 3).unwrap();
    let e = s.epoch(0);
    let from_big = e.iter().filter(|b| b.pairs[0].space == 0).count() as f64 / e.len() as f64;
    assert!((from_big - 0.75).abs() < 0.06, "{from_big}");
    assert!(e.iter().all(|b| b.pairs.iter().all(|p| p.space == b.pairs[0].space)));
}

#[test]
fn resuming_a_stream_gives_the_same_batches() {
    let sp = space((0..50).map(|_| vec![0, 1, 2]).collect(), 3, "c");
    let s = Sampler::new(vec![sp], SamplerKind::Hybrid(0.5), 4, 9).unwrap();
    let all: Vec<_> = s.stream(0, 0).take(100).collect();
    let (e, i, _) = all[37].clone();
    let resumed: Vec<_> = s.stream(e, i).take(63).collect();
    assert_eq!(&all[37..], &resumed[..]);
}

#[test]
fn bad_sampler_settings_are_errors() {
    let sp = space((0..5).map(|_| vec![0, 1]).collect(), 2, "c");
    let e = Sampler::new(vec![sp.clone()], SamplerKind::Hybrid(1.5), 2, 0)
        .unwrap_err()
        .to_string();
    assert!(e.contains("alpha must lie in [0, 1]"), "{e}");
    let e = Sampler::new(vec![sp.clone()], SamplerKind::Mono, 6, 0)
        .unwrap_err()
        .to_string();
    assert!(e.contains("larger than the number of distinct questions (5)"), "{e}");
    let e = Sampler::new(vec![space(vec![], 2, "e")], SamplerKind::Mono, 1, 0)
        .unwrap_err()
        .to_string();
    assert!(e.contains("empty"), "{e}");
    assert!(SamplerKind::parse("weird", 0.5).is_err());
    assert!(SamplerKind::parse("hybrid", -0.1).is_err());
}
