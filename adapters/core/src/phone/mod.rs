//! Phone number parsing shared by the gateway and every adapter, built on the
//! `phonenumber` crate (Google's libphonenumber metadata).
//!
//! The caller's number and every number a source returns go through here, so
//! two spellings of one number always compare equal by their E.164 form.

use std::fmt;
use std::str::FromStr;

mod clean;
mod validity;

use phonenumber::country::Id;
use phonenumber::metadata::DATABASE;
use phonenumber::{Mode, Type};

pub use clean::{clean, Cleaned};

/// Fewest digits of a national number accepted when the metadata gives no lengths.
const MIN_NATIONAL_DIGITS: usize = 4;

/// Most digits of an E.164 number (ITU-T E.164).
const MAX_E164_DIGITS: usize = 15;

/// Why a text is not a usable phone number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("contains no digits")]
    NoDigits,
    #[error("is not a phone number in any known numbering plan")]
    Unparsable,
    #[error("is too short or too long to be a phone number")]
    ImpossibleLength,
    #[error("`{0}` is not an ISO 3166 region code known to the phone metadata; write a two-letter code such as \"US\" or \"GB\"")]
    UnknownRegion(String),
}

/// A spelling of a number that a source's search may need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SearchForm {
    /// `+14155550123`
    E164,
    /// `14155550123`
    E164Digits,
    /// `4155550123`
    NationalDigits,
    /// `(415) 555-0123`
    NationalFormatted,
    /// `+1 415-555-0123`
    InternationalFormatted,
}

impl SearchForm {
    pub const ALL: [SearchForm; 5] = [
        SearchForm::E164,
        SearchForm::E164Digits,
        SearchForm::NationalDigits,
        SearchForm::NationalFormatted,
        SearchForm::InternationalFormatted,
    ];
}

/// The region a number without a country code is read in (ISO 3166 alpha-2).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Region(Id);

impl Region {
    pub fn code(&self) -> &str {
        self.0.as_ref()
    }
}

impl FromStr for Region {
    type Err = PhoneError;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        let upper = code.trim().to_ascii_uppercase();
        Id::from_str(&upper)
            .map(Region)
            .map_err(|_| PhoneError::UnknownRegion(code.to_string()))
    }
}

impl fmt::Debug for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A parsed phone number and the forms sources search by.
///
/// `Debug` shows only the last four digits, so a number printed by accident
/// in a log line stays masked.
#[derive(Clone, PartialEq, Eq)]
pub struct PhoneNumber {
    e164: String,
    country_code: u16,
    national_digits: String,
    national_formatted: String,
    international_formatted: String,
    extension: Option<String>,
}

impl PhoneNumber {
    /// Builds the forms of `number`, whose E.164 form `e164` is already known.
    fn from_parsed(
        number: &phonenumber::PhoneNumber,
        e164: String,
        extension: Option<String>,
    ) -> Self {
        let country_code = number.code().value();
        let national_digits = e164[1 + country_code.to_string().len()..].to_string();
        PhoneNumber {
            e164,
            country_code,
            national_digits,
            national_formatted: number.format().mode(Mode::National).to_string(),
            international_formatted: number.format().mode(Mode::International).to_string(),
            extension,
        }
    }

    /// Whether two numbers are the same line: equal E.164, extensions ignored.
    pub fn same_number(&self, other: &PhoneNumber) -> bool {
        self.e164 == other.e164
    }

    /// The number in one of the forms sources search by.
    pub fn form(&self, form: SearchForm) -> &str {
        match form {
            SearchForm::E164 => self.e164(),
            SearchForm::E164Digits => self.e164_digits(),
            SearchForm::NationalDigits => self.national_digits(),
            SearchForm::NationalFormatted => self.national_formatted(),
            SearchForm::InternationalFormatted => self.international_formatted(),
        }
    }

    /// Every distinct search form, in the order of [`SearchForm::ALL`].
    pub fn search_forms(&self) -> Vec<&str> {
        let mut forms: Vec<&str> = Vec::with_capacity(SearchForm::ALL.len());
        for form in SearchForm::ALL {
            let text = self.form(form);
            if !forms.contains(&text) {
                forms.push(text);
            }
        }
        forms
    }

    /// The extension written after the number, which matching ignores.
    pub fn extension(&self) -> Option<&str> {
        self.extension.as_deref()
    }

    /// E.164 with the leading `+`: `+14155550123`. This is the cache key.
    pub fn e164(&self) -> &str {
        &self.e164
    }

