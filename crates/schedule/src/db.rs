//! Storage: one small SQL layer over SQLite (rusqlite) and PostgreSQL (tokio-postgres).
//!
//! Every table is `(key columns, body TEXT)` where `body` is the row's JSON, so the SQL is
//! the same text for both databases (`$1` placeholders, `INSERT ... ON CONFLICT ... DO
//! UPDATE`, `BIGINT`, `TEXT`); only the driver call differs, in [`Db::query`] and
//! [`Db::write`]. A write is a list of [`Op`]s applied in ONE transaction: either all of
//! a schedule change is stored or none of it (a process killed mid-write leaves the last
//! committed schedule).

use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};
use crate::model::{Asset, Channel, Millis, ScheduleEvent};

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS assets (id TEXT PRIMARY KEY, created BIGINT NOT NULL, body TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS channels (id TEXT PRIMARY KEY, body TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS events (channel_id TEXT NOT NULL, id TEXT NOT NULL, \
     start_time BIGINT NOT NULL, end_time BIGINT NOT NULL, body TEXT NOT NULL, \
     PRIMARY KEY (channel_id, id))",
    "CREATE INDEX IF NOT EXISTS events_by_time ON events (channel_id, start_time)",
];

/// A parameter value.
#[derive(Debug, Clone)]
enum V {
    T(String),
    I(i64),
}

/// One change; a [`Db::write`] applies a list of them atomically.
#[derive(Debug, Clone)]
pub enum Op {
    PutAsset(Asset, Millis),
    DeleteAsset(String),
    PutChannel(Channel),
    /// Deletes the channel and its events.
    DeleteChannel(String),
    PutEvent(ScheduleEvent),
    DeleteEvent {
        channel: String,
        id: String,
    },
    /// Deletes the events of `channel` that ended before `before` (retention).
    DeleteEventsBefore {
        channel: String,
        before: Millis,
    },
}

impl Op {
    fn sql(&self) -> Result<Vec<(&'static str, Vec<V>)>> {
        Ok(match self {
            Op::PutAsset(a, created) => vec![(
                "INSERT INTO assets (id, created, body) VALUES ($1, $2, $3) \
                 ON CONFLICT (id) DO UPDATE SET body = excluded.body",
                vec![
                    V::T(a.id.clone()),
                    V::I(*created),
                    V::T(serde_json::to_string(a)?),
                ],
            )],
            Op::DeleteAsset(id) => {
                vec![("DELETE FROM assets WHERE id = $1", vec![V::T(id.clone())])]
            }
            Op::PutChannel(c) => vec![(
                "INSERT INTO channels (id, body) VALUES ($1, $2) \
                 ON CONFLICT (id) DO UPDATE SET body = excluded.body",
                vec![V::T(c.id.clone()), V::T(serde_json::to_string(c)?)],
            )],
            Op::DeleteChannel(id) => vec![
                (
                    "DELETE FROM events WHERE channel_id = $1",
                    vec![V::T(id.clone())],
                ),
                ("DELETE FROM channels WHERE id = $1", vec![V::T(id.clone())]),
            ],
            Op::PutEvent(e) => vec![(
                "INSERT INTO events (channel_id, id, start_time, end_time, body) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (channel_id, id) DO UPDATE SET \
                 start_time = excluded.start_time, end_time = excluded.end_time, body = excluded.body",
                vec![
                    V::T(e.channel_id.clone()),
                    V::T(e.id.clone()),
                    V::I(e.start_time),
                    V::I(e.end_time),
                    V::T(serde_json::to_string(e)?),
                ],
            )],
            Op::DeleteEventsBefore { channel, before } => vec![(
                "DELETE FROM events WHERE channel_id = $1 AND end_time < $2",
                vec![V::T(channel.clone()), V::I(*before)],
            )],
            Op::DeleteEvent { channel, id } => vec![(
                "DELETE FROM events WHERE channel_id = $1 AND id = $2",
                vec![V::T(channel.clone()), V::T(id.clone())],
            )],
        })
    }
}

/// The database: SQLite file (or `:memory:`) or PostgreSQL.
#[derive(Clone)]
pub enum Db {
    Sqlite(Arc<Mutex<rusqlite::Connection>>),
    Postgres(Arc<tokio::sync::Mutex<tokio_postgres::Client>>),
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Db::Sqlite(_) => "Db::Sqlite",
            Db::Postgres(_) => "Db::Postgres",
        })
    }
}

