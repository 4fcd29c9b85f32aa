//! The commit point (one `RENAME TABLE`) and the idempotent roll-forward
//! after it; the rollback before it.

use super::client::*;
use super::swap::*;

/// The marker table: the swap's record. `side` is `new`/`old` (a
/// definition), `hidden` (a table or view of `C` renamed aside: `name` its
/// name, `hidden` the name it has until it moves to `O`), `locked` (an
/// account budgie locked, as `'user'@'host'`). `done` marks views created.
pub(super) fn marker_ddl(swap: &Swap) -> String {
    format!(
        "CREATE TABLE {}.{} (\n  \
         ord INT NOT NULL PRIMARY KEY,\n  \
         side VARCHAR(8) NOT NULL,\n  \
         kind VARCHAR(16) NOT NULL,\n  \
         name VARCHAR(512) NOT NULL,\n  \
         hidden VARCHAR(64) NOT NULL DEFAULT '',\n  \
         sql_mode VARCHAR(1024) NOT NULL DEFAULT '',\n  \
         collation_connection VARCHAR(64) NOT NULL DEFAULT '',\n  \
         time_zone VARCHAR(64) NOT NULL DEFAULT '',\n  \
         stmt LONGTEXT NOT NULL DEFAULT '',\n  \
         done TINYINT NOT NULL DEFAULT 0\n\
         ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;\n",
        quote_ident(&swap.scratch),
        quote_ident(&swap.marker)
    )
}

/// Stored routines: created before views (a view may call a function and
/// is checked when created; a routine's body is not).
const ROUTINES: &str = "'PROCEDURE', 'FUNCTION', 'PACKAGE', 'PACKAGE BODY'";

/// Ranges of `ord` in the marker table.
const ORD_HIDDEN: u32 = 1_000_000;
const ORD_LOCKED: u32 = 2_000_000;

