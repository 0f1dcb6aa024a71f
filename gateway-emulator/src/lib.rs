//! muster-emulator (being written).
