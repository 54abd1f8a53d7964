//! `GET /api/v1/docs`: the API's reference as a page of this site, rendered once from
//! the generated OpenAPI document (so it cannot drift from the code): every operation
//! with its method, path, summary, parameters, body and answers, and the schemas. No
//! script and nothing from another site, under the site's usual security policy.
use maud::{DOCTYPE, Markup, html};
use poem::{Endpoint, IntoResponse, Request, Response};
use serde_json::Value;

use crate::assets;

/// The rendered page.
pub struct Reference(String);

impl Reference {
    /// The page for the OpenAPI document `spec` (JSON).
    pub fn of(spec: &str) -> Self {
        let spec: Value = serde_json::from_str(spec).unwrap_or_default();
        Self(page(&spec).into_string())
    }
}

impl Endpoint for Reference {
    type Output = Response;

    async fn call(&self, _req: Request) -> poem::Result<Response> {
        Ok(maud::PreEscaped(self.0.clone()).into_response())
    }
}

fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// The name of a schema that `value` refers to (`#/components/schemas/Message`), or its
/// type, for a parameter or a body.
fn type_of(schema: &Value) -> String {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        return reference.rsplit('/').next().unwrap_or(reference).to_owned();
    }
    if let Some(items) = schema.get("items") {
        return format!("array of {}", type_of(items));
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        return all.iter().map(type_of).collect::<Vec<_>>().join(" & ");
    }
    let kind = text(schema, "type");
    match text(schema, "format") {
        "" => kind.to_owned(),
        format => format!("{kind} ({format})"),
    }
}

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

fn page(spec: &Value) -> Markup {
    let info = spec.get("info").cloned().unwrap_or_default();
    let empty = serde_json::Map::new();
    let paths = spec
        .get("paths")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let schemas = spec
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (text(&info, "title")) " · reference" }
                link rel="stylesheet" href=(assets::url("app.css"));
            }
            body {
                main.page #api-reference {
                    section.card {
                        h1 { (text(&info, "title")) " " span.muted { "v" (text(&info, "version")) } }
                        p { (text(&info, "description")) }
                        p {
                            "Every path below is under " code { (super::PREFIX) } ". The machine-readable "
                            "document is " a href="/api/v1/openapi.json" { "openapi.json" } "."
                        }
                        h2 { "Operations" }
                        @for (path, item) in paths {
                            @for method in METHODS {
                                @if let Some(operation) = item.get(method) {
                                    (operation_of(method, path, operation))
                                }
                            }
                        }
                        h2 { "Schemas" }
                        @for (name, schema) in schemas {
                            (schema_of(name, schema))
                        }
                    }
                }
            }
        }
    }
}

fn operation_of(method: &str, path: &str, operation: &Value) -> Markup {
    let id = text(operation, "operationId");
    let parameters = operation
        .get("parameters")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let body = operation.pointer("/requestBody/content/application~1json/schema");
    let responses = operation
        .get("responses")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    html! {
        article.operation id=(id) {
            h3 { code { (method.to_uppercase()) " " (super::PREFIX) (path) } }
            p { strong { (text(operation, "summary")) } }
            @if !text(operation, "description").is_empty() { p { (text(operation, "description")) } }
            @if !parameters.is_empty() {
                table {
                    thead { tr { th { "Parameter" } th { "In" } th { "Type" } th { "About" } } }
                    tbody {
                        @for p in &parameters {
                            tr {
                                td { code { (text(p, "name")) } @if p.get("required") == Some(&Value::Bool(true)) { " (required)" } }
                                td { (text(p, "in")) }
                                td { (p.get("schema").map(type_of).unwrap_or_default()) }
                                td { (text(p, "description")) }
                            }
                        }
                    }
                }
            }
            @if let Some(body) = body { p { "Body: " code { "application/json" } ", " (type_of(body)) } }
            ul {
                @for (status, response) in &responses {
                    li {
                        code { (status) } " " (text(response, "description"))
                        @if let Some(content) = response.get("content").and_then(Value::as_object) {
                            @for (media, payload) in content {
                                " · " code { (media) }
                                @if let Some(schema) = payload.get("schema") { " " (type_of(schema)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn schema_of(name: &str, schema: &Value) -> Markup {
    let empty = serde_json::Map::new();
    let properties = schema
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    html! {
        article.schema id={ "schema-" (name) } {
            h3 { (name) }
            @if !text(schema, "description").is_empty() { p { (text(schema, "description")) } }
            table {
                thead { tr { th { "Field" } th { "Type" } th { "About" } } }
                tbody {
                    @for (field, property) in properties {
                        tr {
                            td { code { (field) } @if required.contains(&field.as_str()) { " (required)" } }
                            td { (type_of(property)) }
                            td { (text(property, "description")) }
                        }
                    }
                }
            }
        }
    }
}
