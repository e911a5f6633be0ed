//! Cleaning a phone field as people type it into what libphonenumber parses:
//! ASCII digits with an optional leading `+`, the extension set apart.

/// A phone field reduced to its dialable part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cleaned {
    /// ASCII digits only, without the `+`.
    pub digits: String,
    /// Whether the number started with `+`, so it carries its country code.
    pub has_plus: bool,
    /// The extension (`ext. 12`, `x12`, `#12`), which matching ignores.
    pub extension: Option<String>,
}

/// Longest extension read as one; longer digit runs stay part of the number.
const MAX_EXTENSION_DIGITS: usize = 7;

/// Words and signs that introduce an extension, longest first so that
/// `extension` is not read as `ext` followed by `ension`.
const EXTENSION_MARKERS: [&str; 6] = ["extension", "ext", "ex", "x", "#", ";ext="];

/// Cleans a phone field: maps non-ASCII digits to ASCII, drops spaces of every
/// kind, dots, dashes, brackets and a leading label such as `tel:`, sets the
/// extension apart, removes the `(0)` written inside international numbers,
/// and turns the letters of vanity numbers (`1-800-FLOWERS`) into digits.
pub fn clean(raw: &str) -> Cleaned {
    let text: String = raw
        .chars()
        .map(normalize_char)
        .collect::<String>()
        .to_lowercase();
    let (main, extension) = split_extension(&text);
    let has_plus = main
        .chars()
        .find(|c| *c == '+' || c.is_ascii_digit())
        .is_some_and(|c| c == '+');
    let main = if has_plus
        || main.trim_start().starts_with("00")
        || main.trim_start().starts_with("011")
    {
        remove_trunk_zero_in_brackets(main)
    } else {
        main.to_string()
    };

    let mut digits = String::with_capacity(main.len());
    let mut seen_digit = false;
    for c in main.chars() {
        if c.is_ascii_digit() {
            seen_digit = true;
            digits.push(c);
        } else if c.is_ascii_alphabetic() && seen_digit {
            digits.push(keypad_digit(c));
        }
    }
    Cleaned {
        digits,
        has_plus,
        extension,
    }
}

/// Maps Unicode digits to ASCII digits and the full-width plus to `+`.
fn normalize_char(c: char) -> char {
    if c.is_ascii() {
        return c;
    }
    if c == '\u{FF0B}' {
        return '+';
    }
    match unicode_digit(c) {
        Some(digit) => char::from(b'0' + digit),
        None => c,
    }
}

/// The value of a decimal digit from another script, for the blocks where
/// libphonenumber also accepts digits.
fn unicode_digit(c: char) -> Option<u8> {
    // Each block holds the digits 0 to 9 at consecutive code points.
    const ZEROS: [u32; 23] = [
        0x0660, 0x06F0, 0x07C0, 0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0B66, 0x0BE6, 0x0C66, 0x0CE6,
        0x0D66, 0x0E50, 0x0ED0, 0x0F20, 0x1040, 0x17E0, 0x1810, 0x1946, 0x19D0, 0xFF10, 0x1D7CE,
        0x1D7D8,
    ];
    let code = c as u32;
    ZEROS
        .iter()
        .find(|zero| (**zero..**zero + 10).contains(&code))
        .map(|zero| (code - zero) as u8)
}

/// Splits a trailing extension off: `+1 415 555 0188 ext. 12` gives the main
/// part and `12`.
fn split_extension(text: &str) -> (&str, Option<String>) {
    let trimmed = text.trim_end();
    let digits_start = trimmed
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_ascii_digit())
        .last()
        .map(|(index, _)| index);
    let Some(digits_start) = digits_start else {
        return (text, None);
    };
    let extension = &trimmed[digits_start..];
    if extension.len() > MAX_EXTENSION_DIGITS {
        return (text, None);
    }
    let before = trimmed[..digits_start].trim_end_matches([' ', '.', ':', '=', '\u{a0}']);
    for marker in EXTENSION_MARKERS {
        let Some(main) = before.strip_suffix(marker) else {
            continue;
        };
        let letter_before = main.chars().last().is_some_and(|c| c.is_ascii_alphabetic());
        let alphabetic_marker = marker.starts_with(|c: char| c.is_ascii_alphabetic());
        if alphabetic_marker && letter_before {
            continue;
        }
        if !main.chars().any(|c| c.is_ascii_digit()) {
            continue;
        }
        return (main, Some(extension.to_string()));
    }
    (text, None)
}

/// Removes `(0)`, the national trunk prefix some people write inside an
/// international number: `+44 (0)20 7946 0958`.
fn remove_trunk_zero_in_brackets(text: &str) -> String {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    compact.replacen("(0)", "", 1)
}

/// The telephone keypad digit of a letter (ITU E.161).
fn keypad_digit(letter: char) -> char {
    match letter {
        'a'..='c' => '2',
        'd'..='f' => '3',
        'g'..='i' => '4',
        'j'..='l' => '5',
        'm'..='o' => '6',
        'p'..='s' => '7',
        't'..='v' => '8',
        _ => '9',
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cleaned(raw: &str) -> (String, bool, Option<String>) {
        let cleaned = clean(raw);
        (cleaned.digits, cleaned.has_plus, cleaned.extension)
    }

    #[test]
    fn punctuation_and_spaces_are_dropped() {
        assert_eq!(
            cleaned("+1 (415) 555-0123"),
            ("14155550123".into(), true, None)
        );
        assert_eq!(
            cleaned("415.555.0199   "),
            ("4155550199".into(), false, None)
        );
        assert_eq!(
            cleaned("+44\u{a0}20\u{202f}7946\u{2009}0958"),
            ("442079460958".into(), true, None)
        );
    }

    #[test]
    fn extensions_are_set_apart() {
        for raw in [
            "+1 415 555 0188 ext. 12",
            "+1 415 555 0188 x12",
            "+1 415 555 0188 #12",
            "+1 415 555 0188;ext=12",
            "+1 415 555 0188 extension 12",
        ] {
            assert_eq!(
                cleaned(raw),
                ("14155550188".into(), true, Some("12".into())),
                "{raw}"
            );
        }
    }

    #[test]
    fn trunk_zero_in_brackets_is_removed() {
        assert_eq!(cleaned("+44 (0)20 7946 0958").0, "442079460958");
        assert_eq!(cleaned("0044 (0) 20 7946 0958").0, "00442079460958");
    }

    #[test]
    fn vanity_letters_become_digits() {
        assert_eq!(cleaned("1-800-FLOWERS").0, "18003569377");
        assert_eq!(
            cleaned("tel: +1 415 555 0123"),
            ("14155550123".into(), true, None)
        );
    }

    #[test]
    fn non_ascii_digits_become_ascii() {
        assert_eq!(cleaned("+١ ٤١٥ ٥٥٥ ٠١٢٣").0, "14155550123");
        assert_eq!(
            cleaned("＋１ ４１５ ５５５ ０１２３"),
            ("14155550123".into(), true, None)
        );
        assert_eq!(cleaned("+९१ ९८७६५ ४३२१०").0, "919876543210");
    }

    #[test]
    fn long_trailing_digit_run_is_not_an_extension() {
        assert_eq!(cleaned("+1 415 x 55501234").2, None);
    }
}
