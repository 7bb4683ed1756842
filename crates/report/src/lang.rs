//! Language codes: the ISO 639-1 codes hbt knows a name for.

const LANGS: &[(&str, &str)] = &[
    ("ar", "Arabic"),
    ("bn", "Bengali"),
    ("de", "German"),
    ("el", "Greek"),
    ("en", "English"),
    ("es", "Spanish"),
    ("fa", "Persian"),
    ("fi", "Finnish"),
    ("fr", "French"),
    ("hi", "Hindi"),
    ("id", "Indonesian"),
    ("it", "Italian"),
    ("ja", "Japanese"),
    ("ko", "Korean"),
    ("nl", "Dutch"),
    ("pl", "Polish"),
    ("pt", "Portuguese"),
    ("ro", "Romanian"),
    ("ru", "Russian"),
    ("sw", "Swahili"),
    ("te", "Telugu"),
    ("th", "Thai"),
    ("tr", "Turkish"),
    ("uk", "Ukrainian"),
    ("ur", "Urdu"),
    ("vi", "Vietnamese"),
    ("yo", "Yoruba"),
    ("zh", "Chinese"),
];

/// The English name of a language code, if hbt knows it.
pub fn language_name(code: &str) -> Option<&'static str> {
    LANGS.iter().find(|(c, _)| *c == code).map(|(_, n)| *n)
}

pub fn is_known(code: &str) -> bool {
    language_name(code).is_some()
}

/// The name a person reads: the English name where hbt knows one, `language not given` for
/// `und`, else the code itself.
pub fn display_name(code: &str) -> &str {
    match code {
        "und" => "language not given",
        c => language_name(c).unwrap_or(c),
    }
}
