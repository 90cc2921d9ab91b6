//! Every SQL statement the store sends, in one place, as text + parameters, and the
//! schema [`migration`] that creates what they use.
//!
//! - **Two tables.** `<table>` holds the entries (logged: one durable write per
//!   modifying request). `<table>_leases` (UNLOGGED, fillfactor 50) holds one lease row
//!   per entry, created with it and only ever UPDATEd while it lives (heap-only-tuple
//!   updates, no index churn, no WAL): taking and giving back a lease costs no WAL
//!   flush. A crash empties it, which ends every lease (they would expire anyway); the
//!   fence in the entry keeps commits safe.
//! - **The lease row** holds the owner's token, the lease's end, and the fence of the
//!   entry its holder read. A lease is free when released (no token), expired, or
//!   **overtaken**: the entry's fence has moved past the lease's, because its holder
//!   committed a write, or something wrote the entry without the lock. So a modifying
//!   request's commit is ONE write, to the entry, which releases the lease by moving the
//!   fence; only a request that changes nothing writes the lease row to give it back.
//! - **Lock = ONE statement:** it reads the entry and takes the lease (an upsert of the
//!   lease row whose conflict branch re-checks the newest lease row, as PostgreSQL does
//!   for `ON CONFLICT DO UPDATE`). The entry is read with the statement's snapshot; a
//!   lease is taken only if its fence is older than the fence read (or it is free by
//!   release or expiry), so the value returned is the one its last holder committed: a
//!   commit that landed after the snapshot leaves the lease looking held (busy, and the
//!   engine tries again).
//! - **Commit = ONE statement:** a compare-and-set on the token (the lease row still
//!   names it) and on the fence (the entry is still at the one read). A write refused
//!   because the entry moved on leaves the lease free: the entry's fence is past it.
//! - **Removal is a tombstone** (no value, expired, the next fence; the lease row given
//!   back at that fence), deleted later with its lease row by the expired-rows deletion:
//!   a lock that read the entry before the removal committed finds the lease newer than
//!   what it read, and no lease row outlives its entry.
//! - **Lock order:** a statement that writes both rows writes the entry's first (a CTE
//!   that another refers to runs before it), so two statements cannot deadlock.
//! - **Times** come from the database clock (`now()`), so all instances share one.
//! - **Sliding expiry without a write per read:** an entry's expiry is moved only when
//!   it would move by more than its slack, `min(idle / 20, refresh slack)`; a session may
//!   so end up to that slack before its idle timeout (documented on
//!   [`PostgresCacheOptions::refresh_slack`](crate::PostgresCacheOptions::refresh_slack)).
//!   A write that keeps the expiry changes no indexed column: a heap-only update.
//! - **No functions, no advisory locks** in the statements: plain SQL, one round trip each.

use std::time::{Duration, SystemTime};

use session_core::store::{CommitOp, EntryOptions};

/// Sliding window used when an entry has neither expiry (ASP.NET's
/// `DefaultSlidingExpiration`).
pub(crate) const DEFAULT_SLIDING: Duration = Duration::from_secs(20 * 60);

/// A bound parameter; `$1` is the first. Every statement casts its parameters, so a
/// parameter's text is the same whether it is bound or written in ([`Statement::inline`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Param {
    Text(String),
    Bytes(Vec<u8>),
    Int(i64),
    /// A `bigint` that may be NULL.
    OptInt(Option<i64>),
    /// A `text` that may be NULL.
    OptText(Option<String>),
    /// A `text[]`.
    Texts(Vec<String>),
}

/// One statement: its text and parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Statement {
    pub(crate) sql: String,
    pub(crate) params: Vec<Param>,
}

impl Statement {
    /// The statement with its parameters written into the text as literals, for the
    /// simple query protocol (poolers that keep no prepared statements). Text is an
    /// escape-string literal (`E'..'`, backslashes and quotes doubled), bytes are
    /// `decode('<hex>', 'hex')`: nothing a parameter holds can end its literal.
    pub(crate) fn inline(&self) -> String {
        let mut out = String::with_capacity(self.sql.len() + 64);
        let mut rest = self.sql.as_str();
        while let Some(at) = rest.find('$') {
            out.push_str(&rest[..at]);
            let digits = rest[at + 1..]
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len() - at - 1);
            let param = rest[at + 1..at + 1 + digits]
                .parse::<usize>()
                .ok()
                .and_then(|n| n.checked_sub(1))
                .and_then(|i| self.params.get(i));
            match param {
                Some(param) => literal(param, &mut out),
                None => out.push_str(&rest[at..at + 1 + digits]),
            }
            rest = &rest[at + 1 + digits..];
        }
        out.push_str(rest);
        out
    }
}

/// `s` as an escape-string literal.
fn text_literal(s: &str, out: &mut String) {
    out.push_str("E'");
    for c in s.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('\'');
}

fn literal(param: &Param, out: &mut String) {
    use std::fmt::Write;
    match param {
        Param::Text(s) | Param::OptText(Some(s)) => text_literal(s, out),
        Param::OptText(None) => out.push_str("NULL"),
        Param::Texts(texts) => {
            // (the statement casts it: `ARRAY[]` alone has no type)
            out.push_str("ARRAY[");
            for (i, s) in texts.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                text_literal(s, out);
            }
            out.push(']');
        }
        Param::Bytes(b) => {
            out.push_str("decode('");
            for byte in b {
                let _ = write!(out, "{byte:02x}");
            }
            out.push_str("', 'hex')");
        }
        Param::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Param::OptInt(Some(i)) => {
            let _ = write!(out, "{i}");
        }
        Param::OptInt(None) => out.push_str("NULL"),
    }
}

