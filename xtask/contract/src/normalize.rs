//! OpenAPI 3.1 (as published by FastAPI) to OpenAPI 3.0.3 (as read by progenitor).
//!
//! progenitor parses documents with the `openapiv3` crate, which only models 3.0: a
//! `type` array, a numeric `exclusiveMinimum` or an `examples` array in a parameter
//! makes the whole document fail to parse, and several 3.1 idioms that do parse
//! (`$ref` with siblings, `anyOf` with a null branch) are silently misread. The
//! normalizer rewrites those idioms into their 3.0 equivalents, and additionally
//! loosens a few constructs (closed string enums, `additionalProperties: false`)
//! so that the generated client keeps working when the servers evolve.
//!
//! Every rewrite is a small function over one JSON object so that it can be tested
//! on its own; [`normalize`] only decides where schemas live and in which order
//! the rules run. All rules produce output they leave unchanged, which is what
//! makes [`normalize`] idempotent.

use std::collections::BTreeSet;
use std::fmt;

use serde_json::{Map, Value};

/// Why a document could not be converted, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalizeError {
    /// RFC 6901 JSON pointer into the input document (`""` is the root).
    pub pointer: String,
    pub message: String,
}

impl NormalizeError {
    fn new(pointer: &str, message: impl Into<String>) -> Self {
        Self {
            pointer: pointer.to_owned(),
            message: message.into(),
        }
    }
}

impl fmt::Display for NormalizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The fragment form is what people paste into a JSON viewer or a `$ref`.
        write!(
            f,
            "cannot normalize OpenAPI document at #{}: {}",
            self.pointer, self.message
        )
    }
}

impl std::error::Error for NormalizeError {}

type Result<T> = std::result::Result<T, NormalizeError>;

/// Normalizes a (filtered) OpenAPI 3.1 document in place into OpenAPI 3.0.3 that
/// the openapiv3 crate / progenitor accept. Idempotent: normalizing twice gives
/// the same result. Returns Err with a clear message naming the JSON pointer when
/// it meets something it cannot convert.
pub fn normalize(doc: &mut Value) -> std::result::Result<(), NormalizeError> {
    let root = expect_object(doc, "", "the document")?;
    check_version(root)?;
    root.insert("openapi".into(), Value::String("3.0.3".into()));
    // Neither has a 3.0 counterpart, and webhooks are not something a client calls.
    root.remove("webhooks");
    root.remove("jsonSchemaDialect");

    if let Some(info) = root.get_mut("info") {
        normalize_info(info)?;
    }

    // 3.1 made `paths` optional; 3.0 (and openapiv3) require it.
    let paths = root
        .entry("paths")
        .or_insert_with(|| Value::Object(Map::new()));
    let paths = expect_object(paths, "/paths", "the paths object")?;
    for (path, item) in paths.iter_mut() {
        if is_extension(path) {
            continue;
        }
        normalize_path_item(item, &child_pointer("/paths", path))?;
    }

    if let Some(components) = root.get_mut("components") {
        normalize_components(components)?;
    }
    Ok(())
}

/// Removes every entry of components/schemas (and components/parameters,
/// requestBodies, responses) that no operation under `paths` reaches transitively
/// through $ref.
///
/// Everything else in the document (including the component sections that are not
/// pruned, such as `headers` or `examples`) also counts as a root, so pruning never
/// leaves a dangling `$ref` behind. Sections that end up empty are removed.
pub fn prune_components(doc: &mut Value) {
    let Some(root) = doc.as_object() else {
        return;
    };

    let mut pending = Vec::new();
    for (key, value) in root {
        if key != "components" {
            collect_component_refs(value, &mut pending);
            continue;
        }
        let Some(components) = value.as_object() else {
            continue;
        };
        for (section, entries) in components {
            if !PRUNED_SECTIONS.contains(&section.as_str()) {
                collect_component_refs(entries, &mut pending);
            }
        }
    }

    // Worklist over (section, name) so that reference cycles terminate.
    let mut reached = BTreeSet::new();
    while let Some(target) = pending.pop() {
        if !reached.insert(target.clone()) {
            continue;
        }
        let (section, name) = &target;
        if let Some(entry) = root
            .get("components")
            .and_then(|c| c.get(section))
            .and_then(|s| s.get(name))
        {
            collect_component_refs(entry, &mut pending);
        }
    }

    let Some(components) = doc
        .as_object_mut()
        .and_then(|root| root.get_mut("components"))
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    for section in PRUNED_SECTIONS {
        let Some(entries) = components.get_mut(section).and_then(Value::as_object_mut) else {
            continue;
        };
        entries.retain(|name, _| reached.contains(&(section.to_owned(), name.clone())));
        if entries.is_empty() {
            components.remove(section);
        }
    }
}

const PRUNED_SECTIONS: [&str; 4] = ["schemas", "parameters", "requestBodies", "responses"];

const HTTP_METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

// ---------------------------------------------------------------------------
// Document structure: where parameters, media types and schemas live.
// ---------------------------------------------------------------------------

fn check_version(root: &Map<String, Value>) -> Result<()> {
    if root.contains_key("swagger") {
        return Err(NormalizeError::new(
            "/swagger",
            "Swagger 2.0 documents are not supported; expected OpenAPI 3.x",
        ));
    }
    match root.get("openapi") {
        None => Ok(()),
        Some(Value::String(v)) if v.starts_with("3.") => Ok(()),
        Some(other) => Err(NormalizeError::new(
            "/openapi",
            format!("expected an OpenAPI 3.x version string, found {other}"),
        )),
    }
}

fn normalize_info(info: &mut Value) -> Result<()> {
    let info = expect_object(info, "/info", "the info object")?;
    // 3.1 additions without a 3.0 field to land in.
    info.remove("summary");
    if let Some(license) = info.get_mut("license").and_then(Value::as_object_mut) {
        license.remove("identifier");
    }
    Ok(())
}

fn normalize_path_item(item: &mut Value, ptr: &str) -> Result<()> {
    let item = expect_object(item, ptr, "a path item")?;
    if item.contains_key("$ref") {
        // 3.1 points these at components/pathItems, which 3.0 does not have; FastAPI
        // never emits them, so inlining is not worth its complexity.
        return Err(NormalizeError::new(
            &child_pointer(ptr, "$ref"),
            "path items defined by $ref are not supported; inline the path item",
        ));
    }
    if let Some(params) = item.get_mut("parameters") {
        normalize_parameter_list(params, &child_pointer(ptr, "parameters"))?;
    }
    for method in HTTP_METHODS {
        if let Some(op) = item.get_mut(method) {
            normalize_operation(op, &child_pointer(ptr, method))?;
        }
    }
    Ok(())
}

fn normalize_operation(op: &mut Value, ptr: &str) -> Result<()> {
    let op = expect_object(op, ptr, "an operation")?;
    drop_callbacks(op);
    drop_shadowed_headers(op); // rule 15
    if let Some(params) = op.get_mut("parameters") {
        normalize_parameter_list(params, &child_pointer(ptr, "parameters"))?;
        headers_not_nullable(params); // rule 15
    }
    if let Some(body) = op.get_mut("requestBody") {
        normalize_request_body(body, &child_pointer(ptr, "requestBody"))?;
    }

    let responses_ptr = child_pointer(ptr, "responses");
    // 3.1 made `responses` optional; give it a slot so the 200 fallback applies.
    let responses = op
        .entry("responses")
        .or_insert_with(|| Value::Object(Map::new()));
    let responses = expect_object(responses, &responses_ptr, "the responses object")?;
    keep_success_responses(responses);
    for (status, response) in responses.iter_mut() {
        if is_extension(status) {
            continue;
        }
        normalize_response(response, &child_pointer(&responses_ptr, status))?;
    }
    Ok(())
}

fn normalize_components(components: &mut Value) -> Result<()> {
    let ptr = "/components";
    let components = expect_object(components, ptr, "the components object")?;
    // pathItems is 3.1-only; callbacks are dropped from operations (rule 11), so
    // their component definitions would only carry unconverted 3.1 schemas along.
    components.remove("pathItems");
    components.remove("callbacks");

    type Normalizer = fn(&mut Value, &str) -> Result<()>;
    let sections: [(&str, Normalizer); 5] = [
        ("schemas", normalize_schema),
        ("parameters", normalize_parameter),
        ("headers", normalize_header),
        ("requestBodies", normalize_request_body),
        ("responses", normalize_response),
    ];
    for (section, normalize_entry) in sections {
        let Some(entries) = components.get_mut(section) else {
            continue;
        };
        let section_ptr = child_pointer(ptr, section);
        let entries = expect_object(entries, &section_ptr, "a components section")?;
        for (name, entry) in entries.iter_mut() {
            normalize_entry(entry, &child_pointer(&section_ptr, name))?;
        }
    }
    Ok(())
}

fn normalize_parameter_list(params: &mut Value, ptr: &str) -> Result<()> {
    let Value::Array(params) = params else {
        return Err(NormalizeError::new(ptr, "expected an array of parameters"));
    };
    for (i, param) in params.iter_mut().enumerate() {
        normalize_parameter(param, &child_pointer(ptr, &i.to_string()))?;
    }
    Ok(())
}

fn normalize_parameter(param: &mut Value, ptr: &str) -> Result<()> {
    let param = expect_object(param, ptr, "a parameter")?;
    if strip_reference_siblings(param) {
        return Ok(());
    }
    normalize_parameter_like(param, ptr)?;
    untitle_parameter_schema(param);
    Ok(())
}

/// Rule 12: an inline parameter schema loses its `title`. typify names a
/// generated type after the title, so every operation's `sort` or `q`
/// parameter (FastAPI titles them "Sort", "Q") would become one shared type
/// holding the constraints of whichever came first; without a title each is
/// named after its operation and parameter, with its own constraints.
fn untitle_parameter_schema(param: &mut Map<String, Value>) {
    if let Some(Value::Object(schema)) = param.get_mut("schema") {
        if !schema.contains_key("$ref") {
            schema.remove("title");
        }
    }
}

