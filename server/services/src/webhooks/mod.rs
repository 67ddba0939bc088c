//! Outbound webhooks: a project's administrators register targets for events (a
//! submission received, approved or sent back, a conflict raised); the server posts each
//! event to them, signed, retried, from a durable outbox, and keeps a log of every delivery.
//!
//! - [`events`]: which events a change of a survey makes, and their ids.
//! - [`delivery`]: signing, posting, retrying, and the worker thread.

pub mod delivery;
pub mod events;

use std::collections::HashMap;

use serde::Serialize;
use serde_json::json;
use terrain_backend::{DeliveryLog, NewDelivery, SeenState, Webhook};
use terrain_core::store::{FeedEntry, Visibility};
use utoipa::ToSchema;

pub use delivery::WebhookWorker;
pub use events::Event;

use crate::Services;
use crate::accounts::token;
use crate::audit::Action;
use crate::error::{Error, Result};
use crate::scope::Scope;

/// Feed entries the dispatcher reads per pass.
const PAGE: u32 = 512;
/// The longest target URL accepted.
const MAX_URL: usize = 2000;

/// A webhook just registered: the signing key is shown this once.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CreatedWebhook {
    /// The key deliveries are signed with: check `Terrain-Signature` (`sha256=` and the
    /// HMAC-SHA256 of the body in hex) with it.
    pub secret: String,
    /// The registration.
    #[serde(flatten)]
    pub webhook: Webhook,
}

/// Whether `url` may receive deliveries: `https://`, or `http://` to this machine (tests,
/// a local bridge).
fn check_url(url: &str) -> Result<()> {
    let refuse = |why: &str| Err(Error::invalid(format!("webhook URL `{url}`: {why}")));
    if url.len() > MAX_URL {
        return refuse("longer than 2000 characters");
    }
    let Ok(parsed) = reqwest::Url::parse(url) else { return refuse("not a URL") };
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return refuse("put no credentials in the URL: check the signature instead");
    }
    let Some(host) = parsed.host_str() else { return refuse("it names no host") };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host == "localhost" || bare.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => refuse("use https:// (plain http only to this machine)"),
    }
}

impl Services {
    /// Registers a webhook target for some of a project's events (administrators).
    pub fn create_webhook(&self, scope: &Scope, project: i64, url: &str, events: &[String]) -> Result<CreatedWebhook> {
        scope.may_administer()?;
        if !scope.in_project(project) {
            return Err(Error::not_found(format!("project {project} does not exist")));
        }
        check_url(url)?;
        let names: Vec<&str> = Event::ALL.iter().map(|e| e.name()).collect();
        if events.is_empty() {
            return Err(Error::invalid(format!("name the events to receive: {}", names.join(", "))));
        }
        let mut wanted: Vec<String> = Vec::new();
        for event in events {
            if Event::parse(event).is_none() {
                return Err(Error::invalid(format!("unknown event `{event}`: use {}", names.join(", "))));
            }
            if !wanted.contains(event) {
                wanted.push(event.clone());
            }
        }
        // 256 random bits, as a token's: the key signs, so it is kept as it is, not hashed.
        let (secret, _) = token::generate().map_err(Error::internal)?;
        let webhook = self.backend.create_webhook(project, url, &secret, &wanted)?;
        self.audit(
            scope,
            Action::WebhookCreate,
            None,
            json!({ "project": project, "webhook": webhook.id, "url": url, "events": wanted }),
        )?;
        Ok(CreatedWebhook { secret, webhook })
    }

    /// A project's webhook targets (administrators).
    pub fn webhooks(&self, scope: &Scope, project: i64) -> Result<Vec<Webhook>> {
        scope.may_administer()?;
        Ok(self.backend.webhooks(Some(project))?)
    }

    /// Removes a webhook target; its pending deliveries are not sent (administrators).
    pub fn delete_webhook(&self, scope: &Scope, project: i64, id: i64) -> Result<()> {
        scope.may_administer()?;
        if !self.backend.delete_webhook(project, id)? {
            return Err(Error::not_found(format!("project {project} has no webhook {id}")));
        }
        self.audit(scope, Action::WebhookDelete, None, json!({ "project": project, "webhook": id }))
    }

