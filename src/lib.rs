//! touban (当番, "the one on duty"): a full-screen terminal console for the
//! on-call engineers of a multi-region platform.
//!
//! Layers, imports going downward only: [`model`] (domain types), [`config`]
//! (files), [`app`] (the state and its reducer), [`ui`] (drawing), [`tui`]
//! (terminal and event loop), [`cli`] (wiring).

pub mod app;
pub mod cli;
pub mod config;
pub mod model;
pub mod sandbox;
pub mod sources;
pub mod tui;
pub mod ui;
