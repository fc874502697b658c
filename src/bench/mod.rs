//! `wijkpuls bench ...`: measurements with a baseline taken in the same run, on the same
//! machine and database, so a figure means something on its own.

pub mod abuse;
pub mod append;
pub mod contention;
pub mod fanout;
pub mod graphql;
