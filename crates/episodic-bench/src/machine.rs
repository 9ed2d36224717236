//! What a figure was measured on, and when: the numbers mean little without it.

use std::time::{SystemTime, UNIX_EPOCH};

/// The machine and moment of a benchmark run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    /// Logical cores the process may use.
    pub cores: usize,
    /// `model name` from `/proc/cpuinfo`, or `unknown`.
    pub cpu: String,
    /// Memory in GiB from `/proc/meminfo`, when readable.
    pub memory_gib: Option<u64>,
    /// The UTC date, `YYYY-MM-DD`.
    pub date: String,
}

impl Machine {
    /// Reads the current machine and date.
    pub fn current() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        Machine {
            cores: std::thread::available_parallelism().map(usize::from).unwrap_or(1),
            cpu: cpu_model(&cpuinfo).unwrap_or_else(|| "unknown".to_owned()),
            memory_gib: memory_kib(&meminfo).map(|kib| (kib + 512 * 1024) / (1024 * 1024)),
            date: utc_date(SystemTime::now()),
        }
    }

    /// One line for the report.
    pub fn describe(&self) -> String {
        let memory = self.memory_gib.map(|gib| format!(", {gib} GiB RAM")).unwrap_or_default();
        format!("{} cores, {}{memory}", self.cores, self.cpu)
    }
}

/// The 1-minute load average from `/proc/loadavg`, or `?`.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}

/// The first `model name` in a `/proc/cpuinfo` text.
pub fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == "model name").then(|| value.trim().to_owned()).filter(|value| !value.is_empty())
    })
}

fn memory_kib(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|line| line.starts_with("MemTotal:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// `YYYY-MM-DD` in UTC (Howard Hinnant's days-to-civil; no date crate for one line of a report).
pub fn utc_date(time: SystemTime) -> String {
    let days = time.duration_since(UNIX_EPOCH).map(|d| d.as_secs() / 86_400).unwrap_or(0) as i64;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dates_are_civil() {
        assert_eq!(utc_date(UNIX_EPOCH), "1970-01-01");
        assert_eq!(utc_date(UNIX_EPOCH + Duration::from_secs(951_782_400)), "2000-02-29");
        assert_eq!(utc_date(UNIX_EPOCH + Duration::from_secs(1_771_891_200)), "2026-02-24");
    }

    #[test]
    fn cpu_model_is_the_first_named_one() {
        let text =
            "processor\t: 0\nmodel name\t: AMD EPYC 7B13\nprocessor\t: 1\nmodel name\t: AMD EPYC 7B13\n";
        assert_eq!(cpu_model(text).as_deref(), Some("AMD EPYC 7B13"));
        assert_eq!(cpu_model("processor : 0\n"), None);
        assert_eq!(memory_kib("MemTotal:       24596132 kB\n"), Some(24_596_132));
    }
}
