//! Value types shared by several sections: bounded seconds and days, the refusal a
//! value type gives, and the comma-separated lists some keys hold.

use super::SettingsError;

/// The longest duration any setting may name: ten years. Far beyond any sensible
/// lifetime, and far inside what date arithmetic can represent.
pub const MAX_DURATION_SECS: u64 = 10 * 365 * 24 * 60 * 60;
/// The longest period a setting counted in days may name (10 years).
pub const MAX_DAYS: u64 = 3650;

/// Why a value was refused, in words that fit after the key's name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(pub(super) String);

impl InvalidValue {
    /// The configuration error for `key` holding this value.
    pub(super) fn at(self, key: &'static str) -> SettingsError {
        SettingsError::Invalid {
            key,
            reason: self.0,
        }
    }
}

/// Parses `raw` into the value type of the setting `key`.
pub(super) fn parse<T, R>(key: &'static str, raw: R) -> Result<T, SettingsError>
where
    T: TryFrom<R, Error = InvalidValue>,
{
    T::try_from(raw).map_err(|e| e.at(key))
}

/// A duration of `MIN` seconds up to [`MAX_DURATION_SECS`]: whatever is added to a
/// timestamp, no lifetime can overflow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Seconds<const MIN: u64>(u64);

impl<const MIN: u64> Seconds<MIN> {
    pub fn secs(self) -> u64 {
        self.0
    }

    pub fn duration(self) -> std::time::Duration {
        std::time::Duration::from_secs(self.0)
    }

    /// For date arithmetic; the bound keeps it far inside what `TimeDelta` holds.
    pub fn delta(self) -> chrono::TimeDelta {
        chrono::TimeDelta::seconds(self.0 as i64)
    }
}

impl<const MIN: u64> TryFrom<u64> for Seconds<MIN> {
    type Error = InvalidValue;

    fn try_from(secs: u64) -> Result<Self, InvalidValue> {
        match (MIN..=MAX_DURATION_SECS).contains(&secs) {
            true => Ok(Seconds(secs)),
            false => Err(InvalidValue(format!(
                "must be between {MIN} and {MAX_DURATION_SECS} seconds (10 years)"
            ))),
        }
    }
}

/// A period in days, 0 up to [`MAX_DAYS`]; 0 turns off what it paces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Days(u64);

impl Days {
    pub fn days(self) -> u64 {
        self.0
    }

    /// The period, or `None` for 0 (off).
    pub fn period(self) -> Option<chrono::TimeDelta> {
        (self.0 > 0).then(|| chrono::TimeDelta::days(self.0 as i64))
    }
}

impl TryFrom<u64> for Days {
    type Error = InvalidValue;

    fn try_from(days: u64) -> Result<Self, InvalidValue> {
        match days <= MAX_DAYS {
            true => Ok(Days(days)),
            false => Err(InvalidValue(format!("must be between 0 and {MAX_DAYS}"))),
        }
    }
}

/// The entries of a comma-separated list, trimmed, empty ones dropped.
pub(super) fn split_list(raw: &str) -> impl Iterator<Item = &str> {
    raw.split(',').map(str::trim).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_run_from_their_minimum_to_ten_years() {
        assert!(Seconds::<1>::try_from(0).is_err());
        assert_eq!(Seconds::<1>::try_from(1).unwrap().secs(), 1);
        assert_eq!(Seconds::<0>::try_from(0).unwrap().duration().as_secs(), 0);
        let ten_years = Seconds::<0>::try_from(MAX_DURATION_SECS).unwrap();
        assert_eq!(ten_years.delta().num_seconds() as u64, MAX_DURATION_SECS);
        let err = Seconds::<3>::try_from(MAX_DURATION_SECS + 1).unwrap_err();
        assert_eq!(
            err.to_string(),
            "must be between 3 and 315360000 seconds (10 years)"
        );
        assert!(Seconds::<0>::try_from(u64::MAX).is_err());
    }

    #[test]
    fn zero_days_is_no_period_and_ten_years_is_the_longest() {
        assert_eq!(Days::try_from(0).unwrap().period(), None);
        let week = Days::try_from(7).unwrap();
        assert_eq!(week.period(), Some(chrono::TimeDelta::days(7)));
        assert!(Days::try_from(MAX_DAYS).is_ok());
        assert!(Days::try_from(MAX_DAYS + 1).is_err());
    }

    #[test]
    fn lists_are_split_on_commas_and_trimmed() {
        assert_eq!(split_list(" a, b ,,c").collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!(split_list("").count(), 0);
    }
}
