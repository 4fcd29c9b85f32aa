//! The MariaDB module's pure parts: argv, SQL text, parsing.

use super::commit::*;
use super::*;
use crate::compose::{Database, Secret};
use crate::engine::Engine;

fn db(user: &str, name: &str, password: Option<&str>) -> Database {
    Database {
        service: "db".into(),
        kind: crate::compose::DbKind::Mariadb,
        detected_by: crate::compose::DetectedBy::Image,
        user: user.into(),
        name: name.into(),
        password_var: None,
        admin_password: None,
        password: password.map(Secret::new),
        volume: None,
        data_dir: "/var/lib/mysql".into(),
        storage: crate::compose::Storage::Container,
        problem: None,
    }
}

fn engine() -> (Engine, tempfile::TempDir) {
    Engine::stub(crate::engine::EngineKind::Podman)
}

#[test]
fn the_dump_is_of_one_database_with_every_object_and_no_password_in_argv() {
    let (engine, _dir) = engine();
    let d = db("app", "shop", Some("s3cret"));
    let cmd = dump_command(&engine, "c1", Tools::MARIADB, &d);
    let argv = cmd.argv.join(" ");
    assert!(
        argv.ends_with(
            "exec -e MYSQL_PWD c1 mariadb-dump --single-transaction --routines --triggers --events --hex-blob --default-character-set=utf8mb4 --skip-dump-date --no-tablespaces --max-allowed-packet=1073741824 --user=app -- shop"
        ),
        "{argv}"
    );
    assert!(!argv.contains("s3cret"), "{argv}");
    assert!(!argv.contains("--databases"), "{argv}");
    assert_eq!(cmd.env.len(), 1);
    assert_eq!(cmd.env[0].0, "MYSQL_PWD");
    assert_eq!(cmd.env[0].1.expose(), "s3cret");
    // MySQL: its own names, and no GTID_PURGED in the dump.
    let cmd = dump_command(&engine, "c1", Tools::MYSQL, &d);
    assert!(cmd.argv.iter().any(|a| a == "mysqldump"));
    assert!(cmd.argv.iter().any(|a| a == "--set-gtid-purged=OFF"));
    // No password: no MYSQL_PWD at all.
    let cmd = dump_command(&engine, "c1", Tools::MARIADB, &db("root", "x", None));
    assert!(cmd.env.is_empty());
    assert!(!cmd.argv.iter().any(|a| a == "-e"));
    // A database named like an option stays a name.
    let args = dump_args(Tools::MARIADB, &db("app", "--all-databases", None));
    assert_eq!(&args[args.len() - 2..], ["--", "--all-databases"]);
}

#[test]
fn the_ready_probe_goes_over_tcp() {
    let (engine, _dir) = engine();
    let cmd = isready_command(
        &engine,
        "c1",
        Tools::MARIADB,
        &db("app", "shop", Some("pw")),
    );
    let argv = cmd.argv.join(" ");
    assert!(
        argv.ends_with(
            "exec -e MYSQL_PWD c1 mariadb-admin --protocol=TCP --host=127.0.0.1 --port=3306 --connect-timeout=2 --silent --user=app ping"
        ),
        "{argv}"
    );
    assert!(!argv.contains("pw "));
}

/// The last bytes of real dumps from mariadb-dump 10.11.
const END_DATED: &str = "/*!40101 SET COLLATION_CONNECTION=@OLD_COLLATION_CONNECTION */;\n/*!40111 SET SQL_NOTES=@OLD_SQL_NOTES */;\n\n-- Dump completed on 2026-11-30  7:55:54\n";
const END_UNDATED: &str = "/*!40101 SET COLLATION_CONNECTION=@OLD_COLLATION_CONNECTION */;\n/*!40111 SET SQL_NOTES=@OLD_SQL_NOTES */;\n\n-- Dump completed\n";
/// A dump stopped by an error (exit status 2): no trailer.
const END_FAILED: &str = "/*!50003 SET collation_connection  = @saved_col_connection */ ;\n\n-- insufficient privileges to SHOW CREATE PROCEDURE `rootproc`\n-- does app have permissions on mysql.proc?\n\n";
/// `--skip-comments`: complete, but no trailer (budgie never makes these).
const END_NO_COMMENTS: &str = "/*!40101 SET COLLATION_CONNECTION=@OLD_COLLATION_CONNECTION */;\n/*!40111 SET SQL_NOTES=@OLD_SQL_NOTES */;\n\n";

