//! Every SQL statement the store sends, in one place, as text + parameters.
//!
//! Portability rules (SQL Server 2019/2022, Azure SQL, Babelfish for PostgreSQL):
//! no `MERGE`; no NULL-valued parameters (NULL is written into the text); a duplicate
//! key (2627/2601) on INSERT means "exists" (caught in `TRY`/`CATCH`, retried as an
//! UPDATE where that is the intent); no index lookups by name; times are computed on the
//! database server (`SYSDATETIMEOFFSET()`), so all app instances share one clock.
//!
//! Each operation is ONE batch (one round trip). The session lease is a row of the same
//! table, keyed `<id>:lock`, whose `Value` is the owner's token and whose `ExpiresAtTime`
//! is the end of the lease: no schema beyond what `dotnet sql-cache create` makes.

use std::time::Duration;
#[cfg(test)]
use std::time::SystemTime;

use session_core::store::{principal_digest, EntryOptions};

/// Sliding window used when an entry has neither expiry (ASP.NET's
/// `DefaultSlidingExpiration`).
pub(crate) const DEFAULT_SLIDING_SECS: i32 = 20 * 60;

/// A bound parameter; `@P1` is the first.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Param {
    Str(String),
    Bytes(Vec<u8>),
    Int(i32),
    /// Sent as an ISO-8601 UTC string ([`iso8601`]) that the statement CASTs to
    /// `datetimeoffset(7)`: the same on every TDS engine.
    Time(time::OffsetDateTime),
}

/// `at` within the range of `datetimeoffset`, which ends with the year 9999: a later
/// expiry (an absolute lifetime of millennia) is stored as that end, where converting it
/// as it is would panic. (Expiries before 1970 are not given; they would read as 1970,
/// long past all the same.)
fn datetimeoffset(at: std::time::SystemTime) -> time::OffsetDateTime {
    /// 9999-12-31T23:59:59.9999999Z, in nanoseconds since the Unix epoch.
    const END: i128 = 253_402_300_799_999_999_900;
    let nanos = at
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i128::try_from(d.as_nanos()).unwrap_or(END));
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos.min(END))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

/// `YYYY-MM-DDThh:mm:ss.fffffff+00:00`, in UTC.
pub(crate) fn iso8601(at: time::OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:07}+00:00",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.nanosecond() / 100
    )
}

/// One batch: its text and parameters.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Statement {
    pub sql: String,
    pub params: Vec<Param>,
}

/// A `[schema].[table]` name, validated and quoted once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Table {
    pub schema: String,
    pub name: String,
    quoted: String,
}

impl Table {
    /// `[dbo].[Sessions]`, the default.
    pub(crate) fn dbo_sessions() -> Table {
        Table {
            schema: "dbo".to_owned(),
            name: "Sessions".to_owned(),
            quoted: "[dbo].[Sessions]".to_owned(),
        }
    }

    /// `None` unless both names are plain identifiers (letters, digits, `_`, `$`, `#`,
    /// `@`, not starting with a digit, at most 128 characters): they are spliced into
    /// statement text.
    pub(crate) fn new(schema: &str, name: &str) -> Option<Table> {
        let ok = |s: &str| {
            !s.is_empty()
                && s.len() <= 128
                && !s.starts_with(|c: char| c.is_ascii_digit())
                && s.chars().all(|c| c.is_ascii_alphanumeric() || "_$#@".contains(c))
        };
        (ok(schema) && ok(name)).then(|| Table {
            schema: schema.to_owned(),
            name: name.to_owned(),
            quoted: format!("[{schema}].[{name}]"),
        })
    }
}

/// The prefix of a principal's index rows, `p:<digest>:`: the row `p:<digest>:<id>` of
/// the same table records that session `<id>` belongs to the principal (no schema beyond
/// the ASP.NET table). Its `Value` is 16 bytes, two big-endian epoch-ms numbers (last
/// seen, expiry), its `SlidingExpirationInSeconds` when it was first recorded (epoch ms),
/// and its `ExpiresAtTime` (and `AbsoluteExpiration`) the session's expiry, so the
/// expired-items deletion removes it with the session. No session id, lease key or index
/// key shares a prefix.
pub(crate) fn index_prefix(principal: &str) -> String {
    format!("p:{}:", principal_digest(principal))
}