/// Rule 16: a property's schema loses its `title`, for rule 12's reason:
/// FastAPI titles every `content` property "Content", and typify would make
/// one `Content` type of all of them, holding the first one's bounds (the
/// 2 000-character limit of a comment's content applied to a 1.1 MB vault
/// file). Without a title each is named after its model and property.
fn untitle_property_schema(schema: &mut Value) {
    if let Value::Object(schema) = schema {
        if !schema.contains_key("$ref") {
            schema.remove("title");
        }
    }
}

fn normalize_header(header: &mut Value, ptr: &str) -> Result<()> {
    let header = expect_object(header, ptr, "a header")?;
    if strip_reference_siblings(header) {
        return Ok(());
    }
    normalize_parameter_like(header, ptr)
}

/// Parameters and headers share the fields that matter here.
fn normalize_parameter_like(obj: &mut Map<String, Value>, ptr: &str) -> Result<()> {
    ensure_parameter_schema(obj, ptr)?;
    array_examples_to_example(obj);
    if let Some(schema) = obj.get_mut("schema") {
        normalize_schema(schema, &child_pointer(ptr, "schema"))?;
    }
    Ok(())
}

fn normalize_request_body(body: &mut Value, ptr: &str) -> Result<()> {
    let body = expect_object(body, ptr, "a request body")?;
    if strip_reference_siblings(body) {
        return Ok(());
    }
    if let Some(content) = body.get_mut("content") {
        normalize_content(content, &child_pointer(ptr, "content"))?;
    }
    Ok(())
}

fn normalize_response(response: &mut Value, ptr: &str) -> Result<()> {
    let response = expect_object(response, ptr, "a response")?;
    if strip_reference_siblings(response) {
        return Ok(());
    }
    // 3.0 requires a description; an imported document has none (its prose
    // is left behind), and the text plays no part in generation.
    response
        .entry("description")
        .or_insert_with(|| Value::String(String::new()));
    if let Some(headers) = response.get_mut("headers") {
        let headers_ptr = child_pointer(ptr, "headers");
        let headers = expect_object(headers, &headers_ptr, "a headers map")?;
        for (name, header) in headers.iter_mut() {
            normalize_header(header, &child_pointer(&headers_ptr, name))?;
        }
    }
    if let Some(content) = response.get_mut("content") {
        normalize_content(content, &child_pointer(ptr, "content"))?;
    }
    Ok(())
}

fn normalize_content(content: &mut Value, ptr: &str) -> Result<()> {
    let content = expect_object(content, ptr, "a content map")?;
    for (media_type, media) in content.iter_mut() {
        normalize_media_type(media, &child_pointer(ptr, media_type))?;
    }
    Ok(())
}

fn normalize_media_type(media: &mut Value, ptr: &str) -> Result<()> {
    let media = expect_object(media, ptr, "a media type object")?;
    array_examples_to_example(media);
    if let Some(schema) = media.get_mut("schema") {
        normalize_schema(schema, &child_pointer(ptr, "schema"))?;
    }
    if let Some(encoding) = media.get_mut("encoding") {
        let encoding_ptr = child_pointer(ptr, "encoding");
        let encoding = expect_object(encoding, &encoding_ptr, "an encoding map")?;
        for (property, enc) in encoding.iter_mut() {
            let enc_ptr = child_pointer(&encoding_ptr, property);
            let Some(headers) =
                expect_object(enc, &enc_ptr, "an encoding object")?.get_mut("headers")
            else {
                continue;
            };
            let headers_ptr = child_pointer(&enc_ptr, "headers");
            let headers = expect_object(headers, &headers_ptr, "a headers map")?;
            for (name, header) in headers.iter_mut() {
                normalize_header(header, &child_pointer(&headers_ptr, name))?;
            }
        }
    }
    Ok(())
}

/// Applies every schema rule to `schema` and then to its subschemas.
///
/// The order matters: rule 1 may pull a branch's keywords up into this object, so
/// it runs first and everything after it also sees the merged keywords; rule 4
/// must precede rule 9 so that consts become open strings too; rule 6 runs last
/// because earlier rules may leave a `$ref` next to new siblings. Restructuring
/// rules only ever push content down into subschemas, which are visited afterwards.
fn normalize_schema(schema: &mut Value, ptr: &str) -> Result<()> {
    bool_schema_to_object(schema); // rule 7
    let obj = expect_object(schema, ptr, "a schema (object or boolean)")?;
    // Each round removes one level of nesting, so this terminates.
    while collapse_null_branch(obj) {} // rule 1
    drop_unsupported_keywords(obj, ptr)?; // rule 8
    expand_type_array(obj, ptr)?; // rule 2
    const_to_enum(obj); // rule 4
    open_string_enum(obj); // rule 9
    drop_closed_additional_properties(obj); // rule 9
    open_object(obj); // rule 13
    pattern_to_enum(obj); // rule 14
    convert_exclusive_bounds(obj, ptr)?; // rule 5
    schema_examples_to_example(obj); // rule 3
    wrap_ref_with_siblings(obj); // rule 6
    normalize_subschemas(obj, ptr)
}

