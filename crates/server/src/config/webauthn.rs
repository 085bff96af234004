//! The relying party for passkeys and security keys, from `[webauthn]` and the public base URL.

use anyhow::anyhow;
use lanyard_service::RelyingParty;
use url::Host;

use super::Config;

impl Config {
    /// The relying party id in effect: `webauthn.rp_id`, else the public base URL's host when
    /// it is a name. `None`: WebAuthn stays off.
    pub fn webauthn_rp_id(&self) -> Option<String> {
        if let Some(id) = &self.webauthn.rp_id {
            return Some(id.trim().to_owned());
        }
        match self.serve.public.base_url.url().host()? {
            Host::Domain(name) => Some(name.to_owned()),
            Host::Ipv4(_) | Host::Ipv6(_) => None,
        }
    }

    /// The origins the ceremonies may run on: `webauthn.allowed_origins`, else the public base
    /// URL's origin.
    pub fn webauthn_origins(&self) -> Vec<url::Url> {
        if !self.webauthn.allowed_origins.is_empty() {
            return self.webauthn.allowed_origins.clone();
        }
        let mut origin = self.serve.public.base_url.url().clone();
        origin.set_path("/");
        vec![origin]
    }

    /// The relying party, or `None` when no id can be had (WebAuthn off).
    pub fn relying_party(&self) -> anyhow::Result<Option<RelyingParty>> {
        let Some(id) = self.webauthn_rp_id() else {
            return Ok(None);
        };
        let name = self.webauthn.rp_name.as_deref().unwrap_or("Lanyard");
        RelyingParty::new(&id, name, &self.webauthn_origins())
            .map(Some)
            .map_err(|e| anyhow!("invalid [webauthn] configuration: {e}"))
    }

    /// `webauthn.*` values that cannot work.
    pub(super) fn webauthn_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.webauthn.rp_id.as_deref().is_some_and(|id| id.trim().is_empty()) {
            problems.push("webauthn.rp_id is empty; leave it out to use the host of serve.public.base_url".into());
        }
        for origin in &self.webauthn.allowed_origins {
            if !matches!(origin.scheme(), "https" | "http") || origin.host().is_none() {
                problems.push(format!(
                    "webauthn.allowed_origins: {origin} is not an http(s) origin such as https://login.example.com"
                ));
            }
        }
        if problems.is_empty() {
            if let Err(error) = self.relying_party() {
                problems.push(error.to_string());
            }
        }
        problems
    }
}
