//! Where backups live besides the local backup directory: S3-compatible
//! remotes. `remote` says which one and how to reach it (the target URL,
//! the endpoint, region and credentials from the environment and the AWS
//! files), `s3` talks to it, `copies` puts a committed backup there and
//! brings one back.

pub mod copies;
pub mod crypt;
pub mod remote;
pub mod s3;
