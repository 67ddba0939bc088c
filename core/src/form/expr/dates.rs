//! Dates, dateTimes and times as ODK handles them: parsing the strings ODK stores, converting
//! to and from numbers of days since 1970-01-01, and `format-date`'s `%` specifiers.
//!
//! Conventions (JavaRosa's, except where noted):
//! - A date is a number of days since 1970-01-01: `today() + 1`, `${d2} - ${d1}`.
//! - A dateTime used as a number is the day number of its *local date* (whole days), so
//!   `now() > ${dt}` compares dates; `decimal-date-time()` gives the exact instant as
//!   fractional days since 1970-01-01T00:00Z.
//! - "Local" time is the value's own UTC offset. JavaRosa converts to the device's time zone
//!   first; both agree for values captured on the device, and ours needs no time zone database.
//!   Where a value has no offset (a bare date turned into a dateTime, a dateTime written
//!   without offset, a number turned into a dateTime), the offset of
//!   [`EvalContext::now`](super::EvalContext::now) is used.
//! - A time ('HH:MM[:SS[.fff]][offset]') used as a number is the fraction of the day of its
//!   wall-clock time, so two times compare and subtract meaningfully. (JavaRosa puts times on
//!   1970-01-01 and compares them as whole days, which makes all times equal.)

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike};
use std::fmt::Write as _;

const DAY_MS: f64 = 86_400_000.0;
const DAY_SECONDS: f64 = 86_400.0;
/// `NaiveDate::num_days_from_ce()` of 1970-01-01.
const EPOCH_FROM_CE: i64 = 719_163;

/// A date, dateTime or time parsed from a string.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Temporal {
    /// 'YYYY-MM-DD'
    Date(NaiveDate),
    /// 'YYYY-MM-DDTHH:MM[:SS[.fff]][offset]', with its offset if written.
    DateTime(NaiveDateTime, Option<FixedOffset>),
    /// 'HH:MM[:SS[.fff]][offset]', with its offset if written.
    Time(NaiveTime, Option<FixedOffset>),
}

/// Parses the ISO 8601 forms ODK stores. Month and day may have one digit, as JavaRosa
/// accepts; the year needs four to six digits so that ordinary numbers and codes are never
/// mistaken for dates.
pub(super) fn parse(text: &str) -> Option<Temporal> {
    let text = text.trim();
    // Every form starts with a digit and is ASCII; checking first keeps number conversion of
    // ordinary text cheap, and makes byte slicing below safe.
    if !text.as_bytes().first().is_some_and(u8::is_ascii_digit) || !text.is_ascii() {
        return None;
    }
    if let Some((date, time)) = text.split_once('T') {
        let date = parse_date(date)?;
        let (time, offset) = parse_time(time)?;
        return Some(Temporal::DateTime(date.and_time(time), offset));
    }
    if let Some(date) = parse_date(text) {
        return Some(Temporal::Date(date));
    }
    let (time, offset) = parse_time(text)?;
    Some(Temporal::Time(time, offset))
}

fn digits(s: &str, min: usize, max: usize) -> Option<u32> {
    if (min..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) { s.parse().ok() } else { None }
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    let mut parts = s.split('-');
    let year = digits(parts.next()?, 4, 6)?;
    let month = digits(parts.next()?, 1, 2)?;
    let day = digits(parts.next()?, 1, 2)?;
    if parts.next().is_some() {
        return None;
    }
    NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)
}

fn parse_time(s: &str) -> Option<(NaiveTime, Option<FixedOffset>)> {
    let (clock, offset) = if let Some(clock) = s.strip_suffix('Z') {
        (clock, FixedOffset::east_opt(0))
    } else if let Some(i) = s.rfind(['+', '-']) {
        let (clock, zone) = s.split_at(i);
        (clock, Some(parse_offset(zone)?))
    } else {
        (s, None)
    };
    let mut parts = clock.split(':');
    let hour = digits(parts.next()?, 1, 2)?;
    let minute = digits(parts.next()?, 2, 2)?;
    let (second, nanos) = match parts.next() {
        None => (0, 0),
        Some(sec) => {
            let (whole, frac) = sec.split_once('.').unwrap_or((sec, ""));
            let second = digits(whole, 2, 2)?;
            let nanos = if frac.is_empty() {
                0
            } else {
                let frac = digits(frac, 1, 9).map(|_| frac)?;
                format!("{frac:0<9}").parse().ok()?
            };
            (second, nanos)
        }
    };
    if parts.next().is_some() {
        return None;
    }
    Some((NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)?, offset))
}

fn parse_offset(zone: &str) -> Option<FixedOffset> {
    let (sign, rest) = match zone.as_bytes().first()? {
        b'+' => (1, &zone[1..]),
        b'-' => (-1, &zone[1..]),
        _ => return None,
    };
    let (hours, minutes) = match rest.len() {
        2 => (rest, "00"),
        4 => rest.split_at(2),
        5 if rest.as_bytes().get(2) == Some(&b':') => (&rest[..2], &rest[3..]),
        _ => return None,
    };
    let hours = digits(hours, 2, 2)?;
    let minutes = digits(minutes, 2, 2)?;
    if hours > 23 || minutes > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * i32::try_from(hours * 3600 + minutes * 60).ok()?)
}

