//! The binary's one reading of the system clock, in Unix time and in China Standard Time
//! (the conversion itself is pure and lives beside `CivilDate` in the core).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bidui_core::idnum::ChinaTime;
use bidui_core::CivilDate;

/// Time since 1970-01-01 UTC; zero on a clock set before it.
fn since_unix_epoch() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default()
}

pub fn unix_seconds() -> u64 {
    since_unix_epoch().as_secs()
}

pub fn unix_millis() -> u64 {
    since_unix_epoch().as_millis() as u64
}

pub fn now_in_china() -> ChinaTime {
    ChinaTime::from_unix_seconds(unix_seconds() as i64)
}

/// Today in China Standard Time (UTC+8): a person born today in Beijing is not born
/// in the future just because it is still yesterday in UTC.
pub fn today_in_china() -> CivilDate {
    now_in_china().date
}

/// A Unix time in seconds as a person reads it: China Standard Time.
pub fn china_time(unix_seconds: u64) -> ChinaTime {
    ChinaTime::from_unix_seconds(unix_seconds as i64)
}

/// A Unix time in milliseconds (custodian statements) as a person reads it.
pub fn china_time_of_millis(unix_millis: u64) -> ChinaTime {
    china_time(unix_millis / 1000)
}
