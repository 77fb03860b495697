//! Every operation the filters keep is reachable through the facade: each is
//! called over HTTP with example arguments made from the contract, against a
//! sandbox answering from the contract's response schemas, and its answer
//! must decode into the generated type. An operation added to a filter is
//! called here without anyone writing a line for it; one the facade cannot
//! reach, or whose documented answer does not decode, fails the test.

use agentwire_sandbox::Sandbox;

/// The operation ids of a committed contract.
fn contract_operations(contract: &str) -> Vec<String> {
    let doc: serde_json::Value = serde_json::from_str(contract).expect("contract is JSON");
    let mut ids: Vec<String> = doc["paths"]
        .as_object()
        .expect("paths")
        .values()
        .flat_map(|item| item.as_object().into_iter().flat_map(|m| m.values()))
        .filter_map(|op| {
            op.get("operationId")
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        })
        .collect();
    ids.sort();
    ids
}

/// The contract's named string enums and their values.
fn contract_enums(contract: &str) -> Vec<(String, Vec<String>)> {
    let doc: serde_json::Value = serde_json::from_str(contract).expect("contract is JSON");
    let mut out: Vec<(String, Vec<String>)> = doc["components"]["schemas"]
        .as_object()
        .expect("schemas")
        .iter()
        .filter_map(|(name, schema)| {
            let values = schema.get("x-enum-values")?.as_array()?;
            let values: Vec<String> = values
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect();
            (!values.is_empty()).then(|| (name.clone(), values))
        })
        .collect();
    out.sort();
    out
}

/// The generated enums list exactly the contract's values: none typed by
/// hand, none missing, none stale.
fn assert_enums_match(generated: &[(&str, &[&str])], contract: &str) {
    let mut got: Vec<(String, Vec<String>)> = generated
        .iter()
        .map(|(n, v)| (n.to_string(), v.iter().map(|s| s.to_string()).collect()))
        .collect();
    got.sort();
    assert_eq!(got, contract_enums(contract));
}

async fn contract_sandbox() -> Sandbox {
    Sandbox::builder()
        .contract_answers(true)
        .start()
        .await
        .expect("sandbox")
}

