//! The events webhooks announce, derived from the survey change feed: the dispatcher
//! compares each survey's state in the feed with the last state it saw of it. Events are
//! therefore as durable as the surveys themselves: whatever committed is in the feed, and
//! the dispatcher records what it saw, the deliveries that follow and its cursor in one
//! transaction, so a crash at any point replays the same events with the same ids.
//!
//! A state that lasted less than one pass of the dispatcher (a second) can be passed over:
//! an event says what a survey became, as the feed shows it.

use sha2::{Digest, Sha256};
use terrain_backend::SeenState;
use terrain_core::store::SurveySummary;
use terrain_core::survey::{ReviewStatus, Status};

/// What a webhook can be told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A finalized survey reached the server (or a draft was finalized on it).
    Received,
    /// A survey was approved.
    Approved,
    /// A survey was sent back to its enumerator.
    SentBack,
    /// A survey now holds competing values for some answer.
    ConflictRaised,
}

impl Event {
    /// Every event.
    pub const ALL: [Event; 4] = [Event::Received, Event::Approved, Event::SentBack, Event::ConflictRaised];

    /// Its name in registrations and deliveries.
    pub fn name(self) -> &'static str {
        match self {
            Event::Received => "submission.received",
            Event::Approved => "submission.approved",
            Event::SentBack => "submission.sent_back",
            Event::ConflictRaised => "conflict.raised",
        }
    }

    /// The event named `name`.
    pub fn parse(name: &str) -> Option<Event> {
        Event::ALL.into_iter().find(|e| e.name() == name)
    }
}

/// The state to remember of a survey.
pub fn state(summary: &SurveySummary) -> SeenState {
    SeenState {
        status: summary.status.as_str().to_owned(),
        review_status: summary.review_status.as_str().to_owned(),
        conflicts: summary.has_conflicts,
    }
}

/// The events between what was last seen of a survey (`None`: never) and its state now.
pub fn between(before: Option<&SeenState>, now: &SurveySummary) -> Vec<Event> {
    let finalized = Status::Finalized.as_str();
    let was = |f: &dyn Fn(&SeenState) -> bool| before.is_some_and(f);
    let mut events = Vec::new();
    if now.status == Status::Finalized && !was(&|s| s.status == finalized) {
        events.push(Event::Received);
    }
    for (status, event) in [(ReviewStatus::Approved, Event::Approved), (ReviewStatus::SentBack, Event::SentBack)] {
        if now.review_status == status && !was(&|s| s.review_status == status.as_str()) {
            events.push(event);
        }
    }
    if now.has_conflicts && !was(&|s| s.conflicts) {
        events.push(Event::ConflictRaised);
    }
    events
}

/// An event's id: the same whenever the same change of the same survey is seen again, so
/// that a replay after a crash is recognised by receivers.
pub fn event_id(survey_id: &str, change_seq: u64, event: Event) -> String {
    let digest = Sha256::digest(format!("{survey_id}\u{0}{change_seq}\u{0}{}", event.name()).as_bytes());
    terrain_core::hex::encode(&digest[..16])
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    fn summary(status: Status, review: ReviewStatus, conflicts: bool) -> SurveySummary {
        SurveySummary {
            survey_id: "s".into(),
            form_id: "f".into(),
            form_version: "1".into(),
            status,
            created_by: "awa".into(),
            created_on: "phone".into(),
            created_at: Utc::now(),
            updated_at: Utc::now(),
            review_status: review,
            has_conflicts: conflicts,
            dirty: false,
        }
    }

    #[test]
    fn events_are_what_changed_since_last_seen() {
        let draft = summary(Status::Draft, ReviewStatus::Received, false);
        assert_eq!(between(None, &draft), [], "a draft is not yet a submission");
        let done = summary(Status::Finalized, ReviewStatus::Received, false);
        assert_eq!(between(Some(&state(&draft)), &done), [Event::Received]);
        assert_eq!(between(None, &done), [Event::Received]);
        assert_eq!(between(Some(&state(&done)), &done), [], "nothing changed");
        let approved = summary(Status::Finalized, ReviewStatus::Approved, true);
        assert_eq!(between(Some(&state(&done)), &approved), [Event::Approved, Event::ConflictRaised]);
        assert_eq!(between(Some(&state(&approved)), &approved), []);
        let back = summary(Status::Finalized, ReviewStatus::SentBack, true);
        assert_eq!(between(Some(&state(&approved)), &back), [Event::SentBack]);
        // Everything at once, for a survey first seen in that state.
        assert_eq!(between(None, &approved), [Event::Received, Event::Approved, Event::ConflictRaised]);
    }

    #[test]
    fn event_ids_are_stable_and_distinct() {
        let a = event_id("s", 7, Event::Approved);
        assert_eq!(a, event_id("s", 7, Event::Approved));
        assert_eq!(a.len(), 32);
        assert_ne!(a, event_id("s", 8, Event::Approved));
        assert_ne!(a, event_id("s", 7, Event::Received));
        for e in Event::ALL {
            assert_eq!(Event::parse(e.name()), Some(e));
        }
    }
}
