//! Which backups to keep.
//!
//! `budgie backup` runs from cron and must not fill the disk, but pruning
//! deletes backups, so the rule lives in one pure function, [`plan`], that
//! decides and does nothing: the caller shows the plan, deletes what it
//! says, and tests pin the rule down.
//!
//! The rule, per group (the database's dumps form one group, each volume's
//! archives another) and independently of the other groups:
//!
//! - the newest complete backup is always kept, whatever the retention;
//! - of the complete backups, the newest of each of the `daily` most recent
//!   calendar days that have backups is kept, likewise the newest of each of
//!   the `weekly` most recent ISO weeks and of the `monthly` most recent
//!   months;
//! - safety backups (taken before `clean`, `nuke`, `restore`...) younger
//!   than seven days are kept: they are how a mistake is undone;
//! - incomplete backups are never deleted here: something went wrong and
//!   the user should look.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate, NaiveDateTime, TimeDelta};
use serde::Serialize;

use crate::compose::Retention;

/// How long a safety backup is kept whatever the retention.
pub const SAFETY_DAYS: i64 = 7;

/// One backup, as far as retention cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// When it was taken (local time, from its name).
    pub created: NaiveDateTime,
    /// A safety backup (it has a reason: `pre-clean`...).
    pub safety: bool,
    /// It passed the completeness check.
    pub complete: bool,
    /// `"db"` for database dumps, the volume key for volume archives.
    pub group: String,
}

/// Why a backup is kept (the first reason that applies, in this order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Keep {
    /// The newest complete backup of its group.
    Newest,
    /// The newest of one of the `daily` most recent days.
    Daily,
    /// The newest of one of the `weekly` most recent ISO weeks.
    Weekly,
    /// The newest of one of the `monthly` most recent months.
    Monthly,
    /// A safety backup younger than [`SAFETY_DAYS`] days.
    RecentSafety,
    /// Incomplete: never deleted by prune; the user should look.
    Incomplete,
}

/// Decides, for each candidate, whether to keep it (and why) or delete it
/// (`None`). The result is in the same order as `cands`.
///
/// Candidates with the same `created` time are taken as newest first in
/// input order (`store::list_dumps` lists newest first). `now` only matters
/// for the age of safety backups; a backup dated in the future is young.
pub fn plan(cands: &[Candidate], now: NaiveDateTime, r: Retention) -> Vec<Option<Keep>> {
    let mut out: Vec<Option<Keep>> = vec![None; cands.len()];

    // Complete backups by group, newest first.
    let mut groups: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, c) in cands.iter().enumerate() {
        if c.complete {
            groups.entry(c.group.as_str()).or_default().push(i);
        }
    }
    for members in groups.values_mut() {
        members.sort_by(|&a, &b| {
            let (ca, cb) = (&cands[a].created, &cands[b].created);
            cb.cmp(ca).then(a.cmp(&b))
        });
        if let Some(&newest) = members.first() {
            mark(&mut out, newest, Keep::Newest);
        }
        keep_newest_per_bucket(cands, members, r.daily, Keep::Daily, &mut out, |d| {
            (d.year(), d.ordinal())
        });
        keep_newest_per_bucket(cands, members, r.weekly, Keep::Weekly, &mut out, |d| {
            let w = d.iso_week();
            (w.year(), w.week())
        });
        keep_newest_per_bucket(cands, members, r.monthly, Keep::Monthly, &mut out, |d| {
            (d.year(), d.month())
        });
    }

    let safety_age = TimeDelta::days(SAFETY_DAYS);
    for (i, c) in cands.iter().enumerate() {
        if c.safety && now.signed_duration_since(c.created) < safety_age {
            mark(&mut out, i, Keep::RecentSafety);
        }
        if !c.complete {
            mark(&mut out, i, Keep::Incomplete);
        }
    }
    out
}

/// Marks the newest member of each of the `count` most recent buckets.
/// `members` is sorted newest first, so buckets come in order and the first
/// member of each is its newest.
fn keep_newest_per_bucket(
    cands: &[Candidate],
    members: &[usize],
    count: u32,
    why: Keep,
    out: &mut [Option<Keep>],
    bucket: impl Fn(NaiveDate) -> (i32, u32),
) {
    let mut seen = 0u32;
    let mut last = None;
    for &i in members {
        if seen >= count {
            break;
        }
        let b = bucket(cands[i].created.date());
        if last != Some(b) {
            last = Some(b);
            seen += 1;
            mark(out, i, why);
        }
    }
}

