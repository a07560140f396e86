//! State machines shared by the resources that have one (orders, kitchen tickets): one check,
//! one refusal. An invalid move is 409 `invalid_transition` with the current `status` and the
//! allowed `next_states` as extension members, so a client can show what it may do instead.

use crate::error::Error;

/// A resource's status whose moves are a fixed table.
pub trait StateMachine: Copy + PartialEq + 'static {
    /// The resource with its article, capitalised, for the problem detail: `"An order"`.
    const RESOURCE: &'static str;

    /// The wire name of the status (`placed`).
    fn as_str(self) -> &'static str;

    /// The states this one may move to.
    fn next_states(self) -> &'static [Self];
}

/// 409 `invalid_transition` unless `to` is a next state of `from`.
pub fn check<S: StateMachine>(from: S, to: S) -> Result<(), Error> {
    if from.next_states().contains(&to) {
        return Ok(());
    }
    let allowed: Vec<&str> = from.next_states().iter().map(|s| s.as_str()).collect();
    Err(Error::conflict(
        "invalid_transition",
        format!(
            "{} that is {} cannot become {}; it can become: {}.",
            S::RESOURCE,
            from.as_str(),
            to.as_str(),
            if allowed.is_empty() {
                "nothing (it is final)".to_owned()
            } else {
                allowed.join(", ")
            }
        ),
    )
    .with_extension("status", from.as_str())
    .with_extension("next_states", allowed))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Light {
        Red,
        Green,
        Broken,
    }

    impl StateMachine for Light {
        const RESOURCE: &'static str = "A light";

        fn as_str(self) -> &'static str {
            match self {
                Self::Red => "red",
                Self::Green => "green",
                Self::Broken => "broken",
            }
        }

        fn next_states(self) -> &'static [Self] {
            match self {
                Self::Red => &[Self::Green, Self::Broken],
                Self::Green => &[Self::Red, Self::Broken],
                Self::Broken => &[],
            }
        }
    }

    #[test]
    fn allowed_moves_pass_and_others_name_the_next_states() {
        assert!(check(Light::Red, Light::Green).is_ok());
        let err = check(Light::Red, Light::Red).unwrap_err();
        assert_eq!(err.status(), axum::http::StatusCode::CONFLICT);
        assert_eq!(err.code(), "invalid_transition");
        let problem = err.problem();
        assert_eq!(problem.extensions["status"], "red");
        assert_eq!(
            problem.extensions["next_states"],
            serde_json::json!(["green", "broken"])
        );
        assert_eq!(
            err.detail(),
            Some("A light that is red cannot become red; it can become: green, broken.")
        );
        let err = check(Light::Broken, Light::Green).unwrap_err();
        assert_eq!(
            err.detail(),
            Some(
                "A light that is broken cannot become green; it can become: nothing (it is final)."
            )
        );
    }
}