/// Step 4 (admin, one session): the record, the lock-out, the commit point
/// (one RENAME TABLE), then the roll-forward. Stops at the first error;
/// where the marker table is then says what happened ([`state`]).
pub fn commit_sql(swap: &Swap, loaded: &Loaded) -> String {
    let c = quote_string(&swap.current);
    let s = quote_string(&swap.scratch);
    let cq = quote_ident(&swap.current);
    let sq = quote_ident(&swap.scratch);
    let oq = quote_ident(&swap.old);
    let m = format!("{sq}.{}", quote_ident(&swap.marker));
    let mut sql = session_header();
    sql.push_str(&format!(
        "SET SESSION lock_wait_timeout = {SWAP_LOCK_WAIT_SECS};\n"
    ));
    sql.push_str(&marker_ddl(swap));
    // The definitions captured by inspect.
    for (i, d) in loaded.definitions.iter().enumerate() {
        sql.push_str(&format!(
            "INSERT INTO {m} (ord, side, kind, name, sql_mode, collation_connection, time_zone, stmt) VALUES ({}, '{}', {}, {}, {}, {}, {}, {});\n",
            i + 1,
            d.side.word(),
            quote_string(&d.kind),
            hex_string(&d.name),
            quote_string(&d.sql_mode),
            quote_string(&d.collation_connection),
            quote_string(&d.time_zone),
            hex_string(&d.statement),
        ));
    }
    // C's tables, sequences and views, and the names they step aside to.
    let prefix = quote_string(&swap.hidden_prefix());
    sql.push_str(&format!(
        "INSERT INTO {m} (ord, side, kind, name, hidden) SELECT {ORD_HIDDEN} + ROW_NUMBER() OVER (ORDER BY TABLE_NAME), 'hidden', IF(TABLE_TYPE = 'VIEW', 'VIEW', 'TABLE'), TABLE_NAME, CONCAT({prefix}, ROW_NUMBER() OVER (ORDER BY TABLE_NAME)) FROM information_schema.TABLES WHERE TABLE_SCHEMA = {c};\n"
    ));
    sql.push_str("DELIMITER $$\n");
    // No table of C or S may already have a hidden name.
    sql.push_str(&format!(
        "BEGIN NOT ATOMIC\n  \
         IF EXISTS (SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA IN ({c}, {s}) AND TABLE_NAME LIKE {}) THEN\n    \
         SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'a table already has the name budgie gives tables it sets aside';\n  \
         END IF;\n\
         END$$\n",
        quote_string(&format!("{}%", like_exact(&swap.hidden_prefix())))
    ));
    // The accounts to lock: those with privileges on C, except the admin
    // (this session's account), the loader, and those locked already.
    sql.push_str(&format!(
        "INSERT INTO {m} (ord, side, kind, name) SELECT {ORD_LOCKED} + ROW_NUMBER() OVER (ORDER BY g), 'locked', 'ACCOUNT', g FROM (\n  \
         SELECT GRANTEE AS g FROM information_schema.SCHEMA_PRIVILEGES WHERE {c} LIKE TABLE_SCHEMA ESCAPE '\\\\'\n  \
         UNION SELECT GRANTEE FROM information_schema.TABLE_PRIVILEGES WHERE TABLE_SCHEMA = {c}\n\
         ) a WHERE g <> CONCAT('''', SUBSTRING_INDEX(CURRENT_USER(), '@', 1), '''@''', SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''')\n  \
         AND g <> {}\n  \
         AND g NOT IN (SELECT CONCAT('''', User, '''@''', Host, '''') FROM mysql.global_priv WHERE JSON_VALUE(Priv, '$.account_locked') IN ('1', 'true'))$$\n",
        quote_string(&swap.loader_account())
    ));
    sql.push_str(&format!(
        "BEGIN NOT ATOMIC\n  \
         FOR r IN (SELECT name FROM {m} WHERE side = 'locked' ORDER BY ord) DO\n    \
         EXECUTE IMMEDIATE CONCAT('ALTER USER ', r.name, ' ACCOUNT LOCK');\n  \
         END FOR;\n\
         END$$\n"
    ));
    sql.push_str(&kill_sessions_block(swap, Some(&m)));
    // S's triggers: a table with triggers cannot move to another database.
    sql.push_str(&format!(
        "BEGIN NOT ATOMIC\n  \
         FOR r IN (SELECT TRIGGER_NAME AS n FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = {s}) DO\n    \
         EXECUTE IMMEDIATE CONCAT('DROP TRIGGER {}.', {});\n  \
         END FOR;\n\
         END$$\n",
        sq.replace('\'', "''"),
        q_expr("r.n")
    ));
    // The commit point.
    sql.push_str(&format!(
        "BEGIN NOT ATOMIC\n  \
         DECLARE parts LONGTEXT;\n  \
         SELECT GROUP_CONCAT(x ORDER BY k, o SEPARATOR ', ') INTO parts FROM (\n    \
         SELECT 1 AS k, ord AS o, CONCAT('{cq}.', {hn}, ' TO {cq}.', {hh}) AS x FROM {m} WHERE side = 'hidden'\n    \
         UNION ALL SELECT 2, 0, CONCAT('{sq}.', {tn}, ' TO {cq}.', {tn}) FROM information_schema.TABLES WHERE TABLE_SCHEMA = {s} AND TABLE_TYPE <> 'VIEW' AND TABLE_NAME <> {marker}\n  \
         ) p;\n  \
         EXECUTE IMMEDIATE CONCAT('RENAME TABLE ', IFNULL(CONCAT(parts, ', '), ''), '{sq}.{mq} TO {oq}.{mq}');\n\
         END$$\n",
        cq = cq.replace('\'', "''"),
        sq = sq.replace('\'', "''"),
        oq = oq.replace('\'', "''"),
        mq = quote_ident(&swap.marker).replace('\'', "''"),
        hn = q_expr("name"),
        hh = q_expr("hidden"),
        tn = q_expr("TABLE_NAME"),
        marker = quote_string(&swap.marker),
    ));
    sql.push_str("DELIMITER ;\n");
    sql.push_str(&roll_forward_body(swap));
    sql
}

