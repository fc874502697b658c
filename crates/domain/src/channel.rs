//! How an initiative came in: through the website, by e-mail, by phone or in person.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Web,
    Email,
    Phone,
    InPerson,
}

impl Channel {
    pub const ALL: [Channel; 4] = [
        Channel::Web,
        Channel::Email,
        Channel::Phone,
        Channel::InPerson,
    ];

    /// The snake_case name used in events: `"in_person"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Web => "web",
            Channel::Email => "email",
            Channel::Phone => "phone",
            Channel::InPerson => "in_person",
        }
    }

    /// The Dutch phrase for history lines: `"via de website"`.
    pub fn label_nl(self) -> &'static str {
        match self {
            Channel::Web => "via de website",
            Channel::Email => "per e-mail",
            Channel::Phone => "telefonisch",
            Channel::InPerson => "persoonlijk",
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
