//! Scheduled backups: when they run (`--every daily|hourly|"<cron expr>"`),
//! and the text that makes them run — a systemd timer and service, or a
//! crontab line.
//!
//! Pure logic only: parsing the schedule, translating a cron expression
//! into systemd `OnCalendar=` expressions, quoting a command line for a unit
//! file or a crontab, and the unit texts. Writing the files and asking
//! systemctl is `commands::schedule`'s job.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// When scheduled backups run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Every {
    Hourly,
    Daily,
    Cron(Cron),
}

impl Every {
    /// `daily`, `hourly`, or a five-field cron expression. The error says
    /// which field is wrong and why.
    pub fn parse(text: &str) -> Result<Every, String> {
        match text.trim() {
            "hourly" => Ok(Every::Hourly),
            "daily" => Ok(Every::Daily),
            other => Cron::parse(other).map(Every::Cron),
        }
    }

    /// As the user wrote it (normalized spaces): what `--every` gets back.
    pub fn spec(&self) -> String {
        match self {
            Every::Hourly => "hourly".into(),
            Every::Daily => "daily".into(),
            Every::Cron(c) => c.text.clone(),
        }
    }

    /// The timer's `OnCalendar=` values (a cron expression restricting both
    /// day of month and day of week needs two: cron runs when either
    /// matches, one `OnCalendar=` when both do).
    pub fn on_calendar(&self) -> Vec<String> {
        match self {
            Every::Hourly => vec!["hourly".into()],
            Every::Daily => vec!["daily".into()],
            Every::Cron(c) => c.on_calendar(),
        }
    }

    /// The five cron fields for a crontab line.
    pub fn cron_fields(&self) -> String {
        match self {
            // systemd's hourly and daily: *-*-* *:00:00 and *-*-* 00:00:00.
            Every::Hourly => "0 * * * *".into(),
            Every::Daily => "0 0 * * *".into(),
            Every::Cron(c) => c.text.clone(),
        }
    }

    /// The longest time between two runs, in minutes, or `None` when it
    /// runs less than twice in two years.
    pub fn longest_gap_minutes(&self) -> Option<i64> {
        match self {
            Every::Hourly => Some(60),
            Every::Daily => Some(24 * 60),
            Every::Cron(c) => c.longest_gap_minutes(),
        }
    }

    /// How old the newest backup may be before it counts as stale: the
    /// longest gap between runs plus a margin for the run itself and a
    /// late start (an hour, or a twelfth of the gap: 2h hourly, 26h daily).
    pub fn stale_after_minutes(&self) -> Option<i64> {
        self.longest_gap_minutes().map(|g| g + (g / 12).max(60))
    }
}

/// One field of a cron expression: which values it allows.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Field {
    values: BTreeSet<u32>,
    /// Written starting with `*` (cron's rule for day of month and day of
    /// week: when either starts with `*`, both must match; otherwise either).
    star: bool,
}

/// A five-field cron expression: minute hour day-of-month month day-of-week.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    text: String,
    minute: Field,
    hour: Field,
    dom: Field,
    month: Field,
    dow: Field,
}

/// Name, position and range of each field.
const FIELDS: [(&str, &str, u32, u32); 5] = [
    ("minute", "1st", 0, 59),
    ("hour", "2nd", 0, 23),
    ("day-of-month", "3rd", 1, 31),
    ("month", "4th", 1, 12),
    ("day-of-week", "5th", 0, 7),
];

