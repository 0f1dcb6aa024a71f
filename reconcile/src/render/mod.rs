//! Renderers: the vendors' preview text, versioned JSON, and the CSV export.
