//! PostgreSQL batches (`store::batch`): one call of the server's `gateway_batch_v1` with
//! every value bound, never written into SQL — any text reads back exactly, the values reach
//! the server only as parameters (its statement log says so), a failure rolls the whole
//! batch back, and the statement-by-statement way binds the same values the same.

use backup_gateway::store::Db;
use backup_gateway::store::batch::{Batch, Param};
use gateway_tests::pg::PgCluster;
use sqlx::{Connection as _, Row};

/// Texts that a value written into SQL would have to survive: quotes, backslashes, comment,
/// placeholder and dollar-quote look-alikes (the function's own body is `$batch$`-quoted),
/// an array element reference, line breaks, non-ASCII.
const HOSTILE: &[&str] = &[
    "it's",
    "back\\slash\\",
    "\\'; DELETE FROM sequences; --",
    "E'x' || '",
    "$1 @org ? ?1 :name",
    "($1[1]) $2[1]",
    "$$; DELETE FROM sequences; $$",
    "$batch$; DELETE FROM sequences; $batch$",
    "-- not a comment",
    "/* not a comment */",
    "line\nbreak\ttab\r",
    "ünïcødé 🙂 ＇",
    "",
];

/// Rows `(org, value)` of provider `p`, in order of value.
async fn rows_of_p(db: &Db) -> Vec<(String, i64)> {
    sqlx::query_as("SELECT org, value FROM sequences WHERE provider = 'p' ORDER BY value")
        .fetch_all(db.pool())
        .await
        .unwrap()
}

/// Insert a row per text, then move it with a negative integer (`value-@v`: a value written
/// in as `-5` would make `value--5`, a comment, and update every row).
fn write_and_move<'a>(text: &'a str, i: i64) -> Batch<'a> {
    Batch::new()
        .statement("INSERT INTO sequences (org, provider, name, value) VALUES (@org, 'p', 'n', @v)")
        .statement("UPDATE sequences SET value = value-@v+@i WHERE org = @org")
        .result("SELECT org, value FROM sequences WHERE org = @org")
        .param("org", Param::Text(text))
        .param("v", Param::Int(-5))
        .param("i", Param::Int(i))
}

#[tokio::test]
async fn a_batch_on_postgres_takes_any_text_and_fails_whole() {
    let pg = PgCluster::start();
    let db = Db::connect(&pg.database("batch").await, None)
        .await
        .unwrap();
    for (i, text) in HOSTILE.iter().enumerate() {
        let rows = db.run_batch(&write_and_move(text, i as i64)).await.unwrap();
        assert_eq!(rows.len(), 1, "{text:?}");
        assert_eq!(rows[0].try_get::<String, _>(0).unwrap(), *text);
        assert_eq!(rows[0].try_get::<i64, _>(1).unwrap(), i as i64, "{text:?}");
        // the result's own column names, as on SQLite
        assert_eq!(rows[0].try_get::<String, _>("org").unwrap(), *text);
    }
    let expected: Vec<(String, i64)> = HOSTILE
        .iter()
        .enumerate()
        .map(|(i, t)| (t.to_string(), i as i64))
        .collect();
    assert_eq!(
        rows_of_p(&db).await,
        expected,
        "each row written once, none touched by another"
    );

    // the extremes of an integer, and NULL, come back as given
    let rows = db
        .run_batch(
            &Batch::new()
                .result("SELECT @min, @max, @none, @none IS NULL")
                .param("min", Param::Int(i64::MIN))
                .param("max", Param::Int(i64::MAX))
                .param("none", Param::MaybeText(None)),
        )
        .await
        .unwrap();
    assert_eq!(rows[0].try_get::<i64, _>(0).unwrap(), i64::MIN);
    assert_eq!(rows[0].try_get::<i64, _>(1).unwrap(), i64::MAX);
    assert_eq!(rows[0].try_get::<Option<String>, _>(2).unwrap(), None);
    assert!(rows[0].try_get::<bool, _>(3).unwrap());

    // a NUL byte, which PostgreSQL cannot store, is refused when bound: nothing runs
    let nul = Batch::new()
        .statement("INSERT INTO sequences (org, provider, name, value) VALUES ('new', 'q', 'n', 0)")
        .statement("INSERT INTO sequences (org, provider, name, value) VALUES (@org, 'q', 'n', 0)")
        .param("org", Param::Text("a\0b"));
    let Err(refused) = db.run_batch(&nul).await else {
        panic!("a NUL byte was taken");
    };
    let refused = refused.to_string();
    assert!(refused.contains("0x00"), "{refused}");
    // the second statement fails (the row exists): the first is rolled back with it
    let failing = Batch::new()
        .statement("INSERT INTO sequences (org, provider, name, value) VALUES ('new', 'q', 'n', 0)")
        .statement("INSERT INTO sequences (org, provider, name, value) VALUES (@org, 'p', 'n', 0)")
        .param("org", Param::Text("it's"));
    assert!(db.run_batch(&failing).await.is_err());
    let q: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sequences WHERE provider = 'q'")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(q, 0, "half a batch took effect");
    // and the connections are fit for the next batch
    for _ in 0..4 {
        let rows = db
            .run_batch(&Batch::new().result("SELECT COUNT(*) FROM sequences"))
            .await
            .unwrap();
        assert_eq!(rows[0].try_get::<i64, _>(0).unwrap(), HOSTILE.len() as i64);
    }
}

