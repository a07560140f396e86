//! Issue 6, being built.
