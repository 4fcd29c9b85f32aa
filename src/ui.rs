//! The only module that knows about terminals: colors, symbols, spinners
//! and prompts.
//!
//! Human messages go to stderr; `--json` documents go to stdout (DESIGN.md).
//! Every line starts with a symbol: `✓` done, `i` worth knowing, `!` a
//! warning, `✗` an error (with a `hint:` line naming the next command).
//! Colors appear only when stderr is a terminal, and never with
//! `--no-color` or `NO_COLOR`. Spinners and progress bars appear only on a
//! terminal, and never with `-q`. `-q` keeps only errors — and what a
//! prompt needs to be answered (see [`Ui::unquiet`]).

use std::io::{IsTerminal, Write};
use std::time::Duration;

use colored::Colorize;
use indicatif::{ProgressBar, ProgressStyle};

use crate::error::Error;

#[derive(Debug, Clone)]
pub struct Ui {
    pub quiet: bool,
    pub verbose: u8,
    /// stderr is a terminal: spinners and progress bars are allowed.
    pub stderr_tty: bool,
    /// stdin is a terminal: prompts are possible.
    pub stdin_tty: bool,
    /// Colors are on: stderr is a terminal, and neither `--no-color` nor
    /// `NO_COLOR` is set.
    pub color: bool,
}

impl Ui {
    pub fn new(no_color: bool, quiet: bool, verbose: u8, no_color_env: bool) -> Ui {
        let stderr_tty = std::io::stderr().is_terminal();
        let color = stderr_tty && !no_color && !no_color_env;
        colored::control::set_override(color);
        Ui {
            quiet,
            verbose,
            stderr_tty,
            stdin_tty: std::io::stdin().is_terminal(),
            color,
        }
    }

    fn line(&self, text: &str) {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{text}");
    }

    /// Plain text (a table row, a plan line).
    pub fn print(&self, text: &str) {
        if !self.quiet {
            self.line(text);
        }
    }

    /// The command's output proper, on stdout, also with -q: a crontab
    /// line, the one log line of a scheduled backup.
    pub fn output(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{text}");
    }

    /// `i` — something worth knowing.
    pub fn info(&self, text: &str) {
        if !self.quiet {
            self.line(&format!("{} {text}", "i".blue().bold()));
        }
    }

    /// `✓` — something finished well.
    pub fn success(&self, text: &str) {
        if !self.quiet {
            self.line(&format!("{} {text}", "✓".green().bold()));
        }
    }

    /// `!` — a warning (not with -q, which prints only errors).
    pub fn warn(&self, text: &str) {
        if !self.quiet {
            self.line(&format!("{} {text}", "!".yellow().bold()));
        }
    }

    /// `✗` — an error, always shown, with its hint.
    pub fn error(&self, e: &Error) {
        self.failure(&e.message, e.hint.as_deref());
    }

    /// `✗` — something that is wrong, always shown (even with -q), and
    /// under it, when there is one, what to do about it.
    pub fn failure(&self, text: &str, hint: Option<&str>) {
        self.line(&format!("{} {text}", "✗".red().bold()));
        if let Some(h) = hint {
            let mut lines = h.lines();
            if let Some(first) = lines.next() {
                self.line(&format!("  {} {first}", "hint:".dimmed()));
            }
            for l in lines {
                self.line(&format!("        {l}"));
            }
        }
    }

    /// The same, but not quiet: for what must be seen before a question is
    /// answered (what a deletion loses, a pick list), even with -q.
    pub fn unquiet(&self) -> Ui {
        Ui {
            quiet: false,
            ..self.clone()
        }
    }

    /// Detail shown with -v.
    pub fn debug(&self, text: &str) {
        if self.verbose > 0 && !self.quiet {
            self.line(&format!("{}", text.dimmed()));
        }
    }

    /// A heading.
    pub fn heading(&self, text: &str) {
        if !self.quiet {
            self.line(&format!("{}", text.bold()));
        }
    }

    /// A spinner for a step that takes a while (a terminal only, not -q).
    pub fn spinner(&self, text: &str) -> Spinner {
        if self.stderr_tty && !self.quiet && self.verbose == 0 {
            let pb = ProgressBar::new_spinner();
            pb.set_style(self.style("{spinner:.cyan} {msg} {elapsed:.dim}"));
            pb.set_message(text.to_string());
            pb.enable_steady_tick(Duration::from_millis(100));
            Spinner(Some(pb))
        } else {
            Spinner(None)
        }
    }

    /// A progress style from an indicatif template; without colors the
    /// template's color marks (`:.cyan`, `:.dim`, `.cyan/blue`) are left out.
    fn style(&self, template: &str) -> ProgressStyle {
        style(template, self.color)
    }

    /// Dim text for secondary columns.
    pub fn dim(&self, text: &str) -> String {
        text.dimmed().to_string()
    }

    /// Colors a state word: green for good, yellow for transitional, red for bad.
    pub fn state(&self, text: &str) -> String {
        match text {
            "running" | "healthy" | "exists" | "yes" => text.green().to_string(),
            "starting" | "created" | "restarting" | "paused" => text.yellow().to_string(),
            "exited" | "dead" | "unhealthy" | "missing" | "not created" | "NO" => {
                text.red().to_string()
            }
            _ => text.to_string(),
        }
    }
}

