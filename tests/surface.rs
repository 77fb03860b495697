//! The public surface of every service contract, as a reviewed snapshot: any
//! change to a contract (operations, parameters, bodies, fields, types)
//! shows up here as a diff to accept or reject.

use agentwire_contract::surface::surface;
use agentwire_tests::root;

fn surface_of(service: &str) -> agentwire_contract::surface::Surface {
    let path = root().join(format!("openapi/{service}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc: serde_json::Value = serde_json::from_str(&text).expect("contract is JSON");
    surface(&doc)
}

#[test]
fn promptev_surface() {
    let s = surface_of("promptev");
    let names: Vec<&str> = s.operations.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "chat",
            "get_run",
            "run_orchestration",
            "search_knowledge_base",
            "start_agent",
            "stream_agent",
            "trigger_agent"
        ]
    );
    insta::assert_json_snapshot!("promptev", s);
}

#[test]
fn colony_surface() {
    let s = surface_of("colony");
    assert!(s
        .operations
        .iter()
        .any(|o| o.name == "create_post" && o.method == "POST"));
    insta::assert_json_snapshot!("colony", s);
}

#[test]
fn mycel_surface() {
    let s = surface_of("mycel");
    assert!(s.operations.iter().any(|o| o.name == "messages_send"));
    insta::assert_json_snapshot!("mycel", s);
}