    /// E.164 without the `+`: `14155550123`, as JustCall sends it.
    pub fn e164_digits(&self) -> &str {
        &self.e164[1..]
    }

    /// The country calling code: `1`, `44`, `49`.
    pub fn country_code(&self) -> u16 {
        self.country_code
    }

    /// The national significant number, without trunk prefix: `4155550123`,
    /// `2079460958`.
    pub fn national_digits(&self) -> &str {
        &self.national_digits
    }

    /// The national form as people write it: `(415) 555-0123`, `020 7946 0958`.
    pub fn national_formatted(&self) -> &str {
        &self.national_formatted
    }

    /// The international form as people write it: `+1 415-555-0123`.
    pub fn international_formatted(&self) -> &str {
        &self.international_formatted
    }

    /// The number as it may appear in logs: its last four digits only.
    pub fn masked(&self) -> String {
        mask(&self.e164)
    }

    /// Returns the number as [`masked`](Self::masked) shows it, for writing
    /// into a line without allocating.
    pub fn masked_view(&self) -> Masked<'_> {
        Masked(&self.e164)
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", self.masked())
    }
}

/// Loads libphonenumber's metadata, which otherwise loads on the first parse
/// and costs that parse from 0.1 s (release build) to most of a second
/// (debug build). Call it before serving, so no request pays for it.
pub fn load_metadata() {
    let _ = parse_caller("+14155550123", Region(Id::US));
}

/// Parses the caller's number as JustCall sends it.
///
/// A number with `+`, `00` or `011` in front is international. Other digits
/// are tried as an international number without its `+` first (JustCall
/// sends `14155550123`), then as a national number of `region` (an agent
/// dialled `4155550123`). A reading that libphonenumber holds valid wins over
/// one whose length is only possible for its country; a number with neither
/// reading is rejected.
pub fn parse_caller(raw: &str, region: Region) -> Result<PhoneNumber, PhoneError> {
    parse_ranked(raw, region, Order::InternationalFirst)
}

/// Parses a number as a source stores it. Numbers without `+`, `00` or
/// `011` are read in `region` first, then as international digits without
/// `+` (`4930901820` stored by a CRM that drops the plus).
pub fn parse_stored(raw: &str, region: Region) -> Result<PhoneNumber, PhoneError> {
    parse_ranked(raw, region, Order::NationalFirst)
}

#[derive(Clone, Copy)]
enum Order {
    InternationalFirst,
    NationalFirst,
}

fn parse_ranked(raw: &str, region: Region, order: Order) -> Result<PhoneNumber, PhoneError> {
    let cleaned = clean(raw);
    if cleaned.digits.is_empty() {
        return Err(PhoneError::NoDigits);
    }
    let digits = cleaned.digits.as_str();
    let mut readings: Vec<(Option<Id>, String)> = Vec::with_capacity(3);
    if cleaned.has_plus {
        readings.push((None, format!("+{digits}")));
    } else {
        // An international dialling prefix: 00 in most of the world, 011 in
        // the North American plan.
        if let Some(rest) = digits
            .strip_prefix("011")
            .or_else(|| digits.strip_prefix("00"))
        {
            readings.push((None, format!("+{rest}")));
        }
        let international = (None, format!("+{digits}"));
        let national = (Some(region.0), digits.to_string());
        match order {
            Order::InternationalFirst => readings.extend([international, national]),
            Order::NationalFirst => readings.extend([national, international]),
        }
    }
    // The first valid reading wins, so the readings after it are not parsed:
    // each parse costs tens of microseconds.
    let mut parsed: Vec<(phonenumber::PhoneNumber, String)> = Vec::with_capacity(readings.len());
    for (region, text) in &readings {
        let Ok(number) = phonenumber::parse(*region, text) else {
            continue;
        };
        let Some(e164) = validity::e164(&number) else {
            continue;
        };
        if !round_trips(text, &e164) {
            continue;
        }
        if validity::is_valid(&number) {
            return Ok(PhoneNumber::from_parsed(&number, e164, cleaned.extension));
        }
        parsed.push((number, e164));
    }
    // NOTE: a reading that is only possible (the right length for its
    // country, in a range the metadata does not list as assigned, such as
    // the fictional 555-01xx numbers) is still accepted, so numbers in ranges
    // newer than the bundled metadata keep working.
    let best = parsed
        .iter()
        .find(|(number, e164)| has_possible_length(number, e164));
    match best {
        Some((number, e164)) => Ok(PhoneNumber::from_parsed(
            number,
            e164.clone(),
            cleaned.extension,
        )),
        None if parsed.is_empty() => Err(PhoneError::Unparsable),
        None => Err(PhoneError::ImpossibleLength),
    }
}