/// Days since 1970-01-01.
pub(super) fn days_since_epoch(date: NaiveDate) -> f64 {
    (i64::from(date.num_days_from_ce()) - EPOCH_FROM_CE) as f64
}

/// The date `days` (truncated toward zero, as JavaRosa's `int()`) after 1970-01-01.
pub(super) fn date_from_days(days: f64) -> Option<NaiveDate> {
    if !days.is_finite() || days.abs() > 1.0e8 {
        return None;
    }
    let days = days.trunc() as i64 + EPOCH_FROM_CE;
    NaiveDate::from_num_days_from_ce_opt(i32::try_from(days).ok()?)
}

/// The instant `days` after 1970-01-01T00:00Z, shown at `offset`.
pub(super) fn datetime_from_days(days: f64, offset: FixedOffset) -> Option<DateTime<FixedOffset>> {
    if !days.is_finite() || days.abs() > 1.0e8 {
        return None;
    }
    let millis = (days * DAY_MS).round() as i64;
    Some(DateTime::from_timestamp_millis(millis)?.with_timezone(&offset))
}

/// Fractional days since 1970-01-01T00:00Z of an instant.
pub(super) fn instant_days(dt: &DateTime<FixedOffset>) -> f64 {
    dt.timestamp_millis() as f64 / DAY_MS
}

/// The fraction of the day a wall-clock time represents.
pub(super) fn fraction_of_day(time: NaiveTime) -> f64 {
    (f64::from(time.num_seconds_from_midnight()) + f64::from(time.nanosecond()) / 1e9) / DAY_SECONDS
}

/// A local wall time at a fixed offset (always unambiguous).
pub(super) fn at_offset(local: NaiveDateTime, offset: FixedOffset) -> Option<DateTime<FixedOffset>> {
    offset.from_local_datetime(&local).single()
}

/// The number a date-like string converts to in arithmetic and comparisons: days for a date,
/// the local date's days for a dateTime, the fraction of the day for a time.
pub(super) fn string_to_number(text: &str) -> Option<f64> {
    Some(match parse(text)? {
        Temporal::Date(d) => days_since_epoch(d),
        Temporal::DateTime(dt, _) => days_since_epoch(dt.date()),
        Temporal::Time(t, _) => fraction_of_day(t),
    })
}

fn push_year(out: &mut String, year: i32) {
    if year < 0 {
        let _ = write!(out, "-{:04}", -i64::from(year));
    } else {
        let _ = write!(out, "{year:04}");
    }
}

/// 'YYYY-MM-DD', as ODK stores dates.
pub(super) fn format_iso_date(date: NaiveDate) -> String {
    let mut out = String::with_capacity(10);
    push_year(&mut out, date.year());
    let _ = write!(out, "-{:02}-{:02}", date.month(), date.day());
    out
}

/// 'YYYY-MM-DDTHH:MM:SS.mmm+HH:MM', as ODK stores dateTimes.
pub(super) fn format_iso_datetime(dt: &DateTime<FixedOffset>) -> String {
    let local = dt.naive_local();
    let mut out = format_iso_date(local.date());
    let offset = dt.offset().local_minus_utc();
    let sign = if offset < 0 { '-' } else { '+' };
    let offset = offset.abs() / 60;
    let _ = write!(
        out,
        "T{:02}:{:02}:{:02}.{:03}{sign}{:02}:{:02}",
        local.hour(),
        local.minute(),
        local.second(),
        local.nanosecond() / 1_000_000 % 1000,
        offset / 60,
        offset % 60
    );
    out
}

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const SPECIFIERS: &str = "%Y %y %m %n %b %d %e %a %H %h %M %S %3 %W %%";

/// Checks a literal `format-date` format at parse time, like JavaRosa does when it formats.
pub(super) fn check_format(format: &str) -> Result<(), String> {
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            continue;
        }
        match chars.next() {
            None => return Err(format!("the format ends with a lone `%`; use {SPECIFIERS}")),
            Some('Y' | 'y' | 'm' | 'n' | 'b' | 'd' | 'e' | 'a' | 'H' | 'h' | 'M' | 'S' | '3' | 'W' | '%') => {}
            Some(other) => {
                return Err(format!("unknown format `%{other}`; use {SPECIFIERS}"));
            }
        }
    }
    Ok(())
}