/// The names of the store's tables in one schema, validated and quoted
/// once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Names {
    schema: String,
    table: String,
    data: String,
    leases: String,
    /// The `NOTIFY` channel of recalls (`<table>_recall`: at most 55 bytes, within
    /// PostgreSQL's 63).
    channel: String,
}

/// The longest table name: PostgreSQL identifiers end at 63 bytes, and the store adds
/// suffixes (`_leases`, `_expires_at`, `_principal`).
pub(crate) const MAX_TABLE_NAME: usize = 48;

impl Names {
    /// `None` unless both are plain identifiers (ASCII letters, digits and `_`, not
    /// starting with a digit; the schema at most 63 bytes, the table at most
    /// [`MAX_TABLE_NAME`]): they are spliced into statement text.
    pub(crate) fn new(schema: &str, table: &str) -> Option<Names> {
        let ok = |s: &str, max: usize| {
            !s.is_empty()
                && s.len() <= max
                && !s.starts_with(|c: char| c.is_ascii_digit())
                && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        };
        (ok(schema, 63) && ok(table, MAX_TABLE_NAME)).then(|| Names {
            schema: schema.to_owned(),
            table: table.to_owned(),
            data: format!("\"{schema}\".\"{table}\""),
            leases: format!("\"{schema}\".\"{table}_leases\""),
            channel: format!("{table}_recall"),
        })
    }

    /// `public.sessions`, the default.
    pub(crate) fn public_sessions() -> Names {
        Names {
            schema: "public".to_owned(),
            table: "sessions".to_owned(),
            data: "\"public\".\"sessions\"".to_owned(),
            leases: "\"public\".\"sessions_leases\"".to_owned(),
            channel: "sessions_recall".to_owned(),
        }
    }

    /// The `NOTIFY` channel on which busy lock calls and revocations name the sessions
    /// that instances keeping them hot are to let go.
    pub(crate) fn channel(&self) -> &str {
        &self.channel
    }

    /// `"schema"."table"`, for messages.
    pub(crate) fn data(&self) -> &str {
        &self.data
    }
}

/// The SQL that creates the schema, tables, indexes and columns that are missing,
/// serialized by a transaction-scoped advisory lock so that instances starting together
/// do not collide. Run it in one transaction.
pub(crate) fn migration(n: &Names) -> String {
    let Names {
        schema,
        table,
        data,
        leases,
        ..
    } = n;
    format!(
        r#"SELECT pg_advisory_xact_lock(hashtext('distributed-session migration'), hashtext('{schema}.{table}'));
CREATE SCHEMA IF NOT EXISTS "{schema}";
CREATE TABLE IF NOT EXISTS {data} (
  id text COLLATE "C" PRIMARY KEY,
  value bytea NOT NULL,
  expires_at timestamptz NOT NULL,
  sliding_ms bigint,
  absolute_expiration timestamptz,
  fence bigint NOT NULL DEFAULT 1,
  principal text,
  created_at timestamptz NOT NULL DEFAULT now()
) WITH (fillfactor = 80);
CREATE INDEX IF NOT EXISTS "{table}_expires_at" ON {data} (expires_at);
CREATE INDEX IF NOT EXISTS "{table}_principal" ON {data} (principal, expires_at) WHERE principal IS NOT NULL;
CREATE UNLOGGED TABLE IF NOT EXISTS {leases} (
  id text COLLATE "C" PRIMARY KEY,
  token bytea,
  until timestamptz,
  fence bigint NOT NULL DEFAULT 0
) WITH (fillfactor = 50);
ALTER TABLE {leases} ADD COLUMN IF NOT EXISTS fence bigint NOT NULL DEFAULT 0;
ALTER TABLE {leases} ADD COLUMN IF NOT EXISTS recall bytea;
ALTER TABLE {leases} ADD COLUMN IF NOT EXISTS recall_until timestamptz;
ALTER TABLE {leases} ADD COLUMN IF NOT EXISTS shared_until timestamptz;
"#
    )
}

/// The longest sliding window stored (a century): longer ones would overflow
/// PostgreSQL's `interval` arithmetic, and end no sooner in practice.
const LONGEST: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// The latest absolute expiry stored, 9999-12-31T23:59:59.999Z in ms since the epoch:
/// `to_timestamp` refuses later ones.
const LAST_MS: i64 = 253_402_300_799_999;

/// `sliding_ms`, `absolute_ms` of `options` (at least one is set: an entry with neither
/// slides by [`DEFAULT_SLIDING`]).
pub(crate) fn expiry(options: &EntryOptions) -> (Option<i64>, Option<i64>) {
    let ms = |d: Duration| {
        i64::try_from(d.min(LONGEST).as_millis())
            .unwrap_or(i64::MAX)
            .max(1)
    };
    let sliding = match (options.sliding_expiration, options.absolute_expiration) {
        (Some(d), _) => Some(ms(d)),
        (None, None) => Some(ms(DEFAULT_SLIDING)),
        (None, Some(_)) => None,
    };
    let absolute = options.absolute_expiration.map(|at| {
        at.duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .min(LAST_MS)
    });
    (sliding, absolute)
}

