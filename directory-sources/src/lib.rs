//! muster-directory (being written).
