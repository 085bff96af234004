//! The list/search shapes of issue 12 (item 1): for each one, the HTTP request and the count the
//! seed model predicts for it, so that `lanyard-bench search` checks every answer as well as
//! timing it.
//!
//! Dates are relative to the seed time `S` (creation dates lie in the 90 days before it; see
//! `model.rs` for expirations), so "ranges that match most of the table" do, whenever the seed
//! was made.

use lanyard_domain::{DateFilter, Micros, OwnedBy, SessionFilter, SessionPage, SessionQuery, SessionSort};
use serde::Serialize;
use serde_json::{json, Value};

use crate::model::{self, rfc3339, Creator, DAY_US};

/// Which DESIGN.md bar a shape is judged by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Bar {
    /// p50 ≤ 20 ms and p95 ≤ 50 ms (ZITADEL limit 100, Kratos page size 250).
    Default,
    /// p50 ≤ 60 ms (ZITADEL limit 1000, Kratos page size 1000).
    Large,
    /// Offset paging: grows with the offset by nature; reported as a curve, not judged.
    Curve,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Equals,
    Greater,
    GreaterOrEquals,
    Less,
    LessOrEquals,
}

impl Method {
    fn wire(self) -> &'static str {
        match self {
            Method::Equals => "TIMESTAMP_QUERY_METHOD_EQUALS",
            Method::Greater => "TIMESTAMP_QUERY_METHOD_GREATER",
            Method::GreaterOrEquals => "TIMESTAMP_QUERY_METHOD_GREATER_OR_EQUALS",
            Method::Less => "TIMESTAMP_QUERY_METHOD_LESS",
            Method::LessOrEquals => "TIMESTAMP_QUERY_METHOD_LESS_OR_EQUALS",
        }
    }

    fn short(self) -> &'static str {
        match self {
            Method::Equals => "=",
            Method::Greater => ">",
            Method::GreaterOrEquals => "≥",
            Method::Less => "<",
            Method::LessOrEquals => "≤",
        }
    }

    fn test(self, value: i64, at: i64) -> bool {
        match self {
            Method::Equals => value == at,
            Method::Greater => value > at,
            Method::GreaterOrEquals => value >= at,
            Method::Less => value < at,
            Method::LessOrEquals => value <= at,
        }
    }
}

/// One ZITADEL query.
#[derive(Debug, Clone)]
pub enum Query {
    /// Sessions by number, sorted (binary-searched when predicting).
    Ids(Vec<u64>),
    User(u64),
    Created(Method, i64),
    Expires(Method, i64),
    /// `None`: an empty id, which means the caller.
    Creator(Option<Creator>),
    /// The fingerprint of session `n`; `None`: an empty id, the caller's session's fingerprint.
    Fingerprint(Option<u64>),
}

/// Who calls ZITADEL ListSessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// The bench's API key (every scope).
    Key,
    /// The bearer of seeded session `n`'s token: sees only its own sessions.
    Session(u64),
}

#[derive(Debug, Clone)]
pub struct Search {
    pub caller: Caller,
    pub queries: Vec<Query>,
    pub asc: bool,
    pub offset: u64,
    pub limit: u64,
}

#[derive(Debug, Clone)]
pub enum Request {
    /// ZITADEL `POST /v2/sessions/search` (public port).
    Search(Search),
    /// Kratos `GET /admin/sessions`; `page` is 1-based and reached by following `next` links.
    AdminSessions {
        active: Option<bool>,
        expand: Option<&'static str>,
        page_size: u64,
        page: u64,
    },
    /// Kratos `GET /admin/identities/{id}/sessions`, first page, token (`page_size`) or legacy
    /// (`page`/`per_page`) paging.
    IdentitySessions {
        identity: u64,
        legacy: bool,
        page_size: u64,
    },
    /// Kratos `GET /sessions` with session `n`'s token: its other active sessions.
    MySessions { session: u64 },
}

#[derive(Debug, Clone)]
pub struct Shape {
    pub key: String,
    pub label: String,
    pub request: Request,
    pub bar: Bar,
}

