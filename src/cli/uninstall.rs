//! `fips-operator uninstall`: what the operator wrote into the cluster, taken back (the chart's
//! own objects are Helm's: `helm uninstall` deletes them, before or after this).

use std::time::Duration;

use anyhow::Context;

use super::EXIT_COMPLIANT;
use crate::controller::{self, uninstall::Uninstall};

#[derive(clap::Args, Debug)]
pub struct UninstallArgs {
    /// The namespace the operator was installed in (home of the probe DaemonSet).
    #[arg(long, short = 'n', default_value = "fips-operator")]
    pub namespace: String,
    /// The release's admission routing label (`admission.fips.operator.dev/<the chart's fullname>`).
    #[arg(long, default_value = "admission.fips.operator.dev/fips-operator")]
    pub admission_label: String,
    /// Also delete the CRDs (FipsPolicy, FipsStatus, FipsImageReport).
    #[arg(long)]
    pub delete_crds: bool,
}

pub fn run(args: UninstallArgs) -> anyhow::Result<u8> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let what = Uninstall {
        namespace: args.namespace,
        admission_label: args.admission_label,
        delete_crds: args.delete_crds,
    };
    runtime.block_on(async {
        let client = controller::kube_client().await?;
        let mut say = |line: String| println!("{line}");
        controller::uninstall::uninstall(&client, &what, &mut say).await
    })?;
    println!(
        "fips-operator's own objects are gone; the chart's go with `helm uninstall` (or \
         `kubectl delete -k config/default`){}",
        if what.delete_crds {
            ""
        } else {
            "; the CRDs stay: --delete-crds, or `kubectl delete -f crds/`"
        }
    );
    runtime.shutdown_timeout(Duration::from_secs(1));
    Ok(EXIT_COMPLIANT)
}