#[test]
fn a_dump_is_complete_when_it_ends_with_the_trailer() {
    assert!(crate::backup::format::mariadb_dump_is_complete(
        END_DATED.as_bytes()
    ));
    assert!(crate::backup::format::mariadb_dump_is_complete(
        END_UNDATED.as_bytes()
    ));
    assert!(crate::backup::format::mariadb_dump_is_complete(
        b"-- Dump completed"
    ));
    assert!(crate::backup::format::mariadb_dump_is_complete(
        b"x;\r\n-- Dump completed on 2024-01-01 12:00:00\r\n\r\n"
    ));
    assert!(!crate::backup::format::mariadb_dump_is_complete(
        END_FAILED.as_bytes()
    ));
    assert!(!crate::backup::format::mariadb_dump_is_complete(
        END_NO_COMMENTS.as_bytes()
    ));
    assert!(!crate::backup::format::mariadb_dump_is_complete(b""));
    // Cut inside the trailer, or with anything after it.
    assert!(!crate::backup::format::mariadb_dump_is_complete(
        b"\n-- Dump comple"
    ));
    assert!(!crate::backup::format::mariadb_dump_is_complete(
        b"\n-- Dump completedX\n"
    ));
    assert!(!crate::backup::format::mariadb_dump_is_complete(
        b"-- Dump completed on 2026-11-30  7:55:54\nINSERT INTO `t` VALUES (1"
    ));
    // A PostgreSQL dump is not a MariaDB one.
    assert!(!crate::backup::format::mariadb_dump_is_complete(
        b"--\n-- PostgreSQL database dump complete\n--\n"
    ));
}

#[test]
fn identifiers_strings_and_grant_names_are_quoted() {
    assert_eq!(quote_ident("shop"), "`shop`");
    assert_eq!(quote_ident("odd name`x"), "`odd name``x`");
    assert_eq!(quote_string("it's"), "'it''s'");
    assert_eq!(quote_string("a\\b\0c"), "'a\\\\b\\0c'");
    assert_eq!(hex_string("é'"), "CONVERT(X'C3A927' USING utf8mb4)");
    assert_eq!(hex_string(""), "''");
    assert_eq!(grant_db("my_app%1"), "`my\\_app\\%1`");
    assert_eq!(like_exact("a_b%c\\d"), "a\\_b\\%c\\\\d");
}

#[test]
fn side_names_fit_an_identifier() {
    assert_eq!(
        side_name("shop", "restore", "20260101120000"),
        "shop_budgie_restore_20260101120000"
    );
    let n = side_name(&"x".repeat(80), "restore", "20260101120000");
    assert_eq!(n.len(), 64, "{n}");
    assert!(n.ends_with("_budgie_restore_20260101120000"));
    let n = side_name(&"é".repeat(40), "old", "20260101120000");
    assert!(n.len() <= 64, "{n}");
    assert!(n.ends_with("_budgie_old_20260101120000"));
    let swap = Swap::new("shop", "20260101120000");
    assert_eq!(swap.scratch, "shop_budgie_restore_20260101120000");
    assert_eq!(swap.old, "shop_budgie_old_20260101120000");
    assert_eq!(swap.loader, "budgie_restore_20260101120000");
    assert!(swap.loader.len() <= 32, "MySQL's limit for account names");
    assert_eq!(swap.marker, "budgie_swap_20260101120000");
    assert_eq!(
        swap.loader_account(),
        "'budgie_restore_20260101120000'@'localhost'"
    );
}

#[test]
fn finds_the_tables_a_dump_creates() {
    assert_eq!(
        table_in_create_line(b"CREATE TABLE `customer` ("),
        Some("customer".into())
    );
    assert_eq!(
        table_in_create_line(b"CREATE TABLE `odd name``x` ("),
        Some("odd name`x".into())
    );
    assert_eq!(
        table_in_create_line(b"CREATE SEQUENCE `seq1` start with 1 minvalue 1"),
        Some("seq1".into())
    );
    assert_eq!(
        table_in_create_line(b"CREATE TABLE IF NOT EXISTS `t` ("),
        Some("t".into())
    );
    assert_eq!(
        table_in_create_line(b"/*!50001 CREATE VIEW `big_orders` AS SELECT"),
        None
    );
    assert_eq!(table_in_create_line(b"CREATE TABLE `cut"), None);
    assert_eq!(table_in_create_line(b"INSERT INTO `t` VALUES (1)"), None);
}

