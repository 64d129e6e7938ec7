//! A numeric id in a path (`/orders/{id}`), read as JSON bodies read their
//! integers: a whole number, also when written with a zero fraction
//! (`44.0`), which JSON Schema (and so the API document) calls an integer
//! too. Anything else is a 400 through `error::path_error`.

use serde::{de, Deserialize, Deserializer};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Id(i64);

impl Id {
    pub fn get(self) -> i64 {
        self.0
    }

    fn parse(raw: &str) -> Option<Id> {
        if let Ok(id) = raw.parse::<i64>() {
            return Some(Id(id));
        }
        let (whole, fraction) = raw.split_once('.')?;
        let zero_fraction = !fraction.is_empty() && fraction.bytes().all(|b| b == b'0');
        let digits = whole.strip_prefix('-').unwrap_or(whole);
        if !zero_fraction || digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        whole.parse().ok().map(Id)
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Id::parse(&raw).ok_or_else(|| {
            de::Error::custom(format!("`{raw}` is not a whole number of at most 64 bits"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Id;

    #[test]
    fn whole_numbers_with_or_without_a_zero_fraction() {
        assert_eq!(Id::parse("44"), Some(Id(44)));
        assert_eq!(Id::parse("44.0"), Some(Id(44)));
        assert_eq!(Id::parse("-3.00"), Some(Id(-3)));
        for refused in [
            "44.5",
            "44.",
            ".0",
            "4e1",
            "abc",
            "",
            "1.0.0",
            "+.0",
            "99999999999999999999",
            "99999999999999999999.0",
        ] {
            assert_eq!(Id::parse(refused), None, "{refused}");
        }
    }
}
