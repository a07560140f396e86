//! Sales: orders, their pricing, payments and refunds (issue 5). The order functions share
//! this module; [`pricing`] is the pure arithmetic every order total comes from.

pub mod amend;
pub mod lifecycle;
pub mod orders;
pub mod payments;
pub mod pricing;
pub mod quote;
