//! Scenarios: what happens to the simulated platform, second by second of
//! simulated time. Deterministic: the same scenario tells the same story,
//! so tests can wait for its events and `--speed` only hurries it.

use std::fmt;
use std::str::FromStr;

/// A story.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scenario {
    /// Nothing goes wrong.
    Calm,
    /// The demo's: an inference-latency spike on ai-services in Tokyo, a
    /// crash-looping backend-api pod, replica lag growing in Korea, then
    /// recovery.
    #[default]
    Incidents,
    /// The Tokyo primary database fails, then the Tokyo cluster's API stops
    /// answering: the failover drill.
    OutageTokyo,
}

/// What the scenario says holds at one simulated second. The switches are
/// independent failures, so they are separate booleans.
#[derive(Debug, Clone, Copy, PartialEq)]
#[allow(clippy::struct_excessive_bools)]
pub struct Conditions {
    /// p95 latency of Tokyo's backend-api, seconds.
    pub backend_p95: f64,
    /// Share of Tokyo's backend-api requests answered 5xx.
    pub backend_error_ratio: f64,
    /// p95 inference latency of Tokyo's ai-services, seconds.
    pub inference_p95: f64,
    /// Tokyo's model accuracy.
    pub accuracy: f64,
    /// Korea's replica replay lag, seconds.
    pub korea_lag: f64,
    /// Tokyo's primary database is down.
    pub tokyo_db_down: bool,
    /// Tokyo's services stop answering scrapes.
    pub tokyo_down: bool,
    /// Tokyo's Kubernetes API stops answering.
    pub tokyo_api_down: bool,
    /// One backend-api pod in Tokyo crash-loops.
    pub crash_backend_pod: bool,
}

const CALM: Conditions = Conditions {
    backend_p95: 0.3,
    backend_error_ratio: 0.004,
    inference_p95: 0.9,
    accuracy: 0.92,
    korea_lag: 0.4,
    tokyo_db_down: false,
    tokyo_down: false,
    tokyo_api_down: false,
    crash_backend_pod: false,
};

impl Scenario {
    /// Every scenario's name.
    pub const NAMES: [&'static str; 3] = ["calm", "incidents", "outage-tokyo"];

    /// The conditions at simulated second `t`.
    pub fn at(self, t: u64) -> Conditions {
        let mut c = CALM;
        match self {
            Scenario::Calm => {}
            Scenario::Incidents => {
                // 60..480 s: inference slows to a 3 s p95 (AIModelInferenceLatency fires after 3 min).
                if (60..480).contains(&t) {
                    c.inference_p95 = 3.0;
                }
                // 120..900 s: one backend-api pod crash-loops (PodCrashLooping).
                c.crash_backend_pod = (120..900).contains(&t);
                // 300..700 s: Korea's replica falls behind, up to 400 s; back by 900 s.
                #[allow(clippy::cast_precision_loss)]
                let lag = match t {
                    300..700 => (t - 300) as f64,
                    700..900 => (900 - t) as f64 * 2.0,
                    _ => 0.4,
                };
                c.korea_lag = lag.max(0.4);
            }
            Scenario::OutageTokyo => {
                c.tokyo_db_down = t >= 60;
                c.backend_error_ratio = if t >= 60 { 0.35 } else { c.backend_error_ratio };
                c.tokyo_api_down = t >= 120;
                c.tokyo_down = t >= 180;
            }
        }
        c
    }
}

impl FromStr for Scenario {
    type Err = String;

    fn from_str(s: &str) -> Result<Scenario, String> {
        match s {
            "calm" => Ok(Scenario::Calm),
            "incidents" => Ok(Scenario::Incidents),
            "outage-tokyo" => Ok(Scenario::OutageTokyo),
            _ => Err(format!(
                "unknown scenario `{s}`: expected one of {}",
                Scenario::NAMES.join(", ")
            )),
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scenario::Calm => "calm",
            Scenario::Incidents => "incidents",
            Scenario::OutageTokyo => "outage-tokyo",
        })
    }
}
