//! The global load balancer's view of a region: its pool, whether the
//! balancer may send it traffic (enabled) and whether its monitors see it
//! healthy.

/// A region's pool, as the load balancer reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolStatus {
    /// The pool's id.
    pub id: String,
    /// Its name (`iworkz-tokyo`).
    pub name: String,
    /// Whether the balancer may send it traffic. An enabled pool that
    /// looks healthy gets traffic back on its own (failback).
    pub enabled: bool,
    /// When it was disabled, as the balancer wrote it.
    pub disabled_at: Option<String>,
    /// What its monitors see: healthy or not in every data centre that
    /// checks it; none when none does (a disabled pool is not checked).
    pub healthy: Option<bool>,
    /// Origins seen healthy, of those checked.
    pub origins: (usize, usize),
    /// The first failure a monitor reports (`TCP connection failed`).
    pub failure: Option<String>,
}

impl PoolStatus {
    /// The pool in a few words: `enabled, healthy (1/1 origins)`.
    pub fn summary(&self) -> String {
        let health = match self.healthy {
            Some(true) => format!("healthy ({}/{} origins)", self.origins.0, self.origins.1),
            Some(false) => format!(
                "unhealthy ({}/{} origins{})",
                self.origins.0,
                self.origins.1,
                self.failure
                    .as_deref()
                    .map(|f| format!(": {f}"))
                    .unwrap_or_default()
            ),
            None => match &self.failure {
                Some(why) => why.clone(),
                None => "not health-checked".to_owned(),
            },
        };
        let state = if self.enabled { "enabled" } else { "disabled" };
        format!("{state}, {health}")
    }
}
