//! Tag → digest for the webhook: decisions are made on digests. A tag is answered from this
//! replica's cache (fresh for [`TagResolver::ttl`]), else with one registry request that the
//! review waits for only within its time budget — a registry that hangs costs a review the
//! budget, never the API server's webhook timeout. A late answer still fills the cache for
//! the retry; a failure is remembered briefly so that a broken registry is not asked again by
//! every review.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Resolves one image reference (by tag) to the digest of what it names now; blocking.
pub type Fetch = Arc<dyn Fn(&str) -> Result<String, String> + Send + Sync>;

enum Entry {
    Resolved(String, Instant),
    Failed(String, Instant),
    InFlight,
}

pub struct TagResolver {
    fetch: Fetch,
    /// How long one review waits for the registry, all its tags together.
    pub budget: Duration,
    /// How long a resolved tag is trusted (tags move).
    pub ttl: Duration,
    /// How long a failed resolution is not retried.
    pub retry_after: Duration,
    cache: Mutex<HashMap<String, Entry>>,
}

/// What one review learnt: digests for the tags resolved, reasons for those that were not.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Resolution {
    pub digests: HashMap<String, String>,
    pub unresolved: HashMap<String, String>,
}

impl TagResolver {
    pub fn new(fetch: Fetch) -> TagResolver {
        TagResolver {
            fetch,
            budget: Duration::from_millis(1500),
            ttl: Duration::from_secs(300),
            retry_after: Duration::from_secs(30),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The registry-backed resolver of a cluster replica.
    pub fn registry(options: crate::image::RegistryOptions) -> TagResolver {
        TagResolver::new(Arc::new(move |image: &str| {
            crate::image::manifest_digest(image, &options).map_err(|e| e.to_string())
        }))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Digests for `images` (references without a digest), waiting at most the budget.
    pub async fn resolve(self: &Arc<Self>, images: &[String]) -> Resolution {
        let deadline = tokio::time::Instant::now() + self.budget;
        let mut out = Resolution::default();
        let mut asked = Vec::new();
        {
            let mut cache = self.lock();
            for image in images {
                match cache.get(image) {
                    Some(Entry::Resolved(d, at)) if at.elapsed() < self.ttl => {
                        out.digests.insert(image.clone(), d.clone());
                    }
                    Some(Entry::Failed(why, at)) if at.elapsed() < self.retry_after => {
                        out.unresolved.insert(image.clone(), why.clone());
                    }
                    Some(Entry::InFlight) => {
                        asked.push((image.clone(), None));
                    }
                    _ => {
                        cache.insert(image.clone(), Entry::InFlight);
                        asked.push((image.clone(), Some(self.spawn(image.clone()))));
                    }
                }
            }
        }
        for (image, answer) in asked {
            let result = match answer {
                // Another review is asking the registry: its answer lands in the cache.
                None => Err("the registry is being asked already; retry shortly".to_string()),
                Some(rx) => match tokio::time::timeout_at(deadline, rx).await {
                    Ok(Ok(r)) => r,
                    Ok(Err(_)) => Err("the registry request was dropped".into()),
                    Err(_) => Err(format!(
                        "the registry did not answer within {} ms; retry shortly",
                        self.budget.as_millis()
                    )),
                },
            };
            match result {
                Ok(d) => out.digests.insert(image, d),
                Err(why) => out.unresolved.insert(image, why),
            };
        }
        out
    }

    /// Asks the registry in a blocking thread; the answer goes into the cache whenever it
    /// comes, and to the review if it is still waiting.
    fn spawn(
        self: &Arc<Self>,
        image: String,
    ) -> tokio::sync::oneshot::Receiver<Result<String, String>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let me = self.clone();
        tokio::spawn(async move {
            let fetch = me.fetch.clone();
            let name = image.clone();
            let result = tokio::task::spawn_blocking(move || fetch(&name))
                .await
                .unwrap_or_else(|e| Err(format!("the registry request failed: {e}")));
            let entry = match &result {
                Ok(d) => Entry::Resolved(d.clone(), Instant::now()),
                Err(why) => {
                    tracing::warn!(%image, error = %why, "could not resolve the tag to a digest");
                    Entry::Failed(why.clone(), Instant::now())
                }
            };
            me.lock().insert(image, entry);
            let _ = tx.send(result);
        });
        rx
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    const D: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

    fn counting(
        answer: impl Fn(&str) -> Result<String, String> + Send + Sync + 'static,
    ) -> (Arc<TagResolver>, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let mut r = TagResolver::new(Arc::new(move |image: &str| {
            c.fetch_add(1, Ordering::SeqCst);
            answer(image)
        }));
        r.budget = Duration::from_millis(300);
        (Arc::new(r), calls)
    }

    #[tokio::test]
    async fn a_resolved_tag_is_cached_and_a_failure_is_not_asked_again_at_once() {
        let (r, calls) = counting(|image| match image {
            "reg.example/app:1" => Ok(D.to_string()),
            _ => Err("404".into()),
        });
        let images = [
            "reg.example/app:1".to_string(),
            "reg.example/gone:1".to_string(),
        ];
        let first = r.resolve(&images).await;
        assert_eq!(first.digests["reg.example/app:1"], D);
        assert_eq!(first.unresolved["reg.example/gone:1"], "404");
        let second = r.resolve(&images).await;
        assert_eq!(second, first);
        assert_eq!(calls.load(Ordering::SeqCst), 2, "answered from the cache");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_hanging_registry_costs_the_budget_and_its_late_answer_fills_the_cache() {
        let (r, calls) = counting(|_| {
            std::thread::sleep(Duration::from_millis(800));
            Ok(D.to_string())
        });
        let images = ["reg.example/slow:1".to_string()];
        let started = std::time::Instant::now();
        let first = r.resolve(&images).await;
        let waited = started.elapsed();
        assert!(first.digests.is_empty(), "{first:?}");
        assert!(
            first.unresolved["reg.example/slow:1"].contains("did not answer within 300 ms"),
            "{first:?}"
        );
        assert!(waited < Duration::from_millis(700), "waited {waited:?}");
        // A review meanwhile does not ask again.
        let meanwhile = r.resolve(&images).await;
        assert!(meanwhile.unresolved["reg.example/slow:1"].contains("being asked already"));
        tokio::time::sleep(Duration::from_millis(900)).await;
        let retry = r.resolve(&images).await;
        assert_eq!(retry.digests["reg.example/slow:1"], D);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
