//! Civil time of the simulated site, for the profiles that follow the clock
//! and the calendar (rush hours, weekends, seasons).
//!
//! A scenario's `epoch` is the local civil date and time at which simulated
//! time zero falls; simulated time then runs without time zones or daylight
//! saving, as a site's own sensors would count it.

use jiff::civil::DateTime;
use twin_core::SimTime;

/// Where in the week, the day and the year a simulated instant falls.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Civil {
    /// 0 = Monday … 6 = Sunday.
    pub weekday: u8,
    /// Hour of the day, fractional (7.5 is 07:30).
    pub hour: f64,
    /// Day of the year, fractional, from 0.
    pub day_of_year: f64,
}

/// The mapping from simulated time to civil time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Calendar {
    epoch: DateTime,
}

impl Calendar {
    pub fn new(epoch: DateTime) -> Calendar {
        Calendar { epoch }
    }

    /// Parses `2026-03-02T00:00:00` (a trailing `Z` is accepted and ignored).
    pub fn parse(epoch: &str) -> Result<Calendar, String> {
        let text = epoch.trim().trim_end_matches('Z');
        text.parse::<DateTime>()
            .map(Calendar::new)
            .map_err(|e| format!("`{epoch}` is not a date-time such as 2026-03-02T00:00:00: {e}"))
    }

    pub fn epoch(&self) -> DateTime {
        self.epoch
    }

    /// The Unix time of simulated time zero, ms, reading the epoch as UTC
    /// (how timestamps from outside, RFC 3339 or Unix, map onto the clock).
    pub fn epoch_unix_ms(&self) -> i64 {
        self.epoch
            .to_zoned(jiff::tz::TimeZone::UTC)
            .map_or(0, |z| z.timestamp().as_millisecond())
    }

    pub fn civil(&self, at: SimTime) -> Civil {
        let start_of_day = self.epoch.date().to_datetime(jiff::civil::Time::midnight());
        let since_midnight_ms = self.epoch.duration_since(start_of_day).as_millis() as i64;
        let ms = at.as_ms() + since_midnight_ms;
        let days = ms.div_euclid(86_400_000);
        let in_day = ms.rem_euclid(86_400_000);
        let date = self
            .epoch
            .date()
            .checked_add(jiff::Span::new().days(days))
            .unwrap_or(self.epoch.date());
        Civil {
            weekday: date.weekday().to_monday_zero_offset() as u8,
            hour: in_day as f64 / 3_600_000.0,
            day_of_year: (date.day_of_year() - 1) as f64 + in_day as f64 / 86_400_000.0,
        }
    }
}

impl Default for Calendar {
    fn default() -> Self {
        Calendar::new(jiff::civil::date(2026, 3, 2).at(0, 0, 0, 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_time_follows_the_epoch() {
        let cal = Calendar::parse("2026-03-02T06:00:00Z").unwrap(); // a Monday
        let c = cal.civil(SimTime::hours(2));
        assert_eq!(c.weekday, 0);
        assert!((c.hour - 8.0).abs() < 1e-9);
        assert!((c.day_of_year - (31.0 + 28.0 + 1.0 + 8.0 / 24.0)).abs() < 1e-9);
        assert_eq!(cal.civil(SimTime::hours(18)).weekday, 1);
        assert_eq!(cal.civil(SimTime::days(6)).weekday, 6);
        assert!(
            Calendar::parse("yesterday")
                .unwrap_err()
                .contains("yesterday")
        );
    }
}