/// Kills sessions: those using `S` and the loader's always; with the
/// marker `m` (at the commit point), also every session using `C` and
/// those of the accounts the marker lists as locked. Never this session,
/// nor the server's own threads.
pub(super) fn kill_sessions_block(swap: &Swap, marker: Option<&str>) -> String {
    let more = match marker {
        Some(m) => format!(
            " OR DB = {} OR CONCAT('''', USER, '''') IN (SELECT SUBSTRING_INDEX(name, '@', 1) FROM {m} WHERE side = 'locked')",
            quote_string(&swap.current)
        ),
        None => String::new(),
    };
    format!(
        "BEGIN NOT ATOMIC\n  \
         DECLARE CONTINUE HANDLER FOR SQLEXCEPTION BEGIN END;\n  \
         FOR r IN (SELECT ID FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() AND USER NOT IN ('system user', 'event_scheduler') AND COMMAND NOT IN ('Daemon', 'Binlog Dump', 'Slave_IO', 'Slave_SQL', 'Slave_worker') AND (DB = {s} OR USER = {l}{more})) DO\n    \
         EXECUTE IMMEDIATE CONCAT('KILL CONNECTION ', r.ID);\n  \
         END FOR;\n\
         END$$\n",
        s = quote_string(&swap.scratch),
        l = quote_string(&swap.loader),
    )
}

/// Re-creates the marker's definitions of one side and kind in the
/// session's database; `must` makes a failure stop the script, else it is
/// counted in `@budgie_skipped`.
pub(super) fn replay_block(m: &str, side: Side, kinds: &str, must: bool) -> String {
    let handler = if must {
        String::new()
    } else {
        "    DECLARE CONTINUE HANDLER FOR SQLEXCEPTION SET @budgie_skipped = @budgie_skipped + 1;\n"
            .to_string()
    };
    format!(
        "BEGIN NOT ATOMIC\n  \
         FOR r IN (SELECT sql_mode, collation_connection, time_zone, stmt FROM {m} WHERE side = '{w}' AND kind IN ({kinds}) ORDER BY ord) DO\n  \
         BEGIN\n{handler}    \
         SET SESSION sql_mode = r.sql_mode;\n    \
         SET SESSION collation_connection = IF(r.collation_connection = '', 'utf8mb4_general_ci', r.collation_connection);\n    \
         SET SESSION time_zone = IF(r.time_zone = '', @budgie_tz, r.time_zone);\n    \
         EXECUTE IMMEDIATE r.stmt;\n    \
         SET SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION';\n    \
         SET NAMES utf8mb4;\n    \
         SET SESSION time_zone = @budgie_tz;\n  \
         END;\n  \
         END FOR;\n\
         END$$\n",
        w = side.word(),
    )
}

