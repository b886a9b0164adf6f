//! Kubernetes API conventions for conditions: a list keyed by `type`; `lastTransitionTime`
//! changes only when the status does. Pure: the caller passes the time in.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConditionStatus {
    True,
    False,
    Unknown,
}

impl ConditionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConditionStatus::True => "True",
            ConditionStatus::False => "False",
            ConditionStatus::Unknown => "Unknown",
        }
    }
}

/// Sets the condition of type `type_` in `conditions`, keeping its `lastTransitionTime`
/// unless its status changes. Returns true when anything changed.
pub fn set_condition(
    conditions: &mut Vec<Condition>,
    type_: &str,
    status: ConditionStatus,
    reason: &str,
    message: &str,
    observed_generation: Option<i64>,
    now: Timestamp,
) -> bool {
    let status = status.as_str();
    if let Some(c) = conditions.iter_mut().find(|c| c.type_ == type_) {
        let unchanged = c.status == status
            && c.reason == reason
            && c.message == message
            && c.observed_generation == observed_generation;
        if unchanged {
            return false;
        }
        if c.status != status {
            c.last_transition_time = Time(now);
        }
        c.status = status.into();
        c.reason = reason.into();
        c.message = message.into();
        c.observed_generation = observed_generation;
        return true;
    }
    conditions.push(Condition {
        type_: type_.into(),
        status: status.into(),
        reason: reason.into(),
        message: message.into(),
        observed_generation,
        last_transition_time: Time(now),
    });
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transition_time_moves_only_with_the_status() {
        let t0: Timestamp = "2026-11-26T00:00:00Z".parse().expect("time");
        let t1: Timestamp = "2026-11-26T01:00:00Z".parse().expect("time");
        let t2: Timestamp = "2026-11-26T02:00:00Z".parse().expect("time");
        let mut cs = Vec::new();
        assert!(set_condition(
            &mut cs,
            "Ready",
            ConditionStatus::False,
            "NodesNotFips",
            "1 of 3",
            Some(1),
            t0
        ));
        assert!(set_condition(
            &mut cs,
            "Ready",
            ConditionStatus::False,
            "NodesNotFips",
            "2 of 3",
            Some(1),
            t1
        ));
        assert_eq!(
            cs[0].last_transition_time,
            Time(t0),
            "message change keeps the time"
        );
        assert!(!set_condition(
            &mut cs,
            "Ready",
            ConditionStatus::False,
            "NodesNotFips",
            "2 of 3",
            Some(1),
            t2
        ));
        assert!(set_condition(
            &mut cs,
            "Ready",
            ConditionStatus::True,
            "AllCompliant",
            "",
            Some(2),
            t2
        ));
        assert_eq!(cs[0].last_transition_time, Time(t2));
        assert_eq!(cs.len(), 1);
    }
}
