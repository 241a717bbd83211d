//! From an expert to the SIP URI the consult call dials: an explicit
//! mapping wins, else the first office number in E.164 at the SBC (Direct
//! Routing delivers it to the expert's Teams client).

use super::Expert;
use crate::Error;
use crate::config::DialConfig;

/// The SIP URI to dial for `expert`.
pub fn resolve_dial_target(expert: &Expert, config: &DialConfig) -> Result<String, Error> {
    let name = expert.display_name.clone().or_else(|| expert.user_principal_name.clone()).unwrap_or_default();
    let keys = [expert.id.as_deref(), expert.user_principal_name.as_deref()];
    if let Some(target) = keys.into_iter().flatten().find_map(|k| config.mapping.get(k)) {
        if target.starts_with("sip:") || target.starts_with("sips:") {
            return Ok(target.clone());
        }
        let domain = sbc_domain(config, &name)?;
        return Ok(match normalize_e164(target, config.default_country_code.as_deref()) {
            Some(number) => format!("sip:{number}@{domain};user=phone"),
            None => format!("sip:{target}@{domain}"),
        });
    }
    let number = expert
        .business_phones
        .iter()
        .find_map(|p| normalize_e164(p, config.default_country_code.as_deref()))
        .ok_or_else(|| Error::NoDialTarget {
            expert: name.clone(),
            reason: "no office number in E.164 form and no explicit mapping".into(),
        })?;
    Ok(format!("sip:{number}@{};user=phone", sbc_domain(config, &name)?))
}

fn sbc_domain<'a>(config: &'a DialConfig, name: &str) -> Result<&'a str, Error> {
    config.sbc_domain.as_deref().filter(|d| !d.trim().is_empty()).ok_or_else(|| Error::NoDialTarget {
        expert: name.to_string(),
        reason: "dial.sbc_domain is not configured".into(),
    })
}

/// A phone number in E.164 (`+` and 8 to 15 digits), from the forms people
/// type into Entra: spaces, dashes, dots, brackets, a `(0)` trunk prefix.
/// Numbers without `+` need `country_code`; a national trunk `0` is dropped.
/// Extensions (`x123`, `ext. 123`) cannot be dialled through E.164: `None`.
pub fn normalize_e164(raw: &str, country_code: Option<&str>) -> Option<String> {
    let raw = raw.trim();
    let lower = raw.to_ascii_lowercase();
    if lower.contains('x') || lower.contains("ext") || lower.contains(';') {
        return None;
    }
    let international = raw.starts_with('+') || raw.starts_with("00");
    let cleaned = raw.replace("(0)", "");
    if cleaned.chars().any(|c| !(c.is_ascii_digit() || " -.()/+".contains(c))) {
        return None;
    }
    let mut digits: String = cleaned.chars().filter(char::is_ascii_digit).collect();
    if raw.starts_with("00") {
        digits.drain(..2);
    }
    let full = if international {
        digits
    } else {
        let cc: String = country_code?.chars().filter(char::is_ascii_digit).collect();
        if cc.is_empty() {
            return None;
        }
        format!("{cc}{}", digits.trim_start_matches('0'))
    };
    (8..=15).contains(&full.len()).then(|| format!("+{full}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expert(phones: &[&str]) -> Expert {
        Expert {
            id: Some("4562bcc8-c436-4f95-b7c0-4f8ce89dca5e".into()),
            display_name: Some("MOD Administrator".into()),
            user_principal_name: Some("admin@contoso.com".into()),
            mail: None,
            job_title: None,
            department: None,
            business_phones: phones.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn config() -> DialConfig {
        DialConfig {
            sbc_domain: Some("sbc.contoso.com".into()),
            default_country_code: Some("1".into()),
            ..DialConfig::default()
        }
    }

    #[test]
    fn numbers_people_type_become_e164() {
        assert_eq!(normalize_e164("425-555-0100", Some("1")).as_deref(), Some("+14255550100"));
        assert_eq!(normalize_e164("+44 (0)20 7946 0958", None).as_deref(), Some("+442079460958"));
        assert_eq!(normalize_e164("0049 30 123456", None).as_deref(), Some("+4930123456"));
        assert_eq!(normalize_e164("020 7946 0958", Some("+44")).as_deref(), Some("+442079460958"));
        assert_eq!(normalize_e164("425-555-0100", None), None, "no country code, no guess");
        assert_eq!(normalize_e164("+1 425 555 0100 x42", None), None, "extensions are not E.164");
        assert_eq!(normalize_e164("call reception", Some("1")), None);
        assert_eq!(normalize_e164("+1234", None), None, "too short");
    }

    #[test]
    fn office_number_goes_to_the_sbc() {
        let target = resolve_dial_target(&expert(&["425-555-0100"]), &config()).expect("target");
        assert_eq!(target, "sip:+14255550100@sbc.contoso.com;user=phone");
    }

    #[test]
    fn explicit_mapping_wins() {
        let mut c = config();
        c.mapping.insert("admin@contoso.com".into(), "sip:admin@teams.contoso.com".into());
        assert_eq!(resolve_dial_target(&expert(&["425-555-0100"]), &c).expect("t"), "sip:admin@teams.contoso.com");
        let mut c = config();
        c.mapping.insert("4562bcc8-c436-4f95-b7c0-4f8ce89dca5e".into(), "7001".into());
        assert_eq!(resolve_dial_target(&expert(&[]), &c).expect("t"), "sip:7001@sbc.contoso.com");
    }

    #[test]
    fn no_number_or_no_sbc_is_explained() {
        let e = resolve_dial_target(&expert(&[]), &config()).expect_err("nothing to dial");
        assert!(e.to_string().contains("MOD Administrator"), "{e}");
        let e = resolve_dial_target(&expert(&["+14255550100"]), &DialConfig::default()).expect_err("no sbc");
        assert!(e.to_string().contains("sbc_domain"), "{e}");
    }
}
