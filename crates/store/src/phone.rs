//! Phone numbers normalised to E.164, so the same caller is found however
//! the SBC, the CRM or the agent wrote the number.

use std::fmt;

/// A phone number in E.164 form: `+` and 8 to 15 digits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct E164(String);

impl E164 {
    /// The number as `+<digits>`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Normalises numbers written in national or international form.
///
/// Not a full numbering-plan database: it strips formatting and URI parts
/// (`tel:`, `sip:...@host`, `;ext=`), turns the international prefixes `00`
/// (and `011` in North America) into `+`, and applies the default country
/// code to national numbers, dropping a national trunk `0` outside North
/// America. That covers what SBCs and CRMs send in practice.
///
/// ```
/// use warmline_store::PhoneNormaliser;
///
/// let uk = PhoneNormaliser::new(44);
/// assert_eq!(uk.normalise("020 7946 0018").expect("valid").as_str(), "+442079460018");
/// assert_eq!(uk.normalise("sip:+442079460018@sbc.example.com;user=phone").expect("valid").as_str(), "+442079460018");
/// let us = PhoneNormaliser::new(1);
/// assert_eq!(us.normalise("(415) 555-0100").expect("valid").as_str(), "+14155550100");
/// assert!(us.normalise("alice").is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhoneNormaliser {
    country_code: u16,
}

impl PhoneNormaliser {
    /// National numbers are taken to be in the country with this calling code (1, 44, 49...).
    pub fn new(default_country_code: u16) -> Self {
        PhoneNormaliser { country_code: default_country_code }
    }

    /// The E.164 form of `raw`, or `None` if it is not a phone number.
    pub fn normalise(&self, raw: &str) -> Option<E164> {
        let number = strip_uri(raw.trim());
        let international = number.starts_with('+');
        if number.chars().any(|c| c.is_alphabetic()) {
            return None;
        }
        let digits: String = number.chars().filter(char::is_ascii_digit).collect();
        let full = if international {
            digits
        } else if let Some(rest) = digits.strip_prefix("00") {
            rest.to_string()
        } else if let (1, Some(rest)) = (self.country_code, digits.strip_prefix("011")) {
            rest.to_string()
        } else if self.country_code == 1 {
            match digits.len() {
                10 => format!("1{digits}"),
                11 if digits.starts_with('1') => digits,
                _ => return None,
            }
        } else {
            format!("{}{}", self.country_code, digits.strip_prefix('0').unwrap_or(&digits))
        };
        let valid = (8..=15).contains(&full.len()) && !full.starts_with('0');
        valid.then(|| E164(format!("+{full}")))
    }
}

/// `tel:+1-415;ext=2`, `sip:+14155550100@host;user=phone`, `<sip:...>` → the number part.
fn strip_uri(raw: &str) -> &str {
    let raw = raw.trim_start_matches('<').trim_end_matches('>');
    let raw = raw
        .strip_prefix("tel:")
        .or_else(|| raw.strip_prefix("sip:"))
        .or_else(|| raw.strip_prefix("sips:"))
        .unwrap_or(raw);
    let raw = raw.split('@').next().unwrap_or(raw);
    let raw = raw.split(';').next().unwrap_or(raw);
    // "x123" or "ext 123" extensions are not part of the number.
    let cut = raw.find("ext").or_else(|| raw.find("EXT")).or_else(|| raw.find(['x', 'X']));
    cut.map(|i| &raw[..i]).unwrap_or(raw).trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(cc: u16, raw: &str) -> Option<String> {
        PhoneNormaliser::new(cc).normalise(raw).map(|e| e.0)
    }

    #[test]
    fn international_forms_agree() {
        for raw in ["+49 30 901820", "0049 30 901820", "tel:+49-30-901820", "<sip:+4930901820@sbc;user=phone>"] {
            assert_eq!(n(44, raw).as_deref(), Some("+4930901820"), "{raw}");
        }
        assert_eq!(n(49, "030 901820").as_deref(), Some("+4930901820"));
    }

    #[test]
    fn north_american_numbers() {
        assert_eq!(n(1, "415.555.0100").as_deref(), Some("+14155550100"));
        assert_eq!(n(1, "1 415 555 0100").as_deref(), Some("+14155550100"));
        assert_eq!(n(1, "011 44 20 7946 0018").as_deref(), Some("+442079460018"));
        assert_eq!(n(1, "555-0100"), None, "seven digits are not enough");
        assert_eq!(n(1, "+1 415 555 0100 x204").as_deref(), Some("+14155550100"));
    }

    #[test]
    fn rejects_what_is_not_a_number() {
        assert_eq!(n(44, "sip:alice@example.com"), None);
        assert_eq!(n(44, "+12"), None);
        assert_eq!(n(44, "+1234567890123456"), None, "E.164 allows at most 15 digits");
        assert_eq!(n(44, ""), None);
    }
}
