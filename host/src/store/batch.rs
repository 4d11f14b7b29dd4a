//! Transactions written once for both engines and run in as few round trips as each allows.
//!
//! A [`Batch`] is a transaction's statements with named parameters (`@org`), shared by all
//! of them. On SQLite it runs as one batch (`BEGIN IMMEDIATE; …; COMMIT`): a single hand-off
//! to the connection's thread, where statement by statement costs one each (measured here:
//! a hand-off 60–90 µs, a five-statement transaction 0.45–0.6 ms one statement at a time,
//! 0.06–0.15 ms as one batch). PostgreSQL binds parameters to one statement per query, so
//! there the batch is one call of the server-side function `gateway_batch_v1` (migration
//! 0007), which runs each statement with `EXECUTE … USING` and then the result query:
//! one round trip instead of one per statement plus two, and the call is one statement, so
//! a failure rolls the whole batch back. Every value is bound; none is ever written into
//! SQL. `EXECUTE … USING` takes a fixed number of values, so the call passes two arrays,
//! the text parameters and the integer ones, and `@name` becomes `$1[i]` or `$2[i]` (see
//! [`Batch::run_as_call`]). (A batch can also run statement by statement, each with its own
//! `$1…` numbering, inside a transaction of the caller's: [`Batch::run_in`].) The same SQL
//! runs every way, so its statements must not depend on what an earlier one returned: a
//! statement that must only take effect when an earlier one did carries a guard
//! (`WHERE EXISTS …`) that reads what that one wrote (each statement of the function, like
//! each of a multi-statement query, sees what the earlier ones wrote; the sub-statements of
//! one statement with writable CTEs would not, which is why this is not one).
//!
//! A batch that fails or is abandoned half-way may leave SQLite's connection inside its
//! transaction; the connection is then marked unsettled and rolled back before its next use
//! ([`super::Db::write`]).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use sqlx::any::{AnyRow, AnyStatement, AnyTypeInfoKind};
use sqlx::{
    Any, AnyConnection, AssertSqlSafe, Column as _, Executor as _, SqlSafeStr as _, Statement as _,
};

/// A parameter's value.
#[derive(Debug, Clone, Copy)]
pub enum Param<'a> {
    /// Text.
    Text(&'a str),
    /// Text or NULL.
    MaybeText(Option<&'a str>),
    /// An integer.
    Int(i64),
}

type Query<'q> = sqlx::query::Query<'q, Any, sqlx::any::AnyArguments>;

impl Param<'_> {
    fn bind<'q>(self, q: Query<'q>) -> Query<'q> {
        match self {
            Param::Text(v) => q.bind(v),
            Param::MaybeText(v) => q.bind(v),
            Param::Int(v) => q.bind(v),
        }
    }

    /// Whether the value travels among the integers (else among the texts) on PostgreSQL.
    fn is_int(self) -> bool {
        matches!(self, Param::Int(_))
    }

    /// The SQL type the value is bound as.
    fn sql_type(self) -> &'static str {
        if self.is_int() { "BIGINT" } else { "TEXT" }
    }
}

/// The column definitions of the batches' results on one PostgreSQL database, by result
/// query: learnt once (the schema's types do not change under a running process), so that
/// a connection's first batch costs no extra round trip to describe its result.
#[derive(Debug, Clone, Default)]
pub(super) struct ResultShapes(Arc<Mutex<HashMap<String, Arc<str>>>>);

impl ResultShapes {
    fn get(&self, result: &str) -> Option<Arc<str>> {
        let known = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        known.get(result).cloned()
    }

    fn insert(&self, result: &str, columns: Arc<str>) {
        let mut known = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        known.insert(result.to_owned(), columns);
    }
}

/// Statements run as one transaction, with named parameters.
#[derive(Debug, Default)]
pub struct Batch<'a> {
    statements: Vec<String>,
    /// Read after the statements, for what they did.
    result: Option<String>,
    params: Vec<(&'static str, Param<'a>)>,
}

