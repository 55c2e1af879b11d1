//! Empty: see `benches/p256.rs`.
