//! Identity schema sources: a file path, a `file://` URL or `base64://` inline JSON.

use std::path::Path;

use anyhow::{anyhow, bail, Context};
use base64::Engine;
use lanyard_service::SchemaSource;

/// Reads one identity schema from `file:///abs.json`, `base64://<base64 JSON>` or a path.
pub fn load_schema(id: &str, location: &str) -> anyhow::Result<SchemaSource> {
    let location = location.trim();
    let (origin, text) = if let Some(encoded) = location.strip_prefix("base64://") {
        let bytes = decode_base64(encoded)
            .ok_or_else(|| anyhow!("identity schema {id:?}: the base64:// URL does not hold valid base64"))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| anyhow!("identity schema {id:?}: the base64:// URL does not decode to UTF-8 text"))?;
        ("its base64:// URL".to_owned(), text)
    } else if location.starts_with("file:") {
        let url =
            url::Url::parse(location).with_context(|| format!("identity schema {id:?}: invalid URL {location:?}"))?;
        let path = url.to_file_path().map_err(|_| {
            anyhow!(
                "identity schema {id:?}: {location:?} is not a usable file URL; file URLs take an \
                 absolute path (file:///etc/lanyard/schema.json); write relative paths without file://"
            )
        })?;
        (path.display().to_string(), read_schema_file(id, &path)?)
    } else if location.contains("://") {
        let scheme = location.split_once("://").map_or("", |(scheme, _)| scheme);
        bail!(
            "identity schema {id:?}: {scheme}:// URLs are not supported; use file:///path.json, \
             base64://<base64 JSON> or a file path"
        );
    } else if location.is_empty() {
        bail!("identity schema {id:?} has an empty url");
    } else {
        let path = Path::new(location);
        (path.display().to_string(), read_schema_file(id, path)?)
    };
    let schema = serde_json::from_str(&text)
        .with_context(|| format!("identity schema {id:?} from {origin} is not valid JSON"))?;
    Ok(SchemaSource {
        id: id.to_owned(),
        schema,
    })
}

fn read_schema_file(id: &str, path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("identity schema {id:?}: cannot read {}", path.display()))
}

fn decode_base64(encoded: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
    use base64::engine::DecodePaddingMode;
    let config = GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let standard = GeneralPurpose::new(&base64::alphabet::STANDARD, config);
    let url_safe = GeneralPurpose::new(&base64::alphabet::URL_SAFE, config);
    let compact: String = encoded.chars().filter(|c| !c.is_whitespace()).collect();
    standard.decode(&compact).or_else(|_| url_safe.decode(&compact)).ok()
}
