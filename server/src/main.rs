//! `terrain`: the command-line entry point of Terrain's server and tools.

fn main() {
    println!("terrain {}", env!("CARGO_PKG_VERSION"));
}
