//! Conversations kept in SQL: SQLite by default, PostgreSQL or MySQL/MariaDB by URL. A turn is
//! written in one transaction (the user's message with everything the turn added, and its
//! usage), so a conversation never holds half a turn.

use serde_json::Value;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};

use switchboard_migrate::{placeholders, Dialect, Migration};

use crate::message::{Message, Usage};

/// Why the store failed. Messages never carry the database URL (it may hold a password).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database could not be opened or prepared.
    #[error("cannot open the conversation store: {0}")]
    Open(String),
    /// A statement failed.
    #[error("the conversation store failed: {0}")]
    Query(String),
    /// A stored message does not parse (written by another version?).
    #[error("a stored message is unreadable: {0}")]
    Corrupt(String),
}

fn query_error(e: sqlx::Error) -> StoreError {
    StoreError::Query(e.to_string())
}

/// One conversation's header.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationInfo {
    /// Its id.
    pub id: String,
    /// The agent it talks to.
    pub agent: String,
    /// Whose it is.
    pub principal: String,
    /// When it started (RFC 3339).
    pub created_at: String,
    /// Tokens used so far.
    pub usage: Usage,
    /// What it cost so far.
    pub cost_usd: f64,
}

/// The conversation store.
#[derive(Debug, Clone)]
pub struct ConversationStore {
    pool: AnyPool,
    kind: Dialect,
}

impl ConversationStore {
    /// Opens (and creates, for SQLite) the database at `url` (`sqlite://path`,
    /// `postgres://…`, `mysql://…`) and creates its tables if they are missing.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let Some(kind) = Dialect::of_url(url) else {
            let scheme = url.split(':').next().unwrap_or_default();
            return Err(StoreError::Open(format!("unsupported database scheme {scheme:?}")));
        };
        let url = if kind == Dialect::Sqlite && !url.contains("mode=") {
            format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
        } else {
            url.to_owned()
        };
        let pool = AnyPoolOptions::new()
            .max_connections(if kind == Dialect::Sqlite { 1 } else { 5 })
            .acquire_timeout(std::time::Duration::from_secs(10))
            .connect(&url)
            .await
            // sqlx's connect errors do not repeat the URL.
            .map_err(|e| StoreError::Open(e.to_string()))?;
        let store = Self { pool, kind };
        store.create_tables().await?;
        Ok(store)
    }

    async fn create_tables(&self) -> Result<(), StoreError> {
        let (text, big, real) = match self.kind {
            Dialect::Sqlite => ("TEXT", "TEXT", "REAL"),
            Dialect::Postgres => ("TEXT", "TEXT", "DOUBLE PRECISION"),
            Dialect::Mysql => ("VARCHAR(255)", "MEDIUMTEXT", "DOUBLE"),
        };
        let statements = [
            format!(
                "CREATE TABLE IF NOT EXISTS agent_conversations (id {text} PRIMARY KEY, agent {text} NOT NULL, \
                 principal {text} NOT NULL, created_at {text} NOT NULL, input_tokens BIGINT NOT NULL DEFAULT 0, \
                 output_tokens BIGINT NOT NULL DEFAULT 0, cost_usd {real} NOT NULL DEFAULT 0)"
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS agent_messages (conversation_id {text} NOT NULL, seq BIGINT NOT NULL, \
                 body {big} NOT NULL, created_at {text} NOT NULL, PRIMARY KEY (conversation_id, seq))"
            ),
        ];
        let tables = Migration::new(1, "conversations and messages", statements.into());
        switchboard_migrate::run(&self.pool, self.kind, "conversations", &[tables])
            .await
            .map(|_| ())
            .map_err(|e| StoreError::Open(e.to_string()))
    }

    /// `?` or `$n`, as the database wants its placeholders.
    fn sql(&self, sql: &str) -> String {
        placeholders(self.kind, sql)
    }

    /// Starts a conversation.
    pub async fn create(&self, id: &str, agent: &str, principal: &str) -> Result<ConversationInfo, StoreError> {
        let created_at = jiff::Timestamp::now().to_string();
        let sql = self.sql("INSERT INTO agent_conversations (id, agent, principal, created_at) VALUES (?, ?, ?, ?)");
        sqlx::query(&sql)
            .bind(id)
            .bind(agent)
            .bind(principal)
            .bind(&created_at)
            .execute(&self.pool)
            .await
            .map_err(query_error)?;
        Ok(ConversationInfo {
            id: id.to_owned(),
            agent: agent.to_owned(),
            principal: principal.to_owned(),
            created_at,
            usage: Usage::default(),
            cost_usd: 0.0,
        })
    }

    /// A conversation's header, if it exists.
    pub async fn info(&self, id: &str) -> Result<Option<ConversationInfo>, StoreError> {
        let sql = self.sql(
            "SELECT id, agent, principal, created_at, input_tokens, output_tokens, cost_usd FROM agent_conversations WHERE id = ?",
        );
        let row = sqlx::query(&sql).bind(id).fetch_optional(&self.pool).await.map_err(query_error)?;
        row.map(|r| info_of(&r)).transpose()
    }

    /// A conversation's messages, in order.
    pub async fn messages(&self, id: &str) -> Result<Vec<Message>, StoreError> {
        let sql = self.sql("SELECT body FROM agent_messages WHERE conversation_id = ? ORDER BY seq");
        let rows = sqlx::query(&sql).bind(id).fetch_all(&self.pool).await.map_err(query_error)?;
        rows.iter()
            .map(|r| {
                let body: String = r.try_get("body").map_err(query_error)?;
                serde_json::from_str(&body).map_err(|e| StoreError::Corrupt(e.to_string()))
            })
            .collect()
    }

    /// Appends one turn's messages and adds its usage, in one transaction.
    pub async fn append_turn(
        &self,
        id: &str,
        messages: &[Message],
        usage: Usage,
        cost_usd: f64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(query_error)?;
        let next: i64 = {
            let sql = self.sql("SELECT COALESCE(MAX(seq), 0) AS seq FROM agent_messages WHERE conversation_id = ?");
            let row = sqlx::query(&sql).bind(id).fetch_one(&mut *tx).await.map_err(query_error)?;
            row.try_get::<i64, _>("seq").map_err(query_error)? + 1
        };
        let now = jiff::Timestamp::now().to_string();
        let insert =
            self.sql("INSERT INTO agent_messages (conversation_id, seq, body, created_at) VALUES (?, ?, ?, ?)");
        for (i, message) in messages.iter().enumerate() {
            let body = serde_json::to_string(message).map_err(|e| StoreError::Query(e.to_string()))?;
            let seq = next + i64::try_from(i).unwrap_or(i64::MAX - next);
            sqlx::query(&insert)
                .bind(id)
                .bind(seq)
                .bind(body)
                .bind(&now)
                .execute(&mut *tx)
                .await
                .map_err(query_error)?;
        }
        let update = self.sql(
            "UPDATE agent_conversations SET input_tokens = input_tokens + ?, output_tokens = output_tokens + ?, cost_usd = cost_usd + ? WHERE id = ?",
        );
        let tokens = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        sqlx::query(&update)
            .bind(tokens(usage.input_tokens))
            .bind(tokens(usage.output_tokens))
            .bind(cost_usd)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(query_error)?;
        tx.commit().await.map_err(query_error)
    }
}