/// What a commit or create records in its principal's index.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct IndexRow {
    /// [`index_prefix`] of the principal.
    pub prefix: String,
    /// Now and the session's expiry, epoch ms (`u64::MAX`: never).
    pub seen_ms: u64,
    pub expires_ms: u64,
    /// The expiry as the row's `ExpiresAtTime`.
    pub expires: std::time::SystemTime,
}

/// Records session `@P1` in its principal's index, appending the parameters it needs to
/// `params`. `Value` is rewritten whole (16 bytes: last seen and expiry, big-endian epoch
/// ms); when the session was first recorded goes into `SlidingExpirationInSeconds` once, at
/// the insert (no binary concatenation: Babelfish reads `varbinary + varbinary` as a sum).
/// Nothing slides index rows: reads and refreshes name session ids only, and the
/// expired-items deletion looks at `ExpiresAtTime` alone.
fn index_upsert(t: &str, row: IndexRow, params: &mut Vec<Param>) -> String {
    params.push(Param::Str(row.prefix));
    let prefix = params.len();
    let mut meta = row.seen_ms.to_be_bytes().to_vec();
    meta.extend_from_slice(&row.expires_ms.to_be_bytes());
    params.push(Param::Bytes(meta));
    let meta = params.len();
    params.push(Param::Time(datetimeoffset(row.expires)));
    let exp = format!("CAST(@P{} AS datetimeoffset(7))", params.len());
    params.push(Param::Str(row.seen_ms.to_string()));
    let created = format!("CAST(@P{} AS bigint)", params.len());
    format!(
        "DECLARE @ix nvarchar(449) = @P{prefix} + @P1; \
         UPDATE {t} SET Value = @P{meta}, ExpiresAtTime = {exp}, AbsoluteExpiration = {exp} WHERE Id = @ix; \
         IF @@ROWCOUNT = 0 \
         BEGIN \
           BEGIN TRY \
             INSERT INTO {t} (Id, Value, ExpiresAtTime, SlidingExpirationInSeconds, AbsoluteExpiration) \
             VALUES (@ix, @P{meta}, {exp}, {created}, {exp}); \
           END TRY \
           BEGIN CATCH \
             IF ERROR_NUMBER() NOT IN (2627, 2601) THROW; \
           END CATCH \
         END"
    )
}

/// The live sessions of the principal whose [`index_prefix`] is `@P1`: `SessionId`,
/// `Value` (the index row's 16 bytes) and `Created` (epoch ms), one row each. Index rows that expired, or whose
/// session is gone, are deleted first.
pub(crate) fn sessions_of(table: &Table, prefix: &str) -> Statement {
    let t = &table.quoted;
    let live = format!(
        "EXISTS (SELECT 1 FROM {t} AS d WHERE d.Id = SUBSTRING(ix.Id, LEN(@P1) + 1, 449) AND d.ExpiresAtTime > @now)"
    );
    Statement {
        sql: format!(
            "{PRELUDE} \
             DELETE FROM {t} WHERE Id IN (SELECT ix.Id FROM {t} AS ix WHERE ix.Id LIKE @P1 + '%' \
               AND (ix.ExpiresAtTime <= @now OR NOT {live})); \
             SELECT SUBSTRING(ix.Id, LEN(@P1) + 1, 449) AS SessionId, ix.Value AS Value, \
               ix.SlidingExpirationInSeconds AS Created FROM {t} AS ix \
             WHERE ix.Id LIKE @P1 + '%' AND ix.ExpiresAtTime > @now AND {live};"
        ),
        params: vec![Param::Str(prefix.to_owned())],
    }
}