/// Records `why` unless an earlier reason was recorded.
fn mark(out: &mut [Option<Keep>], i: usize, why: Keep) {
    if let Some(slot @ None) = out.get_mut(i) {
        *slot = Some(why);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn at(y: i32, m: u32, d: u32, h: u32) -> NaiveDateTime {
        day(y, m, d).and_hms_opt(h, 0, 0).unwrap()
    }

    fn dump(created: NaiveDateTime) -> Candidate {
        Candidate {
            created,
            safety: false,
            complete: true,
            group: "db".into(),
        }
    }

    fn r(daily: u32, weekly: u32, monthly: u32) -> Retention {
        Retention {
            daily,
            weekly,
            monthly,
        }
    }

    #[test]
    fn sixty_nightly_backups() {
        // 2025-09-27 .. 2025-11-25 (a Tuesday), 03:00 each night.
        let first = day(2025, 9, 27);
        let cands: Vec<Candidate> = (0..60)
            .map(|i| dump((first + TimeDelta::days(i)).and_hms_opt(3, 0, 0).unwrap()))
            .collect();
        let now = at(2025, 11, 25, 12);
        let kept: BTreeMap<NaiveDate, Keep> = plan(&cands, now, Retention::default())
            .into_iter()
            .zip(&cands)
            .filter_map(|(k, c)| k.map(|k| (c.created.date(), k)))
            .collect();
        let mut expected = BTreeMap::from([
            (day(2025, 11, 25), Keep::Newest),
            // ISO weeks 48 (Nov 24-30, has the newest) and 47 (its newest,
            // Nov 23, is a daily one), 46, 45.
            (day(2025, 11, 16), Keep::Weekly),
            (day(2025, 11, 9), Keep::Weekly),
            // Months: November (the newest), October, September.
            (day(2025, 10, 31), Keep::Monthly),
            (day(2025, 9, 30), Keep::Monthly),
        ]);
        for d in 19..=24 {
            expected.insert(day(2025, 11, d), Keep::Daily);
        }
        assert_eq!(kept, expected);
        assert_eq!(kept.len(), 11);
    }

    #[test]
    fn several_a_day_keep_the_newest_of_each_day() {
        let mut cands = Vec::new();
        for d in [23, 24, 25] {
            for h in [1, 13, 22] {
                cands.push(dump(at(2025, 11, d, h)));
            }
        }
        // Input order does not matter.
        cands.reverse();
        cands.swap(0, 4);
        let now = at(2025, 11, 26, 0);
        let p = plan(&cands, now, r(7, 0, 0));
        let kept: Vec<(NaiveDateTime, Keep)> = p
            .iter()
            .zip(&cands)
            .filter_map(|(k, c)| k.map(|k| (c.created, k)))
            .collect();
        let mut kept = kept;
        kept.sort();
        assert_eq!(
            kept,
            [
                (at(2025, 11, 23, 22), Keep::Daily),
                (at(2025, 11, 24, 22), Keep::Daily),
                (at(2025, 11, 25, 22), Keep::Newest),
            ]
        );
        // Only two days wanted: the oldest day goes.
        let p = plan(&cands, now, r(2, 0, 0));
        assert_eq!(p.iter().flatten().count(), 2);
    }

    #[test]
    fn safety_backups_are_kept_for_a_week() {
        let now = at(2025, 11, 25, 12);
        let newest = dump(now - TimeDelta::hours(1));
        let mut recent = dump(now - TimeDelta::days(3));
        recent.safety = true;
        let mut old = dump(now - TimeDelta::days(10));
        old.safety = true;
        let mut edge = dump(now - TimeDelta::days(7));
        edge.safety = true;
        let mut future = dump(now + TimeDelta::days(30));
        future.safety = true;
        future.group = "other".into();
        let p = plan(&[newest, recent, old, edge, future], now, r(0, 0, 0));
        assert_eq!(
            p,
            [
                Some(Keep::Newest),
                Some(Keep::RecentSafety),
                None,
                None,
                Some(Keep::Newest)
            ]
        );
    }

    #[test]
    fn the_newest_is_kept_even_when_old_and_a_safety_backup() {
        let now = at(2025, 11, 25, 12);
        let mut only = dump(at(2024, 1, 1, 0));
        only.safety = true;
        assert_eq!(plan(&[only], now, r(0, 0, 0)), [Some(Keep::Newest)]);
        // And without safety, with zero retention.
        let cands = [dump(at(2024, 1, 1, 0)), dump(at(2023, 1, 1, 0))];
        assert_eq!(plan(&cands, now, r(0, 0, 0)), [Some(Keep::Newest), None]);
    }

    #[test]
    fn incomplete_backups_are_never_deleted_and_never_the_newest() {
        let now = at(2025, 11, 25, 12);
        let mut broken_new = dump(at(2025, 11, 25, 3));
        broken_new.complete = false;
        let mut broken_old = dump(at(2020, 1, 1, 3));
        broken_old.complete = false;
        let good = dump(at(2025, 11, 20, 3));
        let older = dump(at(2025, 11, 19, 3));
        let p = plan(&[broken_new, good, older, broken_old], now, r(0, 0, 0));
        assert_eq!(
            p,
            [
                Some(Keep::Incomplete),
                Some(Keep::Newest),
                None,
                Some(Keep::Incomplete)
            ]
        );
        // Incomplete ones do not use up a day either.
        let mut broken = dump(at(2025, 11, 21, 3));
        broken.complete = false;
        let p = plan(&[broken, good_at(20), good_at(19)], now, r(2, 0, 0));
        assert_eq!(
            p,
            [
                Some(Keep::Incomplete),
                Some(Keep::Newest),
                Some(Keep::Daily)
            ]
        );
    }

    fn good_at(d: u32) -> Candidate {
        dump(at(2025, 11, d, 3))
    }

    #[test]
    fn groups_are_independent() {
        let now = at(2025, 11, 25, 12);
        let vol = |d: u32, key: &str| Candidate {
            group: key.into(),
            ..good_at(d)
        };
        let cands = [
            good_at(25),
            good_at(24),
            vol(10, "pgdata"),
            vol(9, "pgdata"),
            vol(1, "uploads"),
        ];
        assert_eq!(
            plan(&cands, now, r(1, 0, 0)),
            [
                Some(Keep::Newest),
                None,
                Some(Keep::Newest),
                None,
                Some(Keep::Newest)
            ]
        );
    }

    #[test]
    fn weeks_and_months_across_the_year_end() {
        let now = at(2026, 1, 10, 12);
        // 2025-12-29 (Mon) and 2026-01-02 (Fri) share ISO week 2026-W01;
        // 2025-12-28 (Sun) is 2025-W52.
        let cands = [
            good_at_ymd(2026, 1, 2),
            good_at_ymd(2025, 12, 29),
            good_at_ymd(2025, 12, 28),
            good_at_ymd(2025, 11, 30),
        ];
        assert_eq!(
            plan(&cands, now, r(0, 2, 0)),
            [Some(Keep::Newest), None, Some(Keep::Weekly), None]
        );
        assert_eq!(
            plan(&cands, now, r(0, 0, 3)),
            [
                Some(Keep::Newest),
                Some(Keep::Monthly),
                None,
                Some(Keep::Monthly)
            ]
        );
    }

    fn good_at_ymd(y: i32, m: u32, d: u32) -> Candidate {
        dump(at(y, m, d, 3))
    }

    #[test]
    fn ties_take_input_order_as_newest_first() {
        let now = at(2025, 11, 25, 12);
        let same = [good_at(20), good_at(20), good_at(20)];
        assert_eq!(
            plan(&same, now, r(7, 4, 6)),
            [Some(Keep::Newest), None, None]
        );
    }

    #[test]
    fn nothing_to_plan() {
        assert!(plan(&[], at(2025, 1, 1, 0), Retention::default()).is_empty());
        // Extreme dates do not overflow.
        let cands = [
            dump(NaiveDateTime::MIN),
            dump(NaiveDateTime::MAX),
            Candidate {
                safety: true,
                ..dump(NaiveDateTime::MIN)
            },
        ];
        let p = plan(&cands, NaiveDateTime::MAX, r(u32::MAX, u32::MAX, u32::MAX));
        assert_eq!(p[1], Some(Keep::Newest));
        let p = plan(&cands, NaiveDateTime::MIN, r(0, 0, 0));
        assert_eq!(p, [None, Some(Keep::Newest), Some(Keep::RecentSafety)]);
    }
}
