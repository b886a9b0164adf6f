//! Tag → digest for the webhook: decisions are made on digests. A tag is answered from this
//! replica's cache (fresh for [`TagResolver::ttl`]), else with one registry request that every
//! review asking for the tag meanwhile shares, each waiting for it only within its own time
//! budget — a registry that hangs costs a review the budget, never the API server's webhook
//! timeout. A late answer still fills the cache for the retry; a failure is remembered briefly
//! so that a broken registry is not asked again by every review.
//!
//! Bounded, since anyone who may create pods (dry runs included) chooses the tags: at most
//! [`MAX_IN_FLIGHT`] registry requests at a time (a tag beyond them is answered unresolved at
//! once), at most [`CAPACITY`] tags remembered, and a request not answered within
//! [`IN_FLIGHT_EXPIRY`] is asked again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{watch, Semaphore};

/// Resolves one image reference (by tag) to the digest of what it names now; blocking.
pub type Fetch = Arc<dyn Fn(&str) -> Result<String, String> + Send + Sync>;

/// Registry requests at a time, each in a blocking thread.
pub const MAX_IN_FLIGHT: usize = 16;
/// Tags remembered (resolved, failed or being asked).
pub const CAPACITY: usize = 10_000;
/// A registry request older than this is taken as lost, and asked again.
pub const IN_FLIGHT_EXPIRY: Duration = Duration::from_secs(60);

const TOO_MANY: &str = "too many tags being resolved; retry shortly";

/// The answer of a registry request, once it came (`None` until then).
type Answer = Option<Result<String, String>>;

enum Entry {
    Resolved(String, Instant),
    Failed(String, Instant),
    /// A registry request since then: its answer comes on the channel. The number tells the
    /// request's own entry from a later one for the same tag.
    InFlight(Instant, u64, watch::Receiver<Answer>),
}

impl Entry {
    fn since(&self) -> Instant {
        match self {
            Entry::Resolved(_, at) | Entry::Failed(_, at) | Entry::InFlight(at, ..) => *at,
        }
    }
}

pub struct TagResolver {
    fetch: Fetch,
    /// How long one review waits for the registry, all its tags together.
    pub budget: Duration,
    /// How long a resolved tag is trusted (tags move).
    pub ttl: Duration,
    /// How long a failed resolution is not retried.
    pub retry_after: Duration,
    /// Registry requests under way (at most [`MAX_IN_FLIGHT`]).
    permits: Arc<Semaphore>,
    capacity: usize,
    in_flight_expiry: Duration,
    cache: Mutex<Cache>,
}