#[test]
fn batch_output_is_unescaped() {
    assert_eq!(unescape_batch("a\\tb\\nc\\\\d\\0"), "a\tb\nc\\d\0");
    assert_eq!(unescape_batch("plain"), "plain");
    assert_eq!(unescape_batch("end\\"), "end\\");
}

#[test]
fn show_create_statements_become_replayable() {
    assert_eq!(
        or_replace("CREATE DEFINER=`app`@`%` TRIGGER t AFTER INSERT ON o FOR EACH ROW SET @x = 1"),
        "CREATE OR REPLACE DEFINER=`app`@`%` TRIGGER t AFTER INSERT ON o FOR EACH ROW SET @x = 1"
    );
    assert_eq!(
        or_replace("CREATE OR REPLACE VIEW v AS SELECT 1"),
        "CREATE OR REPLACE VIEW v AS SELECT 1"
    );
    let ev = "CREATE DEFINER=`app`@`%` EVENT `nightly` ON SCHEDULE EVERY 1 DAY STARTS '2026-11-30 07:55:54' ON COMPLETION NOT PRESERVE ENABLE COMMENT 'ON COMPLETION PRESERVE ENABLE' DO DELETE FROM audit";
    assert_eq!(
        disable_event(ev),
        "CREATE DEFINER=`app`@`%` EVENT `nightly` ON SCHEDULE EVERY 1 DAY STARTS '2026-11-30 07:55:54' ON COMPLETION NOT PRESERVE DISABLE COMMENT 'ON COMPLETION PRESERVE ENABLE' DO DELETE FROM audit"
    );
    let off = "CREATE EVENT `e` ON SCHEDULE AT '2030-01-01 00:00:00' ON COMPLETION PRESERVE DISABLE ON SLAVE DO SELECT 1";
    assert_eq!(
        disable_event(off),
        "CREATE EVENT `e` ON SCHEDULE AT '2030-01-01 00:00:00' ON COMPLETION PRESERVE DISABLE DO SELECT 1"
    );
    let already =
        "CREATE EVENT `e` ON SCHEDULE EVERY 1 DAY ON COMPLETION NOT PRESERVE DISABLE DO SELECT 1";
    assert_eq!(disable_event(already), already);
}

#[test]
fn inspect_output_is_parsed_by_kind() {
    // As the client prints it (tab-separated, escaped), from 10.11.
    let out = "budgie-table\taudit\nbudgie-table\todd name`x\n\
        budgie-def\tnew\tTRIGGER\torders_ai\n\
        orders_ai\tSTRICT_TRANS_TABLES\tCREATE DEFINER=`app`@`%` TRIGGER orders_ai AFTER INSERT ON orders FOR EACH ROW INSERT INTO audit(msg) VALUES ('a\\tb')\tlatin1\tlatin1_swedish_ci\tutf8mb4_general_ci\t2026-11-30 08:01:03.08\n\
        budgie-def\tnew\tVIEW\tbig_orders\n\
        big_orders\tCREATE ALGORITHM=UNDEFINED DEFINER=`app`@`%` SQL SECURITY DEFINER VIEW `big_orders` AS select 1 AS `x`\tlatin1\tlatin1_swedish_ci\n\
        budgie-def\tnew\tPROCEDURE\tadd_order\n\
        add_order\tSTRICT_TRANS_TABLES\tCREATE DEFINER=`app`@`%` PROCEDURE `add_order`(IN c INT)\\nBEGIN SELECT c; END\tlatin1\tlatin1_swedish_ci\tutf8mb4_general_ci\n\
        budgie-def\told\tEVENT\tnightly\n\
        nightly\tSTRICT_TRANS_TABLES\tSYSTEM\tCREATE DEFINER=`app`@`%` EVENT `nightly` ON SCHEDULE EVERY 1 DAY STARTS '2026-11-30 07:55:54' ON COMPLETION NOT PRESERVE ENABLE DO DELETE FROM audit\tutf8mb4\tutf8mb4_general_ci\tutf8mb4_general_ci\n";
    let loaded = parse_inspect(out).unwrap();
    assert_eq!(loaded.tables, ["audit", "odd name`x"]);
    assert_eq!(
        loaded.missing(&["audit".into(), "orders".into()]),
        ["orders"]
    );
    let d = &loaded.definitions;
    assert_eq!(d.len(), 4);
    assert_eq!((d[0].side, d[0].kind.as_str()), (Side::New, "TRIGGER"));
    assert_eq!(d[0].sql_mode, "STRICT_TRANS_TABLES");
    assert_eq!(d[0].collation_connection, "latin1_swedish_ci");
    assert!(d[0].statement.starts_with("CREATE OR REPLACE DEFINER"));
    assert!(d[0].statement.ends_with("VALUES ('a\tb')"));
    assert_eq!(d[1].kind, "VIEW");
    assert_eq!(d[1].sql_mode, "");
    assert_eq!(d[1].collation_connection, "latin1_swedish_ci");
    assert!(d[2].statement.contains(")\nBEGIN"));
    assert_eq!((d[3].side, d[3].time_zone.as_str()), (Side::Old, "SYSTEM"));
    assert!(
        d[3].statement.contains("NOT PRESERVE DISABLE DO"),
        "{}",
        d[3].statement
    );
    // A definition the admin may not read is an error, not a silent gap.
    let e = parse_inspect("budgie-def\tnew\tPROCEDURE\tp\np\tX\tNULL\tlatin1\tx\ty\n").unwrap_err();
    assert!(e.message.contains("procedure p"), "{}", e.message);
    assert!(parse_inspect("budgie-def\tnew\tVIEW\tv\n").is_err());
}