/// The expiry of a new value, from the parameters `$sld` (sliding ms) and `$abs`
/// (absolute, ms since the epoch), either NULL.
fn target(sld: usize, abs: usize) -> String {
    format!("LEAST(now() + ${sld}::int8 * interval '1 millisecond', to_timestamp(${abs}::int8 / 1000.0))")
}

/// The expiry of the row `d`, slid from now: sliding rows only (NULL otherwise).
const SLID: &str = "LEAST(now() + d.sliding_ms * interval '1 millisecond', d.absolute_expiration)";

/// Slides the expiry of the live row `$1` when it would move by more than its slack
/// (`$2`, ms).
fn slide(n: &Names) -> String {
    format!(
        "UPDATE {data} AS d SET expires_at = {SLID} \
         WHERE d.id = $1::text AND d.expires_at > now() AND d.sliding_ms IS NOT NULL \
           AND d.expires_at < {SLID} - LEAST(d.sliding_ms / 20, $2::int8) * interval '1 millisecond'",
        data = n.data
    )
}

/// Returns the value of the live row (column `value`), sliding its expiry.
pub(crate) fn get(n: &Names, key: &str, slack_ms: i64) -> Statement {
    Statement {
        sql: format!(
            "WITH slid AS ({}) SELECT value FROM {} WHERE id = $1::text AND expires_at > now()",
            slide(n),
            n.data
        ),
        params: vec![Param::Text(key.to_owned()), Param::Int(slack_ms)],
    }
}

/// Slides the expiry of a live row.
pub(crate) fn refresh(n: &Names, key: &str, slack_ms: i64) -> Statement {
    Statement {
        sql: slide(n),
        params: vec![Param::Text(key.to_owned()), Param::Int(slack_ms)],
    }
}

/// Removes the entry `$1`: a tombstone (no value, expired, the next fence), deleted
/// later with its lease row by [`delete_expired`]. Its lease row is given back at that
/// fence, so a lock that read the entry before the removal finds the lease newer than
/// what it read (busy, then missing), and a holder's commit fails: nothing is brought
/// back, and no lease row outlives its entry.
pub(crate) fn remove(n: &Names, key: &str) -> Statement {
    Statement {
        sql: format!(
            "WITH gone AS ({TOMBSTONE} WHERE d.id = $1::text AND d.expires_at > '-infinity' RETURNING d.fence) \
             UPDATE {leases} SET token = NULL, until = NULL, fence = (SELECT fence FROM gone) \
             WHERE id = $1::text AND EXISTS (SELECT 1 FROM gone)",
            TOMBSTONE = tombstone(n),
            leases = n.leases
        ),
        params: vec![Param::Text(key.to_owned())],
    }
}

/// `UPDATE <entries> AS d SET ...` making the row a tombstone (to be followed by its
/// `WHERE`).
fn tombstone(n: &Names) -> String {
    format!(
        "UPDATE {} AS d SET value = ''::bytea, expires_at = '-infinity', fence = d.fence + 1, principal = NULL",
        n.data
    )
}

/// The parameters `$1` id, `$2` value, `$3` sliding ms, `$4` absolute ms.
fn entry_params(key: &str, value: Vec<u8>, options: &EntryOptions) -> Vec<Param> {
    let (sliding, absolute) = expiry(options);
    vec![
        Param::Text(key.to_owned()),
        Param::Bytes(value),
        Param::OptInt(sliding),
        Param::OptInt(absolute),
    ]
}

/// `INSERT` of the entry `$1` (value `$2`, sliding `$3`, absolute `$4`, principal
/// `principal`, a parameter or `NULL`) that, on an existing id, writes it too at the next
/// fence, setting also `more` and only `when` (a `WHERE` on the existing row `d`, or
/// empty); `RETURNING d.id`.
fn upsert_entry(n: &Names, principal: &str, more: &str, when: &str) -> String {
    format!(
        "INSERT INTO {data} AS d (id, value, expires_at, sliding_ms, absolute_expiration, principal) \
         VALUES ($1::text, $2::bytea, {target}, $3::int8, to_timestamp($4::int8 / 1000.0), {principal}) \
         ON CONFLICT (id) DO UPDATE SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at, \
           sliding_ms = EXCLUDED.sliding_ms, absolute_expiration = EXCLUDED.absolute_expiration, \
           fence = d.fence + 1{more} {when} \
         RETURNING d.id",
        data = n.data,
        target = target(3, 4),
    )
}

/// Writes a row, replacing any previous value, without the lock: the fence moves on, so
/// that a lease holder's commit sees the write (and fails).
pub(crate) fn set(n: &Names, key: &str, value: Vec<u8>, options: &EntryOptions) -> Statement {
    Statement {
        sql: format!(
            "WITH up AS ({}) INSERT INTO {} (id) SELECT id FROM up ON CONFLICT (id) DO NOTHING",
            upsert_entry(n, "NULL", "", ""),
            n.leases
        ),
        params: entry_params(key, value, options),
    }
}

