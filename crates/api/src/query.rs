//! Query strings parsed by hand, so each protocol can say exactly which parameter was wrong
//! (axum's `Query` rejection cannot), and repeated parameters are kept.

use axum::extract::{FromRequestParts, RawQuery};
use axum::http::request::Parts;

#[derive(Debug, Clone, Default)]
pub struct QueryParams(Vec<(String, String)>);

impl QueryParams {
    pub fn parse(raw: Option<&str>) -> Self {
        QueryParams(
            url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
                .into_owned()
                .collect(),
        )
    }

    /// The first non-empty value of `name`.
    pub fn first(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let RawQuery(raw) = RawQuery::from_request_parts(parts, state).await?;
        Ok(QueryParams::parse(raw.as_deref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_repeats_and_decodes() {
        let q = QueryParams::parse(Some("expand=identity&expand=devices&page_token=a%2Bb&page_size="));
        assert_eq!(q.all("expand").collect::<Vec<_>>(), ["identity", "devices"]);
        assert_eq!(q.first("page_token"), Some("a+b"));
        assert_eq!(q.first("page_size"), None);
        assert!(q.has("page_size"));
    }
}