/// What the shapes are built from.
#[derive(Debug, Clone)]
pub struct Context {
    pub sessions: u64,
    pub identities: u64,
    /// The seed time `S`.
    pub now_us: i64,
    /// The deep Kratos admin page (1-based), capped to the last page.
    pub deep_page: u64,
    /// ZITADEL offsets for the no-query curve (0 is the plain no-query shape).
    pub offsets: Vec<u64>,
}

impl Context {
    /// The identity whose sessions the user-scoped shapes ask for.
    pub fn user(&self) -> u64 {
        2 % self.identities
    }

    /// The session whose token plays the session-token caller (an active one).
    pub fn caller_session(&self) -> u64 {
        (1..self.sessions.max(2)).find(|n| model::is_active(*n)).unwrap_or(0)
    }

    fn last_page(&self, page_size: u64) -> u64 {
        self.sessions.div_ceil(page_size).max(1)
    }
}

/// One seeded session's fields, as `model.rs` defines them (what the seeder wrote).
pub struct Row {
    pub n: u64,
    pub identity: u64,
    pub created: i64,
    pub expires: Option<i64>,
    pub revoked: bool,
    pub identity_active: bool,
    pub active: bool,
    pub creator: Creator,
    pub slot: u64,
}

impl Row {
    pub fn of(n: u64, ctx: &Context) -> Row {
        Row {
            n,
            identity: model::identity_of(n, ctx.identities),
            created: model::created_us(n, ctx.now_us),
            expires: model::expires_us(n, ctx.now_us),
            revoked: model::is_revoked(n),
            identity_active: model::has_active_identity(n),
            active: model::is_active(n),
            creator: model::creator(n, ctx.identities),
            slot: model::fingerprint_slot(n),
        }
    }
}

impl Query {
    fn json(&self, ctx: &Context) -> Value {
        match self {
            Query::Ids(ns) => json!({"idsQuery": {"ids": ns
                .iter()
                .map(|n| model::session_id(*n, ctx.now_us).to_string())
                .collect::<Vec<_>>()}}),
            Query::User(i) => json!({"userIdQuery": {"id": model::identity_id(*i).to_string()}}),
            Query::Created(m, at) => {
                json!({"creationDateQuery": {"creationDate": rfc3339(*at), "method": m.wire()}})
            }
            Query::Expires(m, at) => {
                json!({"expirationDateQuery": {"expirationDate": rfc3339(*at), "method": m.wire()}})
            }
            Query::Creator(c) => json!({"creatorQuery": {"id": c.map(model::creator_id).unwrap_or_default()}}),
            Query::Fingerprint(n) => json!({"userAgentQuery": {"fingerprintId": n
                .map(|n| model::fingerprint(n, ctx.identities))
                .unwrap_or_default()}}),
        }
    }

    fn matches(&self, row: &Row, caller: Caller, ctx: &Context) -> bool {
        let caller_identity = match caller {
            Caller::Key => None,
            Caller::Session(c) => Some(model::identity_of(c, ctx.identities)),
        };
        match self {
            Query::Ids(ns) => ns.binary_search(&row.n).is_ok(),
            Query::User(i) => row.identity == *i,
            Query::Created(m, at) => m.test(row.created, *at),
            // A session that never expires is later than any date.
            Query::Expires(m, at) => match row.expires {
                Some(expires) => m.test(expires, *at),
                None => matches!(m, Method::Greater | Method::GreaterOrEquals),
            },
            Query::Creator(Some(c)) => row.creator == *c,
            // The bench key created no session.
            Query::Creator(None) => caller_identity.is_some_and(|i| row.creator == Creator::Identity(i)),
            Query::Fingerprint(Some(n)) => {
                row.identity == model::identity_of(*n, ctx.identities) && row.slot == model::fingerprint_slot(*n)
            }
            Query::Fingerprint(None) => match caller {
                Caller::Session(c) => {
                    row.identity == model::identity_of(c, ctx.identities) && row.slot == model::fingerprint_slot(c)
                }
                Caller::Key => false,
            },
        }
    }
}

