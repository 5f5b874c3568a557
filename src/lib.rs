//! touban (当番, "the one on duty"): a full-screen terminal console for the
//! on-call engineers of a multi-region platform.
//!
//! Layers, imports going downward only: [`model`] (domain types), [`config`]
//! (files), [`i18n`] (the message catalogues), [`sources`] (one per backend), [`app`] (the state and its
//! reducer), [`ui`] (drawing), [`tui`] (terminal and event loop), [`cli`]
//! (wiring); [`sandbox`] (the simulated platform) knows nothing of the
//! others, and [`logging`] (the debug log) is below them all.

pub mod app;
pub mod cli;
pub mod config;
pub mod exec;
pub mod i18n;
pub mod logging;
pub mod model;
pub mod projection;
pub mod sandbox;
pub mod sources;
pub mod tui;
pub mod ui;
