//! Sources: one task per configured endpoint, each turning its protocol
//! into owned `model` values sent to the app through one channel, and
//! reporting its own health. They never touch the app's state.

pub mod alerts;
pub mod aws;
pub mod cloudwatch;
pub mod cluster;
pub mod data;
pub mod promql;