impl Shape {
    /// Whether seeded session `row` counts towards this shape's total.
    pub fn matches(&self, row: &Row, ctx: &Context) -> bool {
        match &self.request {
            Request::Search(search) => {
                // ZITADEL lists every session that is not revoked and whose identity is
                // active; a session-token caller only its own: created by it or of its user.
                let own = match search.caller {
                    Caller::Key => true,
                    Caller::Session(c) => row.identity == model::identity_of(c, ctx.identities),
                };
                !row.revoked
                    && row.identity_active
                    && own
                    && search.queries.iter().all(|q| q.matches(row, search.caller, ctx))
            }
            Request::AdminSessions { active, .. } => active.is_none_or(|a| row.active == a),
            Request::IdentitySessions { identity, .. } => row.identity == *identity,
            Request::MySessions { session } => {
                row.identity == model::identity_of(*session, ctx.identities) && row.active && row.n != *session
            }
        }
    }

    /// The rows a correct answer holds, given the predicted total.
    pub fn expected_rows(&self, total: u64) -> u64 {
        match &self.request {
            Request::Search(s) => s.limit.min(total.saturating_sub(s.offset)),
            Request::AdminSessions { page_size, page, .. } => {
                (*page_size).min(total.saturating_sub((page - 1) * page_size))
            }
            Request::IdentitySessions { page_size, .. } => (*page_size).min(total),
            Request::MySessions { .. } => 250.min(total),
        }
    }

    /// Caps a deep admin page to the last page of `total` matching rows (the catalogue caps it
    /// to the last page of the whole table; a filter has fewer).
    pub fn cap_page(&mut self, total: u64) {
        if let Request::AdminSessions { page, page_size, .. } = &mut self.request {
            let last = total.div_ceil(*page_size).max(1);
            if *page > last {
                self.label = self.label.replace(&format!("page {page}"), &format!("page {last}"));
                *page = last;
            }
        }
    }

    /// Whether the answer carries a count (`totalResult`, `X-Total-Count`).
    pub fn has_count(&self) -> bool {
        !matches!(self.request, Request::AdminSessions { .. })
    }
}

impl Method {
    fn domain(self) -> lanyard_domain::DateMethod {
        use lanyard_domain::DateMethod as D;
        match self {
            Method::Equals => D::Equals,
            Method::Greater => D::Greater,
            Method::GreaterOrEquals => D::GreaterOrEquals,
            Method::Less => D::Less,
            Method::LessOrEquals => D::LessOrEquals,
        }
    }
}

impl Search {
    /// The store query the server runs for this search (its count uses the filter), for timing
    /// the count and the page apart in-process. It mirrors today's translation in
    /// `lanyard_service` (`search_sessions`); a shape whose server-side translation changes
    /// must change here too.
    pub fn store_query(&self, ctx: &Context) -> SessionQuery {
        use lanyard_domain::query::Scope;
        let caller_identity = match self.caller {
            Caller::Key => None,
            Caller::Session(c) => Some(model::identity_id(model::identity_of(c, ctx.identities))),
        };
        let mut filter = SessionFilter {
            scope: Scope::NotRevoked,
            owned_by: caller_identity.map(|id| OwnedBy {
                identity_id: Some(id),
                creator: id.to_string(),
            }),
            ..Default::default()
        };
        let date = |m: &Method, at: &i64| DateFilter {
            method: m.domain(),
            at: Micros(*at),
        };
        for query in &self.queries {
            match query {
                Query::Ids(ns) => filter.ids = Some(ns.iter().map(|n| model::session_id(*n, ctx.now_us)).collect()),
                Query::User(i) => filter.identity_id = Some(model::identity_id(*i)),
                Query::Created(m, at) => filter.created.push(date(m, at)),
                Query::Expires(m, at) => filter.expires.push(date(m, at)),
                Query::Creator(c) => {
                    filter.creator = c
                        .map(model::creator_id)
                        .or_else(|| caller_identity.map(|id| id.to_string()))
                }
                Query::Fingerprint(n) => {
                    let n = n.or(match self.caller {
                        Caller::Session(c) => Some(c),
                        Caller::Key => None,
                    });
                    filter.fingerprint_id = n.map(|n| model::fingerprint(n, ctx.identities));
                }
            }
        }
        SessionQuery {
            filter,
            sort: if self.asc {
                SessionSort::CreatedAsc
            } else {
                SessionSort::CreatedDesc
            },
            page: SessionPage::Offset {
                offset: self.offset,
                limit: self.limit as u32,
            },
            with_devices: true,
        }
    }

