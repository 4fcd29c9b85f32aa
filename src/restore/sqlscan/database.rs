//! What a plain dump says about the database itself, and what the scan
//! does with it. budgie loads every file into a scratch database of its
//! own, so:
//!
//! - a dump made with `pg_dump --create` (and every section of a
//!   `pg_dumpall` file) creates, alters, comments and grants on its
//!   database by name, then `\connect`s to it: those statements are left
//!   out of the stream, never run (run, they would reach the live database
//!   of that name), and the one `\connect` to the database the file
//!   created is understood and left out too, so psql stays in the scratch
//!   database;
//! - a dump made with `--clean` begins by dropping every object it is about
//!   to create: in the empty scratch database they do not exist, and those
//!   leading drops are left out;
//! - writes to the server's shared catalogs (`pg_authid`, `pg_database`...)
//!   reach every database of the server: refused.
//!
//! What was left out is reported ([`Notes`]), so that a setting of the
//! database (`ALTER DATABASE app SET ...`) does not vanish unsaid.

/// The catalogs shared by every database of a server: a write to one
/// changes roles, databases or settings outside the scratch database.
pub const SHARED_CATALOGS: [&str; 11] = [
    "pg_authid",
    "pg_auth_members",
    "pg_database",
    "pg_db_role_setting",
    "pg_tablespace",
    "pg_shdepend",
    "pg_shdescription",
    "pg_shseclabel",
    "pg_replication_origin",
    "pg_subscription",
    "pg_parameter_acl",
];

/// Settings a newer pg_dump writes at the top of every file, with the
/// `server_version_num` that first knew them: to an older server,
/// `SET transaction_timeout = 0` is an error that stops the load, and
/// leaving it out changes nothing (0 is the default: no timeout).
pub const NEWER_SETTINGS: [(&str, u32); 3] = [
    ("transaction_timeout", 170000),
    ("default_toast_compression", 140000),
    ("default_table_access_method", 120000),
];

/// The setting a `SET name = ...` statement makes, when the server
/// (`server_version_num`) does not know it.
pub fn unknown_setting(head: &[&str], server: Option<u32>) -> Option<(&'static str, u32)> {
    let server = server?;
    let ["set", name, ..] = head else {
        return None;
    };
    NEWER_SETTINGS
        .iter()
        .find(|(setting, since)| setting == name && server < *since)
        .copied()
}

/// What a statement is, for the rules above.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// About the database itself: left out. `created` names the database a
    /// `CREATE DATABASE` makes (the one `\connect` may go to).
    Database {
        created: Option<String>,
        setting: bool,
    },
    /// A `--clean` drop before anything was created: left out.
    CleanDrop,
    /// A write to a shared catalog: refused.
    SharedCatalog(String),
    /// Anything else: judged as SQL.
    Other,
}

/// Classifies a statement by its first words (lowercased; quoted names as
/// written), whether it names `ON DATABASE` and the word `DROP`, and
/// whether anything but settings came before it (`content_seen`).
pub fn classify(head: &[&str], on_database: bool, drop_word: bool, content_seen: bool) -> Kind {
    match head {
        ["create", "database", name, ..] => {
            return Kind::Database {
                created: Some((*name).to_string()),
                setting: false,
            };
        }
        ["create" | "drop", "database", ..] => {
            return Kind::Database {
                created: None,
                setting: false,
            };
        }
        ["alter", "database", _, what, ..] => {
            return Kind::Database {
                created: None,
                setting: *what == "set" || *what == "reset",
            };
        }
        ["alter", "database", ..] => {
            return Kind::Database {
                created: None,
                setting: false,
            };
        }
        ["comment" | "grant" | "revoke" | "security", ..] if on_database => {
            return Kind::Database {
                created: None,
                setting: false,
            };
        }
        // pg_dumpall --clean, before it drops and creates template1 again.
        [
            "update",
            "pg_catalog",
            "pg_database",
            "set",
            "datistemplate",
            ..,
        ] => {
            return Kind::Database {
                created: None,
                setting: false,
            };
        }
        _ => {}
    }
    if let [first, rest @ ..] = head
        && matches!(
            *first,
            "update" | "insert" | "delete" | "merge" | "truncate"
        )
        && let Some(catalog) = rest.iter().find(|w| SHARED_CATALOGS.contains(*w))
    {
        return Kind::SharedCatalog((*catalog).to_string());
    }
    let dropping = head.first() == Some(&"drop") || (head.first() == Some(&"alter") && drop_word);
    if dropping && !content_seen {
        return Kind::CleanDrop;
    }
    Kind::Other
}