impl Cron {
    pub fn parse(text: &str) -> Result<Cron, String> {
        let parts: Vec<&str> = text.split_whitespace().collect();
        if parts.len() != 5 {
            return Err(format!(
                "--every {text:?}: expected daily, hourly or a cron expression of 5 fields \
                 (minute hour day-of-month month day-of-week), got {} field{}",
                parts.len(),
                if parts.len() == 1 { "" } else { "s" }
            ));
        }
        let mut fields = Vec::new();
        for (part, &(name, nth, min, max)) in parts.iter().zip(FIELDS.iter()) {
            let f = parse_field(part, min, max).map_err(|why| {
                format!("--every {text:?}: the {name} field ({nth}) {part:?}: {why}")
            })?;
            fields.push(f);
        }
        let mut dow = fields.pop().expect("5 fields");
        // 7 is Sunday too.
        if dow.values.remove(&7) {
            dow.values.insert(0);
        }
        let month = fields.pop().expect("5 fields");
        let dom = fields.pop().expect("5 fields");
        let hour = fields.pop().expect("5 fields");
        let minute = fields.pop().expect("5 fields");
        Ok(Cron {
            text: parts.join(" "),
            minute,
            hour,
            dom,
            month,
            dow,
        })
    }

    /// Both day fields restricted (neither starts with `*`): cron runs when
    /// either matches.
    fn either_day(&self) -> bool {
        !self.dom.star && !self.dow.star
    }

    fn on_calendar(&self) -> Vec<String> {
        let time = format!(
            "{}:{}:00",
            numeric(&self.hour.values, 0, 23),
            numeric(&self.minute.values, 0, 59)
        );
        let month = numeric(&self.month.values, 1, 12);
        let dom = numeric(&self.dom.values, 1, 31);
        let days = weekdays(&self.dow.values);
        if self.either_day() {
            // Cron's OR: one expression per day field.
            return vec![
                format!("*-{month}-{dom} {time}"),
                format!("{days} *-{month}-* {time}"),
            ];
        }
        let date = format!("*-{month}-{dom} {time}");
        if self.dow.values.len() == 7 {
            vec![date]
        } else {
            vec![format!("{days} {date}")]
        }
    }

    fn day_matches(&self, date: chrono::NaiveDate) -> bool {
        use chrono::Datelike;
        if !self.month.values.contains(&date.month()) {
            return false;
        }
        let dom = self.dom.values.contains(&date.day());
        let dow = self
            .dow
            .values
            .contains(&date.weekday().num_days_from_sunday());
        if self.either_day() {
            dom || dow
        } else {
            dom && dow
        }
    }

    fn longest_gap_minutes(&self) -> Option<i64> {
        // Two years from a fixed day: every weekday, month length and one
        // leap day is seen, and the answer does not depend on today.
        let start = chrono::NaiveDate::from_ymd_opt(2024, 1, 1)?;
        let mut previous: Option<i64> = None;
        let mut longest: Option<i64> = None;
        for (day, date) in start.iter_days().take(731).enumerate() {
            if !self.day_matches(date) {
                continue;
            }
            for &h in &self.hour.values {
                for &m in &self.minute.values {
                    let t = day as i64 * 1440 + i64::from(h) * 60 + i64::from(m);
                    if let Some(p) = previous {
                        longest = Some(longest.map_or(t - p, |l: i64| l.max(t - p)));
                    }
                    previous = Some(t);
                }
            }
        }
        longest
    }
}

/// One cron field: `*`, `N`, `A-B`, `*/S`, `A-B/S`, and comma lists of them.
fn parse_field(text: &str, min: u32, max: u32) -> Result<Field, String> {
    let number = |s: &str| -> Result<u32, String> {
        if s.is_empty() || !s.chars().all(|c| c.is_ascii_digit()) {
            return Err(if s.chars().any(|c| c.is_ascii_alphabetic()) {
                format!("{s:?} is not a number (names are not supported: use {min}-{max})")
            } else {
                format!("{s:?} is not a number")
            });
        }
        let n: u32 = s
            .parse()
            .map_err(|_| format!("{s} is out of range {min}-{max}"))?;
        if n < min || n > max {
            return Err(format!("{n} is out of range {min}-{max}"));
        }
        Ok(n)
    };
    let mut values = BTreeSet::new();
    for item in text.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => {
                let step: u32 = s
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| format!("step {s:?} is not a whole number above 0"))?;
                if r != "*" && !r.contains('-') {
                    return Err(format!(
                        "{item:?}: a step goes after `*` or a range (`*/{step}`, `{r}-{max}/{step}`)"
                    ));
                }
                (r, step)
            }
            None => (item, 1),
        };
        let (lo, hi) = if range == "*" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            let (a, b) = (number(a)?, number(b)?);
            if a > b {
                return Err(format!("range {a}-{b} runs backwards"));
            }
            (a, b)
        } else {
            let n = number(range)?;
            (n, n)
        };
        values.extend((lo..=hi).step_by(step as usize));
    }
    Ok(Field {
        values,
        star: text.starts_with('*'),
    })
}