impl<'a> Batch<'a> {
    /// An empty batch.
    pub fn new() -> Batch<'a> {
        Batch::default()
    }

    /// Add a statement (returning no rows); `@name` refers to a parameter.
    pub fn statement(mut self, sql: impl Into<String>) -> Batch<'a> {
        self.statements.push(sql.into());
        self
    }

    /// The query whose rows say what the statements did, run after them (on SQLite after the
    /// commit, in the same hand-off).
    pub fn result(mut self, sql: impl Into<String>) -> Batch<'a> {
        self.result = Some(sql.into());
        self
    }

    /// Name a parameter.
    pub fn param(mut self, name: &'static str, value: Param<'a>) -> Batch<'a> {
        self.params.push((name, value));
        self
    }

    fn index_of(&self, name: &str) -> Result<usize, sqlx::Error> {
        self.params
            .iter()
            .position(|(n, _)| *n == name)
            .ok_or_else(|| sqlx::Error::Protocol(format!("batch parameter @{name} not given")))
    }

    /// `sql` with each `@name` replaced by what `number` makes of the parameter's index.
    fn render(
        &self,
        sql: &str,
        mut number: impl FnMut(usize) -> Result<String, sqlx::Error>,
    ) -> Result<String, sqlx::Error> {
        let mut out = String::with_capacity(sql.len());
        let mut rest = sql;
        while let Some(at) = rest.find('@') {
            out.push_str(&rest[..at]);
            let name_len = rest[at + 1..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len() - at - 1);
            let name = &rest[at + 1..at + 1 + name_len];
            out.push_str(&number(self.index_of(name)?)?);
            rest = &rest[at + 1 + name_len..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// The whole transaction as one SQLite batch, with the parameters to bind in order: each
    /// `@name` becomes a plain `?`, which sqlx binds from one list across all the statements
    /// (numbered ones, `?N`, it binds per statement, and it gives up on a statement that
    /// leaves a number unused).
    fn as_one(&self) -> Result<(String, Vec<usize>), sqlx::Error> {
        let mut order = Vec::new();
        let parts = std::iter::once("BEGIN IMMEDIATE")
            .chain(self.statements.iter().map(String::as_str))
            .chain(["COMMIT"])
            .chain(self.result.as_deref())
            .map(|part| {
                self.render(part, |i| {
                    order.push(i);
                    Ok("?".into())
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok((format!("{};", parts.join(";\n")), order))
    }

    /// Run as one hand-off on a SQLite connection, returning the result's rows (the caller
    /// handles a failure half-way).
    pub(super) async fn run_as_one(
        &self,
        conn: &mut AnyConnection,
    ) -> Result<Vec<AnyRow>, sqlx::Error> {
        let (sql, order) = self.as_one()?;
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for i in order {
            q = self.params[i].1.bind(q);
        }
        // only the result returns rows
        q.fetch_all(conn).await
    }

    /// Each parameter's place in the arrays the PostgreSQL function is called with:
    /// `($1[i])` for the i-th text, `($2[i])` for the i-th integer (parenthesised, so that
    /// whatever follows applies to the element).
    fn slots(&self) -> Vec<String> {
        let (mut texts, mut ints) = (0, 0);
        self.params
            .iter()
            .map(|(_, p)| {
                if p.is_int() {
                    ints += 1;
                    format!("($2[{ints}])")
                } else {
                    texts += 1;
                    format!("($1[{texts}])")
                }
            })
            .collect()
    }

    /// The batch as one call of `gateway_batch_v1(statements, result_query, texts, ints)`
    /// whose rows are typed by `columns`, and the SQL to bind to it: the statements and the
    /// result query as the function runs them (parameters named by [`Batch::slots`]). The
    /// parameters' values are bound after these, texts then integers.
    fn call(&self, columns: &str) -> Result<(String, Vec<String>), sqlx::Error> {
        let slots = self.slots();
        let as_run = |sql: &str| self.render(sql, |i| Ok(slots[i].clone()));
        let mut sql: Vec<String> = self
            .statements
            .iter()
            .map(|s| as_run(s))
            .collect::<Result<_, _>>()?;
        let statements = sql.len();
        let result = match self.result.as_deref() {
            Some(r) => {
                sql.push(as_run(r)?);
                format!("${}", statements + 1)
            }
            None => "NULL".to_owned(),
        };
        let ints = self.params.iter().filter(|(_, p)| p.is_int()).count();
        let texts = self.params.len() - ints;
        let placeholders = |from: usize, count: usize| {
            (from..from + count)
                .map(|n| format!("${n}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let call = format!(
            "SELECT * FROM gateway_batch_v1(ARRAY[{}]::TEXT[], {result}, ARRAY[{}]::TEXT[], \
             ARRAY[{}]::BIGINT[]) AS r({columns})",
            placeholders(1, statements),
            placeholders(sql.len() + 1, texts),
            placeholders(sql.len() + texts + 1, ints),
        );
        Ok((call, sql))
    }

    /// Run as one round trip on a PostgreSQL connection (after one more the first time the
    /// database meets the result query, to learn its columns: [`Batch::result_columns`]),
    /// returning the result's rows.
    pub(super) async fn run_as_call(
        &self,
        conn: &mut AnyConnection,
        shapes: &ResultShapes,
    ) -> Result<Vec<AnyRow>, sqlx::Error> {
        let columns: Arc<str> = match &self.result {
            Some(result) => match shapes.get(result) {
                Some(known) => known,
                None => {
                    let learnt: Arc<str> = self.result_columns(conn, result).await?.into();
                    shapes.insert(result, learnt.clone());
                    learnt
                }
            },
            // the call names a shape even when no rows come
            None => "nothing BIGINT".into(),
        };
        let (call, sql) = self.call(&columns)?;
        let mut q = sqlx::query(AssertSqlSafe(call));
        for s in sql {
            q = q.bind(s);
        }
        let (ints, texts): (Vec<_>, Vec<_>) = self.params.iter().partition(|(_, p)| p.is_int());
        for (_, p) in texts.into_iter().chain(ints) {
            q = p.bind(q);
        }
        q.fetch_all(conn).await
    }

    /// The column definitions of the result's rows for the call (`"seq" BIGINT`): the result
    /// query prepared on `conn` with each parameter cast to the type it has in the function,
    /// its columns read from the server's description.
    async fn result_columns(
        &self,
        conn: &mut AnyConnection,
        result: &str,
    ) -> Result<String, sqlx::Error> {
        let (typed, _) = self.numbered(result, |n, p| format!("CAST(${n} AS {})", p.sql_type()))?;
        let statement = conn.prepare(AssertSqlSafe(typed).into_sql_str()).await?;
        column_definitions(&statement)
    }

    /// `sql` with the parameters numbered `$1…` in the order it first names them (each
    /// written as `write` makes of its number and value), and that order.
    fn numbered(
        &self,
        sql: &str,
        write: impl Fn(usize, Param<'a>) -> String,
    ) -> Result<(String, Vec<usize>), sqlx::Error> {
        let mut order = Vec::new();
        let sql = self.render(sql, |i| {
            let n = match order.iter().position(|&j| j == i) {
                Some(k) => k + 1,
                None => {
                    order.push(i);
                    order.len()
                }
            };
            Ok(write(n, self.params[i].1))
        })?;
        Ok((sql, order))
    }

    /// One statement as a query of its own: `$1…` for the parameters in the order it first
    /// names them.
    fn alone(&self, sql: &str) -> Result<Query<'static>, sqlx::Error> {
        let (sql, order) = self.numbered(sql, |n, _| format!("${n}"))?;
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for i in order {
            q = self.params[i].1.bind(q);
        }
        Ok(q)
    }

    /// Run the statements one by one on `conn`, inside a transaction the caller began.
    pub async fn run_in(&self, conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
        for s in &self.statements {
            self.alone(s)?.execute(&mut *conn).await?;
        }
        Ok(())
    }

    /// Run the result query on `conn` (no rows without one).
    pub async fn fetch_result(&self, conn: &mut AnyConnection) -> Result<Vec<AnyRow>, sqlx::Error> {
        match &self.result {
            Some(result) => self.alone(result)?.fetch_all(conn).await,
            None => Ok(Vec::new()),
        }
    }
}

/// The column definition list for a call returning the rows of `statement`: their own names
/// when all are plain and distinct (so that rows read by name as they do on SQLite), else
/// `c1`, `c2`, …. The types are those the Any driver reads; the schema has only TEXT and
/// BIGINT.
fn column_definitions(statement: &AnyStatement) -> Result<String, sqlx::Error> {
    let columns = statement.columns();
    let plain = |name: &str| {
        name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    let distinct = columns
        .iter()
        .map(|c| c.name())
        .collect::<HashSet<_>>()
        .len()
        == columns.len();
    let own = distinct && columns.iter().all(|c| plain(c.name()));
    let definitions = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let ty = sql_type(c.type_info().kind())?;
            Ok(match own {
                // plain: nothing in it to quote
                true => format!("\"{}\" {ty}", c.name()),
                false => format!("c{} {ty}", i + 1),
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(definitions.join(", "))
}

/// The PostgreSQL type of a column of this kind.
fn sql_type(kind: AnyTypeInfoKind) -> Result<&'static str, sqlx::Error> {
    use AnyTypeInfoKind as K;
    Ok(match kind {
        K::BigInt => "BIGINT",
        K::Integer => "INTEGER",
        K::SmallInt => "SMALLINT",
        K::Text => "TEXT",
        K::Bool => "BOOLEAN",
        K::Real => "REAL",
        K::Double => "DOUBLE PRECISION",
        K::Blob => "BYTEA",
        K::Null => {
            return Err(sqlx::Error::Protocol(
                "a batch's result has a column of no type".into(),
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_numbered_for_each_way_of_running() {
        let b = Batch::new()
            .statement("UPDATE t SET a = @a WHERE b = @b")
            .statement("DELETE FROM t WHERE b = @b AND c = @a_long")
            .param("a", Param::Int(1))
            .param("a_long", Param::Text("x"))
            .param("b", Param::MaybeText(None));
        assert_eq!(
            b.as_one().unwrap(),
            (
                "BEGIN IMMEDIATE;\nUPDATE t SET a = ? WHERE b = ?;\nDELETE FROM t WHERE b = ? AND c = ?;\nCOMMIT;"
                    .to_owned(),
                vec![0, 2, 2, 1]
            )
        );
        let mut order = Vec::new();
        let one = b
            .render("DELETE FROM t WHERE b = @b AND c = @a_long", |i| {
                order.push(i);
                Ok(format!("${}", order.len()))
            })
            .unwrap();
        assert_eq!(one, "DELETE FROM t WHERE b = $1 AND c = $2");
        assert_eq!(order, [2, 1]);
        assert!(b.render("SELECT @missing", |_| Ok(String::new())).is_err());
        // on PostgreSQL every value is bound: the statements name array elements, the
        // call names parameters, and no value is written into either
        let hostile = "x'); DROP TABLE t; -- \\' $$ @b";
        let b = b
            .param("t", Param::Text(hostile))
            .result("SELECT @t, @a, @b");
        let (call, sql) = b.call("c1 TEXT, c2 BIGINT, c3 TEXT").unwrap();
        assert_eq!(
            call,
            "SELECT * FROM gateway_batch_v1(ARRAY[$1, $2]::TEXT[], $3, ARRAY[$4, $5, $6]::TEXT[], \
             ARRAY[$7]::BIGINT[]) AS r(c1 TEXT, c2 BIGINT, c3 TEXT)"
        );
        assert_eq!(
            sql,
            [
                "UPDATE t SET a = ($2[1]) WHERE b = ($1[2])",
                "DELETE FROM t WHERE b = ($1[2]) AND c = ($1[1])",
                "SELECT ($1[3]), ($2[1]), ($1[2])",
            ]
        );
        assert!(sql.iter().chain([&call]).all(|s| !s.contains("DROP")));
        // a batch of no statements and no result still makes a valid call
        let (empty, none) = Batch::new().call("nothing BIGINT").unwrap();
        assert_eq!(
            empty,
            "SELECT * FROM gateway_batch_v1(ARRAY[]::TEXT[], NULL, ARRAY[]::TEXT[], \
             ARRAY[]::BIGINT[]) AS r(nothing BIGINT)"
        );
        assert!(none.is_empty());
        // the result query, described with each value's type as the function has it
        let (typed, order) = b
            .numbered("SELECT @t, @a, @t", |n, p| {
                format!("CAST(${n} AS {})", p.sql_type())
            })
            .unwrap();
        assert_eq!(
            typed,
            "SELECT CAST($1 AS TEXT), CAST($2 AS BIGINT), CAST($1 AS TEXT)"
        );
        assert_eq!(order, [3, 0]);
    }
}
