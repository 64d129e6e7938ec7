use serde::{Deserialize, Serialize};
use std::fmt;

use super::ValidationError;

/// An ISO 4217 currency code such as USD. Amounts are integer minor units.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency(String);

impl Currency {
    pub fn parse(raw: &str) -> Result<Currency, ValidationError> {
        if raw.len() == 3 && raw.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Currency(raw.to_owned()))
        } else {
            Err(ValidationError::new(
                "currency",
                format!("`{raw}` is not an ISO 4217 code like USD"),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

super::string_newtype!(Currency);

/// The price bands a catalogue's facets count products in: the bounds
/// between them, in minor units, strictly increasing, so that the bands
/// `[0, b1)`, `[b1, b2)`, ..., `[bn, ∞)` cover every price once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<i64>", into = "Vec<i64>")]
pub struct PriceBands(Vec<i64>);

impl PriceBands {
    /// The most bounds a configuration may give.
    pub const MAX_BOUNDS: usize = 20;

    pub fn parse(bounds: Vec<i64>) -> Result<PriceBands, String> {
        if bounds.len() > PriceBands::MAX_BOUNDS {
            return Err(format!("holds at most {} bounds", PriceBands::MAX_BOUNDS));
        }
        if bounds.first().is_some_and(|first| *first <= 0) {
            return Err("bounds are prices above 0, in minor units".into());
        }
        if bounds.windows(2).any(|pair| pair[0] >= pair[1]) {
            return Err(format!(
                "{bounds:?} overlaps: the bounds between bands must increase strictly"
            ));
        }
        Ok(PriceBands(bounds))
    }

    /// Each band as `(lowest price, first price above it)`; the last has
    /// no end.
    pub fn bands(&self) -> impl Iterator<Item = (i64, Option<i64>)> + '_ {
        std::iter::once(0).chain(self.0.iter().copied()).zip(
            self.0
                .iter()
                .copied()
                .map(Some)
                .chain(std::iter::once(None)),
        )
    }

    /// The band `price` falls in.
    pub fn band_of(&self, price: i64) -> usize {
        self.0.partition_point(|bound| *bound <= price)
    }
}

impl Default for PriceBands {
    fn default() -> Self {
        PriceBands(vec![2_500, 5_000, 10_000, 20_000])
    }
}

impl TryFrom<Vec<i64>> for PriceBands {
    type Error = String;

    fn try_from(bounds: Vec<i64>) -> Result<Self, Self::Error> {
        PriceBands::parse(bounds)
    }
}

impl From<PriceBands> for Vec<i64> {
    fn from(bands: PriceBands) -> Vec<i64> {
        bands.0
    }
}

#[cfg(test)]
mod tests {
    use super::{Currency, PriceBands};

    #[test]
    fn price_bands_cover_every_price_once() {
        let bands = PriceBands::parse(vec![1000, 5000]).unwrap();
        assert_eq!(
            bands.bands().collect::<Vec<_>>(),
            [(0, Some(1000)), (1000, Some(5000)), (5000, None)]
        );
        assert_eq!(
            [0, 999, 1000, 4999, 5000, i64::MAX].map(|price| bands.band_of(price)),
            [0, 0, 1, 1, 2, 2]
        );
        assert!(PriceBands::parse(vec![5000, 1000]).is_err());
        assert!(PriceBands::parse(vec![1000, 1000]).is_err());
        assert!(PriceBands::parse(vec![0, 1000]).is_err());
        assert!(PriceBands::parse((1..=21).collect()).is_err());
        assert_eq!(PriceBands::parse(vec![]).unwrap().bands().count(), 1);
    }

    #[test]
    fn three_capital_letters() {
        assert_eq!(Currency::parse("EUR").unwrap().as_str(), "EUR");
        for bad in ["", "usd", "US", "USDT", "U$D"] {
            assert!(Currency::parse(bad).is_err(), "{bad}");
        }
    }
}
