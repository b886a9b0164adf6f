//! What the writers (the controller, the webhook, the node probe) share about the cluster,
//! below all three: facts read from API objects, and the FipsImageReports every one of them
//! writes. None of the writers imports another for these.

pub mod facts;
pub mod reports;