/// Ends the sessions `keys` of the principal whose [`index_prefix`] is `@P1`, those that
/// its index lists: each session's row, its lease row (so that a holder's commit fails
/// and writes nothing back) and its index row, in one transaction; returns `Ended`, how
/// many were live.
pub(crate) fn revoke(table: &Table, prefix: &str, keys: &[String]) -> Statement {
    let t = &table.quoted;
    let mut params = vec![Param::Str(prefix.to_owned())];
    let mut each = String::new();
    for key in keys {
        params.push(Param::Str(key.clone()));
        let k = params.len();
        each.push_str(&format!(
            "IF EXISTS (SELECT 1 FROM {t} WHERE Id = @P1 + @P{k}) \
             BEGIN \
               SET @ended = @ended + (SELECT COUNT(*) FROM {t} WHERE Id = @P{k} AND ExpiresAtTime > @now); \
               DELETE FROM {t} WHERE Id IN (@P{k}, @P{k} + ':lock', @P1 + @P{k}); \
             END "
        ));
    }
    Statement {
        sql: format!(
            "{PRELUDE} SET XACT_ABORT ON; DECLARE @ended int = 0; \
             BEGIN TRANSACTION; {each}COMMIT TRANSACTION; \
             SELECT @ended AS Ended;"
        ),
        params,
    }
}

/// Takes the index row `@P1` (prefix + session id) out.
pub(crate) fn unindex(table: &Table, index_key: &str) -> Statement {
    Statement {
        sql: format!("SET NOCOUNT ON; DELETE FROM {} WHERE Id = @P1;", table.quoted),
        params: vec![Param::Str(index_key.to_owned())],
    }
}

/// The lease row's key for `key`.
pub(crate) fn lock_key(key: &str) -> String {
    format!("{key}:lock")
}

fn sliding_secs(d: Duration) -> i32 {
    // Round up: a 1.5 s window must not end after 1 s.
    i32::try_from(d.as_millis().div_ceil(1000))
        .unwrap_or(i32::MAX)
        .max(1)
}

/// The `@exp` expression and the (sliding, absolute) column texts of `options`, with
/// their parameters appended to `params` (numbered from `params.len() + 1`).
fn expiry(options: &EntryOptions, params: &mut Vec<Param>) -> (String, String, String) {
    let mut next = |p: Param| {
        params.push(p);
        format!("@P{}", params.len())
    };
    let sliding = match (options.sliding_expiration, options.absolute_expiration) {
        (Some(d), _) => Some(sliding_secs(d)),
        (None, None) => Some(DEFAULT_SLIDING_SECS),
        (None, Some(_)) => None,
    };
    let sld = sliding.map(|s| next(Param::Int(s)));
    let abs = options.absolute_expiration.map(|at| {
        format!(
            "CAST({} AS datetimeoffset(7))",
            next(Param::Time(datetimeoffset(at)))
        )
    });
    let exp = match (&sld, &abs) {
        (Some(s), Some(a)) => {
            format!("CASE WHEN DATEADD(second, {s}, @now) < {a} THEN DATEADD(second, {s}, @now) ELSE {a} END")
        }
        (Some(s), None) => format!("DATEADD(second, {s}, @now)"),
        (None, Some(a)) => a.clone(),
        (None, None) => "@now".to_owned(),
    };
    let null = || "NULL".to_owned();
    (exp, sld.unwrap_or_else(null), abs.unwrap_or_else(null))
}

/// Slides the expiry of the live row `@P1` (sliding rows only), capped by its absolute
/// expiry.
fn slide(table: &str) -> String {
    format!(
        "UPDATE {table} SET ExpiresAtTime = CASE \
           WHEN AbsoluteExpiration IS NOT NULL \
            AND AbsoluteExpiration < DATEADD(second, CONVERT(int, SlidingExpirationInSeconds), @now) \
           THEN AbsoluteExpiration \
           ELSE DATEADD(second, CONVERT(int, SlidingExpirationInSeconds), @now) END \
         WHERE Id = @P1 AND SlidingExpirationInSeconds IS NOT NULL AND ExpiresAtTime > @now;"
    )
}