impl Db {
    /// `postgres://...` / `postgresql://...` opens PostgreSQL; anything else is a SQLite path
    /// (`:memory:` for a throwaway one). Creates the tables.
    pub async fn open(target: &str) -> Result<Db> {
        let db = if target.starts_with("postgres://") || target.starts_with("postgresql://") {
            let (client, connection) = tokio_postgres::connect(target, tokio_postgres::NoTls)
                .await
                .map_err(|e| Error::Db(format!("cannot connect to PostgreSQL: {e}")))?;
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::error!("PostgreSQL connection ended: {e}");
                }
            });
            Db::Postgres(Arc::new(tokio::sync::Mutex::new(client)))
        } else {
            let path = target.to_string();
            let conn = tokio::task::spawn_blocking(move || -> Result<rusqlite::Connection> {
                let conn = rusqlite::Connection::open(&path)?;
                conn.busy_timeout(std::time::Duration::from_secs(5))?;
                conn.pragma_update(None, "journal_mode", "WAL")?;
                conn.pragma_update(None, "synchronous", "NORMAL")?;
                Ok(conn)
            })
            .await
            .map_err(|e| Error::Db(e.to_string()))??;
            Db::Sqlite(Arc::new(Mutex::new(conn)))
        };
        // `CREATE ... IF NOT EXISTS` is not safe against itself on PostgreSQL: the catalog
        // and the schedule service starting together on one database race on the system
        // catalogs (a unique violation). One schema writer at a time, by advisory lock
        // (released with the session, or just below).
        let pg = matches!(db, Db::Postgres(_));
        if pg {
            db.exec_plain("SELECT pg_advisory_lock(7414800601)").await?;
        }
        let mut created = Ok(());
        for stmt in SCHEMA {
            created = db.exec_plain(stmt).await;
            if created.is_err() {
                break;
            }
        }
        if pg {
            db.exec_plain("SELECT pg_advisory_unlock(7414800601)")
                .await?;
        }
        created?;
        Ok(db)
    }

    async fn exec_plain(&self, sql: &'static str) -> Result<()> {
        match self {
            Db::Sqlite(c) => {
                let c = c.clone();
                blocking(move || {
                    let c = c.lock().map_err(|_| Error::Db("poisoned".into()))?;
                    c.execute_batch(sql)?;
                    Ok(())
                })
                .await
            }
            Db::Postgres(c) => {
                c.lock().await.batch_execute(sql).await?;
                Ok(())
            }
        }
    }

    /// Runs a query whose first column is a JSON body; returns the bodies.
    async fn query(&self, sql: &'static str, params: Vec<V>) -> Result<Vec<String>> {
        match self {
            Db::Sqlite(c) => {
                let c = c.clone();
                blocking(move || {
                    let c = c.lock().map_err(|_| Error::Db("poisoned".into()))?;
                    let mut stmt = c.prepare_cached(sql)?;
                    let rows = stmt.query_map(
                        rusqlite::params_from_iter(params.iter().map(sqlite_value)),
                        |r| r.get::<_, String>(0),
                    )?;
                    Ok(rows.collect::<Result<Vec<_>, _>>()?)
                })
                .await
            }
            Db::Postgres(c) => {
                let c = c.lock().await;
                let p = pg_params(&params);
                let rows = c.query(sql, &pg_refs(&p)).await?;
                Ok(rows
                    .iter()
                    .map(|r| r.try_get::<_, String>(0))
                    .collect::<Result<Vec<_>, _>>()?)
            }
        }
    }

    /// Applies `ops` in one transaction.
    pub async fn write(&self, ops: Vec<Op>) -> Result<()> {
        let mut stmts = Vec::new();
        for op in &ops {
            stmts.extend(op.sql()?);
        }
        match self {
            Db::Sqlite(c) => {
                let c = c.clone();
                blocking(move || {
                    let mut c = c.lock().map_err(|_| Error::Db("poisoned".into()))?;
                    let tx = c.transaction()?;
                    for (sql, params) in &stmts {
                        tx.prepare_cached(sql)?
                            .execute(rusqlite::params_from_iter(params.iter().map(sqlite_value)))?;
                    }
                    tx.commit()?;
                    Ok(())
                })
                .await
            }
            Db::Postgres(c) => {
                let mut c = c.lock().await;
                let tx = c.transaction().await?;
                for (sql, params) in &stmts {
                    let p = pg_params(params);
                    tx.execute(*sql, &pg_refs(&p)).await?;
                }
                tx.commit().await?;
                Ok(())
            }
        }
    }

    pub async fn assets(&self) -> Result<Vec<Asset>> {
        let rows = self
            .query("SELECT body FROM assets ORDER BY created, id", vec![])
            .await?;
        parse_all(rows)
    }

    pub async fn asset(&self, id: &str) -> Result<Option<Asset>> {
        let rows = self
            .query(
                "SELECT body FROM assets WHERE id = $1",
                vec![V::T(id.into())],
            )
            .await?;
        Ok(parse_all(rows)?.pop())
    }

    pub async fn channels(&self) -> Result<Vec<Channel>> {
        let rows = self
            .query("SELECT body FROM channels ORDER BY id", vec![])
            .await?;
        parse_all(rows)
    }

    pub async fn channel(&self, id: &str) -> Result<Option<Channel>> {
        let rows = self
            .query(
                "SELECT body FROM channels WHERE id = $1",
                vec![V::T(id.into())],
            )
            .await?;
        Ok(parse_all(rows)?.pop())
    }

    /// Events of `channel` overlapping `[from, to)`, by start time.
    pub async fn events(
        &self,
        channel: &str,
        from: Millis,
        to: Millis,
    ) -> Result<Vec<ScheduleEvent>> {
        let rows = self
            .query(
                "SELECT body FROM events WHERE channel_id = $1 AND end_time > $2 AND start_time < $3 \
                 ORDER BY start_time, end_time",
                vec![V::T(channel.into()), V::I(from), V::I(to)],
            )
            .await?;
        parse_all(rows)
    }

    /// Every event of `channel`.
    pub async fn all_events(&self, channel: &str) -> Result<Vec<ScheduleEvent>> {
        self.events(channel, Millis::MIN, Millis::MAX).await
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Db(format!("database task: {e}")))?
}

fn sqlite_value(v: &V) -> rusqlite::types::Value {
    match v {
        V::T(s) => rusqlite::types::Value::Text(s.clone()),
        V::I(i) => rusqlite::types::Value::Integer(*i),
    }
}

enum PgV {
    T(String),
    I(i64),
}

fn pg_params(params: &[V]) -> Vec<PgV> {
    params
        .iter()
        .map(|v| match v {
            V::T(s) => PgV::T(s.clone()),
            V::I(i) => PgV::I(*i),
        })
        .collect()
}

fn pg_refs(p: &[PgV]) -> Vec<&(dyn tokio_postgres::types::ToSql + Sync)> {
    p.iter()
        .map(|v| match v {
            PgV::T(s) => s as &(dyn tokio_postgres::types::ToSql + Sync),
            PgV::I(i) => i as &(dyn tokio_postgres::types::ToSql + Sync),
        })
        .collect()
}

fn parse_all<T: serde::de::DeserializeOwned>(rows: Vec<String>) -> Result<Vec<T>> {
    rows.iter()
        .map(|r| serde_json::from_str(r).map_err(Error::from))
        .collect()
}