/// Set while a prompt waits for the user: Ctrl-C then ends budgie at once
/// (exit 130) — nothing is deleted before the answer.
impl Ui {
    /// A byte counter with rate for a long copy (a terminal only, not -q).
    pub fn progress_bytes(&self, text: &str) -> Progress {
        if self.stderr_tty && !self.quiet {
            let pb = ProgressBar::new_spinner();
            pb.set_style(
                self.style("{spinner:.cyan} {msg} {bytes} ({bytes_per_sec}) {elapsed:.dim}"),
            );
            pb.set_message(text.to_string());
            pb.enable_steady_tick(Duration::from_millis(120));
            let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if let Ok(mut active) = ACTIVE.lock() {
                *active = Some((id, pb.clone(), text.to_string()));
            }
            Progress {
                bar: Some(pb),
                color: self.color,
                id,
            }
        } else {
            Progress {
                bar: None,
                color: self.color,
                id: 0,
            }
        }
    }

    /// Asks the user to type `expected`; true only for exactly that answer.
    /// The caller has checked that stdin is a terminal.
    pub fn confirm_typed(&self, question: &str, expected: &str) -> crate::error::Result<bool> {
        crate::interrupt::prompting(true);
        let answer = dialoguer::Input::<String>::new()
            .with_prompt(question)
            .allow_empty(true)
            .interact_text();
        crate::interrupt::prompting(false);
        let answer = answer.map_err(|e| {
            let dialoguer::Error::IO(io) = &e;
            // Ctrl-C arrives as a key in raw mode ("read interrupted").
            if io.kind() == std::io::ErrorKind::Interrupted
                || io.to_string().contains("interrupted")
            {
                Error::interrupted().context("stopped at the prompt; nothing was deleted")
            } else {
                Error::refused(format!(
                    "could not read the answer: {e}; nothing was deleted"
                ))
            }
        })?;
        Ok(answer.trim() == expected)
    }
}

impl Ui {
    /// A numbered pick list; the index chosen (Enter takes the first).
    /// Lines, not raw key presses: it works over any terminal, ssh and
    /// screen readers included.
    pub fn pick(&self, prompt: &str, items: &[String]) -> crate::error::Result<usize> {
        // The list is the question: shown even with -q.
        let loud = self.unquiet();
        loud.heading(prompt);
        for (i, item) in items.iter().enumerate() {
            loud.print(&format!("  {:>2}) {item}", i + 1));
        }
        loop {
            crate::interrupt::prompting(true);
            let answer = dialoguer::Input::<String>::new()
                .with_prompt(format!("Number (1-{}, Enter for 1)", items.len()))
                .allow_empty(true)
                .interact_text();
            crate::interrupt::prompting(false);
            let answer = answer.map_err(prompt_error)?;
            let answer = answer.trim();
            if answer.is_empty() {
                return Ok(0);
            }
            match answer.parse::<usize>() {
                Ok(n) if (1..=items.len()).contains(&n) => return Ok(n - 1),
                _ => loud.warn(&format!("type a number from 1 to {}", items.len())),
            }
        }
    }

    /// A yes/no question, answered with a line (default no).
    pub fn confirm(&self, prompt: &str) -> crate::error::Result<bool> {
        crate::interrupt::prompting(true);
        let answer = dialoguer::Input::<String>::new()
            .with_prompt(format!("{prompt} [y/N]"))
            .allow_empty(true)
            .interact_text();
        crate::interrupt::prompting(false);
        let answer = answer.map_err(prompt_error)?;
        Ok(matches!(
            answer.trim().to_ascii_lowercase().as_str(),
            "y" | "yes"
        ))
    }
}

/// A prompt that could not be answered: Ctrl-C (read as a key in raw mode,
/// "read interrupted") is exit 130; anything else is a refusal.
fn prompt_error(e: dialoguer::Error) -> Error {
    let dialoguer::Error::IO(io) = &e;
    if io.kind() == std::io::ErrorKind::Interrupted || io.to_string().contains("interrupted") {
        Error::interrupted().context("stopped at the prompt; nothing was changed")
    } else {
        Error::refused(format!(
            "could not read the answer: {e}; nothing was changed"
        ))
    }
}

/// A byte counter; `set` is cheap, call it as often as data arrives.
pub struct Progress {
    bar: Option<ProgressBar>,
    color: bool,
    /// Its number in [`ACTIVE`].
    id: u64,
}

impl Progress {
    pub fn set(&self, n: u64) {
        if let Some(pb) = &self.bar {
            pb.set_position(n);
        }
    }

    /// Turns the counter into a bar with a known total (a file's size).
    pub fn set_length(&self, total: u64) {
        if let Some(pb) = &self.bar {
            pb.set_length(total);
            pb.set_style(
                style(
                    "{msg} [{bar:30.cyan/blue}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
                    self.color,
                )
                .progress_chars("=> "),
            );
        }
    }