/// Writes row `@P1` with value `@P2` (UPDATE, then INSERT; a concurrent first INSERT's
/// duplicate key is retried as the UPDATE).
fn upsert(table: &str, options: &EntryOptions, params: &mut Vec<Param>) -> String {
    let (exp, sld, abs) = expiry(options, params);
    let update = format!(
        "UPDATE {table} SET Value = @P2, ExpiresAtTime = @exp, \
           SlidingExpirationInSeconds = {sld}, AbsoluteExpiration = {abs} WHERE Id = @P1;"
    );
    format!(
        "DECLARE @exp datetimeoffset(7) = {exp}; \
         {update} \
         IF @@ROWCOUNT = 0 \
         BEGIN \
           BEGIN TRY \
             INSERT INTO {table} (Id, Value, ExpiresAtTime, SlidingExpirationInSeconds, AbsoluteExpiration) \
             VALUES (@P1, @P2, @exp, {sld}, {abs}); \
           END TRY \
           BEGIN CATCH \
             IF ERROR_NUMBER() NOT IN (2627, 2601) THROW; \
             {update} \
           END CATCH \
         END"
    )
}

const PRELUDE: &str = "SET NOCOUNT ON; DECLARE @now datetimeoffset(7) = SYSDATETIMEOFFSET();";

/// Creates the table `dotnet sql-cache create` makes, if it is missing.
pub(crate) fn create_table(table: &Table) -> Statement {
    let t = &table.quoted;
    Statement {
        sql: format!(
            "IF NOT EXISTS (SELECT 1 FROM INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = @P1 AND TABLE_NAME = @P2) \
             BEGIN \
               CREATE TABLE {t} ( \
                 Id nvarchar(449) COLLATE SQL_Latin1_General_CP1_CS_AS NOT NULL, \
                 Value varbinary(MAX) NOT NULL, \
                 ExpiresAtTime datetimeoffset NOT NULL, \
                 SlidingExpirationInSeconds bigint NULL, \
                 AbsoluteExpiration datetimeoffset NULL, \
                 PRIMARY KEY (Id)); \
               CREATE NONCLUSTERED INDEX Index_ExpiresAtTime ON {t} (ExpiresAtTime); \
             END"
        ),
        params: vec![Param::Str(table.schema.clone()), Param::Str(table.name.clone())],
    }
}

/// Returns the value of the live row (column `Value`), sliding its expiry.
pub(crate) fn get(table: &Table, key: &str) -> Statement {
    let t = &table.quoted;
    Statement {
        sql: format!(
            "{PRELUDE} {} SELECT Value FROM {t} WHERE Id = @P1 AND ExpiresAtTime > @now;",
            slide(t)
        ),
        params: vec![Param::Str(key.to_owned())],
    }
}

/// Slides the expiry of a live row.
pub(crate) fn refresh(table: &Table, key: &str) -> Statement {
    Statement {
        sql: format!("{PRELUDE} {}", slide(&table.quoted)),
        params: vec![Param::Str(key.to_owned())],
    }
}

/// Deletes a row.
pub(crate) fn remove(table: &Table, key: &str) -> Statement {
    Statement {
        sql: format!("SET NOCOUNT ON; DELETE FROM {} WHERE Id = @P1;", table.quoted),
        params: vec![Param::Str(key.to_owned())],
    }
}

/// Writes a row, replacing any previous value.
pub(crate) fn set(table: &Table, key: &str, value: Vec<u8>, options: &EntryOptions) -> Statement {
    let mut params = vec![Param::Str(key.to_owned()), Param::Bytes(value)];
    let upsert = upsert(&table.quoted, options, &mut params);
    Statement {
        sql: format!("{PRELUDE} {upsert}"),
        params,
    }
}