    pub fn body(&self, ctx: &Context) -> String {
        let queries: Vec<Value> = self.queries.iter().map(|q| q.json(ctx)).collect();
        json!({
            "query": {"offset": self.offset.to_string(), "limit": self.limit, "asc": self.asc},
            "sortingColumn": "SESSION_FIELD_NAME_CREATION_DATE",
            "queries": queries,
        })
        .to_string()
    }
}

/// The path and query of a request (the admin list's without its page token).
pub fn path(request: &Request) -> String {
    match request {
        Request::AdminSessions {
            active,
            expand,
            page_size,
            ..
        } => {
            let mut path = format!("/admin/sessions?page_size={page_size}");
            if let Some(active) = active {
                path.push_str(&format!("&active={active}"));
            }
            if let Some(expand) = expand {
                path.push_str(&format!("&expand={expand}"));
            }
            path
        }
        Request::IdentitySessions {
            identity,
            legacy,
            page_size,
        } => {
            let id = model::identity_id(*identity);
            if *legacy {
                format!("/admin/identities/{id}/sessions?page=0&per_page={page_size}")
            } else {
                format!("/admin/identities/{id}/sessions?page_size={page_size}")
            }
        }
        Request::MySessions { .. } => "/sessions".into(),
        Request::Search(_) => "/v2/sessions/search".into(),
    }
}

fn search(key: &str, label: String, queries: Vec<Query>) -> Shape {
    Shape {
        key: key.into(),
        label,
        request: Request::Search(Search {
            caller: Caller::Key,
            queries,
            asc: false,
            offset: 0,
            limit: 100,
        }),
        bar: Bar::Default,
    }
}

/// A copy of a search shape with other paging, order or caller.
fn variant(shape: &Shape, key: &str, label: String, bar: Bar, change: impl FnOnce(&mut Search)) -> Shape {
    let mut shape = shape.clone();
    shape.key = key.into();
    shape.label = label;
    shape.bar = bar;
    if let Request::Search(s) = &mut shape.request {
        change(s);
    }
    shape
}

fn days(d: i64) -> String {
    match d {
        0 => "S".into(),
        d if d > 0 => format!("S+{d}d"),
        d => format!("S−{}d", -d),
    }
}