/// Checks that `e164`, the E.164 form of the reading `text`, has at most 15
/// digits and parses back to itself. Degenerate readings (all zeros, a trunk
/// prefix read as part of the number) fail, which keeps parsing idempotent.
/// A reading equal to its E.164 form needs no second parse.
fn round_trips(text: &str, e164: &str) -> bool {
    if e164.len() - 1 > MAX_E164_DIGITS {
        return false;
    }
    if text == e164 {
        return true;
    }
    phonenumber::parse(None, e164)
        .ok()
        .and_then(|again| validity::e164(&again))
        .is_some_and(|again| again == e164)
}

/// Whether the national number has a length that some type of number
/// (fixed line, mobile, toll free, ...) of its country can have, per
/// libphonenumber's metadata. Lengths of numbers dialled only locally do not
/// count, because JustCall and CRMs deal in full numbers.
fn has_possible_length(number: &phonenumber::PhoneNumber, e164: &str) -> bool {
    let code = number.code().value();
    let national_length = e164.len() - 1 - code.to_string().len();
    let metadata = number.metadata(&DATABASE).or_else(|| {
        DATABASE
            .by_code(&code)
            .and_then(|regions| regions.into_iter().next())
    });
    let Some(metadata) = metadata else {
        return false;
    };
    let lengths: Vec<u16> = NUMBER_TYPES
        .iter()
        .filter_map(|kind| metadata.descriptors().get(*kind))
        .flat_map(|descriptor| descriptor.possible_length().iter().copied())
        .collect();
    if lengths.is_empty() {
        return (MIN_NATIONAL_DIGITS..=MAX_E164_DIGITS).contains(&national_length);
    }
    lengths
        .iter()
        .any(|length| usize::from(*length) == national_length)
}

/// The number types whose lengths make a number possible.
const NUMBER_TYPES: [Type; 12] = [
    Type::Unknown,
    Type::FixedLine,
    Type::Mobile,
    Type::TollFree,
    Type::PremiumRate,
    Type::SharedCost,
    Type::PersonalNumber,
    Type::Voip,
    Type::Pager,
    Type::Uan,
    Type::Voicemail,
    Type::StandardRate,
];

/// Whether a number as a source stores it is the caller's number. The stored
/// number is read as [`parse_stored`] reads it and compared by E.164, so
/// `+1 (415) 555-0123`, `415.555.0123` (region US) and `14155550123` all
/// match the caller `+14155550123`. Nothing matches on a suffix alone.
pub fn stored_matches(
    stored: &str,
    caller: &PhoneNumber,
    region: Region,
) -> Result<bool, PhoneError> {
    if spells_e164(stored, caller) {
        return Ok(true);
    }
    parse_stored(stored, region).map(|number| number.same_number(caller))
}

/// Checks whether `stored` writes the caller's number in international form: `+`,
/// then exactly the caller's E.164 digits, with only spaces, dashes, dots
/// and brackets between them (`+14155550123`, `+1 (415) 555-0123`). Such a
/// text has one reading, so the match needs no libphonenumber parse, which
/// costs tens of microseconds. Any other text returns false and must be
/// parsed; `+44 (0)20 ...` does, because its `0` is not an E.164 digit.
pub fn spells_e164(stored: &str, caller: &PhoneNumber) -> bool {
    let Some(rest) = stored.trim().strip_prefix('+') else {
        return false;
    };
    let mut expected = caller.e164_digits().bytes();
    for byte in rest.bytes() {
        match byte {
            b'0'..=b'9' if expected.next() == Some(byte) => {}
            b' ' | b'-' | b'.' | b'(' | b')' => {}
            _ => return false,
        }
    }
    expected.next().is_none()
}

/// Masks a phone number for logs, keeping its last four digits: `***0123`.
/// A number of four digits or fewer shows none of them.
pub fn mask(raw: &str) -> String {
    let mut masked = String::with_capacity(7);
    Masked(raw).push_to(&mut masked);
    masked
}

/// A phone number shown as [`mask`] shows it, written without allocating.
#[derive(Debug, Clone, Copy)]
pub struct Masked<'a>(pub &'a str);

