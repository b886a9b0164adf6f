//! `/metrics` (prometheus-client): reconcile durations and errors, scan queue depth, scan
//! durations and image outcomes.

use std::sync::atomic::AtomicU64;
use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReconcilerLabel {
    pub reconciler: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    pub outcome: String,
}

pub struct Metrics {
    registry: Mutex<Registry>,
    pub reconcile_seconds: Family<ReconcilerLabel, Histogram>,
    pub reconcile_errors: Family<ReconcilerLabel, Counter>,
    pub scan_queue_depth: Gauge<i64, std::sync::atomic::AtomicI64>,
    pub scan_seconds: Histogram,
    pub scans: Family<OutcomeLabel, Counter<u64, AtomicU64>>,
    pub leader: Gauge<i64, std::sync::atomic::AtomicI64>,
}

impl Default for Metrics {
    fn default() -> Self {
        let reconcile_seconds = Family::<ReconcilerLabel, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.001, 2.0, 14))
        });
        let reconcile_errors = Family::<ReconcilerLabel, Counter>::default();
        let scan_queue_depth = Gauge::default();
        let scan_seconds = Histogram::new(exponential_buckets(0.5, 2.0, 12));
        let scans = Family::<OutcomeLabel, Counter>::default();
        let leader = Gauge::default();
        let mut registry = Registry::with_prefix("fips_operator");
        registry.register(
            "reconcile_duration_seconds",
            "Time one reconcile pass took, per reconciler",
            reconcile_seconds.clone(),
        );
        registry.register(
            "reconcile_errors",
            "Reconcile passes that failed, per reconciler",
            reconcile_errors.clone(),
        );
        registry.register(
            "scan_queue_depth",
            "Images waiting to be scanned or being scanned",
            scan_queue_depth.clone(),
        );
        registry.register(
            "scan_duration_seconds",
            "Time one image scan took, retries included",
            scan_seconds.clone(),
        );
        registry.register(
            "image_scans",
            "Images scanned, per outcome (compliant, non-compliant, unknown, failed)",
            scans.clone(),
        );
        registry.register(
            "leader",
            "1 while this replica holds the lease and writes",
            leader.clone(),
        );
        Metrics {
            registry: Mutex::new(registry),
            reconcile_seconds,
            reconcile_errors,
            scan_queue_depth,
            scan_seconds,
            scans,
            leader,
        }
    }
}

impl Metrics {
    pub fn observe_reconcile(&self, reconciler: &str, took: Duration, failed: bool) {
        let label = ReconcilerLabel {
            reconciler: reconciler.into(),
        };
        self.reconcile_seconds
            .get_or_create(&label)
            .observe(took.as_secs_f64());
        if failed {
            self.reconcile_errors.get_or_create(&label).inc();
        }
    }

    pub fn count_scan(&self, outcome: &str) {
        self.scans
            .get_or_create(&OutcomeLabel {
                outcome: outcome.into(),
            })
            .inc();
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &registry);
        out
    }
}
