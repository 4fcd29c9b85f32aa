//! The database servers budgie knows: what it says to each to dump, load,
//! check and swap a database. One module per kind.

pub mod postgres;
