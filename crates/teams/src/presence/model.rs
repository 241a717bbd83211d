//! Presence values as Graph reports them. Values Microsoft adds later are
//! kept as text instead of failing the whole batch.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Declares a Graph string enum with an `Other` variant for values not yet known.
macro_rules! graph_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A value this version does not know, kept as Graph sent it.
            Other(String),
        }

        impl $name {
            /// Every value this version knows, in Graph's spelling.
            pub const KNOWN: &'static [&'static str] = &[$(stringify!($variant)),+];

            /// Graph's spelling.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => stringify!($variant),)+
                    $name::Other(s) => s,
                }
            }

            /// Parses Graph's spelling; unknown values become `Other`.
            pub fn parse(s: &str) -> Self {
                match s {
                    $(stringify!($variant) => $name::$variant,)+
                    other => $name::Other(other.to_string()),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                Ok($name::parse(&String::deserialize(d)?))
            }
        }
    };
}

graph_enum! {
    /// The base presence: can the person be reached (Graph's `availability`).
    Availability {
        /// Available.
        Available,
        /// Available but idle.
        AvailableIdle,
        /// Away.
        Away,
        /// Be right back.
        BeRightBack,
        /// Busy.
        Busy,
        /// Busy and idle.
        BusyIdle,
        /// Do not disturb.
        DoNotDisturb,
        /// Offline.
        Offline,
        /// Teams does not know.
        PresenceUnknown,
    }
}

graph_enum! {
    /// What the person is doing (Graph's `activity`).
    Activity {
        /// Available.
        Available,
        /// Away.
        Away,
        /// Be right back.
        BeRightBack,
        /// Busy.
        Busy,
        /// Do not disturb.
        DoNotDisturb,
        /// In a call.
        InACall,
        /// In a conference call.
        InAConferenceCall,
        /// Inactive.
        Inactive,
        /// In a meeting.
        InAMeeting,
        /// Offline.
        Offline,
        /// Off work.
        OffWork,
        /// Out of office.
        OutOfOffice,
        /// Teams does not know.
        PresenceUnknown,
        /// Presenting.
        Presenting,
        /// Only urgent interruptions.
        UrgentInterruptionsOnly,
    }
}

/// One user's presence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Presence {
    /// The Entra object id of the user.
    pub id: String,
    /// Can they be reached.
    pub availability: Availability,
    /// What they are doing.
    pub activity: Activity,
    /// Their status note, when they set one.
    #[serde(
        default,
        rename = "statusMessage",
        deserialize_with = "status_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub status_message: Option<String>,
}

impl Presence {
    /// Whether a consult call is likely to be picked up now.
    pub fn takes_calls(&self) -> bool {
        matches!(self.availability, Availability::Available | Availability::AvailableIdle)
            && !matches!(
                self.activity,
                Activity::InACall | Activity::InAConferenceCall | Activity::InAMeeting | Activity::Presenting
            )
    }
}

/// `statusMessage.message.content`, or nothing.
fn status_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let value = Option::<serde_json::Value>::deserialize(d)?;
    Ok(value
        .as_ref()
        .and_then(|v| v.pointer("/message/content"))
        .and_then(|c| c.as_str())
        .map(str::to_string)
        .or_else(|| value.as_ref().and_then(|v| v.as_str()).map(str::to_string)))
}

/// The body of `getPresencesByUserId`.
#[derive(Debug, Deserialize)]
pub(crate) struct PresenceList {
    pub value: Vec<Presence>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_batch_response_parses() {
        let body = include_str!("../../tests/fixtures/getPresencesByUserId.response.json");
        let list: PresenceList = serde_json::from_str(body).expect("the docs' example parses");
        assert_eq!(list.value.len(), 2);
        assert_eq!(list.value[0].availability, Availability::Busy);
        assert_eq!(list.value[0].activity, Activity::InAMeeting);
        assert_eq!(list.value[1].activity, Activity::Away);
    }

    #[test]
    fn status_message_is_read_from_its_nested_shape() {
        let body = include_str!("../../tests/fixtures/presence-get.with-statusMessage.response.json");
        let p: Presence = serde_json::from_str(body).expect("parses");
        assert_eq!(p.status_message.as_deref(), Some("Hey I am available now"));
        assert!(p.takes_calls());
    }

    #[test]
    fn unknown_values_are_kept_not_rejected() {
        let p: Presence =
            serde_json::from_str(r#"{"id":"x","availability":"Focusing","activity":"InAHuddle","sequenceNumber":"1"}"#)
                .expect("a value Microsoft adds later must not break the batch");
        assert_eq!(p.availability, Availability::Other("Focusing".into()));
        assert_eq!(p.activity.as_str(), "InAHuddle");
        assert!(!p.takes_calls());
        let json = serde_json::to_string(&p).expect("ser");
        assert!(json.contains(r#""availability":"Focusing""#), "{json}");
    }

    #[test]
    fn every_known_value_round_trips() {
        for s in Availability::KNOWN {
            assert_eq!(Availability::parse(s).as_str(), *s);
            assert!(!matches!(Availability::parse(s), Availability::Other(_)), "{s}");
        }
        for s in Activity::KNOWN {
            assert!(!matches!(Activity::parse(s), Activity::Other(_)), "{s}");
        }
        assert_eq!(Activity::KNOWN.len(), 15);
        assert_eq!(Availability::KNOWN.len(), 9);
    }
}