/// Writes a row only if no live row exists (an expired one is replaced, at a later
/// fence), with a free lease row, under `principal` (`$5`, or NULL); returns `created` 1
/// or 0.
pub(crate) fn create(
    n: &Names,
    key: &str,
    value: Vec<u8>,
    options: &EntryOptions,
    principal: Option<&str>,
) -> Statement {
    let mut params = entry_params(key, value, options);
    params.push(Param::OptText(principal.map(str::to_owned)));
    Statement {
        sql: format!(
            "WITH ins AS ({}), \
             lease AS (INSERT INTO {} (id) SELECT id FROM ins ON CONFLICT (id) DO UPDATE SET token = NULL, until = NULL) \
             SELECT count(*)::int4 AS created FROM ins",
            upsert_entry(
                n,
                "$5::text",
                ", principal = EXCLUDED.principal, created_at = now()",
                "WHERE d.expires_at <= now()"
            ),
            n.leases
        ),
        params,
    }
}

/// The longest lease: far beyond any sensible lock lease, and within `interval`.
pub(crate) const MAX_LEASE: Duration = Duration::from_secs(365 * 24 * 3600);

/// Reads the entry `$1` and takes its lease for token `$2` for `$3` ms: no row if there
/// is no live entry (no lease is taken), else `taken` (1 the lease is the caller's now, 0
/// another holds it), `value` (when taken) and `fence`. An entry without a lease row
/// (the lease table is emptied by a crash) gets one.
///
/// Hot sessions, as the Redis store's lock script: a busy answer reserves the lease row
/// for the caller (`recall`, until `recall_until`, 250 ms after its last try) unless
/// another caller holds a live reservation, marks the session shared for 10 s
/// (`shared_until`: keeping commits give the lease back meanwhile), and, the first time,
/// notifies `$4` (the recall channel) with the id, so that an instance keeping the
/// session hot lets go at once. Until the reservation lapses, only the caller that made
/// it may take the lease; taking it clears the reservation.
pub(crate) fn lock_and_get(n: &Names, key: &str, token: &[u8], lease: Duration) -> Statement {
    let lease_ms = i64::try_from(lease.min(MAX_LEASE).as_millis())
        .unwrap_or(i64::MAX)
        .max(1);
    Statement {
        sql: format!(
            "WITH d AS (SELECT value, fence FROM {data} WHERE id = $1::text AND expires_at > now()), \
             taken AS (\
               INSERT INTO {leases} AS l (id, token, until, fence) \
               SELECT $1::text, $2::bytea, now() + $3::int8 * interval '1 millisecond', d.fence FROM d \
               ON CONFLICT (id) DO UPDATE SET token = EXCLUDED.token, until = EXCLUDED.until, fence = EXCLUDED.fence, \
                 recall = NULL \
               WHERE (l.fence < EXCLUDED.fence \
                 OR (l.token IS NULL OR l.until <= now() OR l.token = EXCLUDED.token) AND l.fence <= EXCLUDED.fence) \
                 AND (l.recall IS NULL OR l.recall = EXCLUDED.token OR l.recall_until <= now()) \
               RETURNING 1), \
             asked AS (\
               UPDATE {leases} AS l SET recall = $2::bytea, recall_until = now() + interval '250 milliseconds', \
                 shared_until = now() + interval '10 seconds' \
               FROM (SELECT recall FROM {leases} WHERE id = $1::text) AS before \
               WHERE l.id = $1::text AND EXISTS (SELECT 1 FROM d) AND NOT EXISTS (SELECT 1 FROM taken) \
                 AND (l.recall IS NULL OR l.recall = $2::bytea OR l.recall_until <= now()) \
               RETURNING before.recall IS DISTINCT FROM $2::bytea AS first), \
             told AS (SELECT pg_notify($4::text, $1::text) FROM asked WHERE first) \
             SELECT t.n::int4 AS taken, CASE WHEN t.n > 0 THEN d.value END AS value, d.fence::int8 AS fence, \
               (SELECT count(*) FROM told)::int4 AS told \
             FROM d, (SELECT count(*) AS n FROM taken) t",
            data = n.data,
            leases = n.leases,
        ),
        params: vec![
            Param::Text(key.to_owned()),
            Param::Bytes(token.to_vec()),
            Param::Int(lease_ms),
            Param::Text(n.channel.clone()),
        ],
    }
}

/// `token` (`$2`) still holds the lease of `$1`.
fn holding(n: &Names) -> String {
    format!(
        "EXISTS (SELECT 1 FROM {} l WHERE l.id = $1::text AND l.token = $2::bytea)",
        n.leases
    )
}

/// The parameters `$1` id, `$2` token, `$3` fence of a statement on a held entry.
fn held_params(key: &str, token: &[u8], fence: u64) -> Vec<Param> {
    vec![
        Param::Text(key.to_owned()),
        Param::Bytes(token.to_vec()),
        Param::Int(i64::try_from(fence).unwrap_or(i64::MAX)),
    ]
}

/// The parameters `$4` to `$8` of [`write_held`].
fn write_params(
    value: Vec<u8>,
    options: &EntryOptions,
    slack_ms: i64,
    principal: Option<&str>,
) -> [Param; 5] {
    let (sliding, absolute) = expiry(options);
    [
        Param::Bytes(value),
        Param::OptInt(sliding),
        Param::OptInt(absolute),
        Param::Int(slack_ms),
        Param::OptText(principal.map(str::to_owned)),
    ]
}

