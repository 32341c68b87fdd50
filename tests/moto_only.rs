#[path = "scenarios/moto.rs"]
mod moto;