/// The server logs every statement it is sent: a batch's values appear there only among a
/// statement's bound parameters, never in the text of a statement (as they did when a batch
/// was one simple query with its values written in as literals).
#[tokio::test]
async fn a_batchs_values_reach_the_server_only_as_bound_parameters() {
    let pg = PgCluster::start();
    let url = pg.database("logged").await;
    let mut admin = sqlx::postgres::PgConnection::connect(&url).await.unwrap();
    sqlx::raw_sql("ALTER DATABASE logged SET log_statement = 'all'")
        .execute(&mut admin)
        .await
        .unwrap();
    let db = Db::connect(&url, Some(2)).await.unwrap();
    let marker = "marker-7f3a'quoted";
    let rows = db.run_batch(&write_and_move(marker, 1)).await.unwrap();
    assert_eq!(rows[0].try_get::<String, _>(0).unwrap(), marker);
    // (the log is written as the server goes; give it a moment to reach the file)
    let mut seen = Vec::new();
    for _ in 0..50 {
        let log = std::fs::read_to_string(pg.log()).unwrap();
        seen = log
            .lines()
            .filter(|l| l.contains("marker-7f3a"))
            .map(str::to_owned)
            .collect();
        if !seen.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(!seen.is_empty(), "the statement log shows no batch");
    for line in &seen {
        assert!(
            line.contains("DETAIL:  parameters: "),
            "a value in a statement: {line}"
        );
    }
    assert!(
        std::fs::read_to_string(pg.log())
            .unwrap()
            .contains("SELECT * FROM gateway_batch_v1("),
        "the batch was one call of the function"
    );
}

/// Inside a transaction of the caller's (a chunked capture's commit), a batch runs statement
/// by statement with its own `$1…` numbering: the same texts and integers, the same rows.
#[tokio::test]
async fn a_batch_run_statement_by_statement_on_postgres_binds_the_same() {
    let pg = PgCluster::start();
    let db = Db::connect(&pg.database("byone").await, None)
        .await
        .unwrap();
    let mut conn = db.write().await.unwrap();
    let mut tx = conn.begin().await.unwrap();
    for (i, text) in HOSTILE.iter().enumerate() {
        let batch = write_and_move(text, i as i64);
        batch.run_in(&mut tx).await.unwrap();
        let rows = batch.fetch_result(&mut tx).await.unwrap();
        assert_eq!(rows[0].try_get::<String, _>(0).unwrap(), *text);
        assert_eq!(rows[0].try_get::<i64, _>(1).unwrap(), i as i64, "{text:?}");
    }
    tx.commit().await.unwrap();
    drop(conn);
    assert_eq!(rows_of_p(&db).await.len(), HOSTILE.len());
}