#[test]
fn the_commit_renames_everything_in_one_statement_and_moves_the_marker_last() {
    let swap = Swap::new("shop", "20260101120000");
    let loaded = Loaded {
        tables: vec!["t".into()],
        definitions: vec![Definition {
            side: Side::New,
            kind: "VIEW".into(),
            name: "v".into(),
            sql_mode: String::new(),
            collation_connection: "utf8mb4_general_ci".into(),
            time_zone: String::new(),
            statement: "CREATE OR REPLACE VIEW `v` AS select 1".into(),
        }],
    };
    let sql = commit_sql(&swap, &loaded);
    assert_eq!(
        sql.matches("RENAME TABLE").count(),
        2,
        "commit + roll-forward"
    );
    let rename = sql
        .find("EXECUTE IMMEDIATE CONCAT('RENAME TABLE ', IFNULL")
        .unwrap();
    assert!(sql[rename..].contains(
        "'`shop_budgie_restore_20260101120000`.`budgie_swap_20260101120000` TO `shop_budgie_old_20260101120000`.`budgie_swap_20260101120000`')"
    ));
    // The record goes in before anything is locked, locked before killed,
    // killed before the rename.
    let at = |s: &str| sql.find(s).unwrap_or_else(|| panic!("{s} missing"));
    assert!(at("CREATE TABLE `shop_budgie_restore_20260101120000`") < at("ACCOUNT LOCK"));
    assert!(at("ACCOUNT LOCK") < at("KILL CONNECTION"));
    assert!(at("KILL CONNECTION") < rename);
    assert!(rename < at("ACCOUNT UNLOCK"));
    // The definition travels as hex, whatever it holds.
    assert!(sql.contains(&hex_string("CREATE OR REPLACE VIEW `v` AS select 1")));
    assert!(sql.contains(&format!(
        "SET SESSION lock_wait_timeout = {SWAP_LOCK_WAIT_SECS};"
    )));
    // The hidden names are the stamp's.
    assert!(sql.contains("'budgie_old_20260101120000_'"));
    assert!(
        sql.contains("'budgie\\\\_old\\\\_20260101120000\\\\_%'"),
        "{sql}"
    );
}

#[test]
fn roll_forward_and_rollback_refuse_the_wrong_side_of_the_commit_point() {
    let swap = Swap::new("shop", "20260101120000");
    let fwd = roll_forward_sql(&swap);
    assert!(fwd.contains("IF NOT EXISTS (SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'shop_budgie_old_20260101120000' AND TABLE_NAME = 'budgie_swap_20260101120000')"));
    assert!(
        fwd.trim_end()
            .ends_with("SELECT CONCAT('budgie-skipped:', @budgie_skipped);")
    );
    // The marker is dropped last, after S, the loader and the grants.
    let at = |s: &str| fwd.find(s).unwrap_or_else(|| panic!("{s} missing"));
    assert!(
        at("DROP DATABASE IF EXISTS `shop_budgie_restore_20260101120000`")
            < at("DROP TABLE `shop_budgie_old_20260101120000`.`budgie_swap_20260101120000`")
    );
    assert!(
        at("DROP USER IF EXISTS 'budgie_restore_20260101120000'@'localhost'")
            < at("DROP TABLE `shop_budgie_old")
    );
    let back = rollback_sql(&swap);
    assert!(back.contains("IF EXISTS (SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'shop_budgie_old_20260101120000' AND TABLE_NAME = 'budgie_swap_20260101120000')"));
    assert!(!back.contains("DROP DATABASE IF EXISTS `shop`;"));
    assert!(!fwd.contains("DROP DATABASE IF EXISTS `shop`;"));
}