/// A numeric `OnCalendar=` component: `*`, `A/S` for a repetition to the
/// end of the range (three values or more), else a list of values and `A..B` ranges, two digits.
fn numeric(values: &BTreeSet<u32>, min: u32, max: u32) -> String {
    let v: Vec<u32> = values.iter().copied().collect();
    if v.len() as u32 == max - min + 1 {
        return "*".into();
    }
    if v.len() >= 3 {
        let step = v[1] - v[0];
        let even = v.windows(2).all(|w| w[1] - w[0] == step);
        if step > 1 && even && v[v.len() - 1] + step > max {
            return format!("{:02}/{step}", v[0]);
        }
    }
    let mut items = Vec::new();
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j + 1 < v.len() && v[j + 1] == v[j] + 1 {
            j += 1;
        }
        if j - i >= 2 {
            items.push(format!("{:02}..{:02}", v[i], v[j]));
        } else {
            items.extend(v[i..=j].iter().map(|n| format!("{n:02}")));
        }
        i = j + 1;
    }
    items.join(",")
}

/// Weekdays (cron's numbers, 0 = Sunday) as systemd names, in systemd's
/// order (Monday first: a range `Sun..Tue` is invalid there), runs of
/// three or more as `Mon..Fri`.
fn weekdays(values: &BTreeSet<u32>) -> String {
    const MONDAY_FIRST: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    let v: BTreeSet<u32> = values.iter().map(|d| (d + 6) % 7).collect();
    let v: Vec<u32> = v.into_iter().collect();
    let name = |n: u32| MONDAY_FIRST[n as usize];
    let mut items = Vec::new();
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j + 1 < v.len() && v[j + 1] == v[j] + 1 {
            j += 1;
        }
        if j - i >= 2 {
            items.push(format!("{}..{}", name(v[i]), name(v[j])));
        } else {
            items.extend(v[i..=j].iter().map(|&n| name(n).to_string()));
        }
        i = j + 1;
    }
    items.join(",")
}

/// What a scheduled backup runs: budgie twice (backup, then prune) with
/// the same global options, and the environment budgie was installed with
/// that a timer or cron would not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// The project's name as the user sees it.
    pub project: String,
    pub project_dir: PathBuf,
    /// budgie's absolute path.
    pub program: PathBuf,
    /// Global options after the program (`-C DIR -p NAME ...`).
    pub options: Vec<String>,
    /// `NAME=value` settings for both runs.
    pub env: Vec<(String, String)>,
}

impl Job {
    /// The two command lines, as argv.
    pub fn commands(&self) -> [Vec<String>; 2] {
        let base = || {
            let mut v = vec![self.program.display().to_string()];
            v.extend(self.options.iter().cloned());
            v
        };
        let mut backup = base();
        backup.extend(["backup", "--quiet", "--log"].map(String::from));
        let mut prune = base();
        prune.extend(["backup", "prune", "--quiet"].map(String::from));
        [backup, prune]
    }

    /// The first value that a unit file or crontab line cannot hold
    /// (control characters: a newline would end the line).
    pub fn unwritable(&self) -> Option<String> {
        let bad = |s: &str| s.chars().any(char::is_control);
        self.commands()
            .into_iter()
            .flatten()
            .chain(self.env.iter().map(|(k, v)| format!("{k}={v}")))
            .find(|s| bad(s))
    }
}