/// `UPDATE` of the entry `$1` held by `$2` at fence `$3` to the value `$4` (sliding `$5`,
/// absolute `$6`, slack `$7`, principal `$8`), at the next fence. The stored expiry stays
/// when it is within the slack of the new one (and the window is the same): then no
/// indexed column changes.
fn write_held(n: &Names) -> String {
    let (data, holding) = (&n.data, holding(n));
    let target = target(5, 6);
    let absolute = "to_timestamp($6::int8 / 1000.0)";
    format!(
        "UPDATE {data} AS d SET value = $4::bytea, fence = d.fence + 1, principal = $8::text, \
             sliding_ms = $5::int8, absolute_expiration = {absolute}, \
             expires_at = CASE \
               WHEN d.sliding_ms IS NOT DISTINCT FROM $5::int8 \
                AND d.absolute_expiration IS NOT DISTINCT FROM {absolute} \
                AND d.expires_at <= {target} \
                AND d.expires_at >= {target} - LEAST($5::int8 / 20, $7::int8) * interval '1 millisecond' \
               THEN d.expires_at ELSE {target} END \
           WHERE d.id = $1::text AND d.fence = $3::int8 AND {holding}"
    )
}

/// `UPDATE` sliding the expiry of the entry `$1` held by `$2` at fence `$3`, when it
/// would move by more than the slack `$4`; `RETURNING 1`.
fn slide_held(n: &Names) -> String {
    format!(
        "UPDATE {data} AS d SET expires_at = {SLID} \
         WHERE d.id = $1::text AND d.fence = $3::int8 AND {holding} AND d.sliding_ms IS NOT NULL \
           AND d.expires_at < {SLID} - LEAST(d.sliding_ms / 20, $4::int8) * interval '1 millisecond' \
         RETURNING 1",
        data = n.data,
        holding = holding(n)
    )
}

/// Applies `op` to the entry `key` and ends `token`'s lease, if `token` still holds it
/// and the entry is still at `fence`; answers `ok` 1, or 0 or no row (nothing written) if
/// the lease was lost or the entry moved. A write moves the fence, which releases the
/// lease without writing it (and a write refused because the entry moved on leaves the
/// lease free the same way: the entry's fence is past the lease's); a commit that writes
/// nothing gives the lease back in the unlogged table.
pub(crate) fn commit(
    n: &Names,
    key: &str,
    token: &[u8],
    fence: u64,
    op: CommitOp,
    principal: Option<&str>,
    slack_ms: i64,
) -> Statement {
    let (data, leases, holding) = (&n.data, &n.leases, holding(n));
    let mut params = held_params(key, token, fence);
    // statements that write both rows take the entry's first, then the lease's (a CTE
    // that refers to another runs after it): one order everywhere, so no deadlock
    let release =
        format!("UPDATE {leases} SET token = NULL, until = NULL WHERE id = $1::text AND token = $2::bytea");

    let sql = match op {
        CommitOp::Set { value, options } => {
            params.extend(write_params(value, &options, slack_ms, principal));
            format!("{} RETURNING 1::int4 AS ok", write_held(n))
        }
        CommitOp::Refresh => {
            params.push(Param::Int(slack_ms));
            format!(
                "WITH slid AS ({slid}), \
                 r AS ({release} AND (SELECT count(*) FROM slid) >= 0 RETURNING 1) \
                 SELECT (EXISTS (SELECT 1 FROM r) \
                   AND EXISTS (SELECT 1 FROM {data} WHERE id = $1::text AND fence = $3::int8))::int4 AS ok",
                slid = slide_held(n)
            )
        }
        CommitOp::Release => {
            params.truncate(2); // the token alone decides
            format!("WITH r AS ({release} RETURNING 1) SELECT count(*)::int4 AS ok FROM r")
        }
        CommitOp::Remove => format!(
            "WITH w AS ({TOMBSTONE} \
               WHERE d.id = $1::text AND d.fence = $3::int8 AND d.expires_at > '-infinity' AND {holding} \
               RETURNING d.fence), \
             lease AS (UPDATE {leases} SET token = NULL, until = NULL, fence = COALESCE((SELECT fence FROM w), fence) \
               WHERE id = $1::text AND token = $2::bytea) \
             SELECT (EXISTS (SELECT 1 FROM w) \
               OR NOT EXISTS (SELECT 1 FROM {data} WHERE id = $1::text \
                 AND (expires_at > now() OR fence <> $3::int8)))::int4 AS ok",
            TOMBSTONE = tombstone(n)
        ),
    };
    Statement { sql, params }
}

/// Whether a kept lease must be given back (in an `UPDATE` of the lease row `l`): another
/// caller reserved it, or waited for the session within the last 10 s (see
/// [`lock_and_get`]).
const GIVE_BACK: &str = "(l.recall IS NOT NULL OR l.shared_until > now())";