impl Masked<'_> {
    /// Returns the masked text's bytes and their length: `***` and, when
    /// the number has more than four digits, its last four.
    fn text(self) -> ([u8; 7], usize) {
        // A ring of the last four digits seen. The oldest is at `count % 4`.
        let mut last_four = [0u8; 4];
        let mut count = 0;
        for digit in self.0.bytes().filter(u8::is_ascii_digit) {
            last_four[count % 4] = digit;
            count += 1;
        }
        let mut text = *b"*******";
        if count <= 4 {
            return (text, 3);
        }
        for offset in 0..4 {
            text[3 + offset] = last_four[(count + offset) % 4];
        }
        (text, 7)
    }

    /// Appends the masked number to `out`.
    pub fn push_to(self, out: &mut String) {
        let (text, length) = self.text();
        // `***` and ASCII digits, so always valid UTF-8.
        out.push_str(std::str::from_utf8(&text[..length]).unwrap_or("***"));
    }
}

impl fmt::Display for Masked<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (text, length) = self.text();
        f.write_str(std::str::from_utf8(&text[..length]).unwrap_or("***"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn international_spellings_of_the_caller_skip_the_parse() {
        let caller = parse_caller("14155550123", us()).unwrap();
        for stored in ["+14155550123", " +1 (415) 555-0123 ", "+1.415.555.0123"] {
            assert!(spells_e164(stored, &caller), "{stored}");
        }
        for stored in [
            "14155550123",
            "+1415555012",
            "+141555501234",
            "+14155550124",
            "+1 415 555 0123 ext 7",
            "+1 (0) 415 555 0123",
            "tel:+14155550123",
            "",
        ] {
            assert!(!spells_e164(stored, &caller), "{stored}");
        }
    }

    fn us() -> Region {
        "US".parse().unwrap()
    }

    #[test]
    fn caller_forms_share_e164() {
        for raw in [
            "14155550123",
            "+14155550123",
            "+1 415 555 0123",
            "4155550123",
            "(415) 555-0123",
        ] {
            let number = parse_caller(raw, us()).unwrap();
            assert_eq!(number.e164(), "+14155550123", "{raw}");
        }
    }

    #[test]
    fn forms_of_a_us_number() {
        let number = parse_caller("14155550123", us()).unwrap();
        assert_eq!(number.e164_digits(), "14155550123");
        assert_eq!(number.national_digits(), "4155550123");
        assert_eq!(number.country_code(), 1);
        assert_eq!(number.national_formatted(), "(415) 555-0123");
    }

    #[test]
    fn uk_number_in_international_form() {
        let number = parse_caller("+44 20 7946 0958", us()).unwrap();
        assert_eq!(number.e164(), "+442079460958");
        assert_eq!(number.national_digits(), "2079460958");
    }

    #[test]
    fn stored_national_number_uses_region() {
        let gb: Region = "gb".parse().unwrap();
        let number = parse_stored("020 7946 0958", gb).unwrap();
        assert_eq!(number.e164(), "+442079460958");
    }

    #[test]
    fn text_without_digits_is_rejected() {
        assert_eq!(parse_caller("+", us()), Err(PhoneError::NoDigits));
        assert_eq!(parse_caller("abc", us()), Err(PhoneError::NoDigits));
    }

    #[test]
    fn degenerate_digits_are_rejected() {
        let de: Region = "DE".parse().unwrap();
        assert!(parse_caller("0000000001", de).is_err());
        assert!(parse_stored("0000000001", de).is_err());
        assert_eq!(
            parse_caller("555-0123", us()),
            Err(PhoneError::ImpossibleLength)
        );
    }

    #[test]
    fn unknown_region_is_rejected() {
        assert!(matches!(
            "XX".parse::<Region>(),
            Err(PhoneError::UnknownRegion(_))
        ));
    }

    #[test]
    fn mask_keeps_last_four_digits() {
        assert_eq!(mask("+1 (415) 555-0123"), "***0123");
        assert_eq!(mask("123"), "***");
        assert_eq!(Masked("+1 (415) 555-0123").to_string(), "***0123");
        assert_eq!(Masked("12345").to_string(), "***2345");
        assert_eq!(Masked("1234").to_string(), "***");
        assert_eq!(mask("1234"), "***");
        assert_eq!(mask("12345"), "***2345");
        assert_eq!(mask("+44 20 7946 0958 ext. 12"), "***5812");
        assert_eq!(mask("no digits"), "***");
        let number = parse_caller("14155550123", us()).unwrap();
        assert_eq!(format!("{number:?}"), "PhoneNumber(***0123)");
    }
}