/// The unit name for a project: `budgie-backup-<name>`, keeping only
/// `a-z A-Z 0-9 _ -` (anything else becomes `-`), so that no project name
/// can leave the unit directory or break a unit file line.
pub fn unit_name(project: &str) -> String {
    let safe: String = project
        .chars()
        .take(100)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let safe = safe.trim_matches('-');
    if safe.is_empty() {
        "budgie-backup-project".into()
    } else {
        format!("budgie-backup-{safe}")
    }
}

/// The comment line in the timer that records `--every` (read back by
/// `schedule show` and `doctor`).
pub const EVERY_MARK: &str = "# budgie-every: ";
/// The comment line in the service that records the project directory.
pub const DIR_MARK: &str = "# budgie-project-dir: ";

/// The `.service` file: a oneshot that runs the backup, then the prune
/// (systemd runs the second `ExecStart=` only when the first succeeded, and
/// the unit fails when either does).
pub fn service_text(job: &Job) -> String {
    let name = unit_name(&job.project);
    let [backup, prune] = job.commands();
    let mut s = String::new();
    s.push_str(&format!(
        "# Written by `budgie schedule install`; `budgie schedule remove` deletes it.\n{DIR_MARK}{}\n",
        job.project_dir.display()
    ));
    s.push_str("[Unit]\n");
    s.push_str(&format!(
        "Description=budgie: back up project {}\n",
        name.trim_start_matches("budgie-backup-")
    ));
    s.push_str("\n[Service]\nType=oneshot\n");
    for (k, v) in &job.env {
        s.push_str(&format!(
            "Environment={}\n",
            systemd_quote(&format!("{k}={v}"))
        ));
    }
    for argv in [backup, prune] {
        let words: Vec<String> = argv.iter().map(|a| systemd_quote(a)).collect();
        s.push_str(&format!("ExecStart={}\n", words.join(" ")));
    }
    s
}

/// The `.timer` file. `Persistent=true`: a run missed while the machine
/// was off or asleep happens at the next boot.
pub fn timer_text(job: &Job, every: &Every) -> String {
    let name = unit_name(&job.project);
    let mut s = String::new();
    s.push_str(&format!(
        "# Written by `budgie schedule install`; `budgie schedule remove` deletes it.\n{EVERY_MARK}{}\n",
        every.spec()
    ));
    s.push_str("[Unit]\n");
    s.push_str(&format!(
        "Description=budgie: back up project {} ({})\n",
        name.trim_start_matches("budgie-backup-"),
        every.spec()
    ));
    s.push_str("\n[Timer]\n");
    for c in every.on_calendar() {
        s.push_str(&format!("OnCalendar={c}\n"));
    }
    s.push_str(&format!(
        "Persistent=true\nUnit={name}.service\n\n[Install]\nWantedBy=timers.target\n"
    ));
    s
}

/// The crontab line: the five fields, then both commands joined by `&&`
/// for `/bin/sh` (cron's shell), each with the job's environment, and `%`
/// escaped (cron turns a bare `%` into a newline).
pub fn cron_line(job: &Job, every: &Every) -> String {
    let env: Vec<String> = job
        .env
        .iter()
        .map(|(k, v)| format!("{k}={}", crate::engine::shell_quote(v)))
        .collect();
    let commands: Vec<String> = job
        .commands()
        .iter()
        .map(|argv| {
            let mut words = env.clone();
            words.extend(argv.iter().map(|a| crate::engine::shell_quote(a)));
            words.join(" ")
        })
        .collect();
    format!("{} {}", every.cron_fields(), commands.join(" && ")).replace('%', "\\%")
}

/// One word of a unit file's command line or assignment: bare when it is
/// plain, else in double quotes with `\` and `"` escaped; `%` (a unit
/// specifier) is doubled, and so is `$` (variable expansion).
pub fn systemd_quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@".contains(c));
    if plain {
        return arg.to_string();
    }
    let mut s = String::from("\"");
    for c in arg.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '%' => s.push_str("%%"),
            '$' => s.push_str("$$"),
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

