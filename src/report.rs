//! Rendering of a scan for humans and as JSON.
