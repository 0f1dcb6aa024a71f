//! muster-gateway (being written).
