//! muster-reconcile (being written).
