//! budgie: a safe front-end for compose stacks that hold a PostgreSQL database.

mod compose;
mod error;

fn main() {}