/// Whether a statement with this head is only a setting or a query (the
/// head of every pg_dump file), so that `--clean` drops may still follow.
pub fn is_preamble(head: &[&str]) -> bool {
    matches!(head.first(), None | Some(&"set") | Some(&"select"))
}

/// The database a `\connect` line goes to, as pg_dump writes it
/// (`appendPsqlMetaConnect`): `\connect NAME` for a simple name, else
/// `\connect -reuse-previous=on "dbname='NAME'"` (the connection string
/// quoted as an SQL identifier, its value with `\'` and `\\`). None for any
/// other form (a host, a user, a second argument).
pub fn connect_target(args: &str) -> Option<String> {
    let args = args.trim();
    let Some(quoted) = args.strip_prefix("-reuse-previous=on ") else {
        let simple = !args.is_empty()
            && args
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$');
        return simple.then(|| args.to_string());
    };
    let inner = quoted.trim().strip_prefix('"')?.strip_suffix('"')?;
    if inner.replace("\"\"", "").contains('"') {
        return None;
    }
    let connstr = inner.replace("\"\"", "\"");
    let value = connstr.strip_prefix("dbname=")?;
    let Some(quoted) = value.strip_prefix('\'') else {
        let plain = !value.is_empty() && !value.contains([' ', '\'', '\\', '=']);
        return plain.then(|| value.to_string());
    };
    let mut name = String::new();
    let mut chars = quoted.chars();
    loop {
        match chars.next()? {
            '\\' => name.push(chars.next()?),
            '\'' => return chars.as_str().is_empty().then_some(name),
            c => name.push(c),
        }
    }
}

/// What the scan left out, to be said after the load.
#[derive(Debug, Default, Clone)]
pub struct Notes {
    /// Statements about the database itself: line and text.
    pub database: Vec<(u64, String)>,
    /// Of those, the database's own settings (`ALTER DATABASE ... SET`).
    pub settings: Vec<String>,
    /// `--clean` drops before anything was created.
    pub clean_drops: u64,
    /// The `\connect` lines understood.
    pub connects: u64,
    /// Settings the server does not know, left out: line, text, and the
    /// release that introduced the setting.
    pub unknown_settings: Vec<(u64, String, u32)>,
}

impl Notes {
    /// What to tell the user, a line each; empty when nothing was left out.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if !self.database.is_empty() {
            let shown: Vec<String> = self
                .database
                .iter()
                .take(6)
                .map(|(line, text)| format!("{text} (line {line})"))
                .collect();
            let more = self.database.len().saturating_sub(shown.len());
            lines.push(format!(
                "left out {} statement{} about the database itself, which budgie replaces by its own copy: {}{}",
                self.database.len(),
                if self.database.len() == 1 { "" } else { "s" },
                shown.join("; "),
                if more > 0 { format!("; and {more} more") } else { String::new() }
            ));
        }
        if self.connects > 0 {
            lines.push(format!(
                "the file's \\connect to its own database ({}) was understood: it was loaded into budgie's copy",
                self.connects
            ));
        }
        if !self.settings.is_empty() {
            lines.push(format!(
                "settings of the database itself are not restored; apply them again if you need them: {}",
                self.settings.join("; ")
            ));
        }
        for (line, text, since) in &self.unknown_settings {
            lines.push(format!(
                "left out `{text}` (line {line}): a setting of PostgreSQL {} and later, which this server does not know (the file was written by a newer pg_dump)",
                crate::databases::postgres::major_label(*since)
            ));
        }
        if self.clean_drops > 0 {
            lines.push(format!(
                "left out the file's {} leading DROP statement{} (a --clean dump): the copy it is loaded into starts empty",
                self.clean_drops,
                if self.clean_drops == 1 { "" } else { "s" }
            ));
        }
        lines
    }
}

/// A statement's text for a note: whitespace collapsed, without its `;`,
/// at most 100 characters.
pub fn shorten(text: &[u8]) -> String {
    let text = String::from_utf8_lossy(text);
    let text = text.trim_end().trim_end_matches(';');
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut out = words.join(" ");
    if out.chars().count() > 100 {
        out = out.chars().take(97).collect::<String>() + "...";
    }
    out
}