/// Views of one side, in rounds until no more can be created (a view on a
/// view needs the other first). With `must`, a view that cannot be
/// created stops the script.
pub(super) fn views_block(m: &str, side: Side, must: bool) -> String {
    let w = side.word();
    let check = if must {
        format!(
            "  IF EXISTS (SELECT 1 FROM {m} WHERE side = '{w}' AND kind = 'VIEW' AND done = 0) THEN\n    \
             SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'a restored view could not be created in the current database';\n  \
             END IF;\n"
        )
    } else {
        format!(
            "  SET @budgie_skipped = @budgie_skipped + (SELECT COUNT(*) FROM {m} WHERE side = '{w}' AND kind = 'VIEW' AND done = 0);\n"
        )
    };
    format!(
        "BEGIN NOT ATOMIC\n  \
         DECLARE progress INT DEFAULT 1;\n  \
         DECLARE ok INT DEFAULT 1;\n  \
         UPDATE {m} SET done = 0 WHERE side = '{w}' AND kind = 'VIEW';\n  \
         WHILE progress > 0 DO\n    \
         SET progress = 0;\n    \
         FOR r IN (SELECT ord, collation_connection, stmt FROM {m} WHERE side = '{w}' AND kind = 'VIEW' AND done = 0 ORDER BY ord) DO\n    \
         BEGIN\n      \
         DECLARE CONTINUE HANDLER FOR SQLEXCEPTION SET ok = 0;\n      \
         SET ok = 1;\n      \
         SET SESSION collation_connection = IF(r.collation_connection = '', 'utf8mb4_general_ci', r.collation_connection);\n      \
         EXECUTE IMMEDIATE r.stmt;\n      \
         SET NAMES utf8mb4;\n      \
         IF ok = 1 THEN\n        \
         UPDATE {m} SET done = 1 WHERE ord = r.ord;\n        \
         SET progress = progress + 1;\n      \
         END IF;\n    \
         END;\n    \
         END FOR;\n  \
         END WHILE;\n{check}\
         END$$\n"
    )
}

/// Revokes every grant on `S` and `O` (mirrored by [`prepare_sql`]; a
/// DROP DATABASE leaves grants behind).
pub(super) fn revoke_block(swap: &Swap) -> String {
    let names = [
        quote_string(&swap.scratch),
        quote_string(&like_exact(&swap.scratch)),
        quote_string(&swap.old),
        quote_string(&like_exact(&swap.old)),
    ]
    .join(", ");
    format!(
        "BEGIN NOT ATOMIC\n  \
         DECLARE CONTINUE HANDLER FOR SQLEXCEPTION BEGIN END;\n  \
         FOR r IN (SELECT DISTINCT GRANTEE AS g, TABLE_SCHEMA AS d FROM information_schema.SCHEMA_PRIVILEGES WHERE TABLE_SCHEMA IN ({names})) DO\n    \
         EXECUTE IMMEDIATE CONCAT('REVOKE ALL PRIVILEGES ON ', {d}, '.* FROM ', r.g);\n    \
         EXECUTE IMMEDIATE CONCAT('REVOKE GRANT OPTION ON ', {d}, '.* FROM ', r.g);\n  \
         END FOR;\n\
         END$$\n",
        d = q_expr("r.d"),
    )
}

/// Unlocks the accounts the marker `m` lists.
pub(super) fn unlock_block(m: &str) -> String {
    format!(
        "BEGIN NOT ATOMIC\n  \
         DECLARE CONTINUE HANDLER FOR SQLEXCEPTION BEGIN END;\n  \
         FOR r IN (SELECT name FROM {m} WHERE side = 'locked' ORDER BY ord) DO\n    \
         EXECUTE IMMEDIATE CONCAT('ALTER USER IF EXISTS ', r.name, ' ACCOUNT UNLOCK');\n  \
         END FOR;\n\
         END$$\n"
    )
}

/// The roll-forward, after the commit point (the marker is in `O`).
/// Idempotent: recovery runs it again until it completes. Prints
/// `budgie-tables:<n>` and `budgie-skipped:<n>` (previous objects that
/// could not be re-created in `O`).
pub fn roll_forward_sql(swap: &Swap) -> String {
    let mut sql = session_header();
    sql.push_str(&roll_forward_body(swap));
    sql
}