/// Hot sessions: the commit of [`commit`] (`Set`, `Refresh`, or nothing for `Release`),
/// with the same compare-and-set, but `token`'s lease is kept for `keep_ms` more (by the
/// database clock; at the new fence after a write) instead of ended, unless it must be
/// given back ([`GIVE_BACK`]). Answers `ok` 1 (kept), 2 (committed and given back) or 0
/// (nothing written: the lease was lost or the entry moved). One statement, one durable
/// write for a `Set` (the lease row is unlogged). `Remove` goes through [`commit`].
#[allow(clippy::too_many_arguments)]
pub(crate) fn commit_keep(
    n: &Names,
    key: &str,
    token: &[u8],
    fence: u64,
    op: CommitOp,
    principal: Option<&str>,
    slack_ms: i64,
    keep_ms: i64,
) -> Statement {
    let (data, leases) = (&n.data, &n.leases);
    let mut params = held_params(key, token, fence);
    // (the lease row is written after the entry, as everywhere: no deadlock)
    let keep = |at: usize| {
        format!(
            "token = CASE WHEN {GIVE_BACK} THEN NULL ELSE l.token END, \
             until = CASE WHEN {GIVE_BACK} THEN NULL ELSE now() + ${at}::int8 * interval '1 millisecond' END"
        )
    };
    let answer = "SELECT (CASE WHEN NOT EXISTS (SELECT 1 FROM k) THEN 0 \
                    WHEN EXISTS (SELECT 1 FROM k WHERE given) THEN 2 ELSE 1 END)::int4 AS ok";
    let sql = match op {
        CommitOp::Set { value, options } => {
            params.extend(write_params(value, &options, slack_ms, principal));
            params.push(Param::Int(keep_ms));
            format!(
                "WITH w AS ({write} RETURNING d.fence), \
                 k AS (UPDATE {leases} AS l SET fence = w.fence, {keep} \
                   FROM w WHERE l.id = $1::text AND l.token = $2::bytea RETURNING l.token IS NULL AS given) \
                 SELECT (CASE WHEN NOT EXISTS (SELECT 1 FROM w) THEN 0 \
                   WHEN EXISTS (SELECT 1 FROM k WHERE NOT given) THEN 1 ELSE 2 END)::int4 AS ok",
                write = write_held(n),
                keep = keep(9),
            )
        }
        CommitOp::Refresh => {
            params.extend([Param::Int(slack_ms), Param::Int(keep_ms)]);
            format!(
                "WITH slid AS ({slid}), \
                 k AS (UPDATE {leases} AS l SET {keep} \
                   WHERE l.id = $1::text AND l.token = $2::bytea AND (SELECT count(*) FROM slid) >= 0 \
                     AND EXISTS (SELECT 1 FROM {data} WHERE id = $1::text AND fence = $3::int8) \
                   RETURNING l.token IS NULL AS given) \
                 {answer}",
                slid = slide_held(n),
                keep = keep(5),
            )
        }
        // (`Remove` goes through `commit`: the store never sends it here)
        CommitOp::Release | CommitOp::Remove => {
            params.push(Param::Int(keep_ms));
            format!(
                "WITH k AS (UPDATE {leases} AS l SET {keep} \
                   WHERE l.id = $1::text AND l.token = $2::bytea \
                     AND EXISTS (SELECT 1 FROM {data} WHERE id = $1::text AND fence = $3::int8) \
                   RETURNING l.token IS NULL AS given) \
                 {answer}",
                keep = keep(4),
            )
        }
    };
    Statement { sql, params }
}

/// When a row was last used, from its expiry: `expires_at - sliding_ms` for a sliding row
/// that its absolute expiry did not cap (exact to within the refresh slack), else when it
/// was created. Epoch ms.
const LAST_SEEN_MS: &str = "(extract(epoch FROM CASE WHEN sliding_ms IS NOT NULL \
     AND (absolute_expiration IS NULL OR expires_at < absolute_expiration) \
     THEN expires_at - sliding_ms * interval '1 millisecond' ELSE created_at END) * 1000)::int8";

/// The live sessions of principal `$1`: `id`, `created_ms`, `seen_ms`, `expires_ms`
/// (epoch ms), one row each, on the principal index. Rows of the principal that have
/// expired (or are tombstones) leave the index first: their principal is cleared.
pub(crate) fn sessions_of(n: &Names, principal: &str) -> Statement {
    Statement {
        sql: format!(
            "WITH pruned AS (UPDATE {data} SET principal = NULL \
               WHERE principal = $1::text AND expires_at <= now() RETURNING 1) \
             SELECT id, (extract(epoch FROM created_at) * 1000)::int8 AS created_ms, \
               {LAST_SEEN_MS} AS seen_ms, (extract(epoch FROM expires_at) * 1000)::int8 AS expires_ms, \
               (SELECT count(*) FROM pruned)::int8 AS pruned \
             FROM {data} WHERE principal = $1::text AND expires_at > now()",
            data = n.data,
        ),
        params: vec![Param::Text(principal.to_owned())],
    }
}

/// Ends the sessions `$2` (ids) of principal `$1`: tombstones, as [`remove`], with their
/// lease rows given back at the new fence, so that a holder's commit fails, and each live
/// one notified on the recall channel `$3` (an instance keeping it hot drops its copy);
/// answers `ended`, how many were live.
pub(crate) fn revoke(n: &Names, principal: &str, keys: &[String]) -> Statement {
    Statement {
        sql: format!(
            "WITH t AS (SELECT id, expires_at > now() AS live FROM {data} \
               WHERE id = ANY($2::text[]) AND principal = $1::text AND expires_at > '-infinity' FOR UPDATE), \
             gone AS ({TOMBSTONE} FROM t WHERE d.id = t.id RETURNING d.id, d.fence, t.live), \
             lease AS (UPDATE {leases} l SET token = NULL, until = NULL, fence = g.fence \
               FROM gone g WHERE l.id = g.id), \
             told AS (SELECT pg_notify($3::text, g.id) FROM gone g WHERE g.live) \
             SELECT count(*) FILTER (WHERE live)::int8 AS ended, (SELECT count(*) FROM told)::int8 AS told FROM gone",
            data = n.data,
            leases = n.leases,
            TOMBSTONE = tombstone(n),
        ),
        params: vec![
            Param::Text(principal.to_owned()),
            Param::Texts(keys.to_vec()),
            Param::Text(n.channel.clone()),
        ],
    }
}

