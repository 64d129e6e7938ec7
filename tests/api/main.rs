//! Black-box tests through HTTP against the real application, each on its own
//! port with its own data folder.

mod actors;
mod auth;
mod bad_input;
mod helpers;
mod ops;
mod process;
mod tokens;
mod users;
