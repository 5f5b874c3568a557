//! Region clocks: each region's time in its own zone (JST, KST, ...).

use std::time::SystemTime;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::config::Platform;

/// A region's clock.
#[derive(Debug, Clone)]
pub struct RegionClock {
    /// The region's display name.
    pub region: String,
    zone: TimeZone,
    /// The time, `HH:MM:SS`.
    pub time: String,
    /// The zone's abbreviation at that time (`JST`).
    pub abbreviation: String,
    /// Shown to the minute (the wallboard: a screen that changes once a
    /// minute, not every second).
    pub minutes: bool,
}

impl RegionClock {
    /// One clock per region of the platform, in its configured time zone
    /// (validated when the config was loaded; a zone that vanished since
    /// falls back to UTC rather than stopping the console).
    pub fn for_platform(platform: &Platform) -> Vec<RegionClock> {
        platform
            .regions
            .iter()
            .map(|r| RegionClock {
                region: r.display.clone(),
                zone: TimeZone::get(r.time_zone.get_ref()).unwrap_or(TimeZone::UTC),
                time: String::new(),
                abbreviation: String::new(),
                minutes: false,
            })
            .collect()
    }

    /// Sets the clock to `now`; returns whether its text changed.
    pub fn set(&mut self, now: SystemTime) -> bool {
        let Ok(ts) = Timestamp::try_from(now) else {
            return false;
        };
        let zoned = ts.to_zoned_datetime(self.zone.clone());
        let time = zoned
            .strftime(if self.minutes { "%H:%M" } else { "%H:%M:%S" })
            .to_string();
        let abbreviation = zoned.strftime("%Z").to_string();
        let changed = time != self.time || abbreviation != self.abbreviation;
        self.time = time;
        self.abbreviation = abbreviation;
        changed
    }
}
