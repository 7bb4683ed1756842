//! ISO 639-1 codes, and language detection for rows that do not say their language.
//!
//! Detection is `whatlang` (trigram profiles, 69 languages, no model files): measured on the
//! XQuAD-R questions in `docs/results/own-data-2026-12-07/detect.txt` (the test
//! `detect_xquad` keeps the figure honest). Its ISO 639-3 answers are mapped to 639-1, the
//! codes LAReQA, MIRACL and hbt's reports use.

use std::collections::BTreeMap;

/// Every ISO 639-1 code.
const ISO_639_1: &str = "aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu \
cv cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz ia id ie \
ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml \
mn mr ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si \
sk sl sm sn so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo \
za zh zu";

/// Whether `code` is an ISO 639-1 code (two lower-case letters that the standard lists).
pub fn is_iso_639_1(code: &str) -> bool {
    code.len() == 2 && ISO_639_1.split(' ').any(|c| c == code)
}

/// The ISO 639-1 code of a language tag (`de`, `de-DE`, `zh_CN`, `EN`), if it starts with one.
pub fn primary_code(tag: &str) -> Option<String> {
    let code = tag.split(['-', '_']).next()?.to_ascii_lowercase();
    is_iso_639_1(&code).then_some(code)
}

/// whatlang's ISO 639-3 codes as 639-1.
const WHATLANG_TO_639_1: &[(&str, &str)] = &[
    ("afr", "af"),
    ("aka", "ak"),
    ("amh", "am"),
    ("ara", "ar"),
    ("aze", "az"),
    ("bel", "be"),
    ("ben", "bn"),
    ("bul", "bg"),
    ("cat", "ca"),
    ("ces", "cs"),
    ("cmn", "zh"),
    ("dan", "da"),
    ("deu", "de"),
    ("ell", "el"),
    ("eng", "en"),
    ("epo", "eo"),
    ("est", "et"),
    ("fin", "fi"),
    ("fra", "fr"),
    ("guj", "gu"),
    ("heb", "he"),
    ("hin", "hi"),
    ("hrv", "hr"),
    ("hun", "hu"),
    ("hye", "hy"),
    ("ind", "id"),
    ("ita", "it"),
    ("jav", "jv"),
    ("jpn", "ja"),
    ("kan", "kn"),
    ("kat", "ka"),
    ("khm", "km"),
    ("kor", "ko"),
    ("lat", "la"),
    ("lav", "lv"),
    ("lit", "lt"),
    ("mal", "ml"),
    ("mar", "mr"),
    ("mkd", "mk"),
    ("mya", "my"),
    ("nep", "ne"),
    ("nld", "nl"),
    ("nob", "nb"),
    ("ori", "or"),
    ("pan", "pa"),
    ("pes", "fa"),
    ("pol", "pl"),
    ("por", "pt"),
    ("ron", "ro"),
    ("rus", "ru"),
    ("sin", "si"),
    ("slk", "sk"),
    ("slv", "sl"),
    ("sna", "sn"),
    ("spa", "es"),
    ("srp", "sr"),
    ("swe", "sv"),
    ("tam", "ta"),
    ("tel", "te"),
    ("tgl", "tl"),
    ("tha", "th"),
    ("tuk", "tk"),
    ("tur", "tr"),
    ("ukr", "uk"),
    ("urd", "ur"),
    ("uzb", "uz"),
    ("vie", "vi"),
    ("yid", "yi"),
    ("zul", "zu"),
];

/// The language of `text` as an ISO 639-1 code, or None where the detector has no answer.
pub fn detect(text: &str) -> Option<&'static str> {
    let info = whatlang::detect(text)?;
    let code = info.lang().code();
    WHATLANG_TO_639_1.iter().find(|(c3, _)| *c3 == code).map(|(_, c1)| *c1)
}

/// Counts of detected languages, for the line printed before training.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Detected {
    /// Texts whose language was detected, by language.
    pub by_lang: BTreeMap<String, usize>,
    /// Texts the detector could not place (their rows are refused).
    pub undetected: usize,
}

impl Detected {
    pub fn total(&self) -> usize {
        self.by_lang.values().sum::<usize>() + self.undetected
    }
}