pub(super) fn roll_forward_body(swap: &Swap) -> String {
    let c = quote_string(&swap.current);
    let o = quote_string(&swap.old);
    let cq = quote_ident(&swap.current);
    let oq = quote_ident(&swap.old);
    let m = format!("{oq}.{}", quote_ident(&swap.marker));
    let routines = "'PROCEDURE', 'FUNCTION', 'PACKAGE', 'PACKAGE BODY', 'EVENT'";
    let mut sql = String::from(
        "SET @budgie_skipped = 0;\nSET @budgie_tz = @@SESSION.time_zone;\nDELIMITER $$\n",
    );
    // Only after the commit point.
    sql.push_str(&format!(
        "BEGIN NOT ATOMIC\n  \
         IF NOT EXISTS (SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = {o} AND TABLE_NAME = {}) THEN\n    \
         SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'the swap did not happen: nothing to roll forward';\n  \
         END IF;\n\
         END$$\n",
        quote_string(&swap.marker)
    ));
    // 1. The previous triggers, on the tables set aside.
    sql.push_str(&format!(
        "BEGIN NOT ATOMIC\n  \
         FOR r IN (SELECT t.TRIGGER_NAME AS n FROM information_schema.TRIGGERS t JOIN {m} h ON h.side = 'hidden' AND BINARY h.hidden = BINARY t.EVENT_OBJECT_TABLE WHERE t.TRIGGER_SCHEMA = {c}) DO\n    \
         EXECUTE IMMEDIATE CONCAT('DROP TRIGGER IF EXISTS {}.', {});\n  \
         END FOR;\n\
         END$$\n",
        cq.replace('\'', "''"),
        q_expr("r.n")
    ));
    // 2. The tables set aside, to O under their names (one statement).
    sql.push_str(&format!(
        "BEGIN NOT ATOMIC\n  \
         DECLARE parts LONGTEXT;\n  \
         SELECT GROUP_CONCAT(CONCAT('{cqq}.', {hh}, ' TO {oqq}.', {hn}) ORDER BY h.ord SEPARATOR ', ') INTO parts\n    \
         FROM {m} h JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = {c} AND BINARY t.TABLE_NAME = BINARY h.hidden\n    \
         WHERE h.side = 'hidden' AND h.kind = 'TABLE';\n  \
         IF parts IS NOT NULL THEN\n    \
         EXECUTE IMMEDIATE CONCAT('RENAME TABLE ', parts);\n  \
         END IF;\n\
         END$$\n",
        cqq = cq.replace('\'', "''"),
        oqq = oq.replace('\'', "''"),
        hh = q_expr("h.hidden"),
        hn = q_expr("h.name"),
    ));
    // 3. The previous routines, views, triggers and events, in O (best
    //    effort: O is only the previous copy; the safety backup has all).
    sql.push_str(&format!("USE {oq}$$\n"));
    sql.push_str(&replay_block(&m, Side::Old, ROUTINES, false));
    sql.push_str(&views_block(&m, Side::Old, false));
    sql.push_str(&replay_block(&m, Side::Old, "'TRIGGER', 'EVENT'", false));
    // 4. ... and out of C: the views set aside, the routines and events.
    sql.push_str(&format!(
        "BEGIN NOT ATOMIC\n  \
         FOR r IN (SELECT hidden FROM {m} WHERE side = 'hidden' AND kind = 'VIEW') DO\n    \
         EXECUTE IMMEDIATE CONCAT('DROP VIEW IF EXISTS {cqq}.', {hh});\n  \
         END FOR;\n  \
         FOR r IN (SELECT kind, name, sql_mode FROM {m} WHERE side = 'old' AND kind IN ({routines}) ORDER BY ord DESC) DO\n    \
         SET SESSION sql_mode = r.sql_mode;\n    \
         EXECUTE IMMEDIATE CONCAT('DROP ', r.kind, ' IF EXISTS {cqq}.', {n});\n    \
         SET SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION';\n  \
         END FOR;\n\
         END$$\n",
        cqq = cq.replace('\'', "''"),
        hh = q_expr("r.hidden"),
        n = q_expr("r.name"),
    ));
    // 5. The new routines, views, triggers and events, in C: these must
    //    all succeed (each succeeded in S).
    sql.push_str(&format!("USE {cq}$$\n"));
    sql.push_str(&replay_block(&m, Side::New, ROUTINES, true));
    sql.push_str(&views_block(&m, Side::New, true));
    sql.push_str(&replay_block(&m, Side::New, "'TRIGGER', 'EVENT'", true));
    // 6. The accounts back; S, the loader and the grants gone; the marker last.
    sql.push_str(&unlock_block(&m));
    sql.push_str(&kill_sessions_block(swap, None));
    sql.push_str(&revoke_block(swap));
    sql.push_str("DELIMITER ;\n");
    sql.push_str(&format!(
        "DROP USER IF EXISTS {};\nDROP DATABASE IF EXISTS {};\nDROP TABLE {m};\n",
        swap.loader_account(),
        quote_ident(&swap.scratch)
    ));
    sql.push_str(&format!(
        "SELECT CONCAT('budgie-tables:', COUNT(*)) FROM information_schema.TABLES WHERE TABLE_SCHEMA = {c} AND TABLE_TYPE <> 'VIEW';\n\
         SELECT CONCAT('budgie-skipped:', @budgie_skipped);\n"
    ));
    sql
}

