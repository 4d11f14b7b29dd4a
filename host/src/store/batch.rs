//! Transactions written once for both engines and run in as few round trips as each allows.
//!
//! A [`Batch`] is a transaction's statements with named parameters (`@org`), shared by all
//! of them. On SQLite it runs as one batch (`BEGIN IMMEDIATE; …; COMMIT`): a single hand-off
//! to the connection's thread, where statement by statement costs one each (measured here:
//! a hand-off 60–90 µs, a five-statement transaction 0.45–0.6 ms one statement at a time,
//! 0.06–0.15 ms as one batch). PostgreSQL binds parameters to one statement per query, so
//! there the batch is sent as one simple query with its parameters written in as literals
//! ([`Param::literal`]): one round trip instead of one per statement plus two, and the
//! server runs a multi-statement simple query as one transaction, rolled back whole if any
//! statement fails. (A batch can also run statement by statement, each with its own `$1…`
//! numbering, inside a transaction of the caller's: [`Batch::run_in`].) The same SQL runs
//! every way, so its statements must not depend on what an earlier one returned: a
//! statement that must only take effect when an earlier one did carries a guard
//! (`WHERE EXISTS …`) that reads what that one wrote.
//!
//! A batch that fails or is abandoned half-way may leave SQLite's connection inside its
//! transaction; the connection is then marked unsettled and rolled back before its next use
//! ([`super::Db::write`]).

use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, AssertSqlSafe};

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

    /// The value as a PostgreSQL literal. Text is an escape string (`E'…'`) with every
    /// backslash and quote doubled, which reads back exactly whatever the server's
    /// `standard_conforming_strings`; integers are parenthesised, so a negative one never
    /// meets a minus before it as `--` (a comment). Text with a NUL byte, which PostgreSQL
    /// cannot store, is refused.
    fn literal(self) -> Result<String, sqlx::Error> {
        let text = match self {
            Param::Int(v) => return Ok(format!("({v})")),
            Param::MaybeText(None) => return Ok("NULL".into()),
            Param::Text(v) | Param::MaybeText(Some(v)) => v,
        };
        if text.contains('\0') {
            return Err(sqlx::Error::Protocol(
                "a batch parameter holds a NUL byte".into(),
            ));
        }
        let mut out = String::with_capacity(text.len() + 4);
        out.push_str("E'");
        for c in text.chars() {
            match c {
                '\'' => out.push_str("''"),
                '\\' => out.push_str("\\\\"),
                c => out.push(c),
            }
        }
        out.push('\'');
        Ok(out)
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

    /// The statements and the result query as one PostgreSQL simple query, parameters
    /// written in as literals. No `BEGIN`: the server makes the statements of one simple
    /// query an implicit transaction, which a failure rolls back whole (after an explicit
    /// `BEGIN` it would leave the connection in an aborted transaction).
    fn inline(&self) -> Result<String, sqlx::Error> {
        let parts = self
            .statements
            .iter()
            .map(String::as_str)
            .chain(self.result.as_deref())
            .map(|part| self.render(part, |i| self.params[i].1.literal()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(format!("{};", parts.join(";\n")))
    }

    /// Run as one round trip on a PostgreSQL connection, returning the result's rows.
    pub(super) async fn run_inline(
        &self,
        conn: &mut AnyConnection,
    ) -> Result<Vec<AnyRow>, sqlx::Error> {
        // only the result returns rows
        sqlx::raw_sql(AssertSqlSafe(self.inline()?))
            .fetch_all(conn)
            .await
    }

    /// One statement as a query of its own: `$1…` for the parameters in the order it first
    /// names them.
    fn alone(&self, sql: &str) -> Result<Query<'static>, sqlx::Error> {
        let mut order = Vec::new();
        let sql = self.render(sql, |i| {
            let n = match order.iter().position(|&j| j == i) {
                Some(k) => k,
                None => {
                    order.push(i);
                    order.len() - 1
                }
            };
            Ok(format!("${}", n + 1))
        })?;
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
        assert_eq!(
            b.inline().unwrap(),
            "UPDATE t SET a = (1) WHERE b = NULL;\nDELETE FROM t WHERE b = NULL AND c = E'x';"
        );
        let quoted = Batch::new()
            .result("SELECT @t, @n")
            .param("t", Param::Text("a'b\\c@t"))
            .param("n", Param::Int(-3));
        assert_eq!(quoted.inline().unwrap(), "SELECT E'a''b\\\\c@t', (-3);");
        let nul = Batch::new()
            .result("SELECT @t")
            .param("t", Param::Text("\0"));
        assert!(nul.inline().is_err());
    }
}