    /// A webhook target's deliveries, newest first, with their status (administrators).
    pub fn webhook_deliveries(&self, scope: &Scope, project: i64, id: i64, limit: u32) -> Result<Vec<DeliveryLog>> {
        scope.may_administer()?;
        if !self.backend.webhooks(Some(project))?.iter().any(|w| w.id == id) {
            return Err(Error::not_found(format!("project {project} has no webhook {id}")));
        }
        Ok(self.backend.deliveries(id, limit.min(10_000))?)
    }

    /// Turns the next page of the change feed into deliveries; returns how many surveys it
    /// looked at (0 once it has caught up). The first pass ever only notes what exists:
    /// events are what happens after.
    pub fn dispatch_events(&self) -> Result<usize> {
        let Some(cursor) = self.backend.webhook_cursor()? else {
            let mut cursor = 0;
            loop {
                let page = self.backend.feed(cursor, PAGE, &Visibility::All)?;
                let Some(last) = page.last() else { break };
                cursor = last.change_seq;
                self.backend.record_seen(cursor, &seen(&page), &[])?;
            }
            self.backend.record_seen(cursor, &[], &[])?;
            return Ok(0);
        };
        let page = self.backend.feed(cursor, PAGE, &Visibility::All)?;
        let Some(last) = page.last() else { return Ok(0) };
        let ids: Vec<&str> = page.iter().map(|e| e.summary.survey_id.as_str()).collect();
        let before = self.backend.seen_states(&ids)?;
        let hooks = self.backend.webhooks(None)?;
        let mut projects: HashMap<String, Option<i64>> = HashMap::new();
        let mut deliveries = Vec::new();
        for entry in &page {
            let happened = events::between(before.get(&entry.summary.survey_id), &entry.summary);
            if happened.is_empty() || hooks.is_empty() {
                continue;
            }
            let form = &entry.summary.form_id;
            let project = match projects.get(form) {
                Some(p) => *p,
                None => {
                    let p = self.backend.form_project(form)?;
                    projects.insert(form.clone(), p);
                    p
                }
            };
            for event in happened {
                for hook in
                    hooks.iter().filter(|h| Some(h.project_id) == project && h.events.iter().any(|e| e == event.name()))
                {
                    deliveries.push(delivery(hook, entry, event));
                }
            }
        }
        self.backend.record_seen(last.change_seq, &seen(&page), &deliveries)?;
        Ok(page.len())
    }
}

/// The state of each survey of a feed page, to remember.
fn seen(page: &[FeedEntry]) -> Vec<(&str, SeenState)> {
    page.iter().map(|e| (e.summary.survey_id.as_str(), events::state(&e.summary))).collect()
}

fn delivery(hook: &Webhook, entry: &FeedEntry, event: Event) -> NewDelivery {
    let s = &entry.summary;
    let event_id = events::event_id(&s.survey_id, entry.change_seq, event);
    let body = json!({
        "id": event_id,
        "event": event.name(),
        "occurred_at": s.updated_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "project_id": hook.project_id,
        "survey": {
            "id": s.survey_id,
            "form_id": s.form_id,
            "form_version": s.form_version,
            "status": s.status.as_str(),
            "review_status": s.review_status.as_str(),
            "has_conflicts": s.has_conflicts,
            "submitted_by": s.created_by,
            "started_at": s.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        },
    });
    NewDelivery { webhook_id: hook.id, event_id, event: event.name().to_owned(), body: body.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_https_or_this_machine() {
        for ok in ["https://example.org/hook", "http://127.0.0.1:9000/in", "http://localhost/x", "http://[::1]:8/"] {
            assert!(check_url(ok).is_ok(), "{ok}");
        }
        for (bad, says) in [
            ("http://example.org/hook", "use https://"),
            ("ftp://example.org", "use https://"),
            ("https://user:pw@example.org", "no credentials"),
            ("not a url", "not a URL"),
            ("http://10.0.0.1/", "use https://"),
        ] {
            let e = check_url(bad).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