/// Formats a local date and time with JavaRosa's `format-date` specifiers. Month and day
/// names are English (JavaRosa uses the device locale). `%W` is the ISO 8601 week number.
/// Unknown specifiers, which only a computed format can contain, are copied as written.
pub(super) fn format(local: NaiveDateTime, format: &str) -> String {
    let mut out = String::with_capacity(format.len() + 8);
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(spec) = chars.next() else {
            out.push('%');
            break;
        };
        let _ = match spec {
            '%' => write!(out, "%"),
            'Y' => {
                push_year(&mut out, local.year());
                Ok(())
            }
            'y' => {
                // JavaRosa pads the year to four digits and drops the first two.
                let padded = format!("{:04}", local.year());
                write!(out, "{}", padded.get(2..).unwrap_or(""))
            }
            'm' => write!(out, "{:02}", local.month()),
            'n' => write!(out, "{}", local.month()),
            'b' => write!(out, "{}", MONTHS[local.month0() as usize % 12]),
            'd' => write!(out, "{:02}", local.day()),
            'e' => write!(out, "{}", local.day()),
            'a' => write!(out, "{}", WEEKDAYS[local.weekday().num_days_from_monday() as usize % 7]),
            'H' => write!(out, "{:02}", local.hour()),
            'h' => write!(out, "{}", local.hour()),
            'M' => write!(out, "{:02}", local.minute()),
            'S' => write!(out, "{:02}", local.second()),
            '3' => write!(out, "{:03}", local.nanosecond() / 1_000_000 % 1000),
            'W' => write!(out, "{}", local.iso_week().week()),
            other => write!(out, "%{other}"),
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn off(h: i32) -> FixedOffset {
        FixedOffset::east_opt(h * 3600).unwrap()
    }

    #[test]
    fn parses_odk_storage_formats() {
        assert_eq!(parse("2024-01-15"), Some(Temporal::Date(d(2024, 1, 15))));
        assert_eq!(parse(" 2024-1-5 "), Some(Temporal::Date(d(2024, 1, 5))));
        let dt = d(2024, 1, 15).and_hms_milli_opt(10, 20, 30, 123).unwrap();
        assert_eq!(parse("2024-01-15T10:20:30.123+02:00"), Some(Temporal::DateTime(dt, Some(off(2)))));
        assert_eq!(parse("2024-01-15T10:20:30.123-0500"), Some(Temporal::DateTime(dt, Some(off(-5)))));
        assert_eq!(parse("2024-01-15T10:20:30.123Z"), Some(Temporal::DateTime(dt, Some(off(0)))));
        assert_eq!(
            parse("2024-01-15T10:20"),
            Some(Temporal::DateTime(d(2024, 1, 15).and_hms_opt(10, 20, 0).unwrap(), None))
        );
        assert_eq!(
            parse("10:30:00.000+02"),
            Some(Temporal::Time(NaiveTime::from_hms_opt(10, 30, 0).unwrap(), Some(off(2))))
        );
    }

    #[test]
    fn rejects_non_dates() {
        for s in [
            "",
            "abc",
            "2024",
            "20240115",
            "24-01-15",
            "2024-13-01",
            "2024-02-30",
            "2024-01-15T",
            "2024-01-15T25:00",
            "12",
            "1.5",
            "10:3",
            "2024-01-15T10:00+2",
            "2024-01-15x",
            "2024-01-15T10:00:00+24:00",
            "-2024-01-01",
        ] {
            assert_eq!(parse(s), None, "{s}");
        }
    }

    #[test]
    fn day_numbers() {
        assert_eq!(days_since_epoch(d(1970, 1, 1)), 0.0);
        assert_eq!(days_since_epoch(d(2024, 1, 15)), 19737.0);
        assert_eq!(days_since_epoch(d(1969, 12, 31)), -1.0);
        assert_eq!(date_from_days(19737.9), Some(d(2024, 1, 15)));
        assert_eq!(date_from_days(-0.5), Some(d(1970, 1, 1)));
        assert_eq!(date_from_days(f64::NAN), None);
        assert_eq!(date_from_days(1e12), None);
        assert_eq!(string_to_number("2024-01-15T23:59:00+02:00"), Some(19737.0));
        assert_eq!(string_to_number("12:00"), Some(0.5));
        let dt = datetime_from_days(19737.5, off(2)).unwrap();
        assert_eq!(format_iso_datetime(&dt), "2024-01-15T14:00:00.000+02:00");
        assert_eq!(instant_days(&dt), 19737.5);
    }

    #[test]
    fn iso_output() {
        assert_eq!(format_iso_date(d(5, 3, 1)), "0005-03-01");
        let dt = at_offset(
            d(2024, 1, 15).and_hms_milli_opt(10, 20, 30, 5).unwrap(),
            FixedOffset::east_opt(-(5 * 3600 + 30 * 60)).unwrap(),
        )
        .unwrap();
        assert_eq!(format_iso_datetime(&dt), "2024-01-15T10:20:30.005-05:30");
    }

    #[test]
    fn javarosa_format_specifiers() {
        let t = d(2024, 3, 5).and_hms_milli_opt(9, 7, 3, 45).unwrap();
        assert_eq!(format(t, "%Y-%m-%d %H:%M %b %a %e %n %y"), "2024-03-05 09:07 Mar Tue 5 3 24");
        assert_eq!(format(t, "%h:%S.%3 %W 100%%"), "9:03.045 10 100%");
        assert_eq!(format(t, "%Q%"), "%Q%");
        assert!(check_format("%Y-%m-%d %H:%M %b %a %e %n %y %h %S %3 %W %%").is_ok());
        assert!(check_format("%Q").unwrap_err().contains("%Q"));
        assert!(check_format("%").unwrap_err().contains("lone"));
    }
}
