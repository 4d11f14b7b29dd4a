//! Scale-out figures (placeholder until written).

fn main() {}
