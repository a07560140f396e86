//! Black-box platform test support.