    pub fn clear(&self) {
        if let Some(pb) = &self.bar {
            pb.finish_and_clear();
            if let Ok(mut active) = ACTIVE.lock()
                && active.as_ref().is_some_and(|(id, _, _)| *id == self.id)
            {
                *active = None;
            }
        }
    }
}

/// The byte counter on screen, and its text: [`progress_detail`] adds to
/// it from deep in a load that counts something else besides bytes.
static ACTIVE: std::sync::Mutex<Option<(u64, ProgressBar, String)>> = std::sync::Mutex::new(None);
static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Shows `detail` after the text of the byte counter on screen, if any
/// (`Loading x.dump into a scratch database: 120/345 items`).
pub fn progress_detail(detail: &str) {
    if let Ok(active) = ACTIVE.lock()
        && let Some((_, pb, text)) = active.as_ref()
    {
        pb.set_message(format!("{text}: {detail}"));
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.clear();
    }
}

/// A running spinner; finish it with a result line.
pub struct Spinner(Option<ProgressBar>);

impl Spinner {
    /// Changes the text beside the spinner.
    pub fn set_message(&self, text: &str) {
        if let Some(pb) = &self.0 {
            pb.set_message(text.to_string());
        }
    }

    pub fn clear(&self) {
        if let Some(pb) = &self.0 {
            pb.finish_and_clear();
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.clear();
    }
}

/// An indicatif style; without colors, the color marks of the template
/// (`{spinner:.cyan}`, `{elapsed:.dim}`, `{bar:30.cyan/blue}`) are removed,
/// since indicatif does not know about `--no-color`.
fn style(template: &str, color: bool) -> ProgressStyle {
    let template = if color {
        template.to_string()
    } else {
        strip_style_marks(template)
    };
    ProgressStyle::with_template(&template).unwrap_or_else(|_| ProgressStyle::default_spinner())
}

/// `{spinner:.cyan}` → `{spinner}`, `{bar:30.cyan/blue}` → `{bar:30}`.
fn strip_style_marks(template: &str) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        let key = &rest[open + 1..open + close];
        let key = match key.split_once(':') {
            Some((name, spec)) => match spec.split_once('.') {
                Some(("", _)) => name.to_string(),
                Some((width, _)) => format!("{name}:{width}"),
                None => key.to_string(),
            },
            None => key.to_string(),
        };
        out.push('{');
        out.push_str(&key);
        out.push('}');
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

/// `1 table`, `2 tables`.
pub fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Renders rows as aligned columns (the width of each column is its widest
/// cell, measured in characters without color codes).
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> Vec<String> {
    let width = |s: &str| strip_ansi(s).chars().count();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(width(cell));
            }
        }
    }
    let render = |cells: Vec<String>| {
        let last = cells.len().saturating_sub(1);
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i == last {
                    c.clone()
                } else {
                    let pad = widths[i].saturating_sub(width(c));
                    format!("{c}{}", " ".repeat(pad))
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = vec![render(headers.iter().map(|h| h.to_string()).collect())];
    out.extend(rows.iter().map(|r| render(r.clone())));
    out
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Human size: `0 B`, `12.3 kB`, `47.3 MB`, `1.2 GB` (powers of 1000, as the engines print).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Human age: `45s`, `12m`, `3h`, `2d`.
pub fn human_age(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_ages_read_like_the_engines() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(47_260_000), "47.3 MB");
        assert_eq!(human_bytes(1_200_000_000), "1.2 GB");
        assert_eq!(human_age(5), "5s");
        assert_eq!(human_age(600), "10m");
        assert_eq!(human_age(7200), "2h");
        assert_eq!(human_age(3 * 86400), "3d");
    }

    #[test]
    fn progress_templates_lose_their_colors_without_color() {
        assert_eq!(
            strip_style_marks("{spinner:.cyan} {msg} {elapsed:.dim}"),
            "{spinner} {msg} {elapsed}"
        );
        assert_eq!(
            strip_style_marks("{msg} [{bar:30.cyan/blue}] {bytes}/{total_bytes}"),
            "{msg} [{bar:30}] {bytes}/{total_bytes}"
        );
        assert_eq!(strip_style_marks("{bar:40} x"), "{bar:40} x");
    }

    #[test]
    fn counts_agree_with_their_noun() {
        assert_eq!(count(1, "table", "tables"), "1 table");
        assert_eq!(count(0, "table", "tables"), "0 tables");
        assert_eq!(count(2, "backup", "backups"), "2 backups");
    }

    #[test]
    fn tables_align_without_counting_colors() {
        let rows = vec![
            vec![
                "db".to_string(),
                "\u{1b}[32mrunning\u{1b}[0m".to_string(),
                "x".into(),
            ],
            vec!["application".to_string(), "exited".to_string(), "y".into()],
        ];
        let t = table(&["SERVICE", "STATE", "NOTE"], &rows);
        assert_eq!(t[0], "SERVICE      STATE    NOTE");
        assert_eq!(strip_ansi(&t[1]), "db           running  x");
        assert_eq!(t[2], "application  exited   y");
    }
}
