//! Which tables a dump creates: found in a plain dump's `CREATE TABLE`
//! statements as it streams past, or in a custom-format archive's
//! `pg_restore -l` listing. The restored copy must hold every one of them
//! before it is swapped in.

/// Finds the tables a plain dump creates (`schema.name`) in its
/// `CREATE TABLE` statements, fed in pieces as the dump streams past —
/// skipping COPY data, whose rows are one line each up to `\.`.
#[derive(Debug, Default)]
pub struct TableScanner {
    /// The start of the current line (enough for a statement's head).
    prefix: Vec<u8>,
    /// The last bytes of the current line (for `... FROM stdin;`).
    suffix: Vec<u8>,
    in_copy: bool,
    pub tables: Vec<String>,
}

impl TableScanner {
    const PREFIX: usize = 300;
    const SUFFIX: usize = 16;

    pub fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let (part, rest, ends) = match data.iter().position(|&b| b == b'\n') {
                Some(i) => (&data[..i], &data[i + 1..], true),
                None => (data, &data[data.len()..], false),
            };
            let room = Self::PREFIX.saturating_sub(self.prefix.len());
            self.prefix.extend_from_slice(&part[..part.len().min(room)]);
            self.suffix.extend_from_slice(part);
            if self.suffix.len() > Self::SUFFIX {
                let cut = self.suffix.len() - Self::SUFFIX;
                self.suffix.drain(..cut);
            }
            if ends {
                self.line_done();
            }
            data = rest;
        }
    }

    fn line_done(&mut self) {
        let line = std::mem::take(&mut self.prefix);
        let suffix = std::mem::take(&mut self.suffix);
        if self.in_copy {
            if line.starts_with(b"\\.") {
                self.in_copy = false;
            }
            return;
        }
        if line.starts_with(b"COPY ") && suffix.trim_ascii_end().ends_with(b"FROM stdin;") {
            self.in_copy = true;
            return;
        }
        // mariadb-dump: ``CREATE TABLE `name` (``, names unquoted.
        if let Some(name) = crate::databases::mariadb::table_in_create_line(&line) {
            self.tables.push(name);
            return;
        }
        for lead in [&b"CREATE TABLE "[..], &b"CREATE UNLOGGED TABLE "[..]] {
            if let Some(rest) = line.strip_prefix(lead)
                && let Some(end) = rest.iter().position(|&b| b == b' ' || b == b'(')
            {
                self.tables
                    .push(String::from_utf8_lossy(&rest[..end]).into_owned());
            }
        }
    }
}

/// The tables a custom-format dump creates, from `pg_restore -l`.
pub fn tables_in_custom(list: &str) -> Vec<String> {
    let mut out = Vec::new();
    for l in list.lines() {
        if l.starts_with(';') {
            continue;
        }
        // `215; 1259 16385 TABLE public t app`: the type is the fourth
        // column (`3350; 0 0 COMMENT public TABLE t app` is a comment), the
        // owner the last; a name may hold spaces.
        let cols: Vec<&str> = l.split_whitespace().collect();
        if let [_, _, _, "TABLE", schema, name @ .., _owner] = cols.as_slice()
            && !name.is_empty()
            && *schema != "DATA"
        {
            // Quoted for to_regclass: `pg_restore -l` prints names as they are.
            let quote = |n: &str| format!("\"{}\"", n.replace('"', "\"\""));
            out.push(format!("{}.{}", quote(schema), quote(&name.join(" "))));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Error, Result};
    use std::io::Read;

    /// The tables a whole plain dump creates (see [`TableScanner`]).
    pub fn tables_in_sql(mut reader: impl Read) -> Result<Vec<String>> {
        let mut scanner = TableScanner::default();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = reader
                .read(&mut buf)
                .map_err(|e| Error::new(format!("reading the dump failed: {e}")))?;
            if n == 0 {
                break;
            }
            scanner.feed(&buf[..n]);
        }
        Ok(scanner.tables)
    }

    #[test]
    fn the_scanner_does_not_care_where_pieces_break() {
        let sql = "CREATE TABLE public.a (\n x int\n);\nCOPY public.a (x) FROM stdin;\nCREATE TABLE fake (\n\\.\nCREATE TABLE public.b (y int);\n";
        for size in [1, 2, 3, 7, 64] {
            let mut s = TableScanner::default();
            for piece in sql.as_bytes().chunks(size) {
                s.feed(piece);
            }
            assert_eq!(s.tables, ["public.a", "public.b"], "pieces of {size}");
        }
    }

    #[test]
    fn finds_the_tables_a_dump_creates() {
        let sql = "SET x = 1;\nCREATE TABLE public.ledger (\n    id integer\n);\nCREATE TABLE \"Odd\".\"T\" (x int);\nCREATE UNLOGGED TABLE public.cache (k text);\nCOPY public.ledger (id) FROM stdin;\nCREATE TABLE in data\n\\.\n";
        assert_eq!(
            tables_in_sql(sql.as_bytes()).unwrap(),
            ["public.ledger", "\"Odd\".\"T\"", "public.cache"]
        );
        let list = ";\n; Archive created at ...\n215; 1259 16385 TABLE public ledger app\n3345; 0 16385 TABLE DATA public ledger app\n216; 1259 16390 SEQUENCE public s app\n\
3350; 0 0 COMMENT public TABLE ledger app\n217; 1259 16391 TABLE Odd My \"T\" app\n";
        assert_eq!(
            tables_in_custom(list),
            ["\"public\".\"ledger\"", "\"Odd\".\"My \"\"T\"\"\""]
        );
    }
}