/// Writes a row only if no live row exists, recording it first in its principal's index
/// (if `index`); returns `Created` 1 or 0.
pub(crate) fn create(
    table: &Table,
    key: &str,
    value: Vec<u8>,
    options: &EntryOptions,
    index: Option<IndexRow>,
) -> Statement {
    let t = &table.quoted;
    let mut params = vec![Param::Str(key.to_owned()), Param::Bytes(value)];
    let (exp, sld, abs) = expiry(options, &mut params);
    let index = index.map_or_else(String::new, |row| index_upsert(t, row, &mut params));
    Statement {
        sql: format!(
            "{PRELUDE} {index} \
             DELETE FROM {t} WHERE Id = @P1 AND ExpiresAtTime <= @now; \
             BEGIN TRY \
               INSERT INTO {t} (Id, Value, ExpiresAtTime, SlidingExpirationInSeconds, AbsoluteExpiration) \
               VALUES (@P1, @P2, {exp}, {sld}, {abs}); \
               SELECT 1 AS Created; \
             END TRY \
             BEGIN CATCH \
               IF ERROR_NUMBER() NOT IN (2627, 2601) THROW; \
               SELECT 0 AS Created; \
             END CATCH"
        ),
        params,
    }
}

/// The longest lease [`lock_and_get`] can take: `DATEADD(millisecond, ...)` takes an
/// `int` (about 24.8 days).
pub(crate) const MAX_LEASE: Duration = Duration::from_millis(i32::MAX as u64);

/// Takes the lease row `@P2` for token `@P3` for `@P4` ms, THEN reads row `@P1` (reading
/// first could return data a committing holder is about to replace). Returns `Status`
/// (2 acquired, 1 busy, 0 no row; the lease is given back) and `Value`.
pub(crate) fn lock_and_get(table: &Table, key: &str, token: &[u8], lease: Duration) -> Statement {
    let t = &table.quoted;
    let lease_ms = i32::try_from(lease.as_millis()).unwrap_or(i32::MAX).max(1);
    Statement {
        sql: format!(
            "{PRELUDE} \
             DECLARE @until datetimeoffset(7) = DATEADD(millisecond, @P4, @now); \
             DECLARE @status int = 2; \
             UPDATE {t} SET Value = @P3, ExpiresAtTime = @until, AbsoluteExpiration = @until \
               WHERE Id = @P2 AND (ExpiresAtTime <= @now OR Value = @P3); \
             IF @@ROWCOUNT = 0 \
             BEGIN \
               BEGIN TRY \
                 INSERT INTO {t} (Id, Value, ExpiresAtTime, SlidingExpirationInSeconds, AbsoluteExpiration) \
                 VALUES (@P2, @P3, @until, NULL, @until); \
               END TRY \
               BEGIN CATCH \
                 IF ERROR_NUMBER() NOT IN (2627, 2601) THROW; \
                 SET @status = 1; \
               END CATCH \
             END \
             IF @status = 2 AND NOT EXISTS (SELECT 1 FROM {t} WHERE Id = @P1 AND ExpiresAtTime > @now) \
             BEGIN \
               DELETE FROM {t} WHERE Id = @P2 AND Value = @P3; \
               SET @status = 0; \
             END \
             SELECT @status AS Status, \
               (SELECT Value FROM {t} WHERE Id = @P1 AND @status = 2) AS Value;"
        ),
        params: vec![
            Param::Str(key.to_owned()),
            Param::Str(lock_key(key)),
            Param::Bytes(token.to_vec()),
            Param::Int(lease_ms),
        ],
    }
}

/// What a commit does to the data row.
#[derive(Debug)]
pub(crate) enum CommitSql {
    Set(Vec<u8>, EntryOptions),
    Refresh,
    Remove,
    Release,
}

/// Releases the lease `@P2` of token `@P3` (only if it is live) and applies the
/// operation to row `@P1`, and records it in its principal's index (if `index`), in one
/// transaction. Returns `Ok` 1, or 0 if the lease was lost (nothing changed).
pub(crate) fn commit(
    table: &Table,
    key: &str,
    token: &[u8],
    op: CommitSql,
    index: Option<IndexRow>,
) -> Statement {
    let t = &table.quoted;
    let mut params = vec![Param::Str(key.to_owned())];
    let apply = match op {
        CommitSql::Set(value, options) => {
            params.push(Param::Bytes(value));
            upsert(t, &options, &mut params)
        }
        CommitSql::Refresh => slide(t),
        CommitSql::Remove => format!("DELETE FROM {t} WHERE Id = @P1;"),
        CommitSql::Release => String::new(),
    };
    let index = match index {
        Some(row) => index_upsert(t, row, &mut params),
        None => String::new(),
    };
    let lock = params.len() + 1;
    let token_param = lock + 1;
    params.push(Param::Str(lock_key(key)));
    params.push(Param::Bytes(token.to_vec()));
    Statement {
        sql: format!(
            "{PRELUDE} SET XACT_ABORT ON; \
             BEGIN TRANSACTION; \
             DELETE FROM {t} WHERE Id = @P{lock} AND Value = @P{token_param} AND ExpiresAtTime > @now; \
             IF @@ROWCOUNT = 0 \
             BEGIN \
               ROLLBACK TRANSACTION; \
               SELECT 0 AS Ok; \
               RETURN; \
             END \
             {apply} {index} \
             COMMIT TRANSACTION; \
             SELECT 1 AS Ok;"
        ),
        params,
    }
}

