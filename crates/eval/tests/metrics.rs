//! Metrics against values computed by hand.

use hbt_eval::metrics::*;

fn close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-9, "{a} != {b}");
}

#[test]
fn average_precision_by_hand() {
    // Relevant at ranks 1 and 3 of two: (1/1 + 2/3) / 2.
    close(average_precision(&[1, 3], 2), (1.0 + 2.0 / 3.0) / 2.0);
    // One of three relevant retrieved, at rank 2: (1/2) / 3.
    close(average_precision(&[2], 3), 1.0 / 6.0);
    close(average_precision(&[], 0), 0.0);
}

#[test]
fn map_at_k_divides_by_min_of_relevant_and_k() {
    // XTREME-R mAP@20: ranks 1, 3, 25 of 3 relevant -> (1 + 2/3) / min(3, 20).
    close(ap_at_k(&[1, 3, 25], 3, 20), (1.0 + 2.0 / 3.0) / 3.0);
    // 30 relevant, all in the top 30: the first 20 count, divided by 20 -> 1.
    let ranks: Vec<usize> = (1..=30).collect();
    close(ap_at_k(&ranks, 30, 20), 1.0);
    // trec_eval's map_cut divides by |R| instead.
    close(map_cut(&ranks, 30, 20), 20.0 / 30.0);
}

#[test]
fn recall_rr_ndcg_by_hand() {
    close(recall_at_k(&[1, 3, 12], 4, 10), 0.5);
    close(rr_at_k(&[3, 5], 10), 1.0 / 3.0);
    close(rr_at_k(&[11], 10), 0.0);
    // Binary gains at ranks 1 and 3 of 2 relevant: (1 + 1/log2 4) / (1 + 1/log2 3).
    let want = (1.0 + 0.5) / (1.0 + 1.0 / 3f64.log2());
    close(ndcg_at_k(&[(1, 1.0), (3, 1.0)], &[1.0, 1.0], 10), want);
    // Graded: gain 2 at rank 2, gain 1 at rank 1; ideal puts 2 first.
    let dcg = 1.0 / 2f64.log2() + 2.0 / 3f64.log2();
    let idcg = 2.0 / 2f64.log2() + 1.0 / 3f64.log2();
    close(ndcg_at_k(&[(1, 1.0), (2, 2.0)], &[2.0, 1.0], 10), dcg / idcg);
}

#[test]
fn ranks_and_top_k_break_ties_by_index() {
    let s = [0.5, 0.9, 0.5, 0.1];
    assert_eq!(rank_of(&s, 1), 1);
    assert_eq!(rank_of(&s, 0), 2);
    assert_eq!(rank_of(&s, 2), 3);
    assert_eq!(rank_of(&s, 3), 4);
    assert_eq!(top_k(&s, 3), vec![1, 0, 2]);
    assert_eq!(top_k(&s, 10), vec![1, 0, 2, 3]);
}

#[test]
fn score_query_matches_hand_values() {
    let run: Vec<(String, f64)> = [("a", 0.9), ("b", 0.8), ("c", 0.7), ("d", 0.6)]
        .iter()
        .map(|(d, s)| (d.to_string(), *s))
        .collect();
    let qrels: std::collections::HashMap<String, i32> =
        [("b".to_string(), 1), ("d".to_string(), 1), ("z".to_string(), 1)].into();
    let m = score_query(&run, &qrels);
    close(m.ap, (1.0 / 2.0 + 2.0 / 4.0) / 3.0);
    close(m.recall_10, 2.0 / 3.0);
    close(m.rr_10, 0.5);
}
