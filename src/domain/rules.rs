//! The shapes of text the domain accepts, as regular expressions, and the
//! lengths it allows. The parsers check with these very patterns and
//! limits, and the API document states them from here, so what the
//! document promises and what the service accepts cannot drift apart. The
//! patterns use only what Rust's, Python's and ECMAScript's engines read
//! alike (classes with `\uXXXX`, groups, counted repetition, anchors).

use regex::Regex;
use std::sync::LazyLock;

/// One line of text: no control character, and something that is not
/// whitespace (the value is kept trimmed of whitespace).
pub const SINGLE_LINE: &str = r"^[^\u0000-\u001f\u007f-\u009f]*[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\u0000-\u001f\u007f-\u009f]*$";

/// Text that may span lines: no control character but tab, line feed and
/// carriage return. May be empty.
pub const MULTI_LINE: &str = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$";

/// An address of RFC 5322's dot-atom form at a domain of LDH labels with at
/// least one dot. With `EMAIL_MAX` and `EMAIL_LONG_LOCAL_PART` it keeps
/// within what the mailer sends (RFC 5321, as lettre checks it): labels of
/// at most 63 characters here, a local part of at most 64, and at most 254
/// in all, so the domain stays under 255 and the path `<address>` under 256.
pub const EMAIL: &str = r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$";

/// An address whose part before the `@` is longer than 64 characters, which
/// lettre refuses to send to. A pattern apart from `EMAIL` (which the
/// document states as `not`): no regular expression of the three engines
/// counts the characters of a dot-atom, dots included, without lookahead.
pub const EMAIL_LONG_LOCAL_PART: &str = r"^[^@]{65}";

/// A sign-in code.
pub const OTP: &str = r"^[0-9]{6}$";

/// A phone number in a loose international form: an optional `+`, 7 to 15
/// digits, and spaces, dots, dashes and parentheses between them.
pub const PHONE: &str = r"^\+?[ ().-]*([0-9][ ().-]*){7,15}$";

/// A postal code: letters, digits, spaces and dashes, not only spaces.
pub const ZIP_CODE: &str = r"^[A-Za-z0-9 -]*[A-Za-z0-9-][A-Za-z0-9 -]*$";

/// An http(s) URL with a host name, printable ASCII only.
pub const IMAGE_URL: &str = r"^https?://[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*(:[0-9]{1,5})?(/[!-~]*)?$";

pub const EMAIL_MAX: usize = 254;
/// Most characters before an email's `@` (`EMAIL_LONG_LOCAL_PART` is one more).
pub const EMAIL_LOCAL_PART_MAX: usize = 64;
pub const NAME_MAX: usize = 100;
pub const LABEL_MAX: usize = 40;
pub const STREET_MAX: usize = 200;
/// An operator's note of how an order was paid by hand.
pub const PAYMENT_REFERENCE_MAX: usize = 200;
pub const CITY_MAX: usize = 100;
pub const STATE_MAX: usize = 100;
pub const ZIP_CODE_MAX: usize = 12;
pub const COUNTRY_MAX: usize = 56;
pub const TITLE_MAX: usize = 200;
pub const DESCRIPTION_MAX: usize = 5000;
pub const CATEGORY_MAX: usize = 60;
pub const DRESS_TYPE_MAX: usize = 60;
pub const KEYWORD_MAX: usize = 40;
pub const KEYWORDS_MAX: usize = 30;
pub const IMAGE_URL_MAX: usize = 2000;
pub const IMAGE_URLS_MAX: usize = 20;
pub const FAQ_MAX: usize = 30;
pub const QUESTION_MAX: usize = 500;
pub const ANSWER_MAX: usize = 2000;
/// One billion in major units, in minor units.
pub const PRICE_MAX: i64 = 100_000_000_000;
pub const STOCK_MAX: i64 = 1_000_000_000;
pub const DISCOUNT_MAX: i64 = 100;

macro_rules! compiled {
    ($($name:ident = $pattern:ident;)*) => {
        $(
            pub(super) static $name: LazyLock<Regex> = LazyLock::new(|| {
                Regex::new($pattern).expect("the domain's patterns are valid")
            });
        )*
    };
}

compiled! {
    SINGLE_LINE_RE = SINGLE_LINE;
    MULTI_LINE_RE = MULTI_LINE;
    EMAIL_RE = EMAIL;
    EMAIL_LONG_LOCAL_PART_RE = EMAIL_LONG_LOCAL_PART;
    OTP_RE = OTP;
    PHONE_RE = PHONE;
    ZIP_CODE_RE = ZIP_CODE;
    IMAGE_URL_RE = IMAGE_URL;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_line_text() {
        for good in ["Ana", " Ana ", "a b", "\u{a0}x", "日本"] {
            assert!(SINGLE_LINE_RE.is_match(good), "{good:?}");
        }
        for bad in [
            "", "   ", "\u{3000}", "a\nb", "\ta", "a\u{0}", "a\u{85}", "\u{7f}",
        ] {
            assert!(!SINGLE_LINE_RE.is_match(bad), "{bad:?}");
        }
    }

    #[test]
    fn multi_line_text() {
        assert!(MULTI_LINE_RE.is_match(""));
        assert!(MULTI_LINE_RE.is_match("a\n\tb\r\n"));
        assert!(!MULTI_LINE_RE.is_match("a\u{0}"));
        assert!(!MULTI_LINE_RE.is_match("a\u{b}"));
    }

    #[test]
    fn the_local_part_limit_is_one_number() {
        assert_eq!(
            EMAIL_LONG_LOCAL_PART,
            format!("^[^@]{{{}}}", EMAIL_LOCAL_PART_MAX + 1)
        );
    }

    #[test]
    fn image_urls() {
        for good in [
            "https://img.example/a.jpg",
            "http://localhost:8080/x?y=1#z",
            "https://a",
        ] {
            assert!(IMAGE_URL_RE.is_match(good), "{good:?}");
        }
        for bad in [
            "ftp://x.example/a",
            "https://",
            "https://-a.example/",
            "https://a.example/a b",
            "javascript:alert(1)",
        ] {
            assert!(!IMAGE_URL_RE.is_match(bad), "{bad:?}");
        }
    }
}