/// Deletes at most `batch` rows expired for a minute or more (oldest first, on the expiry
/// index; rows whose lease is held are left to their holder's commit), and tombstones,
/// with their lease rows; returns `deleted` and the ids of the sessions that expired
/// (`expired`: not the tombstones, whose revocation was reported when it happened). The minute keeps a lock that read a row just
/// before it expired from taking a lease on a row deleted under it (which would leave a
/// lease row without an entry).
pub(crate) fn delete_expired(n: &Names, batch: i64) -> Statement {
    Statement {
        sql: format!(
            "WITH gone AS (\
               DELETE FROM {data} WHERE id IN (\
                 SELECT d.id FROM {data} d WHERE d.expires_at <= now() - interval '1 minute' \
                   AND NOT EXISTS (SELECT 1 FROM {leases} l WHERE l.id = d.id AND l.token IS NOT NULL \
                     AND l.until > now() AND l.fence >= d.fence) \
                 ORDER BY d.expires_at LIMIT $1::int8 FOR UPDATE SKIP LOCKED) \
               AND expires_at <= now() - interval '1 minute' \
               RETURNING id, expires_at), \
             leases AS (DELETE FROM {leases} WHERE id IN (SELECT id FROM gone)) \
             SELECT count(*)::int8 AS deleted, \
               array_agg(id) FILTER (WHERE expires_at <> '-infinity') AS expired FROM gone",
            data = n.data,
            leases = n.leases,
        ),
        params: vec![Param::Int(batch)],
    }
}