/// Every shape, in the order of the table.
pub fn catalogue(ctx: &Context) -> Vec<Shape> {
    use Method::*;
    let s = ctx.now_us;
    let at = |d: i64| s + d * DAY_US;
    let n = ctx.sessions;
    let user = ctx.user();
    let caller = ctx.caller_session();
    let login_ui = Creator::Key(0);
    let integration = Creator::Key(1);
    let fingerprint_of = 8 % n;
    let third = n / 3;
    let exact_created = model::created_us(third, s);
    let exact_expiry = (third..n)
        .chain(0..third)
        .find_map(|m| model::is_active(m).then(|| model::expires_us(m, s)).flatten())
        .unwrap_or(s);
    let spread = |count: u64| -> Vec<u64> {
        let count = count.min(n);
        let mut ns: Vec<u64> = (0..count).map(|k| k * n / count).collect();
        ns.dedup();
        ns
    };

    let mut shapes = Vec::new();
    let all = search("z_all", "no query".into(), vec![]);
    shapes.push(all.clone());
    for (key, count) in [("z_ids_1", 1), ("z_ids_100", 100), ("z_ids_1000", 1000)] {
        let ids = if count == 1 { vec![n / 2] } else { spread(count) };
        let label = match ids.len() {
            1 => "idsQuery, 1 id".to_owned(),
            len => format!("idsQuery, {len} ids"),
        };
        shapes.push(search(key, label, vec![Query::Ids(ids)]));
    }
    shapes.push(search("z_user", "userIdQuery".into(), vec![Query::User(user)]));

    // Creation dates: exact, and for every comparison a narrow and a broad range.
    shapes.push(search(
        "z_created_eq",
        "creationDate = a session's".into(),
        vec![Query::Created(Equals, exact_created)],
    ));
    let created_ranges = [
        ("gt", Greater, -1, -89),
        ("gte", GreaterOrEquals, -1, -89),
        ("lt", Less, -89, -1),
        ("lte", LessOrEquals, -89, -1),
    ];
    for (name, method, narrow, broad) in created_ranges {
        for (size, d) in [("narrow", narrow), ("broad", broad)] {
            shapes.push(search(
                &format!("z_created_{name}_{size}"),
                format!("creationDate {} {}", method.short(), days(d)),
                vec![Query::Created(method, at(d))],
            ));
        }
    }
    // Expiration dates: expired sessions expired in the 90 days before S, the others expire
    // 2–30 days after it, 1 in 20 active ones never (and those match > and ≥ any date).
    shapes.push(search(
        "z_expires_eq",
        "expirationDate = a session's".into(),
        vec![Query::Expires(Equals, exact_expiry)],
    ));
    let expiry_ranges = [
        ("gt", Greater, 29, -90),
        ("gte", GreaterOrEquals, 29, 0),
        ("lt", Less, -30, 30),
        ("lte", LessOrEquals, 3, 30),
    ];
    for (name, method, narrow, broad) in expiry_ranges {
        for (size, d) in [("narrow", narrow), ("broad", broad)] {
            shapes.push(search(
                &format!("z_expires_{name}_{size}"),
                format!("expirationDate {} {}", method.short(), days(d)),
                vec![Query::Expires(method, at(d))],
            ));
        }
    }
    let by_login_ui = search(
        "z_creator_login_ui",
        "creatorQuery: the login UI (70 %)".into(),
        vec![Query::Creator(Some(login_ui))],
    );
    shapes.push(by_login_ui.clone());
    shapes.push(search(
        "z_creator_integration",
        "creatorQuery: an integration key (5 %)".into(),
        vec![Query::Creator(Some(integration))],
    ));
    shapes.push(search(
        "z_creator_identity",
        "creatorQuery: an identity (its own logins)".into(),
        vec![Query::Creator(Some(Creator::Identity(user)))],
    ));
    shapes.push(search(
        "z_fingerprint",
        "userAgentQuery (a fingerprint)".into(),
        vec![Query::Fingerprint(Some(fingerprint_of))],
    ));

    // Two- and three-way AND.
    shapes.push(search(
        "z_user_created",
        "user + creationDate ≥ S−30d".into(),
        vec![Query::User(user), Query::Created(GreaterOrEquals, at(-30))],
    ));
    shapes.push(search(
        "z_user_fingerprint",
        "user + userAgent".into(),
        // Session number `user` is one of identity `user`'s (n % identities).
        vec![Query::User(user), Query::Fingerprint(Some(user))],
    ));
    let login_ui_recent = search(
        "z_creator_created",
        "login UI + creationDate ≥ S−89d".into(),
        vec![Query::Creator(Some(login_ui)), Query::Created(GreaterOrEquals, at(-89))],
    );
    shapes.push(login_ui_recent.clone());
    shapes.push(search(
        "z_integration_expires",
        "integration + expirationDate ≥ S".into(),
        vec![
            Query::Creator(Some(integration)),
            Query::Expires(GreaterOrEquals, at(0)),
        ],
    ));
    shapes.push(search(
        "z_created_expires",
        "creationDate ≥ S−30d + expirationDate < S".into(),
        vec![Query::Created(GreaterOrEquals, at(-30)), Query::Expires(Less, at(0))],
    ));
    shapes.push(search(
        "z_creator_created_expires",
        "login UI + creationDate ≥ S−89d + expirationDate ≥ S".into(),
        vec![
            Query::Creator(Some(login_ui)),
            Query::Created(GreaterOrEquals, at(-89)),
            Query::Expires(GreaterOrEquals, at(0)),
        ],
    ));
    shapes.push(search(
        "z_user_creator_created",
        "user + login UI + creationDate ≥ S−89d".into(),
        vec![
            Query::User(user),
            Query::Creator(Some(login_ui)),
            Query::Created(GreaterOrEquals, at(-89)),
        ],
    ));

    // Ascending.
    shapes.push(variant(
        &all,
        "z_all_asc",
        "no query, ascending".into(),
        Bar::Default,
        |s| s.asc = true,
    ));
    shapes.push(variant(
        &by_login_ui,
        "z_creator_asc",
        "login UI, ascending".into(),
        Bar::Default,
        |s| s.asc = true,
    ));
    shapes.push(variant(
        &login_ui_recent,
        "z_creator_created_asc",
        "login UI + creationDate ≥ S−89d, ascending".into(),
        Bar::Default,
        |s| s.asc = true,
    ));

    // Limit 1000.
    shapes.push(variant(
        &all,
        "z_all_1000",
        "no query, limit 1000".into(),
        Bar::Large,
        |s| s.limit = 1000,
    ));
    shapes.push(variant(
        &login_ui_recent,
        "z_creator_created_1000",
        "login UI + creationDate ≥ S−89d, limit 1000".into(),
        Bar::Large,
        |s| s.limit = 1000,
    ));

    // The offset curve (offset 0 is `z_all`).
    for offset in ctx.offsets.iter().copied().filter(|o| *o > 0) {
        shapes.push(variant(
            &all,
            &format!("z_all_offset_{offset}"),
            format!("no query, offset {offset}"),
            Bar::Curve,
            |s| s.offset = offset,
        ));
    }

    // A session-token caller: only its own sessions.
    let own = |key: &str, label: &str, queries: Vec<Query>| {
        let mut shape = search(key, label.into(), queries);
        if let Request::Search(s) = &mut shape.request {
            s.caller = Caller::Session(caller);
        }
        shape
    };
    shapes.push(own("z_own", "session token: own sessions", vec![]));
    shapes.push(own(
        "z_own_fingerprint",
        "session token: own, userAgentQuery \"\" (its fingerprint)",
        vec![Query::Fingerprint(None)],
    ));
    shapes.push(own(
        "z_own_creator",
        "session token: own, creatorQuery \"\" (created by it)",
        vec![Query::Creator(None)],
    ));

    // Kratos.
    let admin =
        |key: &str, label: String, active: Option<bool>, expand: Option<&'static str>, page_size: u64, page: u64| {
            Shape {
                key: key.into(),
                label,
                request: Request::AdminSessions {
                    active,
                    expand,
                    page_size,
                    page: page.min(ctx.last_page(page_size)),
                },
                bar: if page_size > 250 { Bar::Large } else { Bar::Default },
            }
        };
    let deep = |size: u64| ctx.deep_page.min(ctx.last_page(size)).max(1);
    shapes.push(admin("k_admin", "/admin/sessions".into(), None, None, 250, 1));
    shapes.push(admin(
        "k_admin_active",
        "/admin/sessions active=true".into(),
        Some(true),
        None,
        250,
        1,
    ));
    shapes.push(admin(
        "k_admin_inactive",
        "/admin/sessions active=false".into(),
        Some(false),
        None,
        250,
        1,
    ));
    shapes.push(admin(
        "k_admin_identity",
        "/admin/sessions expand=identity".into(),
        None,
        Some("identity"),
        250,
        1,
    ));
    shapes.push(admin(
        "k_admin_devices",
        "/admin/sessions expand=devices".into(),
        None,
        Some("devices"),
        250,
        1,
    ));
    shapes.push(admin(
        "k_admin_1000",
        "/admin/sessions page_size=1000".into(),
        None,
        None,
        1000,
        1,
    ));
    shapes.push(admin(
        "k_admin_deep",
        format!("/admin/sessions page {} (250)", deep(250)),
        None,
        None,
        250,
        deep(250),
    ));
    shapes.push(admin(
        "k_admin_active_deep",
        format!("/admin/sessions active=true, page {} (250)", deep(250)),
        Some(true),
        None,
        250,
        deep(250),
    ));
    shapes.push(admin(
        "k_admin_1000_deep",
        format!("/admin/sessions page_size=1000, page {}", deep(1000)),
        None,
        None,
        1000,
        deep(1000),
    ));
    for (key, label, legacy) in [
        ("k_identity", "/admin/identities/{id}/sessions (page_size)", false),
        (
            "k_identity_legacy",
            "/admin/identities/{id}/sessions (page, per_page)",
            true,
        ),
    ] {
        shapes.push(Shape {
            key: key.into(),
            label: label.into(),
            request: Request::IdentitySessions {
                identity: user,
                legacy,
                page_size: 250,
            },
            bar: Bar::Default,
        });
    }
    shapes.push(Shape {
        key: "k_mine".into(),
        label: "GET /sessions (own, session token)".into(),
        request: Request::MySessions { session: caller },
        bar: Bar::Default,
    });
    shapes
}

