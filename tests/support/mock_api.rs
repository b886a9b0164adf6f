//! kube's mocked API service (tower-test), in the style of kube-rs controller-rs: the test
//! plays the API server, sees every request a reconciler sends, and answers it.

use std::time::Duration;

use http::{Request, Response, StatusCode};
use kube::client::Body;
use kube::Client;
use serde_json::{json, Value};

pub type Handle = tower_test::mock::Handle<Request<Body>, Response<Body>>;

pub fn client() -> (Client, ApiServer) {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    (Client::new(service, "default"), ApiServer { handle })
}

/// One request as the API server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: String,
    pub content_type: String,
    pub body: Value,
}

pub struct ApiServer {
    pub handle: Handle,
}

impl ApiServer {
    /// Waits for the next request and answers it with `status` and `reply(&seen)`.
    pub async fn answer_with(
        &mut self,
        status: StatusCode,
        reply: impl FnOnce(&Seen) -> Value,
    ) -> Seen {
        self.respond(|s| (status, reply(s))).await
    }

    /// Waits for the next request and answers 200 with `object` (what a GET of it returns).
    pub async fn ok(&mut self, object: &Value) -> Seen {
        self.answer_with(StatusCode::OK, |_| object.clone()).await
    }

    /// Waits for the next request and answers it with the status and body `reply` picks.
    pub async fn respond(&mut self, reply: impl FnOnce(&Seen) -> (StatusCode, Value)) -> Seen {
        let (request, send) =
            tokio::time::timeout(Duration::from_secs(10), self.handle.next_request())
                .await
                .expect("the reconciler sent no further request within 10 s")
                .expect("the client hung up");
        let seen = Seen {
            method: request.method().to_string(),
            path: request.uri().path().to_string(),
            query: request.uri().query().unwrap_or_default().to_string(),
            content_type: request
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string(),
            body: {
                let bytes = request.into_body().collect_bytes().await.expect("body");
                if bytes.is_empty() {
                    Value::Null
                } else {
                    serde_json::from_slice(&bytes).expect("request body is JSON")
                }
            },
        };
        let (status, body) = reply(&seen);
        let body = serde_json::to_vec(&body).expect("json");
        send.send_response(
            Response::builder()
                .status(status)
                .body(Body::from(body))
                .expect("response"),
        );
        seen
    }

    /// Answers 200 with the request's own body (what an apply or a create returns, near
    /// enough): nulls of a merge patch dropped, the object's name filled in when the body has
    /// no metadata.
    pub async fn echo(&mut self) -> Seen {
        self.answer_with(StatusCode::OK, echoed).await
    }

    /// Answers 200 with `base` (the object as stored) updated by the request's top-level
    /// fields: what the API server returns for an apply to `base`.
    pub async fn apply_onto(&mut self, base: &Value) -> Seen {
        self.answer_with(StatusCode::OK, |s| {
            let mut out = base.clone();
            for (k, v) in s.body.as_object().into_iter().flatten() {
                if k != "metadata" {
                    out[k] = v.clone();
                }
            }
            out
        })
        .await
    }

    /// Answers 404 NotFound.
    pub async fn not_found(&mut self) -> Seen {
        self.answer_with(StatusCode::NOT_FOUND, |s| {
            json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                   "reason": "NotFound", "code": 404, "message": format!("{} not found", s.path)})
        })
        .await
    }
}

/// The request's body as the stored object: nulls of a merge patch dropped, the object's
/// name (from the path) filled in when the body has no metadata.
pub fn echoed(s: &Seen) -> Value {
    let mut body = without_nulls(s.body.clone());
    if body.get("metadata").is_none() {
        let name = s
            .path
            .trim_end_matches("/status")
            .rsplit('/')
            .next()
            .unwrap_or_default();
        body["metadata"] = json!({"name": name});
    }
    body
}

fn without_nulls(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        other => other,
    }
}
