//! barespice-host: placeholder, being written.
fn main() {}