#[derive(Default)]
struct Cache {
    entries: HashMap<String, Entry>,
    requests: u64,
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
            permits: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
            capacity: CAPACITY,
            in_flight_expiry: IN_FLIGHT_EXPIRY,
            cache: Mutex::new(Cache::default()),
        }
    }

    /// The registry-backed resolver of a cluster replica.
    pub fn registry(options: crate::image::RegistryOptions) -> TagResolver {
        TagResolver::new(Arc::new(move |image: &str| {
            crate::image::manifest_digest(image, &options).map_err(|e| e.to_string())
        }))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether `entry` still stands: fresh, or a request not yet taken as lost.
    fn live(&self, entry: &Entry) -> bool {
        let limit = match entry {
            Entry::Resolved(..) => self.ttl,
            Entry::Failed(..) => self.retry_after,
            Entry::InFlight(..) => self.in_flight_expiry,
        };
        entry.since().elapsed() < limit
    }

    /// Room for one more tag: entries that no longer stand go first, then the oldest.
    fn make_room(&self, cache: &mut Cache) {
        if cache.entries.len() < self.capacity {
            return;
        }
        cache.entries.retain(|_, e| self.live(e));
        while cache.entries.len() >= self.capacity.max(1) {
            let Some(oldest) = cache
                .entries
                .iter()
                .min_by_key(|(_, e)| e.since())
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            cache.entries.remove(&oldest);
        }
    }

    /// Digests for `images` (references without a digest), waiting at most the budget.
    pub async fn resolve(self: &Arc<Self>, images: &[String]) -> Resolution {
        let deadline = tokio::time::Instant::now() + self.budget;
        let mut out = Resolution::default();
        let mut waiting = Vec::new();
        {
            let mut cache = self.lock();
            for image in images {
                let live = cache.entries.get(image).filter(|e| self.live(e));
                match live {
                    Some(Entry::Resolved(d, _)) => {
                        out.digests.insert(image.clone(), d.clone());
                    }
                    Some(Entry::Failed(why, _)) => {
                        out.unresolved.insert(image.clone(), why.clone());
                    }
                    // Another review is asking the registry: its answer is this one's too.
                    Some(Entry::InFlight(_, _, answer)) => {
                        waiting.push((image.clone(), answer.clone()));
                    }
                    None => {
                        let Ok(permit) = self.permits.clone().try_acquire_owned() else {
                            out.unresolved.insert(image.clone(), TOO_MANY.into());
                            continue;
                        };
                        let (tx, rx) = watch::channel(None);
                        cache.requests += 1;
                        let id = cache.requests;
                        if !cache.entries.contains_key(image) {
                            self.make_room(&mut cache);
                        }
                        cache.entries.insert(
                            image.clone(),
                            Entry::InFlight(Instant::now(), id, rx.clone()),
                        );
                        self.spawn(image.clone(), id, tx, permit);
                        waiting.push((image.clone(), rx));
                    }
                }
            }
        }
        for (image, mut answer) in waiting {
            let result =
                match tokio::time::timeout_at(deadline, answer.wait_for(Option::is_some)).await {
                    Ok(Ok(r)) => r
                        .clone()
                        .unwrap_or_else(|| Err("the registry request was dropped".into())),
                    Ok(Err(_)) => Err("the registry request was dropped".into()),
                    Err(_) => Err(format!(
                        "the registry did not answer within {} ms; retry shortly",
                        self.budget.as_millis()
                    )),
                };
            match result {
                Ok(d) => out.digests.insert(image, d),
                Err(why) => out.unresolved.insert(image, why),
            };
        }
        out
    }

    /// Asks the registry in a blocking thread (holding `permit` until it is done); the answer
    /// goes to the reviews waiting for it, and into the cache whenever it comes unless a later
    /// request for the tag took the request's place.
    fn spawn(
        self: &Arc<Self>,
        image: String,
        id: u64,
        tx: watch::Sender<Answer>,
        permit: tokio::sync::OwnedSemaphorePermit,
    ) {
        let me = self.clone();
        tokio::spawn(async move {
            let fetch = me.fetch.clone();
            let name = image.clone();
            let result = tokio::task::spawn_blocking(move || fetch(&name))
                .await
                .unwrap_or_else(|e| Err(format!("the registry request failed: {e}")));
            drop(permit);
            let entry = match &result {
                Ok(d) => Entry::Resolved(d.clone(), Instant::now()),
                Err(why) => {
                    tracing::warn!(%image, error = %why, "could not resolve the tag to a digest");
                    Entry::Failed(why.clone(), Instant::now())
                }
            };
            {
                let mut cache = me.lock();
                let mine = matches!(
                    cache.entries.get(&image),
                    Some(Entry::InFlight(_, request, _)) if *request == id
                );
                if mine {
                    cache.entries.insert(image, entry);
                }
            }
            tx.send_replace(Some(result));
        });
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
        // A review meanwhile does not ask again: it waits for the same answer, within its
        // own budget.
        let meanwhile = r.resolve(&images).await;
        assert!(
            meanwhile.unresolved["reg.example/slow:1"].contains("did not answer within 300 ms"),
            "{meanwhile:?}"
        );
        tokio::time::sleep(Duration::from_millis(900)).await;
        let retry = r.resolve(&images).await;
        assert_eq!(retry.digests["reg.example/slow:1"], D);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    /// Reviews of a tag being resolved wait for the same request, each within its budget;
    /// also when a hot tag's cached digest has just expired.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_reviews_share_one_registry_request() {
        let (r, calls) = counting(|_| {
            std::thread::sleep(Duration::from_millis(150));
            Ok(D.to_string())
        });
        let mut r = Arc::into_inner(r).expect("sole owner");
        r.ttl = Duration::from_millis(400);
        let r = Arc::new(r);
        let images = ["reg.example/hot:1".to_string()];
        let (a, b) = tokio::join!(r.resolve(&images), r.resolve(&images));
        assert_eq!(a.digests["reg.example/hot:1"], D, "{a:?}");
        assert_eq!(b.digests["reg.example/hot:1"], D, "{b:?}");
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        tokio::time::sleep(Duration::from_millis(450)).await;
        let (a, b, c) = tokio::join!(r.resolve(&images), r.resolve(&images), r.resolve(&images));
        for x in [&a, &b, &c] {
            assert_eq!(x.digests["reg.example/hot:1"], D, "{x:?}");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    /// At most so many registry requests at a time: a tag beyond them is answered at once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_tag_beyond_the_request_cap_is_unresolved_at_once() {
        let (r, calls) = counting(|image| {
            if image.contains("slow") {
                std::thread::sleep(Duration::from_millis(700));
            }
            Ok(D.to_string())
        });
        let mut r = Arc::into_inner(r).expect("sole owner");
        r.permits = Arc::new(Semaphore::new(2));
        let r = Arc::new(r);
        let slow = [
            "reg.example/slow:1".to_string(),
            "reg.example/slow:2".to_string(),
        ];
        let first = r.resolve(&slow).await;
        assert_eq!(first.unresolved.len(), 2, "{first:?}");

        let started = std::time::Instant::now();
        let other = r.resolve(&["reg.example/other:1".to_string()]).await;
        assert!(
            started.elapsed() < Duration::from_millis(100),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(other.unresolved["reg.example/other:1"], TOO_MANY);
        assert_eq!(calls.load(Ordering::SeqCst), 2);

        // Not remembered as a failure: asked once a request is free.
        tokio::time::sleep(Duration::from_millis(800)).await;
        let later = r.resolve(&["reg.example/other:1".to_string()]).await;
        assert_eq!(later.digests["reg.example/other:1"], D, "{later:?}");
        let done = r.resolve(&slow).await;
        assert_eq!(done.digests.len(), 2, "{done:?}");
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    /// A request never answered is not waited for forever: once expired, the tag is asked
    /// again (and the lost request's answer, should it come, does not replace the new one).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_expired_request_is_asked_again() {
        let (r, calls) = counting(|image| {
            if image.ends_with(":lost") {
                std::thread::sleep(Duration::from_millis(1000));
            }
            Ok(D.to_string())
        });
        let mut r = Arc::into_inner(r).expect("sole owner");
        r.budget = Duration::from_millis(100);
        r.in_flight_expiry = Duration::from_millis(300);
        let r = Arc::new(r);
        let lost = ["reg.example/app:lost".to_string()];
        let first = r.resolve(&lost).await;
        assert!(first.digests.is_empty(), "{first:?}");
        let meanwhile = r.resolve(&lost).await;
        assert!(meanwhile.digests.is_empty(), "{meanwhile:?}");
        assert_eq!(calls.load(Ordering::SeqCst), 1, "not expired yet");
        tokio::time::sleep(Duration::from_millis(200)).await;
        let again = r.resolve(&lost).await;
        assert!(again.digests.is_empty(), "{again:?}");
        assert_eq!(calls.load(Ordering::SeqCst), 2, "asked again once expired");
    }

    /// The cache holds at most `capacity` tags: those that no longer stand go first, then
    /// the oldest.
    #[tokio::test]
    async fn the_cache_is_bounded() {
        let (r, calls) = counting(|image| match image {
            "reg.example/bad:1" => Err("404".into()),
            _ => Ok(D.to_string()),
        });
        let mut r = Arc::into_inner(r).expect("sole owner");
        r.capacity = 3;
        r.retry_after = Duration::from_millis(50);
        let r = Arc::new(r);
        let one = |s: &str| vec![s.to_string()];
        for image in ["reg.example/old:1", "reg.example/bad:1", "reg.example/c:1"] {
            r.resolve(&one(image)).await;
        }
        tokio::time::sleep(Duration::from_millis(80)).await;
        // The expired failure goes, not the oldest tag.
        r.resolve(&one("reg.example/d:1")).await;
        assert_eq!(r.lock().entries.len(), 3);
        assert!(!r.lock().entries.contains_key("reg.example/bad:1"));
        assert_eq!(calls.load(Ordering::SeqCst), 4);
        r.resolve(&one("reg.example/old:1")).await;
        assert_eq!(calls.load(Ordering::SeqCst), 4, "still cached");
        // Nothing expired: the oldest goes.
        r.resolve(&one("reg.example/e:1")).await;
        assert_eq!(r.lock().entries.len(), 3);
        assert!(!r.lock().entries.contains_key("reg.example/old:1"));
        for i in 0..20 {
            r.resolve(&one(&format!("reg.example/many:{i}"))).await;
        }
        assert_eq!(r.lock().entries.len(), 3);
    }
}
