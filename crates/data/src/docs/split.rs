//! Long sections cut into passages a small encoder reads whole (e5-small: 512 tokens).

/// `text` in pieces of at most `max` characters, cut between paragraphs (then lines, then
/// words), each after the first starting with up to `overlap` characters of the one before.
pub fn split_text(text: &str, max: usize, overlap: usize) -> Vec<String> {
    let max = max.max(64);
    if text.chars().count() <= max {
        return vec![text.to_string()];
    }
    // Units no longer than `max`: paragraphs, a long paragraph by lines, a long line by words.
    let mut units: Vec<String> = Vec::new();
    for para in text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
        if para.chars().count() <= max {
            units.push(para.to_string());
            continue;
        }
        for line in para.lines().map(str::trim).filter(|l| !l.is_empty()) {
            if line.chars().count() <= max {
                units.push(line.to_string());
                continue;
            }
            let mut cur = String::new();
            for word in line.split_whitespace() {
                if !cur.is_empty() && cur.chars().count() + 1 + word.chars().count() > max {
                    units.push(std::mem::take(&mut cur));
                }
                if !cur.is_empty() {
                    cur.push(' ');
                }
                // A "word" longer than a piece (minified code, a data URI) is cut.
                cur.extend(word.chars().take(max));
            }
            if !cur.is_empty() {
                units.push(cur);
            }
        }
    }
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    for u in units {
        let len = cur.chars().count();
        if len > 0 && len + 2 + u.chars().count() > max {
            let tail = overlap_tail(&cur, overlap.min(max / 2));
            out.push(std::mem::take(&mut cur));
            if tail.chars().count() + 2 + u.chars().count() <= max {
                cur = tail;
            }
        }
        if !cur.is_empty() {
            cur.push_str("\n\n");
        }
        cur.push_str(&u);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The last `n` characters of `s`, from a word boundary.
fn overlap_tail(s: &str, n: usize) -> String {
    if n == 0 {
        return String::new();
    }
    let chars: Vec<char> = s.chars().collect();
    let start = chars.len().saturating_sub(n);
    let tail: String = chars[start..].iter().collect();
    match tail.find(char::is_whitespace) {
        Some(i) if start > 0 => tail[i..].trim_start().to_string(),
        _ => tail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_split_with_overlap_and_nothing_lost() {
        let paras: Vec<String> = (0..40)
            .map(|i| format!("Paragraph {i} says something about topic {i}."))
            .collect();
        let text = paras.join("\n\n");
        let pieces = split_text(&text, 200, 60);
        assert!(pieces.len() > 5);
        for p in &pieces {
            assert!(p.chars().count() <= 200, "{p}");
        }
        for para in &paras {
            assert!(pieces.iter().any(|p| p.contains(para.as_str())), "{para} lost");
        }
        // Each piece after the first repeats the end of the one before.
        for w in pieces.windows(2) {
            let first_line = w[1].split("\n\n").next().unwrap();
            assert!(
                w[0].contains(first_line),
                "no overlap between {:?} and {:?}",
                w[0],
                w[1]
            );
        }
        let word = "x".repeat(1000);
        assert!(split_text(&word, 100, 10).iter().all(|p| p.chars().count() <= 100));
    }
}