/// Undoes everything before the commit point: unlocks what the marker
/// (in `S`) lists, ends the loader's and `S`'s sessions, drops the loader,
/// the grants, `S`, and `O` (only while it holds nothing). Refuses when
/// the marker is in `O` (the swap happened: roll forward instead).
pub fn rollback_sql(swap: &Swap) -> String {
    let o = quote_string(&swap.old);
    let m = format!(
        "{}.{}",
        quote_ident(&swap.scratch),
        quote_ident(&swap.marker)
    );
    let mut sql = session_header();
    sql.push_str("DELIMITER $$\n");
    sql.push_str(&format!(
        "BEGIN NOT ATOMIC\n  \
         IF EXISTS (SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = {o} AND TABLE_NAME = {}) THEN\n    \
         SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'the swap happened: roll it forward, do not roll it back';\n  \
         END IF;\n\
         END$$\n",
        quote_string(&swap.marker)
    ));
    sql.push_str(&format!(
        "BEGIN NOT ATOMIC\n  \
         IF EXISTS (SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = {s} AND TABLE_NAME = {mk}) THEN\n    \
         FOR r IN (SELECT name FROM {m} WHERE side = 'locked' ORDER BY ord) DO\n      \
         EXECUTE IMMEDIATE CONCAT('ALTER USER IF EXISTS ', r.name, ' ACCOUNT UNLOCK');\n    \
         END FOR;\n  \
         END IF;\n\
         END$$\n",
        s = quote_string(&swap.scratch),
        mk = quote_string(&swap.marker),
    ));
    sql.push_str(&kill_sessions_block(swap, None));
    sql.push_str(&revoke_block(swap));
    sql.push_str("DELIMITER ;\n");
    // The account and the grants before the databases: a crash in between
    // leaves a database, by whose name the next budgie finds the rest.
    sql.push_str(&format!(
        "DROP USER IF EXISTS {};\nDROP DATABASE IF EXISTS {};\n",
        swap.loader_account(),
        quote_ident(&swap.scratch)
    ));
    sql.push_str("DELIMITER $$\n");
    // O only while empty: before the commit point it always is.
    sql.push_str(&format!(
        "BEGIN NOT ATOMIC\n  \
         IF NOT EXISTS (SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = {o})\n    \
         AND NOT EXISTS (SELECT 1 FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = {o})\n    \
         AND NOT EXISTS (SELECT 1 FROM information_schema.EVENTS WHERE EVENT_SCHEMA = {o}) THEN\n    \
         EXECUTE IMMEDIATE 'DROP DATABASE IF EXISTS {}';\n  \
         END IF;\n\
         END$$\n",
        quote_ident(&swap.old).replace('\'', "''")
    ));
    sql.push_str("DELIMITER ;\n");
    sql
}
