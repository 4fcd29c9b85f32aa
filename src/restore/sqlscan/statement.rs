//! A statement as the scan reads it: its first words, and the few things
//! in the rest that matter (see the module documentation of `sqlscan`).

/// The words kept of each statement's head: enough to say what it is.
pub const HEAD_WORDS: usize = 6;

/// Functions that read or write the server's files, or reach other hosts.
pub const DANGEROUS_FUNCTIONS: [&str; 19] = [
    "pg_read_file",
    "pg_read_binary_file",
    "pg_ls_dir",
    "pg_stat_file",
    "pg_ls_logdir",
    "pg_ls_waldir",
    "pg_ls_tmpdir",
    "pg_ls_archive_statusdir",
    "pg_file_write",
    "pg_file_rename",
    "pg_file_unlink",
    "pg_logdir_ls",
    "lo_import",
    "lo_export",
    "dblink",
    "dblink_exec",
    "dblink_connect",
    "dblink_connect_u",
    "pg_reload_conf",
];

/// A statement being read: its first words, and what the rest says that
/// matters. Its buffers are reused from one statement to the next (a dump
/// of `INSERT`s has millions).
#[derive(Debug, Default)]
pub struct Statement {
    /// The first [`HEAD_WORDS`] words, lowercased (`words[..heads]`).
    pub words: Vec<String>,
    pub heads: usize,
    pub program: bool,
    pub superuser: bool,
    pub from_stdin: bool,
    pub names_scs: bool,
    /// The last word was `FROM` (for `FROM stdin`).
    pub after_from: bool,
    /// The last word was `ON`; and `ON DATABASE` was read.
    pub after_on: bool,
    pub on_database: bool,
    /// The word `DROP` was read.
    pub drop_word: bool,
    /// The last token was the word `TO` or `FROM` (a file name may follow).
    pub after_to_from: bool,
    /// A string literal right after `TO`/`FROM`: in a COPY, a server file.
    pub file_string: bool,
    /// The name just read (a word, lowercased, or a quoted name), valid
    /// while `has_last_word`: `name (` is a call.
    pub last_word: String,
    pub has_last_word: bool,
    /// Any SQL text (not whitespace or comments) since the last `;`.
    pub started: bool,
    /// The first short string literals, lowercased (`strings[..nstrings]`).
    pub strings: Vec<String>,
    pub nstrings: usize,
    pub string: Vec<u8>,
}

impl Statement {
    pub fn reset(&mut self) {
        (self.heads, self.nstrings) = (0, 0);
        self.program = false;
        self.superuser = false;
        self.from_stdin = false;
        self.names_scs = false;
        self.after_from = false;
        self.after_on = false;
        self.on_database = false;
        self.drop_word = false;
        self.after_to_from = false;
        self.file_string = false;
        self.has_last_word = false;
        self.started = false;
        self.string.clear();
    }

    pub fn head(&self) -> Vec<&str> {
        self.words[..self.heads]
            .iter()
            .map(String::as_str)
            .collect()
    }

    /// Copies `text` into the reused slot `i` of `list`.
    fn keep(list: &mut Vec<String>, i: usize, text: &str) {
        if i < list.len() {
            list[i].clear();
            list[i].push_str(text);
        } else {
            list.push(text.to_string());
        }
    }

    /// A word was read (`word` as written; kept lowercased).
    pub fn word(&mut self, word: &[u8]) {
        self.last_word.clear();
        self.last_word.extend(
            String::from_utf8_lossy(word)
                .chars()
                .map(|c| c.to_ascii_lowercase()),
        );
        self.has_last_word = true;
        let w = self.last_word.as_str();
        if self.heads < HEAD_WORDS {
            Statement::keep(&mut self.words, self.heads, w);
            self.heads += 1;
        }
        self.program |= w == "program";
        self.superuser |= w == "superuser";
        self.names_scs |= w == "standard_conforming_strings";
        self.from_stdin |= self.after_from && w == "stdin";
        self.on_database |= self.after_on && w == "database";
        self.drop_word |= w == "drop";
        self.after_on = w == "on";
        self.after_from = w == "from";
        self.after_to_from = w == "to" || w == "from";
    }

    /// A quoted name (as written) was read: never a keyword.
    pub fn name(&mut self, name: String) {
        if self.heads < HEAD_WORDS {
            Statement::keep(&mut self.words, self.heads, &name);
            self.heads += 1;
        }
        self.last_word = name;
        self.has_last_word = true;
        self.after_on = false;
        self.after_from = false;
        self.after_to_from = false;
    }

    /// A string literal ended.
    pub fn string_done(&mut self) {
        self.file_string |= self.after_to_from;
        self.after_from = false;
        self.after_to_from = false;
        // Only a statement's first strings matter (a setting's value); a
        // long INSERT's are data.
        if self.nstrings < 8 {
            let s = String::from_utf8_lossy(&self.string).to_ascii_lowercase();
            self.names_scs |= s == "standard_conforming_strings";
            Statement::keep(&mut self.strings, self.nstrings, &s);
            self.nstrings += 1;
        }
        self.string.clear();
    }
}