fn normalize_subschemas(obj: &mut Map<String, Value>, ptr: &str) -> Result<()> {
    for key in ["items", "not"] {
        if let Some(sub) = obj.get_mut(key) {
            normalize_schema(sub, &child_pointer(ptr, key))?;
        }
    }
    // `true` is a valid 3.0 value here and means the same as `{}`.
    if let Some(sub) = obj.get_mut("additionalProperties") {
        if !sub.is_boolean() {
            normalize_schema(sub, &child_pointer(ptr, "additionalProperties"))?;
        }
    }
    if let Some(props) = obj.get_mut("properties") {
        let props_ptr = child_pointer(ptr, "properties");
        let props = expect_object(props, &props_ptr, "a properties map")?;
        for (name, sub) in props.iter_mut() {
            normalize_schema(sub, &child_pointer(&props_ptr, name))?;
            untitle_property_schema(sub); // rule 16
        }
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        let Some(list) = obj.get_mut(key) else {
            continue;
        };
        let list_ptr = child_pointer(ptr, key);
        let Value::Array(list) = list else {
            return Err(NormalizeError::new(
                &list_ptr,
                "expected an array of schemas",
            ));
        };
        for (i, sub) in list.iter_mut().enumerate() {
            normalize_schema(sub, &child_pointer(&list_ptr, &i.to_string()))?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Schema rules. Each takes one schema object and is a no-op on its own output.
// ---------------------------------------------------------------------------

/// Keywords that only annotate a schema. When a branch is merged into its parent
/// these may differ without changing what validates, so the parent's value wins.
const ANNOTATION_KEYWORDS: [&str; 10] = [
    "title",
    "description",
    "default",
    "example",
    "examples",
    "deprecated",
    "readOnly",
    "writeOnly",
    "externalDocs",
    "$comment",
];

fn is_annotation(key: &str) -> bool {
    ANNOTATION_KEYWORDS.contains(&key) || is_extension(key)
}

/// Rule 1: pydantic spells `Optional[T]` as `anyOf: [T, {"type": "null"}]`, which
/// typify would turn into an untagged enum with a unit variant instead of
/// `Option<T>`. 3.0 expresses the same with `nullable: true`.
///
/// Returns whether anything changed, because a merged branch can itself carry a
/// null branch one level down.
fn collapse_null_branch(obj: &mut Map<String, Value>) -> bool {
    for key in ["anyOf", "oneOf"] {
        let Some(Value::Array(branches)) = obj.get(key) else {
            continue;
        };
        if !branches.iter().any(is_null_schema) {
            continue;
        }
        let mut rest: Vec<Value> = branches
            .iter()
            .filter(|b| !is_null_schema(b))
            .cloned()
            .collect();
        obj.insert("nullable".into(), Value::Bool(true));

        if rest.len() > 1 {
            obj.insert(key.into(), Value::Array(rest));
            return true;
        }
        obj.remove(key);
        // A discriminator only means something while several branches remain.
        obj.remove("discriminator");
        let Some(mut branch) = rest.pop() else {
            // Only null was allowed: what is left is the empty schema plus nullable.
            return true;
        };
        bool_schema_to_object(&mut branch);
        match branch {
            Value::Object(b) if is_pure_ref(&b) => {
                // 3.0 ignores siblings of $ref, so `nullable` needs a wrapper.
                push_all_of_front(obj, Value::Object(b));
            }
            Value::Object(b) if can_merge(obj, &b) => {
                for (k, v) in b {
                    obj.entry(k).or_insert(v);
                }
            }
            // Conflicting constraints must both hold: that is exactly allOf.
            other => push_all_of_front(obj, other),
        }
        return true;
    }
    false
}

/// A branch that admits only `null`, possibly with annotations.
fn is_null_schema(schema: &Value) -> bool {
    let Some(obj) = schema.as_object() else {
        return false;
    };
    let null_type = match obj.get("type") {
        Some(Value::String(t)) => t == "null",
        Some(Value::Array(ts)) => !ts.is_empty() && ts.iter().all(|t| t == "null"),
        _ => false,
    };
    let null_value = match (obj.get("const"), obj.get("enum")) {
        (Some(Value::Null), _) => true,
        (_, Some(Value::Array(vs))) => !vs.is_empty() && vs.iter().all(Value::is_null),
        _ => false,
    };
    if !(null_type || null_value) {
        return false;
    }
    obj.keys()
        .all(|k| matches!(k.as_str(), "type" | "const" | "enum" | "nullable") || is_annotation(k))
}

fn is_pure_ref(obj: &Map<String, Value>) -> bool {
    obj.len() == 1 && obj.get("$ref").is_some_and(Value::is_string)
}

fn can_merge(parent: &Map<String, Value>, branch: &Map<String, Value>) -> bool {
    branch
        .iter()
        .all(|(k, v)| is_annotation(k) || parent.get(k).is_none_or(|pv| pv == v))
}

fn push_all_of_front(obj: &mut Map<String, Value>, schema: Value) {
    match obj.get_mut("allOf") {
        Some(Value::Array(list)) => list.insert(0, schema),
        _ => {
            obj.insert("allOf".into(), Value::Array(vec![schema]));
        }
    }
}

/// Rule 2: openapiv3 models `type` as a single string; a 3.1 type array makes the
/// document fail to parse.
fn expand_type_array(obj: &mut Map<String, Value>, ptr: &str) -> Result<()> {
    let type_ptr = child_pointer(ptr, "type");
    let types: Vec<String> = match obj.get("type") {
        None => return Ok(()),
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(ts)) => {
            let mut names = Vec::with_capacity(ts.len());
            for t in ts {
                let Value::String(t) = t else {
                    return Err(NormalizeError::new(
                        &type_ptr,
                        format!("type names must be strings, found {t}"),
                    ));
                };
                if !names.contains(t) {
                    names.push(t.clone());
                }
            }
            names
        }
        Some(other) => {
            return Err(NormalizeError::new(
                &type_ptr,
                format!("expected a type name or an array of them, found {other}"),
            ))
        }
    };
    if types.is_empty() {
        return Err(NormalizeError::new(
            &type_ptr,
            "an empty type array admits no value and has no 3.0 equivalent",
        ));
    }
    if let Some(unknown) = types.iter().find(|t| !JSON_TYPES.contains(&t.as_str())) {
        return Err(NormalizeError::new(
            &type_ptr,
            format!("unknown type name {unknown:?}"),
        ));
    }

    let had_null = types.iter().any(|t| t == "null");
    let non_null: Vec<&String> = types.iter().filter(|t| *t != "null").collect();
    if had_null {
        obj.insert("nullable".into(), Value::Bool(true));
    }
    match non_null.as_slice() {
        [] => {
            obj.remove("type");
        }
        [single] => {
            obj.insert("type".into(), Value::String((*single).clone()));
        }
        several => {
            obj.remove("type");
            let branches = several
                .iter()
                .map(|t| Value::Object(type_branch(obj, t)))
                .collect();
            // Keywords that now live in a branch would otherwise apply twice.
            for t in several {
                for kw in keywords_for_type(t) {
                    obj.remove(*kw);
                }
            }
            if let Some(format) = obj.get("format").and_then(Value::as_str) {
                if several.iter().any(|t| format_fits_type(format, t)) {
                    obj.remove("format");
                }
            }
            if obj.contains_key("anyOf") {
                // Both unions must hold; keep the existing one where it is.
                let mut wrapper = Map::new();
                wrapper.insert("anyOf".into(), Value::Array(branches));
                let wrapper = Value::Object(wrapper);
                match obj.get_mut("allOf") {
                    Some(Value::Array(list)) => list.push(wrapper),
                    _ => {
                        obj.insert("allOf".into(), Value::Array(vec![wrapper]));
                    }
                }
            } else {
                obj.insert("anyOf".into(), Value::Array(branches));
            }
        }
    }
    Ok(())
}

const JSON_TYPES: [&str; 7] = [
    "string", "number", "integer", "boolean", "array", "object", "null",
];

/// One branch of an expanded type array, carrying the keywords only that type uses.
fn type_branch(parent: &Map<String, Value>, ty: &str) -> Map<String, Value> {
    let mut branch = Map::new();
    branch.insert("type".into(), Value::String(ty.into()));
    for kw in keywords_for_type(ty) {
        if let Some(v) = parent.get(*kw) {
            branch.insert((*kw).into(), v.clone());
        }
    }
    if let Some(format) = parent.get("format").and_then(Value::as_str) {
        if format_fits_type(format, ty) {
            branch.insert("format".into(), Value::String(format.into()));
        }
    }
    branch
}

fn keywords_for_type(ty: &str) -> &'static [&'static str] {
    match ty {
        "string" => &["minLength", "maxLength", "pattern"],
        "number" | "integer" => &[
            "minimum",
            "maximum",
            "exclusiveMinimum",
            "exclusiveMaximum",
            "multipleOf",
        ],
        "array" => &[
            "items",
            "prefixItems",
            "minItems",
            "maxItems",
            "uniqueItems",
        ],
        "object" => &[
            "properties",
            "required",
            "additionalProperties",
            "minProperties",
            "maxProperties",
        ],
        _ => &[],
    }
}

fn format_fits_type(format: &str, ty: &str) -> bool {
    match format {
        "int32" | "int64" => ty == "integer" || ty == "number",
        "float" | "double" => ty == "number",
        _ => ty == "string",
    }
}

/// Rule 3 (schemas): 3.0 schemas only know the singular `example`.
fn schema_examples_to_example(obj: &mut Map<String, Value>) {
    let Some(examples) = obj.remove("examples") else {
        return;
    };
    // A non-array `examples` is malformed in 3.1 too; it is only an annotation.
    if let Value::Array(list) = examples {
        if let Some(first) = list.into_iter().next() {
            obj.entry("example").or_insert(first);
        }
    }
}

/// Rule 3 (parameters, headers, media types): here a map of Example objects is
/// valid 3.0 and stays; only the array form openapiv3 cannot read is converted.
fn array_examples_to_example(obj: &mut Map<String, Value>) {
    if !obj.get("examples").is_some_and(Value::is_array) {
        return;
    }
    schema_examples_to_example(obj);
}

/// Rule 4: 3.0 has no `const`; a one-value enum says the same thing.
fn const_to_enum(obj: &mut Map<String, Value>) {
    let Some(value) = obj.remove("const") else {
        return;
    };
    if !obj.contains_key("type") {
        if let Some(ty) = json_type_of(&value) {
            obj.insert("type".into(), Value::String(ty.into()));
        }
    }
    if value.is_null() {
        obj.insert("nullable".into(), Value::Bool(true));
    }
    // const is at least as strict as any enum next to it.
    obj.insert("enum".into(), Value::Array(vec![value]));
}

fn json_type_of(value: &Value) -> Option<&'static str> {
    match value {
        Value::Null => None,
        Value::Bool(_) => Some("boolean"),
        Value::Number(n) if n.is_i64() || n.is_u64() => Some("integer"),
        Value::Number(_) => Some("number"),
        Value::String(_) => Some("string"),
        Value::Array(_) => Some("array"),
        Value::Object(_) => Some("object"),
    }
}

/// Rule 9: typify makes a closed Rust enum out of a string enum, and its
/// Deserialize rejects any value added on the server later. A plain string keeps
/// old clients working; the values stay visible under `x-enum-values` for review.
fn open_string_enum(obj: &mut Map<String, Value>) {
    let Some(Value::Array(values)) = obj.get("enum") else {
        return;
    };
    let type_ok = match obj.get("type") {
        None => true,
        Some(Value::String(t)) => t == "string",
        Some(_) => false,
    };
    let all_strings = values.iter().all(|v| v.is_string() || v.is_null());
    let any_string = values.iter().any(Value::is_string);
    if !(type_ok && all_strings && any_string) {
        return;
    }
    let admits_null = values.iter().any(Value::is_null);
    let Some(values) = obj.remove("enum") else {
        return;
    };
    obj.insert("x-enum-values".into(), values);
    if admits_null {
        obj.insert("nullable".into(), Value::Bool(true));
    }
    // Next to a composition a `type` would narrow it; there the enum only goes.
    let composed = ["allOf", "anyOf", "oneOf", "not"]
        .iter()
        .any(|k| obj.contains_key(*k));
    if !composed {
        obj.entry("type")
            .or_insert_with(|| Value::String("string".into()));
    }
}

/// Rule 9: typify turns `additionalProperties: false` into
/// `#[serde(deny_unknown_fields)]`, which breaks as soon as a field is added.
fn drop_closed_additional_properties(obj: &mut Map<String, Value>) {
    if obj.get("additionalProperties") == Some(&Value::Bool(false)) {
        obj.remove("additionalProperties");
    }
}

/// Gives each multi-valued string enum held in a property of a component
/// schema or in a parameter a name of its own (`CreateChatBody.kind` →
/// `CreateChatBodyKind`, `get_posts`'s `sort` → `GetPostsSort`),
/// so that the generator can make an open Rust enum of it; a property with one
/// value (a tag such as `"type": "notify"`) stays a string. Runs after
/// [`normalize`]: the property becomes a `$ref` (inside `allOf` when it carries
/// siblings such as `default`, as rule 6 leaves them).
pub fn name_inline_enums(doc: &mut Value) {
    let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let mut hoisted = Vec::new();
    let taken: BTreeSet<String> = schemas.keys().cloned().collect();
    for (name, schema) in schemas.iter_mut() {
        let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) else {
            continue;
        };
        for (prop, sub) in props.iter_mut() {
            if !is_inline_choice(sub) {
                continue;
            }
            let Some(obj) = sub.as_object_mut() else {
                continue;
            };
            let new_name = format!("{name}{}", pascal(prop));
            if taken.contains(&new_name) {
                continue;
            }
            let mut enum_schema = Map::new();
            for key in ["type", "x-enum-values", "title"] {
                if let Some(v) = obj.remove(key) {
                    enum_schema.insert(key.to_owned(), v);
                }
            }
            enum_schema.insert("title".into(), Value::String(new_name.clone()));
            let reference = serde_json::json!({"$ref": format!("#/components/schemas/{new_name}")});
            if obj.is_empty() {
                *sub = reference;
            } else {
                obj.insert("allOf".into(), Value::Array(vec![reference]));
            }
            hoisted.push((new_name, Value::Object(enum_schema)));
        }
    }
    // The same for parameters: `get_posts`'s `sort` becomes `GetPostsSort`.
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for op in item.values_mut() {
                let Some(id) = op.get("operationId").and_then(Value::as_str).map(pascal) else {
                    continue;
                };
                let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) else {
                    continue;
                };
                for param in params {
                    let Some(name) = param.get("name").and_then(Value::as_str).map(pascal) else {
                        continue;
                    };
                    let Some(schema) = param.get_mut("schema") else {
                        continue;
                    };
                    if !is_inline_choice(schema) {
                        continue;
                    }
                    let new_name = format!("{id}{name}");
                    if taken.contains(&new_name) || hoisted.iter().any(|(n, _)| *n == new_name) {
                        continue;
                    }
                    let mut enum_schema = std::mem::take(schema);
                    if let Some(obj) = enum_schema.as_object_mut() {
                        obj.remove("nullable");
                        obj.insert("title".into(), Value::String(new_name.clone()));
                    }
                    *schema =
                        serde_json::json!({"$ref": format!("#/components/schemas/{new_name}")});
                    hoisted.push((new_name, enum_schema));
                }
            }
        }
    }
    if let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        schemas.extend(hoisted);
    }
}