/// The `--every` recorded in a timer file written by budgie.
pub fn recorded_every(timer_text: &str) -> Option<String> {
    timer_text
        .lines()
        .find_map(|l| l.strip_prefix(EVERY_MARK))
        .map(|s| s.trim().to_string())
}

/// The project directory recorded in a service file written by budgie.
pub fn recorded_dir(service_text: &str) -> Option<PathBuf> {
    service_text
        .lines()
        .find_map(|l| l.strip_prefix(DIR_MARK))
        .map(PathBuf::from)
}

/// Every value of `key=` in a unit file, in order.
pub fn values<'a>(text: &'a str, key: &str) -> Vec<&'a str> {
    text.lines()
        .filter_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .collect()
}

/// Where unit files go: `BUDGIE_SYSTEMD_DIR` when set; else
/// `/etc/systemd/system` for root; else `$XDG_CONFIG_HOME/systemd/user`
/// (`~/.config/systemd/user`).
pub fn unit_dir(root: bool, env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    if let Some(d) = env("BUDGIE_SYSTEMD_DIR").filter(|s| !s.is_empty()) {
        return Some(PathBuf::from(d));
    }
    if root {
        return Some(PathBuf::from("/etc/systemd/system"));
    }
    let config = env("XDG_CONFIG_HOME")
        .filter(|s| Path::new(s).is_absolute())
        .map(PathBuf::from)
        .or_else(|| {
            env("HOME")
                .filter(|s| !s.is_empty())
                .map(|h| Path::new(&h).join(".config"))
        })?;
    Some(config.join("systemd/user"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cal(text: &str) -> Vec<String> {
        Every::parse(text).unwrap().on_calendar()
    }

    fn err(text: &str) -> String {
        Every::parse(text).unwrap_err()
    }

    #[test]
    fn daily_and_hourly_are_systemds_own_words() {
        assert_eq!(cal("daily"), ["daily"]);
        assert_eq!(cal("hourly"), ["hourly"]);
        assert_eq!(Every::Daily.cron_fields(), "0 0 * * *");
        assert_eq!(Every::Hourly.cron_fields(), "0 * * * *");
    }

    #[test]
    fn cron_expressions_translate_to_on_calendar() {
        assert_eq!(cal("15 3 * * *"), ["*-*-* 03:15:00"]);
        assert_eq!(cal("*/15 * * * *"), ["*-*-* *:00/15:00"]);
        assert_eq!(cal("0 */6 * * *"), ["*-*-* 00/6:00:00"]);
        assert_eq!(cal("0 9-17 * * 1-5"), ["Mon..Fri *-*-* 09..17:00:00"]);
        assert_eq!(cal("30 1,13 * * *"), ["*-*-* 01,13:30:00"]);
        assert_eq!(cal("0 0 1 * *"), ["*-*-01 00:00:00"]);
        assert_eq!(cal("0 4 * 1,7 0"), ["Sun *-01,07-* 04:00:00"]);
        assert_eq!(cal("0 4 * * 7"), ["Sun *-*-* 04:00:00"]);
        assert_eq!(cal("0 4 * * 0,6"), ["Sat,Sun *-*-* 04:00:00"]);
        assert_eq!(cal("0 4 * * 0-2"), ["Mon,Tue,Sun *-*-* 04:00:00"]);
        assert_eq!(cal("0 4 * * 5-7"), ["Fri..Sun *-*-* 04:00:00"]);
        assert_eq!(cal("5 0 */2 * *"), ["*-*-01/2 00:05:00"]);
        assert_eq!(cal("0 0 * */3 *"), ["*-01/3-* 00:00:00"]);
        assert_eq!(cal("0 8-20/4 * * *"), ["*-*-* 08/4:00:00"]);
        assert_eq!(cal("0-4 0 * * *"), ["*-*-* 00:00..04:00"]);
        // extra spaces are not a field
        assert_eq!(cal("  15   3 * *  * "), ["*-*-* 03:15:00"]);
    }

    #[test]
    fn both_day_fields_mean_either_as_in_cron() {
        // cron: on the 1st and 15th, and every Monday.
        assert_eq!(
            cal("0 3 1,15 * 1"),
            ["*-*-01,15 03:00:00", "Mon *-*-* 03:00:00"]
        );
        assert_eq!(
            cal("0 3 1 * 0-6"),
            ["*-*-01 03:00:00", "Mon..Sun *-*-* 03:00:00"]
        );
        // a day-of-month starting with `*` means both must match
        assert_eq!(cal("0 3 */2 * 1"), ["Mon *-*-01/2 03:00:00"]);
    }

    #[test]
    fn bad_cron_expressions_name_the_field() {
        assert!(err("0 3 * *").contains("5 fields"), "{}", err("0 3 * *"));
        assert!(err("weekly").contains("got 1 field"));
        let e = err("0 25 * * *");
        assert!(
            e.contains("hour field (2nd) \"25\"") && e.contains("0-23"),
            "{e}"
        );
        let e = err("60 * * * *");
        assert!(e.contains("minute field (1st)"), "{e}");
        let e = err("0 0 0 * *");
        assert!(
            e.contains("day-of-month field (3rd)") && e.contains("1-31"),
            "{e}"
        );
        let e = err("0 0 * 13 *");
        assert!(e.contains("month field (4th)"), "{e}");
        let e = err("0 0 * * mon");
        assert!(
            e.contains("day-of-week field (5th)") && e.contains("names are not supported"),
            "{e}"
        );
        let e = err("*/0 * * * *");
        assert!(e.contains("minute field") && e.contains("step"), "{e}");
        let e = err("0 5-2 * * *");
        assert!(e.contains("backwards"), "{e}");
        let e = err("0 5/2 * * *");
        assert!(
            e.contains("hour field") && e.contains("a step goes after"),
            "{e}"
        );
        let e = err("0 L * * *");
        assert!(
            e.contains("hour field") && e.contains("not a number"),
            "{e}"
        );
        let e = err("@daily");
        assert!(e.contains("5 fields"), "{e}");
        let e = err("0 1,,2 * * *");
        assert!(e.contains("hour field"), "{e}");
    }

    #[test]
    fn stale_after_is_the_longest_gap_and_a_margin() {
        assert_eq!(Every::Hourly.stale_after_minutes(), Some(120));
        assert_eq!(Every::Daily.stale_after_minutes(), Some(26 * 60));
        let gap = |t: &str| Every::parse(t).unwrap().longest_gap_minutes();
        assert_eq!(gap("15 3 * * *"), Some(1440));
        assert_eq!(gap("*/15 * * * *"), Some(15));
        // weekdays only: Friday 17:00 to Monday 09:00
        assert_eq!(gap("0 9-17 * * 1-5"), Some((2 * 24 + 16) * 60));
        assert_eq!(gap("0 3 * * 0"), Some(7 * 1440));
        // the 31st: from August 31 to October 31 at most
        assert_eq!(gap("0 0 31 * *"), Some(61 * 1440));
        // February 29: once in the two years looked at
        assert_eq!(gap("0 0 29 2 *"), None);
        assert_eq!(
            Every::parse("0 3 * * 0").unwrap().stale_after_minutes(),
            Some(7 * 1440 + 14 * 60)
        );
    }

    #[test]
    fn unit_names_keep_only_safe_characters() {
        assert_eq!(unit_name("shop"), "budgie-backup-shop");
        assert_eq!(unit_name("my_app-2"), "budgie-backup-my_app-2");
        assert_eq!(unit_name("../../etc/passwd"), "budgie-backup-etc-passwd");
        assert_eq!(
            unit_name("a\nExecStart=/bin/sh"),
            "budgie-backup-a-ExecStart--bin-sh"
        );
        assert_eq!(unit_name("/"), "budgie-backup-project");
        assert_eq!(unit_name("x y.timer"), "budgie-backup-x-y-timer");
    }

    #[test]
    fn systemd_quoting_escapes_quotes_specifiers_and_variables() {
        assert_eq!(systemd_quote("/usr/bin/budgie"), "/usr/bin/budgie");
        assert_eq!(systemd_quote("/srv/my app"), "\"/srv/my app\"");
        assert_eq!(systemd_quote("100%"), "\"100%%\"");
        assert_eq!(systemd_quote("$HOME"), "\"$$HOME\"");
        assert_eq!(systemd_quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(systemd_quote(""), "\"\"");
    }

    fn job() -> Job {
        Job {
            project: "shop".into(),
            project_dir: "/srv/shop app".into(),
            program: "/usr/local/bin/budgie".into(),
            options: [
                "-C",
                "/srv/shop app",
                "-p",
                "shop",
                "--backup-dir",
                "/var/backups/50%",
            ]
            .map(String::from)
            .to_vec(),
            env: vec![("BUDGIE_COMPOSE".into(), "podman-compose".into())],
        }
    }

    #[test]
    fn unit_files_as_written() {
        let every = Every::parse("15 3 * * *").unwrap();
        insta::assert_snapshot!(service_text(&job()), @r#"
        # Written by `budgie schedule install`; `budgie schedule remove` deletes it.
        # budgie-project-dir: /srv/shop app
        [Unit]
        Description=budgie: back up project shop

        [Service]
        Type=oneshot
        Environment=BUDGIE_COMPOSE=podman-compose
        ExecStart=/usr/local/bin/budgie -C "/srv/shop app" -p shop --backup-dir "/var/backups/50%%" backup --quiet --log
        ExecStart=/usr/local/bin/budgie -C "/srv/shop app" -p shop --backup-dir "/var/backups/50%%" backup prune --quiet
        "#);
        insta::assert_snapshot!(timer_text(&job(), &every), @r"
        # Written by `budgie schedule install`; `budgie schedule remove` deletes it.
        # budgie-every: 15 3 * * *
        [Unit]
        Description=budgie: back up project shop (15 3 * * *)

        [Timer]
        OnCalendar=*-*-* 03:15:00
        Persistent=true
        Unit=budgie-backup-shop.service

        [Install]
        WantedBy=timers.target
        ");
        assert_eq!(
            recorded_every(&timer_text(&job(), &every)).as_deref(),
            Some("15 3 * * *")
        );
        assert_eq!(
            recorded_dir(&service_text(&job())),
            Some(PathBuf::from("/srv/shop app"))
        );
        assert_eq!(
            values(&timer_text(&job(), &every), "OnCalendar"),
            ["*-*-* 03:15:00"]
        );
    }

    #[test]
    fn the_crontab_line_quotes_for_sh_and_escapes_percent() {
        insta::assert_snapshot!(cron_line(&job(), &Every::Daily), @"0 0 * * * BUDGIE_COMPOSE=podman-compose /usr/local/bin/budgie -C '/srv/shop app' -p shop --backup-dir /var/backups/50\\% backup --quiet --log && BUDGIE_COMPOSE=podman-compose /usr/local/bin/budgie -C '/srv/shop app' -p shop --backup-dir /var/backups/50\\% backup prune --quiet");
    }

    #[test]
    fn control_characters_cannot_be_written() {
        let mut j = job();
        assert_eq!(j.unwritable(), None);
        j.options.push("a\nb".into());
        assert_eq!(j.unwritable().as_deref(), Some("a\nb"));
    }

    #[test]
    fn unit_dir_by_user() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let home = env(&[("HOME", "/home/a")]);
        assert_eq!(
            unit_dir(false, &home),
            Some("/home/a/.config/systemd/user".into())
        );
        assert_eq!(unit_dir(true, &home), Some("/etc/systemd/system".into()));
        let xdg = env(&[("HOME", "/home/a"), ("XDG_CONFIG_HOME", "/cfg")]);
        assert_eq!(unit_dir(false, &xdg), Some("/cfg/systemd/user".into()));
        let over = env(&[("BUDGIE_SYSTEMD_DIR", "/tmp/u")]);
        assert_eq!(unit_dir(true, &over), Some("/tmp/u".into()));
        assert_eq!(unit_dir(false, &env(&[])), None);
    }
}