/// Deletes at most `batch` expired rows; answers the `Id` of each (sessions, lease rows
/// and index rows alike: the caller tells them apart).
pub(crate) fn delete_expired(table: &Table, batch: i32) -> Statement {
    Statement {
        sql: format!(
            "SET NOCOUNT ON; DELETE TOP (@P1) FROM {} OUTPUT deleted.Id \
             WHERE ExpiresAtTime <= SYSDATETIMEOFFSET();",
            table.quoted
        ),
        params: vec![Param::Int(batch)],
    }
}

/// A cheap query for health checks.
pub(crate) fn ping() -> Statement {
    Statement {
        sql: "SELECT 1 AS Ok;".to_owned(),
        params: Vec::new(),
    }
}

/// `SystemTime` for tests.
#[cfg(test)]
fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Table {
        Table::dbo_sessions()
    }

    fn index_row() -> IndexRow {
        IndexRow {
            prefix: index_prefix("alice"),
            seen_ms: 1,
            expires_ms: 2,
            expires: at(2_000_000_000),
        }
    }

    #[test]
    fn the_principal_index_lives_in_the_same_table_and_commits_with_the_session() {
        let prefix = index_prefix("alice");
        assert!(prefix.starts_with("p:") && prefix.ends_with(':') && prefix.len() == 35);
        assert!(!prefix.contains(['%', '_', '[']), "no LIKE wildcard in a prefix");
        let c = commit(
            &table(),
            "k",
            b"t",
            CommitSql::Set(vec![1], EntryOptions::sliding(Duration::from_secs(60))),
            Some(index_row()),
        );
        let write = c.sql.find("INSERT INTO [dbo].[Sessions]").unwrap_or(usize::MAX);
        let commit_at = c.sql.find("COMMIT TRANSACTION").unwrap_or(0);
        assert!(
            c.sql.contains("DECLARE @ix nvarchar(449)") && write < commit_at,
            "{}",
            c.sql
        );
        assert!(c.params.contains(&Param::Str(prefix.clone())));
        let created = create(
            &table(),
            "k",
            vec![1],
            &EntryOptions::default(),
            Some(index_row()),
        );
        let ix = created.sql.find("@ix").unwrap_or(usize::MAX);
        let data = created.sql.find("VALUES (@P1, @P2").unwrap_or(0);
        assert!(
            ix < data,
            "the index row is written before the session: {}",
            created.sql
        );
        let r = revoke(&table(), &prefix, &["s1".into()]);
        assert!(
            r.sql
                .contains("DELETE FROM [dbo].[Sessions] WHERE Id IN (@P2, @P2 + ':lock', @P1 + @P2)"),
            "{}",
            r.sql
        );
        let l = sessions_of(&table(), &prefix);
        assert!(
            l.sql.contains("ix.ExpiresAtTime <= @now OR NOT EXISTS"),
            "a listing prunes: {}",
            l.sql
        );
    }

    fn count(sql: &str, needle: &str) -> usize {
        sql.matches(needle).count()
    }

    #[test]
    fn table_names_are_validated_and_quoted() {
        assert_eq!(Table::new("dbo", "Sessions"), Some(Table::dbo_sessions()));
        for bad in ["", "a b", "x]; DROP TABLE y;--", "1abc", &"x".repeat(129)] {
            assert!(Table::new("dbo", bad).is_none(), "{bad:?}");
            assert!(Table::new(bad, "t").is_none(), "{bad:?}");
        }
    }

    #[test]
    fn the_table_is_the_one_dotnet_sql_cache_create_makes() {
        let s = create_table(&table());
        for part in [
            "Id nvarchar(449) COLLATE SQL_Latin1_General_CP1_CS_AS NOT NULL",
            "Value varbinary(MAX) NOT NULL",
            "ExpiresAtTime datetimeoffset NOT NULL",
            "SlidingExpirationInSeconds bigint NULL",
            "AbsoluteExpiration datetimeoffset NULL",
            "PRIMARY KEY (Id)",
            "CREATE NONCLUSTERED INDEX Index_ExpiresAtTime ON [dbo].[Sessions] (ExpiresAtTime)",
            "INFORMATION_SCHEMA.TABLES",
        ] {
            assert!(s.sql.contains(part), "{part}");
        }
        assert!(
            !s.sql.contains("sys.indexes"),
            "indexes are never looked up by name"
        );
        assert_eq!(
            s.params,
            [Param::Str("dbo".into()), Param::Str("Sessions".into())]
        );
    }

    #[test]
    fn no_statement_uses_merge_or_binds_null() {
        let opts = [
            EntryOptions::sliding(Duration::from_secs(60)),
            EntryOptions::default().with_absolute(at(2_000_000_000)),
            EntryOptions::sliding(Duration::from_secs(60)).with_absolute(at(2_000_000_000)),
            EntryOptions::default(),
        ];
        let mut all = vec![
            create_table(&table()),
            get(&table(), "k"),
            refresh(&table(), "k"),
            remove(&table(), "k"),
            lock_and_get(&table(), "k", b"t", Duration::from_secs(30)),
            delete_expired(&table(), 500),
        ];
        for o in &opts {
            all.push(set(&table(), "k", vec![1], o));
            for index in [None, Some(index_row())] {
                all.push(create(&table(), "k", vec![1], o, index.clone()));
                all.push(commit(&table(), "k", b"t", CommitSql::Set(vec![1], *o), index));
            }
        }
        for op in [CommitSql::Refresh, CommitSql::Remove, CommitSql::Release] {
            all.push(commit(&table(), "k", b"t", op, None));
        }
        all.push(commit(&table(), "k", b"t", CommitSql::Refresh, Some(index_row())));
        all.push(sessions_of(&table(), "p:00:"));
        all.push(revoke(&table(), "p:00:", &["a".into(), "b".into()]));
        all.push(unindex(&table(), "p:00:a"));
        for s in all {
            assert!(!s.sql.to_uppercase().contains("MERGE"), "{}", s.sql);
            // every @Pn in the text has a parameter and vice versa
            let highest = (1..=20)
                .rev()
                .find(|n| s.sql.contains(&format!("@P{n}")))
                .unwrap_or(0);
            assert_eq!(highest, s.params.len(), "{}", s.sql);
        }
    }

    #[test]
    fn set_writes_null_in_the_text_for_missing_expiries() {
        let sliding_only = set(
            &table(),
            "k",
            vec![9],
            &EntryOptions::sliding(Duration::from_millis(1500)),
        );
        assert_eq!(
            sliding_only.params,
            [Param::Str("k".into()), Param::Bytes(vec![9]), Param::Int(2)],
            "sliding rounded up to whole seconds"
        );
        assert!(sliding_only.sql.contains("AbsoluteExpiration = NULL"));
        assert!(sliding_only.sql.contains("VALUES (@P1, @P2, @exp, @P3, NULL)"));

        let absolute_only = set(
            &table(),
            "k",
            vec![9],
            &EntryOptions::default().with_absolute(at(2_000_000_000)),
        );
        assert_eq!(absolute_only.params.len(), 3);
        assert!(matches!(absolute_only.params[2], Param::Time(_)));
        assert!(absolute_only.sql.contains("SlidingExpirationInSeconds = NULL"));

        let neither = set(&table(), "k", vec![9], &EntryOptions::default());
        assert_eq!(neither.params[2], Param::Int(DEFAULT_SLIDING_SECS));
    }

    #[test]
    fn upserts_treat_duplicate_keys_as_exists() {
        let s = set(
            &table(),
            "k",
            vec![1],
            &EntryOptions::sliding(Duration::from_secs(1)),
        );
        assert!(s.sql.contains("IF ERROR_NUMBER() NOT IN (2627, 2601) THROW;"));
        assert_eq!(
            count(&s.sql, "UPDATE [dbo].[Sessions] SET Value = @P2"),
            2,
            "retried as an update"
        );
        let c = create(
            &table(),
            "k",
            vec![1],
            &EntryOptions::sliding(Duration::from_secs(1)),
            None,
        );
        assert!(c.sql.contains("SELECT 0 AS Created"));
    }

    #[test]
    fn lock_takes_the_lease_before_reading() {
        let s = lock_and_get(&table(), "abc", b"tok", Duration::from_millis(2500));
        assert_eq!(
            s.params,
            [
                Param::Str("abc".into()),
                Param::Str("abc:lock".into()),
                Param::Bytes(b"tok".to_vec()),
                Param::Int(2500)
            ]
        );
        let take = s
            .sql
            .find("UPDATE [dbo].[Sessions] SET Value = @P3")
            .unwrap_or(usize::MAX);
        let read = s
            .sql
            .find("SELECT Value FROM [dbo].[Sessions] WHERE Id = @P1")
            .unwrap_or(0);
        assert!(take < read);
        assert!(
            s.sql.contains("(ExpiresAtTime <= @now OR Value = @P3)"),
            "expired or own leases only"
        );
    }

    #[test]
    fn commit_releases_only_a_live_lease_of_its_token_in_one_transaction() {
        let o = EntryOptions::sliding(Duration::from_secs(60));
        let s = commit(&table(), "abc", b"tok", CommitSql::Set(vec![7], o), None);
        assert_eq!(
            s.params,
            [
                Param::Str("abc".into()),
                Param::Bytes(vec![7]),
                Param::Int(60),
                Param::Str("abc:lock".into()),
                Param::Bytes(b"tok".to_vec())
            ]
        );
        assert!(s.sql.contains(
            "DELETE FROM [dbo].[Sessions] WHERE Id = @P4 AND Value = @P5 AND ExpiresAtTime > @now"
        ));
        assert!(s.sql.contains("BEGIN TRANSACTION") && s.sql.contains("COMMIT TRANSACTION"));
        let r = commit(&table(), "abc", b"tok", CommitSql::Release, None);
        assert_eq!(r.params.len(), 3);
        assert!(r.sql.contains("Id = @P2 AND Value = @P3"));
    }

    #[test]
    fn times_are_sent_as_utc_iso_strings() {
        let y2k = datetimeoffset(at(946_684_800) + Duration::from_nanos(123_456_700));
        assert_eq!(iso8601(y2k), "2000-01-01T00:00:00.1234567+00:00");
        // past the type's range: its end, not a panic
        let far = datetimeoffset(at(u64::MAX / 4));
        assert_eq!(iso8601(far), "9999-12-31T23:59:59.9999999+00:00");
        let far = set(
            &table(),
            "k",
            vec![1],
            &EntryOptions::default().with_absolute(at(u64::MAX / 4)),
        );
        assert!(matches!(far.params[2], Param::Time(t) if t == datetimeoffset(at(u64::MAX / 4))));
        let s = set(
            &table(),
            "k",
            vec![1],
            &EntryOptions::default().with_absolute(at(2_000_000_000)),
        );
        assert!(s.sql.contains("CAST(@P3 AS datetimeoffset(7))"), "{}", s.sql);
    }

    #[test]
    fn expired_rows_go_in_bounded_batches() {
        let s = delete_expired(&table(), 1000);
        assert!(s.sql.contains("DELETE TOP (@P1)"));
        assert!(
            s.sql.contains("OUTPUT deleted.Id"),
            "the ids go to the expiry watchers"
        );
        assert_eq!(s.params, [Param::Int(1000)]);
    }
}