/// A cheap query for health checks.
pub(crate) fn ping() -> Statement {
    Statement {
        sql: "SELECT 1::int4 AS ok".to_owned(),
        params: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Names {
        Names::public_sessions()
    }

    fn every_statement() -> Vec<Statement> {
        let n = names();
        let opts = [
            EntryOptions::sliding(Duration::from_secs(60)),
            EntryOptions::default()
                .with_absolute(SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_000)),
            EntryOptions::default(),
        ];
        let mut all = vec![
            get(&n, "k", 60_000),
            refresh(&n, "k", 60_000),
            remove(&n, "k"),
            lock_and_get(&n, "k", b"t", Duration::from_secs(30)),
            delete_expired(&n, 1000),
            ping(),
        ];
        for o in &opts {
            all.push(set(&n, "k", vec![1], o));
            for principal in [None, Some("alice")] {
                all.push(create(&n, "k", vec![1], o, principal));
                let op = CommitOp::Set {
                    value: vec![1],
                    options: *o,
                };
                all.push(commit(&n, "k", b"t", 3, op, principal, 60_000));
            }
        }
        for op in [CommitOp::Refresh, CommitOp::Remove, CommitOp::Release] {
            all.push(commit(&n, "k", b"t", 3, op.clone(), None, 60_000));
            all.push(commit_keep(&n, "k", b"t", 3, op, None, 60_000, 2000));
        }
        for principal in [None, Some("alice")] {
            let op = CommitOp::Set {
                value: vec![1],
                options: opts[0],
            };
            all.push(commit_keep(&n, "k", b"t", 3, op, principal, 60_000, 2000));
        }
        all.push(sessions_of(&n, "alice"));
        all.push(revoke(&n, "alice", &["a".into(), "b'".into()]));
        all
    }

    #[test]
    fn names_are_validated_and_quoted() {
        let n = names();
        assert_eq!(Names::new("public", "sessions"), Some(n.clone()));
        assert_eq!(n.data(), "\"public\".\"sessions\"");
        assert!(migration(&n).contains("\"public\".\"sessions_leases\""));
        for bad in [
            "",
            "a b",
            "x\"; DROP TABLE y;--",
            "1abc",
            "sessions-x",
            &"x".repeat(49),
        ] {
            assert!(Names::new("public", bad).is_none(), "{bad:?}");
            assert!(Names::new(bad, "t").is_none() || bad.len() == 49, "{bad:?}");
        }
        assert!(Names::new(&"s".repeat(64), "t").is_none());
        assert!(Names::new("s", &"t".repeat(48)).is_some());
    }

    #[test]
    fn every_parameter_is_used_and_cast() {
        for s in every_statement() {
            for (i, p) in s.params.iter().enumerate() {
                let n = i + 1;
                let cast = match p {
                    Param::Text(_) | Param::OptText(_) => "::text",
                    Param::Texts(_) => "::text[]",
                    Param::Bytes(_) => "::bytea",
                    Param::Int(_) | Param::OptInt(_) => "::int",
                };
                assert!(
                    s.sql.contains(&format!("${n}{cast}")),
                    "${n} is used as {cast}: {}",
                    s.sql
                );
            }
            assert!(
                !s.sql.contains(&format!("${}", s.params.len() + 1)),
                "no parameter beyond the last: {}",
                s.sql
            );
        }
    }

    #[test]
    fn the_lease_table_is_unlogged_and_the_entry_table_keeps_a_principal() {
        let m = migration(&names());
        assert!(m.contains("CREATE UNLOGGED TABLE IF NOT EXISTS \"public\".\"sessions_leases\""));
        assert!(m.contains("WITH (fillfactor = 50)"));
        assert!(m.contains("principal text"));
        assert!(m.contains("ON \"public\".\"sessions\" (principal, expires_at) WHERE principal IS NOT NULL"));
        assert!(m.contains("ON \"public\".\"sessions\" (expires_at)"));
        assert!(
            m.starts_with("SELECT pg_advisory_xact_lock("),
            "migrations are serialized"
        );
        assert!(!m.contains("pg_advisory_lock("), "no session-level advisory lock");
        for s in every_statement() {
            assert!(!s.sql.contains("advisory"), "{}", s.sql);
        }
    }

    #[test]
    fn a_request_is_two_statements_lock_then_commit() {
        let n = names();
        let lock = lock_and_get(&n, "k", b"t", Duration::from_secs(30));
        assert_eq!(lock.params[2], Param::Int(30_000));
        assert!(lock.sql.contains("ON CONFLICT (id) DO UPDATE"));
        assert!(
            lock.sql.contains("l.fence < EXCLUDED.fence"),
            "an overtaken lease is free"
        );
        let set = |fence| {
            commit(
                &n,
                "k",
                b"t",
                fence,
                CommitOp::Set {
                    value: b"v".to_vec(),
                    options: EntryOptions::sliding(Duration::from_secs(2)),
                },
                None,
                60_000,
            )
        };
        let c = set(41);
        assert_eq!(c.params[2], Param::Int(41));
        assert_eq!(c.params[4], Param::OptInt(Some(2000)));
        assert_eq!(c.params[5], Param::OptInt(None));
        assert!(
            c.sql.contains("d.fence = $3::int8"),
            "compare-and-set on the fence"
        );
        assert!(c.sql.contains("l.token = $2::bytea"), "and on the token");
        assert!(
            !c.sql.contains("UPDATE \"public\".\"sessions_leases\""),
            "a write releases the lease by moving the fence: one durable write, nothing else"
        );
        for op in [CommitOp::Refresh, CommitOp::Release] {
            let c = commit(&n, "k", b"t", 41, op, None, 60_000);
            assert!(
                c.sql
                    .contains("UPDATE \"public\".\"sessions_leases\" SET token = NULL"),
                "a commit that writes nothing gives the lease back: {}",
                c.sql
            );
        }
    }

    #[test]
    fn the_principal_is_written_with_the_value_and_revocation_tombstones() {
        let n = names();
        let op = CommitOp::Set {
            value: b"v".to_vec(),
            options: EntryOptions::sliding(Duration::from_secs(2)),
        };
        let c = commit(&n, "k", b"t", 1, op, Some("alice"), 60_000);
        assert_eq!(c.params[7], Param::OptText(Some("alice".into())));
        assert!(
            c.sql.contains("principal = $8::text"),
            "same statement: {}",
            c.sql
        );
        let c = create(&n, "k", vec![1], &EntryOptions::default(), Some("alice"));
        assert_eq!(c.params[4], Param::OptText(Some("alice".into())));
        let r = revoke(&n, "alice", &["k".into()]);
        assert!(
            r.sql.contains("fence = d.fence + 1, principal = NULL"),
            "{}",
            r.sql
        );
        assert!(r.sql.contains("principal = $1::text"), "only the principal's own");
        let l = sessions_of(&n, "alice");
        assert!(
            l.sql.contains("SET principal = NULL"),
            "the listing prunes: {}",
            l.sql
        );
        assert_eq!(
            revoke(&n, "a", &["x'y".into(), "z".into()])
                .inline()
                .matches("ARRAY[E'x''y',E'z']::text[]")
                .count(),
            1
        );
    }

    #[test]
    fn entries_without_expiry_slide_by_the_default_and_absolute_is_epoch_ms() {
        assert_eq!(expiry(&EntryOptions::default()), (Some(1_200_000), None));
        let at = SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!(
            expiry(&EntryOptions::default().with_absolute(at)),
            (None, Some(1_700_000_000_123))
        );
        let far = EntryOptions::sliding(Duration::MAX)
            .with_absolute(SystemTime::UNIX_EPOCH + Duration::from_secs(1 << 40));
        assert_eq!(expiry(&far), (Some(LONGEST.as_millis() as i64), Some(LAST_MS)));
        assert_eq!(
            expiry(&EntryOptions::sliding(Duration::from_micros(1))),
            (Some(1), None),
            "a window under a millisecond is one"
        );
    }

    #[test]
    fn inlined_parameters_cannot_end_their_literal() {
        let s = Statement {
            sql: "SELECT $1::text, $2::bytea, $3::int8, $4::int8, $10".to_owned(),
            params: vec![
                Param::Text("it's a \\'; DROP TABLE x; --".to_owned()),
                Param::Bytes(vec![0, 0x27, 0xff]),
                Param::Int(-5),
                Param::OptInt(None),
            ],
        };
        assert_eq!(
            s.inline(),
            "SELECT E'it''s a \\\\''; DROP TABLE x; --'::text, decode('0027ff', 'hex')::bytea, -5::int8, NULL::int8, $10"
        );
    }

    #[test]
    fn every_statement_inlines_completely() {
        for s in every_statement() {
            let inlined = s.inline();
            assert!(!inlined.contains('$'), "{inlined}");
        }
    }
}
