//! Kratos session lists written straight to JSON bytes.
//!
//! A page of 250 sessions through `session_json` and serde cost about a fifth of the server's
//! CPU for the admin list: every session became a struct with cloned strings and a `Vec` of
//! methods, and every timestamp a `String` that serde then scanned for characters to escape.
//! Here the same bytes are written into one buffer. `SessionJson` stays the definition of the
//! wire format (OpenAPI, single sessions); the tests check that both give identical bytes.
//!
//! What the fast writer cannot show exactly as serde would (a timestamp outside RFC 3339's
//! years 0000–9999, which serde refuses) makes the whole answer go through serde instead, so
//! that such a page fails as it always did.

use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use axum::Json;
use lanyard_domain::{Device, Factor, Micros};
use lanyard_service::SessionView;
use time::format_description::well_known::Rfc3339;

use super::wire::{identity_json, session_json, HiddenDevices, SessionOptions};

/// A value the fast writer leaves to serde.
#[derive(Debug)]
struct Unwritable;

type Written = Result<(), Unwritable>;

/// Bytes of one unexpanded session, so that a page rarely grows its buffer.
const SESSION_BYTES: usize = 384;

/// The JSON array of `views` as `Json(Vec<SessionJson>)` would answer it.
pub(crate) fn sessions_response(views: &[SessionView], options: &SessionOptions<'_>) -> Response {
    let mut out = Vec::with_capacity(2 + views.len() * SESSION_BYTES);
    match write_sessions(&mut out, views, options) {
        Ok(()) => (
            [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
            bytes::Bytes::from(out),
        )
            .into_response(),
        Err(Unwritable) => {
            let sessions: Vec<_> = views.iter().map(|v| session_json(v, options)).collect();
            Json(sessions).into_response()
        }
    }
}

fn write_sessions(out: &mut Vec<u8>, views: &[SessionView], options: &SessionOptions<'_>) -> Written {
    out.push(b'[');
    for (n, view) in views.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        write_session(out, view, options)?;
    }
    out.push(b']');
    Ok(())
}

/// The fields in `SessionJson`'s order, with its `skip_serializing_if`s.
fn write_session(out: &mut Vec<u8>, view: &SessionView, options: &SessionOptions<'_>) -> Written {
    let session = &view.session;
    out.extend_from_slice(b"{\"id\":");
    write_uuid(out, session.id);
    out.extend_from_slice(if view.active {
        b",\"active\":true"
    } else {
        b",\"active\":false"
    });
    if let Some(expires_at) = session.expires_at {
        out.extend_from_slice(b",\"expires_at\":");
        write_time(out, expires_at)?;
    }
    out.extend_from_slice(b",\"authenticated_at\":");
    write_time(out, session.authenticated_at)?;
    out.extend_from_slice(b",\"issued_at\":");
    write_time(out, session.created_at)?;
    out.extend_from_slice(b",\"authenticator_assurance_level\":");
    write_static(out, session.aal().as_str());
    out.extend_from_slice(b",\"authentication_methods\":[");
    for (n, factor) in session.factors.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        write_method(out, factor)?;
    }
    out.extend_from_slice(b"],\"identity\":");
    match view.identity.as_ref().filter(|_| options.expand_identity) {
        Some(identity) => {
            let json = identity_json(identity, options.audience, options.public_base_url);
            serde_json::to_writer(&mut *out, &json).map_err(|_| Unwritable)?;
        }
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"devices\":");
    if options.expand_devices {
        out.push(b'[');
        for (n, device) in session.devices.iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            write_device(out, device)?;
        }
        out.push(b']');
    } else {
        out.extend_from_slice(match options.hidden_devices {
            HiddenDevices::Null => b"null",
            HiddenDevices::Empty => b"[]",
        });
    }
    out.push(b'}');
    Ok(())
}

/// `MethodJson`'s fields.
fn write_method(out: &mut Vec<u8>, factor: &Factor) -> Written {
    out.extend_from_slice(b"{\"method\":");
    write_static(out, factor.method.kratos_name());
    out.extend_from_slice(b",\"aal\":");
    write_static(out, factor.aal.as_str());
    out.extend_from_slice(b",\"completed_at\":");
    write_time(out, factor.completed_at)?;
    if let Some(provider) = &factor.provider {
        out.extend_from_slice(b",\"provider\":");
        write_str(out, provider)?;
    }
    if let Some(organization) = &factor.organization {
        out.extend_from_slice(b",\"organization\":");
        write_str(out, organization)?;
    }
    out.push(b'}');
    Ok(())
}

