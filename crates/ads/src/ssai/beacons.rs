//! Sending beacons (impressions, quartiles, VAST errors): the I/O half of reporting.

use std::time::Duration;

/// Beacon sending settings.
#[derive(Debug, Clone, Copy)]
pub struct BeaconPolicy {
    pub timeout: Duration,
    pub attempts: u32,
}

impl Default for BeaconPolicy {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(3),
            attempts: 3,
        }
    }
}

/// GET a beacon URL: `attempts` tries, each with `timeout`, backing off between them.
pub async fn send_beacon(http: reqwest::Client, url: String, policy: BeaconPolicy) -> bool {
    for attempt in 0..policy.attempts.max(1) {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(200 << attempt.min(5))).await;
        }
        let ok = matches!(
            tokio::time::timeout(policy.timeout, http.get(&url).send()).await,
            Ok(Ok(r)) if r.status().is_success()
        );
        if ok {
            metrics::counter!("ssai_beacons_sent_total").increment(1);
            return true;
        }
    }
    metrics::counter!("ssai_beacons_failed_total").increment(1);
    tracing::warn!(url, "beacon failed");
    false
}

/// Send every URL in the background.
pub fn fire(http: &reqwest::Client, urls: impl IntoIterator<Item = String>, policy: BeaconPolicy) {
    for url in urls {
        tokio::spawn(send_beacon(http.clone(), url, policy));
    }
}
