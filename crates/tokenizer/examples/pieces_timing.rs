//! How long building a Unigram tokenizer from an on-demand bundle's pieces file takes
//! natively: the pieces in id order into a trie (`Unigram::from`, what version 1 files gave)
//! against the stored sorted order (`Unigram::from_sorted`, version 2), five runs each.
//!
//!   cargo run --release -p hbt-tokenizer --example pieces_timing -- MODEL_DIR
use std::path::{Path, PathBuf};
use std::time::Instant;

use hbt_tokenizer::{Pieces, TextTokenizer, read_pieces, read_pieces_sorted, split_tokenizer};
use tokenizers::models::unigram::Unigram;

fn main() {
    let dir = PathBuf::from(std::env::args().nth(1).expect("usage: pieces_timing MODEL_DIR"));
    let path = dir.join("tokenizer.json");
    let json = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (skeleton, pieces) = split_tokenizer(&json, &path).expect("a Unigram tokenizer.json");
    let plain = miniz_oxide::inflate::decompress_to_vec_zlib(&pieces).expect("zlib");
    println!("pieces file {} bytes ({} inflated)", pieces.len(), plain.len());
    let ms = |t: Instant| t.elapsed().as_secs_f64() * 1e3;
    let p = Path::new("tokenizer.pieces");
    for run in 1..=5 {
        let t = Instant::now();
        let list = read_pieces(&plain, p).unwrap();
        let read_list = ms(t);
        let t = Instant::now();
        let trie = Unigram::from(list, Some(3), false).unwrap();
        let (build_trie, t) = (ms(t), Instant::now());
        let Pieces::Sorted(sorted, scores) = read_pieces_sorted(&plain, p).unwrap() else {
            panic!("split_tokenizer writes version 2")
        };
        let read_sorted = ms(t);
        let t = Instant::now();
        let stored = Unigram::from_sorted(sorted, scores, Some(3), false).unwrap();
        let (from_sorted, t) = (ms(t), Instant::now());
        let whole = TextTokenizer::with_pieces(skeleton.clone(), &pieces, &path, p, 512, 1).unwrap();
        let with_pieces = ms(t);
        drop((trie, stored, whole));
        println!(
            "run {run}: trie: read {read_list:.1} + build {build_trie:.1} ms; sorted: read {read_sorted:.1} + from_sorted {from_sorted:.1} ms; whole tokenizer from the zlib file {with_pieces:.1} ms"
        );
    }
}