fn info_of(row: &AnyRow) -> Result<ConversationInfo, StoreError> {
    let text = |k: &str| row.try_get::<String, _>(k).map_err(query_error);
    let tokens = |k: &str| row.try_get::<i64, _>(k).map(|n| u64::try_from(n).unwrap_or(0)).map_err(query_error);
    Ok(ConversationInfo {
        id: text("id")?,
        agent: text("agent")?,
        principal: text("principal")?,
        created_at: text("created_at")?,
        usage: Usage { input_tokens: tokens("input_tokens")?, output_tokens: tokens("output_tokens")? },
        cost_usd: row.try_get::<f64, _>("cost_usd").map_err(query_error)?,
    })
}

/// A message as `GET /v1/conversations/{id}` shows it (provider-opaque data left out).
pub fn display(message: &Message) -> Value {
    match message {
        Message::User(text) => serde_json::json!({"role": "user", "content": text}),
        Message::Assistant(turn) => {
            let mut m = serde_json::json!({"role": "assistant", "content": turn.text});
            if !turn.tool_calls.is_empty() {
                m["tool_calls"] = turn
                    .tool_calls
                    .iter()
                    .map(|c| serde_json::json!({"id": c.id, "name": c.name, "arguments": c.arguments}))
                    .collect();
            }
            m
        }
        Message::ToolResults(results) => serde_json::json!({
            "role": "tool",
            "results": results.iter().map(|r| serde_json::json!({"tool_call_id": r.call_id, "name": r.name, "content": r.content, "is_error": r.is_error})).collect::<Vec<_>>(),
        }),
    }
}
