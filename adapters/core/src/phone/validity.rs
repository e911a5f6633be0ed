//! Two facts about a number the `phonenumber` crate parsed: its E.164 form
//! and whether libphonenumber's metadata treats it as valid. Both functions
//! return the crate's results with less work, because every caller the
//! gateway has not seen is parsed on the request path.

use phonenumber::metadata::{Metadata, DATABASE};
use phonenumber::Type;

/// Returns the E.164 form of `number` as `number.format().mode(Mode::E164)`
/// writes it: `+`, the country code and the national number with its
/// leading zeros. The crate's formatter first picks a national format, at a
/// pattern match per format of the country, which E.164 does not use.
/// Returns `None` for a country code outside the metadata, where the crate's
/// formatter fails.
pub(super) fn e164(number: &phonenumber::PhoneNumber) -> Option<String> {
    let code = number.code().value();
    DATABASE.region(&code)?;
    Some(format!("+{code}{}", number.national()))
}

/// Checks whether `number` is valid, as `phonenumber::is_valid` decides.
///
/// For a country code that several regions share (the `+1` of the North
/// American plan, `+44`, `+7`), the crate first finds the number's region.
/// It tries each region's leading digits, or where a region has none, its
/// number types. Then it matches the number against the found region's
/// types again. Here, a region found by its types needs no second match.
pub(super) fn is_valid(number: &phonenumber::PhoneNumber) -> bool {
    let code = number.code().value();
    let national = number.national().to_string();
    let Some(regions) = DATABASE.region(&code) else {
        return false;
    };
    if let [only] = regions.as_slice() {
        // "001" stands for a non-geographic code, such as +800.
        let metadata = if *only == "001" {
            DATABASE
                .by_code(&code)
                .and_then(|all| all.into_iter().next())
        } else {
            DATABASE.by_id(*only)
        };
        return metadata.is_some_and(|metadata| has_number_type(metadata, &national));
    }
    for region in regions {
        let Some(metadata) = DATABASE.by_id(region) else {
            return false;
        };
        match metadata.leading_digits() {
            Some(leading) => {
                if leading
                    .find(&national)
                    .is_some_and(|found| found.start() == 0)
                {
                    return has_number_type(metadata, &national);
                }
            }
            None => {
                if has_number_type(metadata, &national) {
                    return true;
                }
            }
        }
    }
    false
}

/// Number types, one of which a valid number belongs to. The crate's
/// `number_type` returns `Type::Unknown` exactly when the general pattern
/// or all of these fail to match.
const VALID_NUMBER_TYPES: [Type; 10] = [
    Type::PremiumRate,
    Type::TollFree,
    Type::SharedCost,
    Type::Voip,
    Type::PersonalNumber,
    Type::Pager,
    Type::Uan,
    Type::Voicemail,
    Type::FixedLine,
    Type::Mobile,
];

/// Checks whether `national` matches the region's general pattern and one
/// of its number types.
fn has_number_type(metadata: &Metadata, national: &str) -> bool {
    let descriptors = metadata.descriptors();
    descriptors.general().is_match(national)
        && VALID_NUMBER_TYPES.iter().any(|kind| {
            descriptors
                .get(*kind)
                .is_some_and(|descriptor| descriptor.is_match(national))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use phonenumber::country::Id;
    use phonenumber::Mode;

    /// Returns every example number of the metadata, read in its region,
    /// with variants that change its digits and length, so that valid and
    /// invalid numbers of every region and country code are compared.
    fn numbers() -> Vec<phonenumber::PhoneNumber> {
        let mut numbers = Vec::new();
        for metadata in DATABASE.iter() {
            let region: Option<Id> = metadata.id().parse().ok();
            let code = metadata.country_code();
            let examples = VALID_NUMBER_TYPES
                .into_iter()
                .filter_map(|kind| metadata.descriptors().get(kind)?.example());
            for example in examples {
                let last = example.chars().last().unwrap_or('0');
                let other = if last == '9' { '0' } else { '9' };
                let changed = format!("{}{other}", &example[..example.len() - 1]);
                let texts = [
                    format!("+{code}{example}"),
                    format!("+{code}{changed}"),
                    format!("+{code}{example}0"),
                    format!("+{code}{}", &example[..example.len() - 1]),
                    format!("+{code}0{example}"),
                    example.to_string(),
                ];
                for text in texts {
                    if let Ok(number) = phonenumber::parse(region, &text) {
                        numbers.push(number);
                    }
                }
            }
        }
        numbers
    }

    #[test]
    fn validity_matches_the_crate() {
        let numbers = numbers();
        assert!(
            numbers.len() > 3000,
            "only {} numbers parsed",
            numbers.len()
        );
        let mut valid = 0;
        for number in &numbers {
            let expected = phonenumber::is_valid(number);
            assert_eq!(
                is_valid(number),
                expected,
                "+{} {}",
                number.code().value(),
                number.national()
            );
            valid += usize::from(expected);
        }
        // Both kinds were compared.
        assert!(
            valid > 1000 && valid < numbers.len() - 1000,
            "{valid} of {} valid",
            numbers.len()
        );
    }

    #[test]
    fn e164_matches_the_crate() {
        for number in numbers() {
            let expected = number.format().mode(Mode::E164).to_string();
            assert_eq!(e164(&number).as_deref(), Some(expected.as_str()));
        }
    }

    #[test]
    fn e164_keeps_leading_zeros() {
        // Italian fixed-line numbers keep their leading zero in E.164.
        let number = phonenumber::parse(None, "+39 06 6982 0000").unwrap();
        assert_eq!(e164(&number).as_deref(), Some("+390669820000"));
    }
}
