//! A window of a long list: every list a client can grow (products,
//! orders) is answered a page at a time.

use super::ValidationError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Page {
    /// At most this many items.
    pub limit: u32,
    /// After skipping this many.
    pub offset: u64,
}

impl Page {
    pub const DEFAULT_LIMIT: i64 = 20;
    pub const MAX_LIMIT: i64 = 100;

    /// `limit` 1 to 100 (default 20) and `offset` from 0 (default 0), as a
    /// client names them.
    pub fn parse(limit: Option<i64>, offset: Option<i64>) -> Result<Page, Vec<ValidationError>> {
        let mut errors = Vec::new();
        let limit = limit.unwrap_or(Page::DEFAULT_LIMIT);
        if !(1..=Page::MAX_LIMIT).contains(&limit) {
            errors.push(ValidationError::new(
                "limit",
                format!("must be between 1 and {}", Page::MAX_LIMIT),
            ));
        }
        let offset = offset.unwrap_or(0);
        if offset < 0 {
            errors.push(ValidationError::new("offset", "must not be negative"));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Page {
            limit: limit as u32,
            offset: offset as u64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_bounded() {
        assert_eq!(
            Page::parse(None, None).unwrap(),
            Page {
                limit: 20,
                offset: 0
            }
        );
        assert_eq!(Page::parse(Some(0), Some(-1)).unwrap_err().len(), 2);
        assert!(Page::parse(Some(101), None).is_err());
        assert_eq!(Page::parse(Some(100), Some(7)).unwrap().offset, 7);
    }
}