/// An enum of several string values written in place (not a `$ref`): what
/// [`name_inline_enums`] gives a name.
fn is_inline_choice(schema: &Value) -> bool {
    schema.get("$ref").is_none()
        && schema
            .get("x-enum-values")
            .and_then(Value::as_array)
            .is_some_and(|v| v.iter().filter(|x| x.is_string()).count() > 1)
}

/// `delivery_scope` → `DeliveryScope`: the words of `snake` (split at any
/// character that is not ASCII alphanumeric), each capitalised.
pub fn pascal(snake: &str) -> String {
    snake
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// Rule 14: FastAPI writes a `Literal` query parameter as a string whose
/// `pattern` lists its values, `^(newest|top|hot)$`. That is an enum: the
/// values go under `x-enum-values` (an open enum for the generator) and the
/// pattern goes, so a value the service adds later is not refused here.
fn pattern_to_enum(obj: &mut Map<String, Value>) {
    if obj.get("type").and_then(Value::as_str) != Some("string")
        || obj.contains_key("x-enum-values")
    {
        return;
    }
    let Some(pattern) = obj.get("pattern").and_then(Value::as_str) else {
        return;
    };
    let Some(inner) = pattern
        .strip_prefix("^(")
        .and_then(|p| p.strip_suffix(")$"))
    else {
        return;
    };
    let values: Vec<&str> = inner.split('|').collect();
    let literal = |v: &&str| {
        !v.is_empty()
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    };
    if values.len() < 2 || !values.iter().all(literal) {
        return;
    }
    let values = values
        .into_iter()
        .map(|v| Value::String(v.to_owned()))
        .collect();
    obj.remove("pattern");
    obj.insert("x-enum-values".into(), Value::Array(values));
}

/// Rule 13: an object with named properties also keeps whatever else the
/// service sends. typify turns `additionalProperties: {}` into a flattened
/// `extra` map, so a field added on the server survives decoding and comes
/// back out of `Serialize`; `true` or an absent keyword would give nothing.
fn open_object(obj: &mut Map<String, Value>) {
    if !obj.contains_key("properties") {
        return;
    }
    match obj.get("additionalProperties") {
        None | Some(Value::Bool(true)) => {
            obj.insert("additionalProperties".into(), Value::Object(Map::new()));
        }
        _ => {}
    }
}

/// Rule 5: in 3.1 the exclusive bounds are numbers; in 3.0 they are booleans
/// qualifying `minimum`/`maximum`.
fn convert_exclusive_bounds(obj: &mut Map<String, Value>, ptr: &str) -> Result<()> {
    convert_exclusive_bound(obj, ptr, "exclusiveMinimum", "minimum", |excl, incl| {
        excl >= incl
    })?;
    convert_exclusive_bound(obj, ptr, "exclusiveMaximum", "maximum", |excl, incl| {
        excl <= incl
    })
}

/// `exclusive_wins(e, i)` tells whether the exclusive bound `e` is at least as
/// strict as the inclusive bound `i`; when both are given, 3.1 requires both, so
/// only the stricter survives.
fn convert_exclusive_bound(
    obj: &mut Map<String, Value>,
    ptr: &str,
    exclusive_key: &str,
    inclusive_key: &str,
    exclusive_wins: fn(f64, f64) -> bool,
) -> Result<()> {
    let exclusive = match obj.get(exclusive_key) {
        None | Some(Value::Bool(_)) => return Ok(()),
        Some(Value::Number(n)) => n.clone(),
        Some(other) => {
            return Err(NormalizeError::new(
                &child_pointer(ptr, exclusive_key),
                format!("expected a number or a boolean, found {other}"),
            ))
        }
    };
    let inclusive = match obj.get(inclusive_key) {
        None => None,
        Some(Value::Number(n)) => Some(n.clone()),
        Some(other) => {
            return Err(NormalizeError::new(
                &child_pointer(ptr, inclusive_key),
                format!("expected a number, found {other}"),
            ))
        }
    };
    let use_exclusive = match (&inclusive, exclusive.as_f64()) {
        (None, _) => true,
        (Some(incl), Some(excl)) => incl.as_f64().is_none_or(|incl| exclusive_wins(excl, incl)),
        (Some(_), None) => {
            return Err(NormalizeError::new(
                &child_pointer(ptr, exclusive_key),
                "bound is not representable as a number",
            ))
        }
    };
    if use_exclusive {
        // Keep the original Number so integer bounds stay integers for openapiv3.
        obj.insert(inclusive_key.into(), Value::Number(exclusive));
        obj.insert(exclusive_key.into(), Value::Bool(true));
    } else {
        obj.remove(exclusive_key);
    }
    Ok(())
}

/// Rule 6: 3.0 ignores every sibling of `$ref`, so a described or defaulted
/// reference has to become a one-element allOf to keep its siblings.
fn wrap_ref_with_siblings(obj: &mut Map<String, Value>) {
    if obj.len() < 2 || !obj.contains_key("$ref") {
        return;
    }
    let Some(reference) = obj.remove("$ref") else {
        return;
    };
    let mut target = Map::new();
    target.insert("$ref".into(), reference);
    push_all_of_front(obj, Value::Object(target));
}

/// Rule 7: 3.0 schemas must be objects; `{}` accepts anything and `{"not":{}}`
/// accepts nothing.
fn bool_schema_to_object(schema: &mut Value) {
    let Value::Bool(accept) = *schema else {
        return;
    };
    let mut obj = Map::new();
    if !accept {
        obj.insert("not".into(), Value::Object(Map::new()));
    }
    *schema = Value::Object(obj);
}

/// 3.1 / JSON Schema 2020-12 keywords that neither openapiv3 nor typify read.
const UNSUPPORTED_KEYWORDS: [&str; 11] = [
    "$schema",
    "$id",
    "$anchor",
    "$comment",
    "contentMediaType",
    "contentEncoding",
    "contentSchema",
    "unevaluatedProperties",
    "unevaluatedItems",
    "dependentRequired",
    "dependentSchemas",
];

/// Rule 8: drops keywords progenitor does not know; `prefixItems` degrades to its
/// first element as `items`, the closest single-schema approximation.
fn drop_unsupported_keywords(obj: &mut Map<String, Value>, ptr: &str) -> Result<()> {
    if obj.contains_key("$defs") {
        // Moving them would require rewriting every `#/.../$defs/...` reference;
        // FastAPI already hoists definitions into components/schemas.
        return Err(NormalizeError::new(
            &child_pointer(ptr, "$defs"),
            "embedded $defs are not supported; move these definitions into \
             components/schemas and reference them from there",
        ));
    }
    for kw in UNSUPPORTED_KEYWORDS {
        obj.remove(kw);
    }
    if let Some(prefix) = obj.remove("prefixItems") {
        let Value::Array(prefix) = prefix else {
            return Err(NormalizeError::new(
                &child_pointer(ptr, "prefixItems"),
                "expected an array of schemas",
            ));
        };
        if let Some(first) = prefix.into_iter().next() {
            obj.entry("items").or_insert(first);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Operation rules.
// ---------------------------------------------------------------------------

/// Rule 10: the handwritten runtime maps error statuses itself, and several
/// differently-typed error bodies (FastAPI's 422 among them) confuse progenitor's
/// choice of error type. Only success responses feed code generation.
fn keep_success_responses(responses: &mut Map<String, Value>) {
    responses.retain(|status, _| is_extension(status) || is_success_status(status));
    if !responses.keys().any(|k| !is_extension(k)) {
        let mut ok = Map::new();
        ok.insert("description".into(), Value::String("OK".into()));
        responses.insert("200".into(), Value::Object(ok));
    }
}

fn is_success_status(status: &str) -> bool {
    let bytes = status.as_bytes();
    bytes.len() == 3
        && bytes[0] == b'2'
        && ((bytes[1].is_ascii_digit() && bytes[2].is_ascii_digit())
            || status[1..].eq_ignore_ascii_case("xx"))
}

/// Rule 15: header parameters a client does not set by hand. `Authorization`
/// is the runtime's (it carries the credentials of every call), and a header
/// that spells the same name as another parameter of the operation
/// (`Last-Event-ID` beside the query `last_event_id`) would give the
/// generated builder two setters of one name; the other parameter stays.
fn drop_shadowed_headers(op: &mut Map<String, Value>) {
    let Some(Value::Array(params)) = op.get_mut("parameters") else {
        return;
    };
    let ident = |p: &Value| -> Option<(bool, String)> {
        let name = p.get("name")?.as_str()?;
        let header = p.get("in").and_then(Value::as_str) == Some("header");
        let id = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect();
        Some((header, id))
    };
    let others: BTreeSet<String> = params
        .iter()
        .filter_map(ident)
        .filter(|(header, _)| !header)
        .map(|(_, id)| id)
        .collect();
    params.retain(|p| match ident(p) {
        Some((true, id)) => id != "authorization" && !others.contains(&id),
        _ => true,
    });
}

/// Rule 15: an optional header is absent or has a value; pydantic's
/// `Optional[str]` would make progenitor hold it as `Option<Option<_>>`,
/// which it cannot write into a request.
fn headers_not_nullable(params: &mut Value) {
    let Value::Array(params) = params else {
        return;
    };
    for p in params {
        if p.get("in").and_then(Value::as_str) == Some("header") {
            if let Some(Value::Object(schema)) = p.get_mut("schema") {
                schema.remove("nullable");
            }
        }
    }
}

/// Rule 11: callbacks describe requests the server makes, which a client never
/// sends, and they would carry unconverted schemas along.
fn drop_callbacks(op: &mut Map<String, Value>) {
    op.remove("callbacks");
}

/// Rule 11: openapiv3 requires either `schema` or `content` on a parameter, and
/// progenitor only supports `schema`.
fn ensure_parameter_schema(obj: &mut Map<String, Value>, ptr: &str) -> Result<()> {
    if obj.contains_key("schema") {
        return Ok(());
    }
    if obj.contains_key("content") {
        // Moving the media type's schema up would silently change how the value
        // is encoded on the wire (JSON vs. form style), so refuse instead.
        return Err(NormalizeError::new(
            &child_pointer(ptr, "content"),
            "parameters described by `content` are not supported by progenitor; \
             describe the parameter with `schema`",
        ));
    }
    // Parameters travel as text, so an undescribed one is a string.
    let mut schema = Map::new();
    schema.insert("type".into(), Value::String("string".into()));
    obj.insert("schema".into(), Value::Object(schema));
    Ok(())
}

/// 3.0 Reference Objects cannot have siblings (3.1 allows `summary` and
/// `description`). Returns whether `obj` is a reference.
fn strip_reference_siblings(obj: &mut Map<String, Value>) -> bool {
    if !obj.contains_key("$ref") {
        return false;
    }
    obj.retain(|k, _| k == "$ref");
    true
}

// ---------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------

fn expect_object<'a>(
    value: &'a mut Value,
    ptr: &str,
    what: &str,
) -> Result<&'a mut Map<String, Value>> {
    match value {
        Value::Object(obj) => Ok(obj),
        other => Err(NormalizeError::new(
            ptr,
            format!(
                "expected {what} to be a JSON object, found {}",
                kind_of(other)
            ),
        )),
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn is_extension(key: &str) -> bool {
    key.starts_with("x-")
}

fn child_pointer(base: &str, token: &str) -> String {
    let mut ptr = String::with_capacity(base.len() + token.len() + 1);
    ptr.push_str(base);
    ptr.push('/');
    for c in token.chars() {
        match c {
            '~' => ptr.push_str("~0"),
            '/' => ptr.push_str("~1"),
            c => ptr.push(c),
        }
    }
    ptr
}

/// Collects the `(section, name)` of every component that `value` refers to,
/// through `$ref` or through a discriminator mapping (which may name a schema that
/// no `$ref` mentions).
fn collect_component_refs(value: &Value, out: &mut Vec<(String, String)>) {
    match value {
        Value::Array(items) => {
            for item in items {
                collect_component_refs(item, out);
            }
        }
        Value::Object(obj) => {
            for (key, child) in obj {
                match (key.as_str(), child) {
                    ("$ref", Value::String(reference)) => {
                        out.extend(parse_component_ref(reference));
                    }
                    ("discriminator", Value::Object(disc)) => {
                        let mapping = disc.get("mapping").and_then(Value::as_object);
                        for target in mapping.into_iter().flat_map(|m| m.values()) {
                            let Some(target) = target.as_str() else {
                                continue;
                            };
                            if target.contains('/') {
                                out.extend(parse_component_ref(target));
                            } else {
                                // A bare mapping value is a schema name.
                                out.push(("schemas".into(), target.into()));
                            }
                        }
                    }
                    _ => collect_component_refs(child, out),
                }
            }
        }
        _ => {}
    }
}

/// `#/components/<section>/<name>[/...]` to `(section, name)`, undoing the URI
/// fragment's percent-encoding first and the JSON pointer escapes second, as RFC
/// 6901 §6 prescribes.
fn parse_component_ref(reference: &str) -> Option<(String, String)> {
    let fragment = reference.strip_prefix('#')?;
    let pointer = percent_decode(fragment);
    let mut tokens = pointer.strip_prefix("/components/")?.split('/');
    let section = unescape_token(tokens.next()?);
    let name = unescape_token(tokens.next()?);
    Some((section, name))
}

fn unescape_token(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&hi), Some(&lo)) => hex_value(hi).zip(hex_value(lo)),
            _ => None,
        };
        match decoded {
            Some((hi, lo)) => {
                out.push((hi << 4) | lo);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Snapshots sort keys themselves: under `cargo test --workspace` the xtask
    /// crate's `preserve_order` feature turns `Map` into an insertion-ordered map.
    macro_rules! snapshot {
        ($($arg:tt)*) => {
            insta::with_settings!({sort_maps => true}, {
                insta::assert_json_snapshot!($($arg)*);
            })
        };
    }

    /// A minimal FastAPI-style 3.1 document around the given component schemas.
    fn doc_with_schemas(schemas: Value) -> Value {
        json!({
            "openapi": "3.1.0",
            "info": {"title": "agents", "version": "0.1.0"},
            "paths": {},
            "components": {"schemas": schemas}
        })
    }

    fn normalized_schemas(schemas: Value) -> Value {
        let mut doc = doc_with_schemas(schemas);
        normalize(&mut doc).expect("normalize");
        doc["components"]["schemas"].take()
    }

    fn doc_with_operation(operation: Value) -> Value {
        json!({
            "openapi": "3.1.0",
            "info": {"title": "agents", "version": "0.1.0"},
            "paths": {"/agents/{agent_id}": {"get": operation}}
        })
    }

    fn normalized_operation(operation: Value) -> Value {
        let mut doc = doc_with_operation(operation);
        normalize(&mut doc).expect("normalize");
        doc["paths"]["/agents/{agent_id}"]["get"].take()
    }

    fn sorted_keys(value: &Value) -> Vec<String> {
        let mut keys: Vec<String> = value
            .as_object()
            .map(|obj| obj.keys().cloned().collect())
            .unwrap_or_default();
        keys.sort();
        keys
    }

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(obj) => obj,
            other => panic!("test input must be an object, got {other}"),
        }
    }

    /// Parses as the crate progenitor reads; panics with serde's message if not.
    fn assert_openapiv3(doc: &Value) -> openapiv3::OpenAPI {
        match serde_json::from_value::<openapiv3::OpenAPI>(doc.clone()) {
            Ok(api) => api,
            Err(e) => panic!("not a valid openapiv3 document: {e}\n{doc:#}"),
        }
    }

    #[test]
    fn rule1_null_branch_becomes_nullable() {
        let out = normalized_schemas(json!({
            "Agent": {
                "type": "object",
                "title": "Agent",
                "properties": {
                    "name": {"anyOf": [{"type": "string"}, {"type": "null"}], "title": "Name", "default": null},
                    "owner": {"anyOf": [{"$ref": "#/components/schemas/User"}, {"type": "null"}], "description": "Who owns it"},
                    "key": {"anyOf": [{"type": "integer"}, {"type": "string"}, {"type": "null"}], "title": "Key"},
                    "pet": {
                        "oneOf": [{"$ref": "#/components/schemas/Cat"}, {"$ref": "#/components/schemas/Dog"}, {"type": "null"}],
                        "discriminator": {"propertyName": "kind"}
                    },
                    "short": {"anyOf": [{"type": "string", "maxLength": 3}, {"type": "null"}], "maxLength": 5},
                    "nothing": {"anyOf": [{"type": "null"}], "title": "Nothing"},
                    "tags": {"anyOf": [{"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "null"}]}}, {"type": "null"}]}
                }
            }
        }));
        let props = &out["Agent"]["properties"];
        assert_eq!(
            props["name"],
            json!({"type": "string", "nullable": true, "default": null})
        );
        assert_eq!(
            props["owner"],
            json!({"allOf": [{"$ref": "#/components/schemas/User"}], "nullable": true, "description": "Who owns it"})
        );
        // The discriminator still selects among the two remaining branches.
        assert!(props["pet"].get("discriminator").is_some());
        snapshot!(out);
    }

    #[test]
    fn rule1_unit() {
        let mut single =
            object(json!({"anyOf": [{"type": "boolean"}, {"type": "null"}], "title": "Flag"}));
        assert!(collapse_null_branch(&mut single));
        assert_eq!(
            Value::Object(single.clone()),
            json!({"type": "boolean", "nullable": true, "title": "Flag"})
        );
        assert!(
            !collapse_null_branch(&mut single),
            "output is a fixed point"
        );

        let mut untouched = object(json!({"anyOf": [{"type": "boolean"}, {"type": "string"}]}));
        assert!(!collapse_null_branch(&mut untouched));
    }

    #[test]
    fn rule2_type_arrays() {
        let out = normalized_schemas(json!({
            "Limits": {
                "type": "object",
                "properties": {
                    "nickname": {"type": ["string", "null"], "maxLength": 20},
                    "void": {"type": ["null"], "title": "Void"},
                    "also_void": {"type": "null"},
                    "id": {"type": ["string", "integer"], "minLength": 1, "minimum": 0, "format": "int64", "title": "Id"},
                    "mixed": {"type": ["integer", "null", "string"]}
                }
            }
        }));
        let props = &out["Limits"]["properties"];
        assert_eq!(
            props["nickname"],
            json!({"type": "string", "nullable": true, "maxLength": 20})
        );
        assert_eq!(props["void"], json!({"nullable": true}));
        assert_eq!(
            props["id"],
            json!({
                "anyOf": [{"type": "string", "minLength": 1}, {"type": "integer", "minimum": 0, "format": "int64"}]
            })
        );
        snapshot!(out);
    }

    #[test]
    fn rule2_rejects_unknown_type_names() {
        let mut doc = doc_with_schemas(json!({"Weird": {"type": ["string", "decimal"]}}));
        let err = normalize(&mut doc).expect_err("unknown type must be rejected");
        assert_eq!(err.pointer, "/components/schemas/Weird/type");
        assert!(err.message.contains("decimal"), "{err}");
    }

    #[test]
    fn rule3_examples() {
        let mut doc = json!({
            "openapi": "3.1.0",
            "info": {"title": "agents", "version": "0.1.0"},
            "paths": {"/agents": {"post": {
                "parameters": [
                    {"name": "limit", "in": "query", "required": false,
                     "schema": {"type": "integer", "examples": [10, 20]}, "examples": [5]},
                    {"name": "q", "in": "query", "schema": {"type": "string"},
                     "examples": {"short": {"value": "ab"}}}
                ],
                "requestBody": {"content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/AgentIn"},
                    "examples": {"minimal": {"summary": "Minimal", "value": {"name": "a"}}}
                }}},
                "responses": {"200": {"description": "Successful Response", "content": {"application/json": {
                    "schema": {"type": "string"},
                    "examples": ["ok", "fine"]
                }}}}
            }}},
            "components": {"schemas": {"AgentIn": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "examples": ["alpha", "beta"]},
                    "kept": {"type": "string", "example": "mine", "examples": ["theirs"]},
                    "none": {"type": "string", "examples": []}
                }
            }}}
        });
        normalize(&mut doc).expect("normalize");
        let op = &doc["paths"]["/agents"]["post"];
        assert_eq!(op["parameters"][0]["example"], json!(5));
        assert_eq!(
            op["parameters"][0]["schema"],
            json!({"type": "integer", "example": 10})
        );
        // Example maps are valid 3.0 and must survive untouched.
        assert_eq!(
            op["parameters"][1]["examples"],
            json!({"short": {"value": "ab"}})
        );
        assert_eq!(
            op["responses"]["200"]["content"]["application/json"]["example"],
            json!("ok")
        );
        assert_openapiv3(&doc);
        snapshot!(doc);
    }

    #[test]
    fn rule4_const_becomes_enum() {
        let out = normalized_schemas(json!({
            "Consts": {
                "type": "object",
                "properties": {
                    "kind": {"const": "chat", "title": "Kind"},
                    "version": {"const": 2},
                    "ratio": {"const": 0.5},
                    "enabled": {"const": true},
                    "nothing": {"const": null},
                    "typed": {"type": "string", "const": "x", "enum": ["x", "y"]}
                }
            }
        }));
        let props = &out["Consts"]["properties"];
        // Rule 9 runs after rule 4, so a string const ends up as an open string.
        assert_eq!(
            props["kind"],
            json!({"type": "string", "x-enum-values": ["chat"]})
        );
        assert_eq!(props["version"], json!({"type": "integer", "enum": [2]}));
        snapshot!(out);
    }

    #[test]
    fn rule4_unit() {
        let mut obj = object(json!({"const": "chat"}));
        const_to_enum(&mut obj);
        assert_eq!(
            Value::Object(obj),
            json!({"type": "string", "enum": ["chat"]})
        );
    }

    #[test]
    fn rule5_exclusive_bounds() {
        let out = normalized_schemas(json!({
            "Bounds": {
                "type": "object",
                "properties": {
                    "positive": {"type": "integer", "exclusiveMinimum": 0},
                    "below_one": {"type": "number", "exclusiveMaximum": 1.5, "maximum": 1},
                    "stricter_exclusive": {"type": "number", "exclusiveMinimum": 10, "minimum": 5},
                    "already_30": {"type": "number", "minimum": 0, "exclusiveMinimum": true}
                }
            }
        }));
        let props = &out["Bounds"]["properties"];
        assert_eq!(
            props["positive"],
            json!({"type": "integer", "minimum": 0, "exclusiveMinimum": true})
        );
        // The inclusive bound 1 is stricter than < 1.5, so the exclusive one goes.
        assert_eq!(props["below_one"], json!({"type": "number", "maximum": 1}));
        assert_eq!(
            props["stricter_exclusive"],
            json!({"type": "number", "minimum": 10, "exclusiveMinimum": true})
        );
        assert_eq!(
            props["already_30"],
            json!({"type": "number", "minimum": 0, "exclusiveMinimum": true})
        );
        snapshot!(out);
    }

    #[test]
    fn rule5_rejects_non_numeric_bounds() {
        let mut doc = doc_with_schemas(json!({"Bad": {"type": "number", "exclusiveMinimum": "0"}}));
        let err = normalize(&mut doc).expect_err("string bound must be rejected");
        assert_eq!(err.pointer, "/components/schemas/Bad/exclusiveMinimum");
    }

    #[test]
    fn rule6_ref_with_siblings() {
        let out = normalized_schemas(json!({
            "Run": {
                "type": "object",
                "properties": {
                    "agent": {"$ref": "#/components/schemas/Agent", "description": "The agent that ran"},
                    "config": {"$ref": "#/components/schemas/Config", "default": {"temperature": 0}, "title": "Config"},
                    "plain": {"$ref": "#/components/schemas/Agent"},
                    "extended": {"$ref": "#/components/schemas/Agent", "allOf": [{"$ref": "#/components/schemas/Audit"}]}
                }
            }
        }));
        let props = &out["Run"]["properties"];
        assert_eq!(
            props["agent"],
            json!({"allOf": [{"$ref": "#/components/schemas/Agent"}], "description": "The agent that ran"})
        );
        assert_eq!(
            props["plain"],
            json!({"$ref": "#/components/schemas/Agent"})
        );
        assert_eq!(
            props["extended"]["allOf"],
            json!([{"$ref": "#/components/schemas/Agent"}, {"$ref": "#/components/schemas/Audit"}])
        );
        snapshot!(out);
    }

    #[test]
    fn rule7_boolean_schemas() {
        let out = normalized_schemas(json!({
            "Anything": true,
            "Nothing": false,
            "Bag": {
                "type": "object",
                "properties": {"any": true, "never": false, "empty": {}},
                "additionalProperties": true
            },
            "List": {"type": "array", "items": true}
        }));
        assert_eq!(out["Anything"], json!({}));
        assert_eq!(out["Nothing"], json!({"not": {}}));
        assert_eq!(out["Bag"]["properties"]["empty"], json!({}));
        // `true` says what rule 13 wants but typify ignores it: an object
        // with properties gets the empty schema, which typify keeps as `extra`.
        assert_eq!(out["Bag"]["additionalProperties"], json!({}));
        snapshot!(out);
    }

    #[test]
    fn rule8_unsupported_keywords() {
        let out = normalized_schemas(json!({
            "Upload": {
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "$id": "https://example.com/upload",
                "$comment": "generated",
                "type": "object",
                "properties": {
                    "file": {"type": "string", "contentMediaType": "application/octet-stream", "contentEncoding": "base64"},
                    "pair": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}]},
                    "list": {"type": "array", "prefixItems": [{"type": "string"}], "items": {"type": "integer"}}
                },
                "unevaluatedProperties": false,
                "dependentRequired": {"file": ["pair"]},
                "dependentSchemas": {"file": {"required": ["list"]}}
            }
        }));
        let upload = &out["Upload"];
        assert_eq!(upload["properties"]["file"], json!({"type": "string"}));
        assert_eq!(
            upload["properties"]["pair"],
            json!({"type": "array", "items": {"type": "string"}})
        );
        assert_eq!(
            upload["properties"]["list"]["items"],
            json!({"type": "integer"})
        );
        snapshot!(out);
    }

    #[test]
    fn rule8_rejects_defs() {
        let mut doc = doc_with_schemas(json!({
            "Tree": {"type": "object", "properties": {"node": {"$defs": {"Leaf": {"type": "string"}}}}}
        }));
        let err = normalize(&mut doc).expect_err("$defs must be rejected");
        assert_eq!(
            err.pointer,
            "/components/schemas/Tree/properties/node/$defs"
        );
        assert!(err
            .to_string()
            .contains("#/components/schemas/Tree/properties/node/$defs"));
        assert!(err.message.contains("components/schemas"), "{err}");
    }

    #[test]
    fn rule14_a_pattern_of_literals_is_an_enum() {
        let out = normalized_schemas(json!({
            "Sort": {"type": "string", "pattern": "^(newest|new|top)$", "default": "newest"},
            "Slug": {"type": "string", "pattern": "^[a-z0-9-]+$"},
            "One": {"type": "string", "pattern": "^(only)$"}
        }));
        assert_eq!(
            out["Sort"],
            json!({"type": "string", "x-enum-values": ["newest", "new", "top"], "default": "newest"})
        );
        assert_eq!(
            out["Slug"]["pattern"], "^[a-z0-9-]+$",
            "a real pattern stays"
        );
        assert_eq!(
            out["One"]["pattern"], "^(only)$",
            "one value is a tag, not a choice"
        );
    }

    #[test]
    fn rule13_objects_with_properties_keep_the_rest() {
        let out = normalized_schemas(json!({
            "Post": {
                "type": "object",
                "properties": {
                    "author": {"type": "object", "properties": {"id": {"type": "string"}}},
                    "tags": {"type": "array", "items": {"type": "object", "properties": {"n": {"type": "string"}}}}
                }
            },
            "Labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "Bare": {"type": "object"}
        }));
        assert_eq!(out["Post"]["additionalProperties"], json!({}));
        assert_eq!(
            out["Post"]["properties"]["author"]["additionalProperties"],
            json!({})
        );
        assert_eq!(
            out["Post"]["properties"]["tags"]["items"]["additionalProperties"],
            json!({})
        );
        // A typed map stays typed; an object without properties is a map already.
        assert_eq!(
            out["Labels"]["additionalProperties"],
            json!({"type": "string"})
        );
        assert!(out["Bare"].get("additionalProperties").is_none());
    }

    #[test]
    fn rule9_open_enums_and_open_objects() {
        let out = normalized_schemas(json!({
            "Status": {"type": "string", "enum": ["queued", "running", "done"], "title": "Status"},
            "MaybeStatus": {"enum": ["on", "off", null]},
            "Priority": {"type": "integer", "enum": [1, 2, 3]},
            "Settings": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "mode": {"anyOf": [{"type": "string", "enum": ["fast", "slow"]}, {"type": "null"}]},
                    "extra": {"type": "object", "additionalProperties": false},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}}
                }
            }
        }));
        assert_eq!(
            out["Status"],
            json!({"type": "string", "x-enum-values": ["queued", "running", "done"], "title": "Status"})
        );
        assert_eq!(
            out["MaybeStatus"],
            json!({"type": "string", "nullable": true, "x-enum-values": ["on", "off", null]})
        );
        // Only string enums are opened; numeric ones are not typify's closed enums.
        assert_eq!(
            out["Priority"],
            json!({"type": "integer", "enum": [1, 2, 3]})
        );
        // Closed objects are opened (rule 9), then keep the rest (rule 13).
        assert_eq!(out["Settings"]["additionalProperties"], json!({}));
        assert!(out["Settings"]["properties"]["extra"]
            .get("additionalProperties")
            .is_none());
        snapshot!(out);
    }

    #[test]
    fn rule10_only_success_responses() {
        let validation = json!({"description": "Validation Error", "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/HTTPValidationError"}
        }}});
        let out = normalized_operation(json!({
            "operationId": "get_agent",
            "responses": {
                "200": {"description": "Successful Response", "content": {"application/json": {"schema": {"type": "string"}}}},
                "201": {"description": "Created"},
                "2XX": {"description": "Other success"},
                "304": {"description": "Not Modified"},
                "404": {"description": "Not Found"},
                "422": validation.clone(),
                "default": {"description": "Unexpected"},
                "x-trace": true
            }
        }));
        let codes = sorted_keys(&out["responses"]);
        assert_eq!(codes, ["200", "201", "2XX", "x-trace"]);
        snapshot!("rule10_only_success_responses", out);

        let only_errors = normalized_operation(json!({
            "operationId": "delete_agent",
            "responses": {"422": validation, "default": {"description": "Unexpected"}}
        }));
        assert_eq!(
            only_errors["responses"],
            json!({"200": {"description": "OK"}})
        );
        let missing = normalized_operation(json!({"operationId": "ping"}));
        assert_eq!(missing["responses"], json!({"200": {"description": "OK"}}));
        snapshot!("rule10_fallback_response", only_errors);
    }

    #[test]
    fn rule10_unit() {
        for ok in ["200", "201", "204", "299", "2XX", "2xx"] {
            assert!(is_success_status(ok), "{ok}");
        }
        for not_ok in [
            "default", "100", "301", "422", "5XX", "2", "20", "2000", "2X", "2é", "x-2",
        ] {
            assert!(!is_success_status(not_ok), "{not_ok}");
        }
    }

    #[test]
    fn rule15_headers_the_client_does_not_set() {
        let mut doc = json!({
            "openapi": "3.1.0",
            "info": {"title": "feed", "version": "1"},
            "paths": {"/stream": {"get": {
                "operationId": "stream",
                "parameters": [
                    {"name": "last_event_id", "in": "query", "schema": {"anyOf": [{"type": "string"}, {"type": "null"}]}},
                    {"name": "Last-Event-ID", "in": "header", "schema": {"anyOf": [{"type": "string"}, {"type": "null"}]}},
                    {"name": "authorization", "in": "header", "schema": {"type": "string"}},
                    {"name": "If-Match", "in": "header", "schema": {"anyOf": [{"type": "string"}, {"type": "null"}]}}
                ],
                "responses": {"200": {"content": {"application/json": {"schema": {}}}}}
            }}}
        });
        normalize(&mut doc).unwrap();
        let op = &doc["paths"]["/stream"]["get"];
        let names: Vec<&str> = op["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["last_event_id", "If-Match"]);
        // An optional header is absent or set, never null.
        assert_eq!(op["parameters"][1]["schema"], json!({"type": "string"}));
        assert_eq!(op["parameters"][0]["schema"]["nullable"], json!(true));
        // 3.0 requires a response description; an imported document has none.
        assert_eq!(op["responses"]["200"]["description"], json!(""));
        assert_openapiv3(&doc);
    }

    #[test]
    fn rule16_property_schemas_lose_their_titles() {
        let mut doc = doc_with_schemas(json!({
            "Comment": {"type": "object", "title": "Comment", "properties": {
                "content": {"type": "string", "maxLength": 2000, "title": "Content"}}},
            "VaultFile": {"type": "object", "title": "VaultFile", "properties": {
                "content": {"type": "string", "maxLength": 1100000, "title": "Content"},
                "owner": {"$ref": "#/components/schemas/Comment"}}}
        }));
        normalize(&mut doc).unwrap();
        let schemas = &doc["components"]["schemas"];
        assert_eq!(
            schemas["Comment"]["title"],
            json!("Comment"),
            "a model keeps its own"
        );
        assert_eq!(
            schemas["Comment"]["properties"]["content"],
            json!({"type": "string", "maxLength": 2000})
        );
        assert_eq!(
            schemas["VaultFile"]["properties"]["content"],
            json!({"type": "string", "maxLength": 1100000})
        );
    }

    #[test]
    fn rule11_operation_details() {
        let mut doc = json!({
            "openapi": "3.1.0",
            "info": {"title": "agents", "version": "0.1.0"},
            "paths": {"/agents/{agent_id}": {
                "parameters": [{"name": "agent_id", "in": "path", "required": true}],
                "get": {
                    "operationId": "get_agent",
                    "deprecated": false,
                    "parameters": [
                        {"$ref": "#/components/parameters/Trace", "description": "3.1 allows this sibling"},
                        {"name": "x-request-id", "in": "header", "schema": {"type": ["string", "null"]}}
                    ],
                    "callbacks": {"done": {"{$request.body#/url}": {"post": {"responses": {"200": {"description": "OK"}}}}}},
                    "responses": {"200": {"description": "OK"}}
                }
            }},
            "components": {
                "parameters": {"Trace": {"name": "trace", "in": "query", "schema": {"type": "boolean"}}},
                "callbacks": {"done": {}},
                "pathItems": {"Shared": {}}
            },
            "webhooks": {"agentDone": {"post": {"responses": {"200": {"description": "OK"}}}}},
            "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base"
        });
        normalize(&mut doc).expect("normalize");
        let path = &doc["paths"]["/agents/{agent_id}"];
        assert_eq!(path["parameters"][0]["schema"], json!({"type": "string"}));
        assert!(path["get"].get("callbacks").is_none());
        assert_eq!(path["get"]["deprecated"], json!(false), "other keys stay");
        assert_eq!(
            path["get"]["parameters"][0],
            json!({"$ref": "#/components/parameters/Trace"})
        );
        assert!(doc.get("webhooks").is_none() && doc.get("jsonSchemaDialect").is_none());
        assert_openapiv3(&doc);
        snapshot!(doc);
    }

    #[test]
    fn rule11_rejects_content_parameters() {
        let mut doc = doc_with_operation(json!({
            "parameters": [{"name": "filter", "in": "query",
                            "content": {"application/json": {"schema": {"type": "object"}}}}],
            "responses": {"200": {"description": "OK"}}
        }));
        let err = normalize(&mut doc).expect_err("content parameters must be rejected");
        assert_eq!(
            err.pointer,
            "/paths/~1agents~1{agent_id}/get/parameters/0/content"
        );
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let cases = [
            (json!([]), ""),
            (json!({"swagger": "2.0"}), "/swagger"),
            (json!({"openapi": 3}), "/openapi"),
            (json!({"paths": []}), "/paths"),
            (
                json!({"paths": {"/a": {"get": {"parameters": {}}}}}),
                "/paths/~1a/get/parameters",
            ),
            (
                json!({"paths": {"/a": {"$ref": "#/components/pathItems/A"}}}),
                "/paths/~1a/$ref",
            ),
            (
                json!({"components": {"schemas": {"A": "string"}}}),
                "/components/schemas/A",
            ),
            (
                json!({"components": {"schemas": {"A": {"anyOf": {}}}}}),
                "/components/schemas/A/anyOf",
            ),
            (
                json!({"components": {"schemas": {"A": {"items": [{}]}}}}),
                "/components/schemas/A/items",
            ),
            (
                json!({"components": {"schemas": {"A": {"type": []}}}}),
                "/components/schemas/A/type",
            ),
            (
                json!({"components": {"schemas": {"A": {"prefixItems": {}}}}}),
                "/components/schemas/A/prefixItems",
            ),
        ];
        for (mut doc, pointer) in cases {
            let input = doc.clone();
            match normalize(&mut doc) {
                Ok(()) => panic!("expected an error for {input}"),
                Err(err) => assert_eq!(err.pointer, pointer, "{input}: {err}"),
            }
        }
    }

    /// Everything the rule tests feed in, in one document.
    fn kitchen_sink() -> Value {
        json!({
            "openapi": "3.1.0",
            "info": {"title": "agents", "summary": "3.1 only", "version": "0.1.0",
                     "license": {"name": "MIT", "identifier": "MIT"}},
            "paths": {"/agents/{agent_id}": {"post": {
                "operationId": "update_agent",
                "parameters": [
                    {"name": "agent_id", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}},
                    {"name": "tag", "in": "query", "schema": {"anyOf": [{"type": "string"}, {"type": "null"}]}, "examples": ["a"]}
                ],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Agent"}}}},
                "responses": {
                    "200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Agent", "description": "updated"}}}},
                    "422": {"description": "Validation Error"}
                },
                "callbacks": {}
            }}},
            "components": {"schemas": {
                "Agent": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["kind"],
                    "properties": {
                        "kind": {"const": "agent"},
                        "status": {"anyOf": [{"type": "string", "enum": ["idle", "busy"]}, {"type": "null"}], "default": null},
                        "owner": {"anyOf": [{"$ref": "#/components/schemas/User"}, {"type": "null"}]},
                        "score": {"type": ["number", "null"], "exclusiveMinimum": 0, "examples": [0.5]},
                        "key": {"type": ["string", "integer"], "maxLength": 8},
                        "meta": true,
                        "never": false,
                        "pair": {"prefixItems": [{"type": "string"}]},
                        "config": {"$ref": "#/components/schemas/User", "title": "Config"}
                    }
                },
                "User": {"type": "object", "properties": {"name": {"type": "string"}}}
            }}
        })
    }

    #[test]
    fn normalize_is_idempotent() {
        for mut doc in [kitchen_sink(), fastapi_fragment()] {
            normalize(&mut doc).expect("first pass");
            let once = doc.clone();
            normalize(&mut doc).expect("second pass");
            assert_eq!(doc, once);
            prune_components(&mut doc);
            let pruned = doc.clone();
            normalize(&mut doc).expect("after prune");
            prune_components(&mut doc);
            assert_eq!(doc, pruned);
            assert_openapiv3(&doc);
        }
    }

    /// What FastAPI 0.11x publishes for one endpoint, plus a model nothing uses.
    fn fastapi_fragment() -> Value {
        json!({
            "openapi": "3.1.0",
            "info": {"title": "Agent Service", "version": "0.1.0"},
            "paths": {"/agents/{agent_id}/runs": {"post": {
                "tags": ["runs"],
                "summary": "Start Run",
                "operationId": "start_run_agents__agent_id__runs_post",
                "parameters": [
                    {"name": "agent_id", "in": "path", "required": true,
                     "schema": {"type": "string", "title": "Agent Id"}},
                    {"name": "label", "in": "query", "required": false,
                     "schema": {"anyOf": [{"type": "string"}, {"type": "null"}], "title": "Label"}}
                ],
                "requestBody": {"required": true, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/RunRequest"}
                }}},
                "responses": {
                    "200": {"description": "Successful Response", "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/Run"}
                    }}},
                    "422": {"description": "Validation Error", "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/HTTPValidationError"}
                    }}}
                }
            }}},
            "components": {"schemas": {
                "HTTPValidationError": {
                    "properties": {"detail": {"items": {"$ref": "#/components/schemas/ValidationError"},
                                              "type": "array", "title": "Detail"}},
                    "type": "object", "title": "HTTPValidationError"
                },
                "ValidationError": {
                    "properties": {
                        "loc": {"items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}, "type": "array", "title": "Location"},
                        "msg": {"type": "string", "title": "Message"},
                        "type": {"type": "string", "title": "Error Type"}
                    },
                    "type": "object", "required": ["loc", "msg", "type"], "title": "ValidationError"
                },
                "RunRequest": {
                    "properties": {
                        "prompt": {"type": "string", "title": "Prompt"},
                        "max_steps": {"anyOf": [{"type": "integer", "exclusiveMinimum": 0}, {"type": "null"}], "title": "Max Steps"},
                        "mode": {"$ref": "#/components/schemas/RunMode", "default": "auto"}
                    },
                    "type": "object", "required": ["prompt"], "title": "RunRequest"
                },
                "RunMode": {"type": "string", "enum": ["auto", "manual"], "title": "RunMode"},
                "Run": {
                    "properties": {
                        "id": {"type": "string", "format": "uuid", "title": "Id"},
                        "status": {"type": "string", "enum": ["queued", "running", "succeeded", "failed"], "title": "Status"},
                        "request": {"$ref": "#/components/schemas/RunRequest"},
                        "finished_at": {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}], "title": "Finished At"}
                    },
                    "type": "object", "required": ["id", "status", "request"], "title": "Run"
                },
                "Unused": {"properties": {"x": {"type": "integer"}}, "type": "object", "title": "Unused"}
            }}
        })
    }

    #[test]
    fn realistic_fastapi_fragment() {
        let mut doc = fastapi_fragment();
        normalize(&mut doc).expect("normalize");
        prune_components(&mut doc);

        assert_eq!(doc["openapi"], json!("3.0.3"));
        let op = &doc["paths"]["/agents/{agent_id}/runs"]["post"];
        assert_eq!(
            op["parameters"][1]["schema"],
            json!({"type": "string", "nullable": true})
        );
        assert!(op["responses"].get("422").is_none());
        let schemas = sorted_keys(&doc["components"]["schemas"]);
        assert_eq!(schemas, ["Run", "RunMode", "RunRequest"]);

        let api = assert_openapiv3(&doc);
        assert_eq!(api.operations().count(), 1);
        snapshot!(doc);
    }

    #[test]
    fn prune_follows_refs_transitively() {
        let mut doc = json!({
            "openapi": "3.0.3",
            "info": {"title": "t", "version": "1"},
            "paths": {"/pets": {"get": {
                "parameters": [{"$ref": "#/components/parameters/Limit"}],
                "requestBody": {"$ref": "#/components/requestBodies/PetBody"},
                "responses": {"200": {"$ref": "#/components/responses/PetList"}}
            }}},
            "components": {
                "parameters": {
                    "Limit": {"name": "limit", "in": "query", "schema": {"$ref": "#/components/schemas/Count"}},
                    "Unused": {"name": "u", "in": "query", "schema": {"type": "string"}}
                },
                "requestBodies": {"PetBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}}}},
                "responses": {
                    "PetList": {"description": "pets", "headers": {"X-Rate": {"$ref": "#/components/headers/Rate"}},
                                "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/Pet"}}}}},
                    "Gone": {"description": "gone"}
                },
                "headers": {"Rate": {"schema": {"$ref": "#/components/schemas/Rate"}}},
                "schemas": {
                    "Count": {"type": "integer"},
                    "Pet": {"oneOf": [{"$ref": "#/components/schemas/Cat"}, {"$ref": "#/components/schemas/Dog"}],
                            "discriminator": {"propertyName": "kind", "mapping": {"cat": "#/components/schemas/Cat", "fish": "Fish"}}},
                    "Cat": {"type": "object", "properties": {"friend": {"$ref": "#/components/schemas/Pet"}}},
                    "Dog": {"type": "object", "properties": {"toy": {"$ref": "#/components/schemas/Toy%20Box"}}},
                    "Toy Box": {"type": "object"},
                    "Fish": {"type": "object"},
                    "Rate": {"type": "integer"},
                    "a/b": {"type": "object"},
                    "Orphan": {"type": "object", "properties": {"next": {"$ref": "#/components/schemas/Orphan"}}}
                },
                "securitySchemes": {"key": {"type": "apiKey", "in": "header", "name": "X-Key"}}
            }
        });
        prune_components(&mut doc);
        let keys = |section: &str| sorted_keys(&doc["components"][section]);
        assert_eq!(
            keys("schemas"),
            ["Cat", "Count", "Dog", "Fish", "Pet", "Rate", "Toy Box"]
        );
        assert_eq!(keys("parameters"), ["Limit"]);
        assert_eq!(keys("requestBodies"), ["PetBody"]);
        assert_eq!(keys("responses"), ["PetList"]);
        assert_eq!(keys("headers"), ["Rate"], "unpruned sections stay");
        assert_eq!(keys("securitySchemes"), ["key"]);
        assert_openapiv3(&doc);
    }

    #[test]
    fn prune_removes_emptied_sections_and_tolerates_odd_documents() {
        let mut doc = json!({"paths": {}, "components": {"schemas": {"A": {}}, "responses": {}}});
        prune_components(&mut doc);
        assert_eq!(doc, json!({"paths": {}, "components": {}}));
        for mut odd in [
            json!(null),
            json!({"components": 3}),
            json!({"components": {"schemas": []}}),
        ] {
            let before = odd.clone();
            prune_components(&mut odd);
            assert_eq!(odd, before);
        }
    }

    #[test]
    fn component_ref_parsing() {
        assert_eq!(
            parse_component_ref("#/components/schemas/a~1b~0c/properties/x"),
            Some(("schemas".into(), "a/b~c".into()))
        );
        assert_eq!(
            parse_component_ref("#/components/schemas/Toy%20Box"),
            Some(("schemas".into(), "Toy Box".into()))
        );
        assert_eq!(
            parse_component_ref("other.yaml#/components/schemas/A"),
            None
        );
        assert_eq!(parse_component_ref("#/definitions/A"), None);
        assert_eq!(parse_component_ref("#/components/schemas"), None);
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }

    #[test]
    fn rule12_parameter_schemas_lose_their_title() {
        let mut doc = json!({
            "openapi": "3.1.0",
            "info": {"title": "t", "version": "1"},
            "paths": {"/a": {"get": {
                "operationId": "list_a",
                "parameters": [
                    {"name": "sort", "in": "query", "schema": {"type": "string", "title": "Sort", "maxLength": 10}},
                    {"name": "kind", "in": "query", "schema": {"$ref": "#/components/schemas/Kind"}}
                ],
                "responses": {"200": {"description": "OK"}}
            }}},
            "components": {"schemas": {"Kind": {"type": "string", "title": "Kind"}}}
        });
        normalize(&mut doc).unwrap();
        let params = &doc["paths"]["/a"]["get"]["parameters"];
        insta::assert_json_snapshot!(params);
        assert!(params[0]["schema"].get("title").is_none());
        assert_eq!(params[1]["schema"]["$ref"], "#/components/schemas/Kind");
        assert_eq!(
            doc["components"]["schemas"]["Kind"]["title"], "Kind",
            "component titles stay"
        );
    }
}
