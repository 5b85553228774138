//! An app's versions. The first push of an app runs it as the LRP named after
//! the app; a later push stages the new files, runs them beside the old
//! version as `<app>-<droplet prefix>` (a DesiredLRP's action cannot change,
//! so a new version is a new process guid, as Cloud Controller does it), and
//! removes the old version once the new one's instances run: the app keeps
//! answering throughout. Every version carries the app's name as its static
//! `source_id` metric tag, which is how the versions are found.

use diego_fileserver::Digest;
use diego_model::DesiredLrp;
use diego_sdk::Client;

use crate::PushError;

/// The metric tag naming the app a version belongs to (CF's `source_id`).
pub const APP_TAG: &str = "source_id";

/// How many hex digits of the droplet's sha256 name a later version.
const VERSION_HEX: usize = 8;

/// One deployed version of an app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub process_guid: String,
    pub instances: i32,
    /// The sha256 (hex) of the droplet it downloads, if it downloads one.
    pub droplet_hex: Option<String>,
}

fn droplet_hex(lrp: &DesiredLrp) -> Option<String> {
    let json = serde_json::to_value(lrp).ok()?;
    json["setup"]["download"]["checksum_value"]
        .as_str()
        .map(str::to_string)
}

/// The versions of `app` (process guid `app`, or tagged with it) in `domain`.
pub async fn versions(client: &Client, domain: &str, app: &str) -> Result<Vec<Version>, PushError> {
    let mut found: Vec<Version> = client
        .desired_lrps(domain, vec![])
        .await?
        .into_iter()
        .filter(|d| {
            d.process_guid == app
                || d.metric_tags
                    .get(APP_TAG)
                    .is_some_and(|t| t.static_value == app)
        })
        .map(|d| Version {
            droplet_hex: droplet_hex(&d),
            process_guid: d.process_guid,
            instances: d.instances,
        })
        .collect();
    found.sort_by(|a, b| a.process_guid.cmp(&b.process_guid));
    Ok(found)
}

/// The process guid for a new version of `app` running `droplet`: the app's
/// own name when nothing runs yet, else the name and the droplet's prefix.
pub fn next_guid(app: &str, existing: &[Version], droplet: &Digest) -> String {
    if existing.is_empty() {
        app.to_string()
    } else {
        format!("{app}-{}", &droplet.hex()[..VERSION_HEX])
    }
}

/// The version already running exactly `droplet`, if any.
pub fn running_droplet<'a>(existing: &'a [Version], droplet: &Digest) -> Option<&'a Version> {
    let hex = droplet.hex();
    existing
        .iter()
        .find(|v| v.droplet_hex.as_deref() == Some(hex.as_str()))
}

/// Removes the versions a push replaced (their instances stop).
pub async fn retire(client: &Client, replaced: &[String]) -> Result<(), PushError> {
    for guid in replaced {
        match client.remove_desired_lrp(guid).await {
            Ok(()) => {}
            // removed meanwhile (by hand, or by a concurrent push): done
            Err(e) if e.code == diego_model::ErrorCode::ResourceNotFound => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(guid: &str, droplet: &Digest) -> Version {
        Version {
            process_guid: guid.into(),
            instances: 2,
            droplet_hex: Some(droplet.hex()),
        }
    }

    #[test]
    fn the_first_version_is_named_after_the_app_and_later_ones_after_their_droplet() {
        let d1 = Digest::of(b"one");
        let d2 = Digest::of(b"two");
        assert_eq!(next_guid("site", &[], &d1), "site");
        let existing = [version("site", &d1)];
        let next = next_guid("site", &existing, &d2);
        assert_eq!(next, format!("site-{}", &d2.hex()[..8]));
        assert_eq!(running_droplet(&existing, &d1), Some(&existing[0]));
        assert_eq!(running_droplet(&existing, &d2), None);
    }
}
