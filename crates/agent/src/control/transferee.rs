//! A REFER from the far end asks our phone to call someone: the caller
//! transferring the agent. Accepting it blindly would let any caller make
//! the agent's phone dial any number (toll fraud through the transfer
//! path), so its target passes the same dial policy as a number the agent
//! types, and a refused one is answered 403 and reported.

use warmline_sip::Uri;

use crate::DialPolicy;
use crate::dial_policy::DialRefused;

/// What to answer a REFER with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// 202, and call the target.
    Accept,
    /// Refuse with this status; `told` is what the agent reads.
    Refuse {
        /// The SIP status (403 Forbidden).
        status: u16,
        /// What the agent is told.
        told: String,
    },
}

/// Decides a REFER to `target`.
pub fn decide(policy: &DialPolicy, target: &Uri) -> Decision {
    match policy.allows(&target.to_string()) {
        Ok(_) => Decision::Accept,
        Err(refused) => {
            let why = match refused {
                DialRefused::NotAllowed(what) => format!("{what} is not allowed by your organisation's dial policy"),
                other => other.to_string(),
            };
            Decision::Refuse { status: 403, told: format!("the caller tried to transfer you; refused: {why}") }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dial_policy::DialPattern;

    fn policy(patterns: &[&str]) -> DialPolicy {
        DialPolicy::new(patterns.iter().map(|p| DialPattern::parse(p).expect("pattern")).collect(), vec!["911".into()])
    }

    fn uri(s: &str) -> Uri {
        s.parse().expect("uri")
    }

    #[test]
    fn a_refer_to_a_number_outside_the_dial_policy_is_refused_with_403() {
        let p = policy(&["+1425*", "*@contoso.com"]);
        let d = decide(&p, &uri("sip:+19005550100@sbc.example.com;user=phone"));
        let Decision::Refuse { status, told } = d else { panic!("must be refused: {d:?}") };
        assert_eq!(status, 403);
        assert!(told.contains("+19005550100") && told.contains("dial policy"), "{told}");
    }

    #[test]
    fn a_refer_to_an_address_in_another_domain_is_refused() {
        let p = policy(&["*@contoso.com"]);
        assert!(matches!(decide(&p, &uri("sip:mallory@evil.example")), Decision::Refuse { .. }));
    }

    #[test]
    fn a_refer_within_the_policy_is_accepted() {
        let p = policy(&["+1425*", "*@contoso.com"]);
        assert_eq!(decide(&p, &uri("sip:+14255550100@sbc.example.com")), Decision::Accept);
        assert_eq!(decide(&p, &uri("sip:ana@contoso.com")), Decision::Accept);
        assert_eq!(decide(&p, &uri("sip:911@sbc.example.com")), Decision::Accept, "emergency numbers always");
    }

    #[test]
    fn without_a_policy_every_target_is_accepted_as_for_dialling() {
        assert_eq!(decide(&DialPolicy::default(), &uri("sip:+19005550100@sbc.example.com")), Decision::Accept);
    }
}
