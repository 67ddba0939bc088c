//! Export benchmark (placeholder).
fn main() {}
