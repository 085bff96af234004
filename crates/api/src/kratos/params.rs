//! The Kratos query parameters shared by several session endpoints.

use super::error::KratosError;
use crate::query::QueryParams;

/// `active`: Go's `strconv.ParseBool` spellings; anything else is a 400.
pub fn active(query: &QueryParams) -> Result<Option<bool>, KratosError> {
    match query.first("active") {
        None => Ok(None),
        Some("1" | "t" | "T" | "TRUE" | "true" | "True") => Ok(Some(true)),
        Some("0" | "f" | "F" | "FALSE" | "false" | "False") => Ok(Some(false)),
        Some(other) => Err(KratosError::bad_request(format!(
            "could not parse parameter active: {other:?} is not a boolean (use true or false)"
        ))),
    }
}

#[derive(Debug, Default, Clone, Copy)]
pub struct Expand {
    pub identity: bool,
    pub devices: bool,
}

/// `expand`: repeatable, case-insensitive, `identity` or `devices`.
pub fn expand(query: &QueryParams) -> Result<Expand, KratosError> {
    let mut expand = Expand::default();
    for value in query.all("expand") {
        match value.to_ascii_lowercase().as_str() {
            "identity" => expand.identity = true,
            "devices" => expand.devices = true,
            _ => {
                return Err(KratosError::bad_request(format!(
                    "Could not parse expand option: {value} (use identity or devices)"
                )))
            }
        }
    }
    Ok(expand)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_accepts_go_booleans_only() {
        assert_eq!(active(&QueryParams::parse(Some("active=T"))).unwrap(), Some(true));
        assert_eq!(active(&QueryParams::parse(Some("active=0"))).unwrap(), Some(false));
        assert!(active(&QueryParams::parse(Some("active=yes"))).is_err());
    }

    #[test]
    fn expand_is_repeatable_and_strict() {
        let e = expand(&QueryParams::parse(Some("expand=Identity&expand=devices"))).unwrap();
        assert!(e.identity && e.devices);
        assert!(expand(&QueryParams::parse(Some("expand=identity,devices"))).is_err());
    }
}
