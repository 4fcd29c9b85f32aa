//! TODO (helper)
use super::*;
use crate::error::Result;
pub fn load(_opts: &LoadOptions) -> Result<Project> {
    Err(crate::error::Error::new("compose model not implemented yet"))
}
