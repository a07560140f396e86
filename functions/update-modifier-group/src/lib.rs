//! `update-modifier-group` — placeholder until its issue-4 implementation lands.

use olympus::Function;

pub fn function() -> Function {
    Function::http("update-modifier-group").build()
}
