//! Phone number parsing shared by the gateway and every adapter, built on the
//! `phonenumber` crate (Google's libphonenumber metadata).
//!
//! The caller's number and every number a source returns go through here, so
//! two spellings of one number always compare equal by their E.164 form.

use std::fmt;
use std::str::FromStr;

use phonenumber::country::Id;
use phonenumber::Mode;

/// Why a text is not a usable phone number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("contains no digits")]
    NoDigits,
    #[error("is not a phone number in any known numbering plan")]
    Unparsable,
    #[error("`{0}` is not an ISO 3166 region code known to the phone metadata; write a two-letter code such as \"US\" or \"GB\"")]
    UnknownRegion(String),
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
}

impl PhoneNumber {
    fn from_parsed(number: &phonenumber::PhoneNumber) -> Self {
        let e164 = number.format().mode(Mode::E164).to_string();
        let country_code = number.code().value();
        let national_digits = e164[1 + country_code.to_string().len()..].to_string();
        PhoneNumber {
            e164,
            country_code,
            national_digits,
            national_formatted: number.format().mode(Mode::National).to_string(),
            international_formatted: number.format().mode(Mode::International).to_string(),
        }
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
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", self.masked())
    }
}

/// Parses the caller's number as JustCall sends it.
///
/// A number with `+` is international. Digits without `+` are tried as an
/// international number first (JustCall sends `14155550123`), then as a
/// national number of `region` (an agent dialled `4155550123`). A form that
/// libphonenumber holds valid wins over one that only parses.
pub fn parse_caller(raw: &str, region: Region) -> Result<PhoneNumber, PhoneError> {
    if !raw.chars().any(|c| c.is_ascii_digit()) {
        return Err(PhoneError::NoDigits);
    }
    let trimmed = raw.trim();
    if trimmed.starts_with('+') {
        return parse_first_valid(&[(None, trimmed.to_string())]);
    }
    parse_first_valid(&[
        (None, format!("+{trimmed}")),
        (Some(region.0), trimmed.to_string()),
    ])
}

/// Parses a number as a source stores it. Numbers without a country code are
/// read in `region` first, then as international digits without `+`.
pub fn parse_stored(raw: &str, region: Region) -> Result<PhoneNumber, PhoneError> {
    if !raw.chars().any(|c| c.is_ascii_digit()) {
        return Err(PhoneError::NoDigits);
    }
    let trimmed = raw.trim();
    if trimmed.starts_with('+') {
        return parse_first_valid(&[(None, trimmed.to_string())]);
    }
    parse_first_valid(&[
        (Some(region.0), trimmed.to_string()),
        (None, format!("+{trimmed}")),
    ])
}

fn parse_first_valid(attempts: &[(Option<Id>, String)]) -> Result<PhoneNumber, PhoneError> {
    let parsed: Vec<phonenumber::PhoneNumber> = attempts
        .iter()
        .filter_map(|(region, text)| phonenumber::parse(*region, text).ok())
        .collect();
    // NOTE: numbers libphonenumber holds invalid (unassigned ranges, such as
    // many fictional 555 numbers) are still accepted when they parse, so a
    // number in a range the metadata does not know yet keeps working.
    parsed
        .iter()
        .find(|number| phonenumber::is_valid(number))
        .or_else(|| parsed.first())
        .map(PhoneNumber::from_parsed)
        .ok_or(PhoneError::Unparsable)
}

/// Masks a phone number for logs, keeping its last four digits: `***0123`.
pub fn mask(raw: &str) -> String {
    let digits: Vec<char> = raw.chars().filter(|c| c.is_ascii_digit()).collect();
    if digits.len() <= 4 {
        return "***".to_string();
    }
    let last_four: String = digits[digits.len() - 4..].iter().collect();
    format!("***{last_four}")
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let number = parse_caller("14155550123", us()).unwrap();
        assert_eq!(format!("{number:?}"), "PhoneNumber(***0123)");
    }
}