#[test]
fn the_state_follows_the_marker() {
    // scratch, marker in S, marker in O, old, loader, grants
    assert_eq!(state_of(&[false; 6]), SwapState::Absent);
    assert_eq!(
        state_of(&[true, false, false, true, true, true]),
        SwapState::NotSwapped
    );
    assert_eq!(
        state_of(&[true, true, false, true, true, true]),
        SwapState::NotSwapped
    );
    assert_eq!(
        state_of(&[false, false, false, false, true, false]),
        SwapState::NotSwapped
    );
    assert_eq!(
        state_of(&[true, false, true, true, true, true]),
        SwapState::Swapped
    );
    assert_eq!(
        state_of(&[false, false, true, true, false, false]),
        SwapState::Swapped
    );
    assert_eq!(
        state_of(&[false, false, false, true, false, false]),
        SwapState::Done
    );
}

#[test]
fn restores_need_mariadb_10_6() {
    assert!(restore_support("10.11.19-MariaDB-0+deb12u1").is_ok());
    assert!(restore_support("11.4.2-MariaDB-ubu2404").is_ok());
    assert!(restore_support("10.6.0-MariaDB").is_ok());
    assert!(restore_support("10.5.27-MariaDB").is_err());
    assert!(restore_support("8.0.36").unwrap_err().contains("MySQL"));
    assert_eq!(
        Tools::from_mysqldump_version(
            "mysqldump  Ver 10.19 Distrib 10.4.34-MariaDB, for debian-linux-gnu (x86_64)"
        ),
        Tools::MARIADB_MYSQL_NAMES
    );
    assert_eq!(
        Tools::from_mysqldump_version("mysqldump  Ver 8.0.36 for Linux on x86_64"),
        Tools::MYSQL
    );
}

#[test]
fn the_loader_is_confined_to_the_scratch_database() {
    let swap = Swap::new("my_app", "20260101120000");
    let pw = Secret::new("Bg7-0123");
    let sql = prepare_sql(&swap, &pw);
    assert!(sql.contains(
        "ON `my\\_app\\_budgie\\_restore\\_20260101120000`.* TO 'budgie_restore_20260101120000'@'localhost';"
    ), "{sql}");
    assert!(!sql.contains("ALL PRIVILEGES"));
    assert!(!sql.contains("EXECUTE,"));
    // The password is set through a variable, never in CREATE USER's text.
    assert!(sql.contains("SET @budgie_pw = 'Bg7-0123';"));
    assert_eq!(sql.matches("Bg7-0123").count(), 1);
    let (engine, _dir) = engine();
    let cmd = load_command(&engine, "c1", Tools::MARIADB, &swap, &pw);
    let argv = cmd.argv.join(" ");
    assert!(
        argv.contains("exec -i -e MYSQL_PWD c1 mariadb --binary-mode"),
        "{argv}"
    );
    assert!(
        argv.ends_with(
            "--user=budgie_restore_20260101120000 --database=my_app_budgie_restore_20260101120000"
        ),
        "{argv}"
    );
    assert!(!argv.contains("Bg7"));
    let p = loader_password().unwrap();
    assert_eq!(p.expose().len(), 36);
    assert_ne!(p.expose(), loader_password().unwrap().expose());
}

#[test]
fn swaps_are_found_by_their_names() {
    let sql = find_swaps_sql("my_app");
    assert!(
        sql.contains("LIKE 'my\\\\_app\\\\_budgie\\\\_restore\\\\_%'"),
        "{sql}"
    );
    assert!(
        sql.contains("LIKE 'my\\\\_app\\\\_budgie\\\\_old\\\\_%'"),
        "{sql}"
    );
    let long = "y".repeat(70);
    let sql = find_swaps_sql(&long);
    assert!(
        sql.contains(&format!("'{}\\\\_budgie", "y".repeat(64 - 30))),
        "{sql}"
    );
}