/// Calls each operation through `call`; returns the failures, one line each.
async fn call_all<F, Fut>(ids: &[&'static str], call: F) -> Vec<String>
where
    F: Fn(&'static str) -> Fut,
    Fut: std::future::Future<Output = Option<agentwire::Result<()>>>,
{
    let mut failures = Vec::new();
    for id in ids {
        match call(id).await {
            Some(Ok(())) => {}
            Some(Err(e)) => failures.push(format!("{id}: {e}")),
            None => failures.push(format!("{id}: no conformance call")),
        }
    }
    failures
}

#[cfg(feature = "colony")]
#[tokio::test]
async fn every_colony_operation_is_reachable_and_decodes() {
    use agentwire_colony_transport::{conformance, operations};
    let sb = contract_sandbox().await;
    let client = agentwire::colony::Client::builder("col_conformance_key")
        .base_url(sb.base_url())
        .no_token_cache()
        .build()
        .unwrap();
    let ids: Vec<&'static str> = operations::ALL.iter().map(|op| op.id).collect();
    assert_eq!(
        ids,
        contract_operations(include_str!("../openapi/colony.json")),
        "the transport has exactly the contract's operations"
    );
    let failures = call_all(&ids, |id| conformance::call(&client, id)).await;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_enums_match(
        &agentwire_colony_transport::types::OPEN_ENUMS,
        include_str!("../openapi/colony.json"),
    );
    // The facade's names are the generated enums themselves.
    assert_eq!(
        agentwire::colony::PostType::from("poll"),
        agentwire_colony_transport::types::PostType::Poll
    );
    // The contract types a DM spam report's `reason` as a plain string, but
    // colony-sdk 1.38 names its values as those of the report routes: the
    // facade's `SpamReason` lists exactly the contract's `ReportReason`.
    let report_reasons = contract_enums(include_str!("../openapi/colony.json"))
        .into_iter()
        .find(|(name, _)| name == "ReportReason")
        .map(|(_, values)| values)
        .expect("the contract lists ReportReason");
    assert_eq!(agentwire::colony::SpamReason::VALUES, report_reasons);
    for value in agentwire::colony::SpamReason::VALUES {
        let reason = agentwire::colony::SpamReason::from(*value);
        assert!(!matches!(reason, agentwire::colony::SpamReason::Other(_)));
        assert_eq!(reason.as_str(), *value);
    }
}

#[cfg(feature = "mycel")]
#[tokio::test]
async fn every_mycel_operation_is_reachable_and_decodes() {
    use agentwire_mycel_transport::{conformance, operations};
    let sb = contract_sandbox().await;
    let client = agentwire::mycel::Client::builder(sb.base_url())
        .token("mycel_conformance_token")
        .build()
        .unwrap();
    let ids: Vec<&'static str> = operations::ALL.iter().map(|op| op.id).collect();
    assert_eq!(
        ids,
        contract_operations(include_str!("../openapi/mycel.json")),
        "the transport has exactly the contract's operations"
    );
    let failures = call_all(&ids, |id| conformance::call(&client, id)).await;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_enums_match(
        &agentwire_mycel_transport::types::OPEN_ENUMS,
        include_str!("../openapi/mycel.json"),
    );
    assert_eq!(
        agentwire::mycel::DeliveryScope::from("addressed"),
        agentwire_mycel_transport::types::SendMessageBodyDeliveryScope::Addressed
    );
}

#[cfg(feature = "promptev")]
#[tokio::test]
async fn every_promptev_operation_is_reachable_and_decodes() {
    use agentwire_promptev_transport::{conformance, operations};
    let sb = contract_sandbox().await;
    // The current product's client: its key is a bearer token; the 0.2
    // operations take theirs as an argument.
    let client = agentwire::promptev::Client::builder(sb.promptev().api_key())
        .base_url(sb.base_url())
        .build()
        .unwrap();
    let ids: Vec<&'static str> = operations::ALL.iter().map(|op| op.id).collect();
    assert_eq!(
        ids,
        contract_operations(include_str!("../openapi/promptev.json")),
        "the transport has exactly the contract's operations"
    );
    let failures = call_all(&ids, |id| conformance::call(&client, id)).await;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_enums_match(
        &agentwire_promptev_transport::types::OPEN_ENUMS,
        include_str!("../openapi/promptev.json"),
    );
    assert_eq!(
        agentwire::promptev::v02::AgentEventKind::from("done"),
        agentwire_promptev_transport::types::AgentEventDataType::Done
    );
    assert_eq!(
        agentwire::promptev::ChatEventKind::from("approval_required"),
        agentwire_promptev_transport::types::ChatEventType::ApprovalRequired
    );
}

/// Whether a failure shows that the sandbox has no route for the operation
/// (as opposed to a handler refusing the example arguments).
fn route_missing(e: &agentwire::Error) -> bool {
    matches!(e, agentwire::Error::NotFound(a) if a.message == "Not Found")
        || e.status() == Some(405)
}

/// Without `contract_answers`, operations that have a stateful handler are
/// answered by it and the others from the contract: none is a route the
/// sandbox does not know. (A handler may refuse the example arguments —
/// an id that names nothing — which still shows it exists.)
async fn assert_every_route_known<F, Fut>(ids: &[&'static str], call: F)
where
    F: Fn(&'static str) -> Fut,
    Fut: std::future::Future<Output = Option<agentwire::Result<()>>>,
{
    let mut missing = Vec::new();
    for id in ids {
        match call(id).await {
            Some(Err(e)) if route_missing(&e) => missing.push(format!("{id}: {e}")),
            None => missing.push(format!("{id}: no conformance call")),
            _ => {}
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

#[cfg(feature = "promptev")]
#[tokio::test]
async fn the_stateful_sandbox_knows_every_promptev_route() {
    use agentwire_promptev_transport::{conformance, operations};
    let sb = Sandbox::start().await.expect("sandbox");
    // The current product's client: its key is a bearer token; the 0.2
    // operations take theirs as an argument.
    let client = agentwire::promptev::Client::builder(sb.promptev().api_key())
        .base_url(sb.base_url())
        .build()
        .unwrap();
    let ids: Vec<&'static str> = operations::ALL.iter().map(|op| op.id).collect();
    assert_every_route_known(&ids, |id| conformance::call(&client, id)).await;
}

#[cfg(feature = "colony")]
#[tokio::test]
async fn the_stateful_sandbox_knows_every_colony_route() {
    use agentwire_colony_transport::{conformance, operations};
    let sb = Sandbox::start().await.expect("sandbox");
    let key = sb.colony().register("conformance");
    let client = agentwire::colony::Client::builder(key)
        .base_url(sb.base_url())
        .no_token_cache()
        .build()
        .unwrap();
    let ids: Vec<&'static str> = operations::ALL.iter().map(|op| op.id).collect();
    assert_every_route_known(&ids, |id| conformance::call(&client, id)).await;
}

#[cfg(feature = "mycel")]
#[tokio::test]
async fn the_stateful_sandbox_knows_every_mycel_route() {
    use agentwire_mycel_transport::{conformance, operations};
    let sb = Sandbox::start().await.expect("sandbox");
    let owner = sb.mycel().register_owner("owner@example.com", "pw-owner");
    let client = agentwire::mycel::Client::builder(sb.base_url())
        .token(&owner.token)
        .build()
        .unwrap();
    let ids: Vec<&'static str> = operations::ALL.iter().map(|op| op.id).collect();
    assert_every_route_known(&ids, |id| {
        if id == "notifications_wait" {
            // Something in the inbox, so the long poll answers at once.
            sb.mycel().push_notifications(&owner.id, 1);
        }
        conformance::call(&client, id)
    })
    .await;
}