/// `DeviceJson`'s fields.
fn write_device(out: &mut Vec<u8>, device: &Device) -> Written {
    out.extend_from_slice(b"{\"id\":");
    write_uuid(out, device.id);
    for (name, value) in [
        (&b",\"ip_address\":"[..], &device.ip_address),
        (b",\"user_agent\":", &device.user_agent),
        (b",\"location\":", &device.location),
    ] {
        out.extend_from_slice(name);
        match value {
            Some(value) => write_str(out, value)?,
            None => out.extend_from_slice(b"null"),
        }
    }
    out.push(b'}');
    Ok(())
}

fn write_uuid(out: &mut Vec<u8>, id: uuid::Uuid) {
    let mut buffer = uuid::Uuid::encode_buffer();
    out.push(b'"');
    out.extend_from_slice(id.hyphenated().encode_lower(&mut buffer).as_bytes());
    out.push(b'"');
}

/// The enum names of the domain (methods, AALs): ASCII letters, digits and `_`, nothing to escape.
fn write_static(out: &mut Vec<u8>, name: &'static str) {
    debug_assert!(name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
    out.push(b'"');
    out.extend_from_slice(name.as_bytes());
    out.push(b'"');
}

fn write_str(out: &mut Vec<u8>, value: &str) -> Written {
    serde_json::to_writer(out, value).map_err(|_| Unwritable)
}

/// 0000-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z: the instants RFC 3339 can show.
const FIRST_RFC3339: i64 = -62_167_219_200_000_000;
const LAST_RFC3339: i64 = 253_402_300_799_999_999;

/// A quoted timestamp as `time::serde::rfc3339` writes `Micros::to_datetime`: UTC, `Z`, the
/// fraction only when non-zero and without trailing zeros.
fn write_time(out: &mut Vec<u8>, at: Micros) -> Written {
    if !(FIRST_RFC3339..=LAST_RFC3339).contains(&at.0) {
        // Rare (a date no client can hold): `time` decides, so the answer stays its own.
        out.push(b'"');
        at.to_datetime().format_into(out, &Rfc3339).map_err(|_| Unwritable)?;
        out.push(b'"');
        return Ok(());
    }
    let seconds = at.0.div_euclid(1_000_000);
    let micros = at.0.rem_euclid(1_000_000) as u32;
    let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
    let second_of_day = seconds.rem_euclid(86_400) as u32;
    let mut text = [0u8; 29];
    text[0] = b'"';
    put_digits(&mut text[1..5], year);
    text[5] = b'-';
    put_digits(&mut text[6..8], month);
    text[8] = b'-';
    put_digits(&mut text[9..11], day);
    text[11] = b'T';
    put_digits(&mut text[12..14], second_of_day / 3600);
    text[14] = b':';
    put_digits(&mut text[15..17], second_of_day / 60 % 60);
    text[17] = b':';
    put_digits(&mut text[18..20], second_of_day % 60);
    let mut end = 20;
    if micros != 0 {
        text[20] = b'.';
        put_digits(&mut text[21..27], micros);
        end = 27;
        while text[end - 1] == b'0' {
            end -= 1;
        }
    }
    text[end] = b'Z';
    text[end + 1] = b'"';
    out.extend_from_slice(&text[..end + 2]);
    Ok(())
}

/// `value` in decimal, zero-padded to the slot's width (the value always fits).
fn put_digits(slot: &mut [u8], mut value: u32) {
    for digit in slot.iter_mut().rev() {
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// Year, month, day of a day number since 1970-01-01 in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`); only called for years 0 to 9999.
fn civil_from_days(days: i64) -> (u32, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year as u32, month as u32, day as u32)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use lanyard_domain::{Aal, Identity, IdentityState, Method, Session};
    use proptest::prelude::*;
    use uuid::Uuid;

    use super::super::wire::Audience;
    use super::*;

    fn serde_bytes(views: &[SessionView], options: &SessionOptions<'_>) -> Option<Vec<u8>> {
        let sessions: Vec<_> = views.iter().map(|v| session_json(v, options)).collect();
        serde_json::to_vec(&sessions).ok()
    }

    fn fast_bytes(views: &[SessionView], options: &SessionOptions<'_>) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        write_sessions(&mut out, views, options).ok().map(|()| out)
    }

    fn options(expand_identity: bool, expand_devices: bool, hidden_devices: HiddenDevices) -> SessionOptions<'static> {
        SessionOptions {
            audience: Audience::AdminSession,
            expand_identity,
            expand_devices,
            hidden_devices,
            public_base_url: "https://lanyard.example/",
        }
    }

    fn factor(method: Method, completed_at: i64, provider: Option<&str>, organization: Option<&str>) -> Factor {
        Factor {
            method,
            aal: Aal::Aal1,
            completed_at: Micros(completed_at),
            provider: provider.map(str::to_owned),
            organization: organization.map(str::to_owned),
            user_verified: false,
        }
    }

    fn device(ip: Option<&str>, user_agent: Option<&str>, location: Option<&str>) -> Device {
        Device {
            id: Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0001),
            ip_address: ip.map(str::to_owned),
            user_agent: user_agent.map(str::to_owned),
            location: location.map(str::to_owned),
            fingerprint_id: Some("fp".to_owned()),
            headers: BTreeMap::new(),
            created_at: Micros(0),
        }
    }

    fn view(times: [i64; 3], expires_at: Option<i64>, factors: Vec<Factor>, devices: Vec<Device>) -> SessionView {
        let identity_id = Uuid::from_u128(7);
        let session = Session {
            id: Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0002),
            identity_id: Some(identity_id),
            created_at: Micros(times[0]),
            changed_at: Micros(times[2]),
            authenticated_at: Micros(times[1]),
            expires_at: expires_at.map(Micros),
            revoked_at: None,
            user_checked_at: None,
            factors,
            devices,
            metadata: BTreeMap::new(),
            creator: None,
            sequence: 1,
        };
        let identity = Identity {
            id: identity_id,
            schema_id: "default".to_owned(),
            traits: serde_json::json!({"email": "a\"b@example.com"}),
            state: IdentityState::Active,
            state_changed_at: Some(Micros(times[2])),
            metadata_public: None,
            metadata_admin: Some(serde_json::json!({"tier": 1})),
            organization_id: None,
            external_id: None,
            identifiers: vec!["a\"b@example.com".to_owned()],
            credentials: BTreeMap::new(),
            created_at: Micros(times[2]),
            updated_at: Micros(times[2]),
        };
        SessionView {
            session,
            active: times[0] % 2 == 0,
            identity: Some(identity),
            memo: lanyard_service::ViewMemo::default(),
        }
    }

    #[test]
    fn pages_match_serde_byte_for_byte() {
        let views = [
            view([1_700_000_000_123_456, 1_700_000_000_000_000, 0], None, vec![], vec![]),
            view(
                [1_700_000_001_120_000, -1, 1],
                Some(253_402_300_799_999_999),
                vec![
                    factor(Method::Password, 0, None, None),
                    factor(
                        Method::Oidc,
                        -62_135_596_800_000_000,
                        Some("goo\"gle\u{1}"),
                        Some("ü org"),
                    ),
                ],
                vec![
                    device(Some("127.0.0.1"), Some("Mozilla \\ \"x\"\n"), None),
                    device(None, None, Some("Berlin, DE")),
                ],
            ),
            view(
                [-62_167_219_200_000_000, 86_399_999_999, 5],
                Some(951_782_400_000_001),
                vec![],
                vec![],
            ),
        ];
        for expand_identity in [false, true] {
            for expand_devices in [false, true] {
                for hidden in [HiddenDevices::Null, HiddenDevices::Empty] {
                    let options = options(expand_identity, expand_devices, hidden);
                    for n in 0..=views.len() {
                        let (fast, serde) = (fast_bytes(&views[..n], &options), serde_bytes(&views[..n], &options));
                        assert!(fast.is_some());
                        assert_eq!(
                            fast.map(String::from_utf8),
                            serde.map(String::from_utf8),
                            "{expand_identity} {expand_devices} {hidden:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn dates_serde_refuses_go_through_serde() {
        let options = options(false, false, HiddenDevices::Null);
        for at in [FIRST_RFC3339 - 1, i64::MIN, i64::MAX, -300_000_000_000_000_000] {
            let views = [view([0, at, 0], None, vec![], vec![])];
            assert_eq!(
                serde_bytes(&views, &options).is_some(),
                fast_bytes(&views, &options).is_some()
            );
            if let Some(serde) = serde_bytes(&views, &options) {
                assert_eq!(fast_bytes(&views, &options), Some(serde), "{at}");
            }
            let response = sessions_response(&views, &options);
            let serde_status = Json(views.iter().map(|v| session_json(v, &options)).collect::<Vec<_>>())
                .into_response()
                .status();
            assert_eq!(response.status(), serde_status, "{at}");
        }
    }

    proptest! {
        #[test]
        fn every_instant_is_written_as_time_writes_it(at in any::<i64>(), near in FIRST_RFC3339..=LAST_RFC3339) {
            for at in [at, near, near - near.rem_euclid(1_000_000), near - near.rem_euclid(1_000)] {
                let mut fast = Vec::new();
                let fast = write_time(&mut fast, Micros(at)).ok().map(|()| String::from_utf8(fast));
                let serde = Micros(at)
                    .to_datetime()
                    .format(&Rfc3339)
                    .ok()
                    .map(|text| Ok(format!("\"{text}\"")));
                prop_assert_eq!(fast, serde);
            }
        }
    }
}