/// Each shape's predicted total, in one pass over the seeded sessions.
pub fn predict(shapes: &[Shape], ctx: &Context) -> Vec<u64> {
    let mut totals = vec![0u64; shapes.len()];
    for n in 0..ctx.sessions {
        let row = Row::of(n, ctx);
        for (total, shape) in totals.iter_mut().zip(shapes) {
            if shape.matches(&row, ctx) {
                *total += 1;
            }
        }
    }
    totals
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Context {
        Context {
            sessions: 20_000,
            identities: 6_600,
            now_us: 1_800_000_000_000_000,
            deep_page: 2000,
            offsets: vec![0, 200, 2000],
        }
    }

    #[test]
    fn broad_ranges_match_most_of_the_table_and_narrow_ones_little() {
        let ctx = ctx();
        let shapes = catalogue(&ctx);
        let totals = predict(&shapes, &ctx);
        let total = |key: &str| totals[shapes.iter().position(|s| s.key == key).unwrap()];
        let visible = total("z_all");
        assert_eq!(
            visible, 18_600,
            "every session but the revoked and those of deactivated identities"
        );
        for key in [
            "z_created_gt_broad",
            "z_created_lte_broad",
            "z_expires_gt_broad",
            "z_expires_lt_broad",
        ] {
            assert!(total(key) > visible * 8 / 10, "{key}: {}", total(key));
        }
        for key in ["z_created_gt_narrow", "z_created_lt_narrow", "z_expires_lt_narrow"] {
            assert!(total(key) < visible / 10, "{key}: {}", total(key));
        }
        for key in ["z_created_eq", "z_expires_eq", "z_ids_1", "z_fingerprint", "z_own"] {
            assert!(total(key) >= 1, "{key}");
        }
        assert!(total("z_creator_login_ui") > visible * 6 / 10);
        assert!(total("k_admin_active") > 16_000 && total("k_admin_inactive") > 2_000);
        assert_eq!(total("k_admin"), 20_000);
    }

    #[test]
    fn keys_are_unique_and_bodies_are_json() {
        let ctx = ctx();
        let shapes = catalogue(&ctx);
        let mut keys: Vec<_> = shapes.iter().map(|s| s.key.clone()).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), shapes.len());
        for shape in &shapes {
            if let Request::Search(s) = &shape.request {
                let body: Value = serde_json::from_str(&s.body(&ctx)).unwrap();
                assert_eq!(body["queries"].as_array().unwrap().len(), s.queries.len());
            }
        }
    }
}
