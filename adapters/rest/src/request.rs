//! The search request of a `type = "rest"` source: its keys (`method`,
//! `path`, `query`, `headers`, `body`, `forms`), their validation, and the
//! request rendered for one caller's number.

use std::borrow::Cow;
use std::collections::BTreeMap;

use badgegate_adapter::{BuildError, PhoneNumber, SearchForm};
use reqwest::header::{HeaderMap, HeaderName};
use reqwest::Method;
use serde_json::{Map, Value};

use crate::encoding::{self, header_value, is_path_literal_char, path_segment};
use crate::template::Template;

/// The placeholders for the caller's number, and the form each stands for.
pub(crate) const NUMBER_PLACEHOLDERS: [(&str, SearchForm); 5] = [
    ("e164", SearchForm::E164),
    ("e164_digits", SearchForm::E164Digits),
    ("national", SearchForm::NationalFormatted),
    ("national_digits", SearchForm::NationalDigits),
    ("international", SearchForm::InternationalFormatted),
];

/// The placeholder bound in turn to each entry of `forms`.
pub(crate) const TERM: &str = "term";

/// The value every number placeholder and `{term}` take when a template is
/// checked at build time. Real numbers always contain digits too, so a check
/// that passes with it passes with every caller.
const SAMPLE_NUMBER: &str = "0";

/// The request keys of a source table, before validation.
pub(crate) struct RequestOptions {
    pub method: Option<String>,
    pub base_url: String,
    pub path: Option<String>,
    pub query: BTreeMap<String, String>,
    pub headers: BTreeMap<String, String>,
    pub body: Option<Value>,
    pub forms: Option<Vec<String>>,
}

/// A validated request template.
#[derive(Debug)]
pub(crate) struct RequestSpec {
    method: Method,
    /// API root without a trailing slash; the rendered path is appended.
    base_url: String,
    path: Template,
    query: Vec<(String, Template)>,
    headers: Vec<(HeaderName, Template)>,
    body: Option<JsonTemplate>,
    /// The spellings bound to `{term}`, tried in order; `None` for one
    /// request without `{term}`.
    forms: Option<Vec<Template>>,
    constants: BTreeMap<String, String>,
}

/// A request for one caller's number, ready to send.
#[derive(Debug, Clone)]
pub(crate) struct RenderedRequest {
    pub method: Method,
    pub url: String,
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Option<Value>,
}

/// A JSON body whose strings are templates.
#[derive(Debug, Clone)]
enum JsonTemplate {
    Text(Template),
    Array(Vec<JsonTemplate>),
    Object(Vec<(String, JsonTemplate)>),
    /// Numbers, booleans and null, copied as they are.
    Fixed(Value),
}

/// Source of the values of the number placeholders.
#[derive(Clone, Copy)]
enum Number<'a> {
    Caller(&'a PhoneNumber),
    /// Build-time checks, with [`SAMPLE_NUMBER`] for every number form.
    Sample,
    /// Tests, with one arbitrary text for every number form.
    #[cfg(test)]
    Raw(&'a str),
}

#[derive(Clone, Copy)]
struct Values<'a> {
    number: Number<'a>,
    term: Option<&'a str>,
    constants: &'a BTreeMap<String, String>,
}

impl<'a> Values<'a> {
    fn get(&self, name: &str) -> Option<&'a str> {
        if let Some((_, form)) = NUMBER_PLACEHOLDERS.iter().find(|(known, _)| *known == name) {
            return Some(match self.number {
                Number::Caller(caller) => caller.form(*form),
                Number::Sample => SAMPLE_NUMBER,
                #[cfg(test)]
                Number::Raw(text) => text,
            });
        }
        if name == TERM {
            return self.term;
        }
        self.constants.get(name).map(String::as_str)
    }

    /// Returns the value of `name`, which validation has made sure exists.
    fn require(&self, name: &str) -> Result<&'a str, String> {
        self.get(name)
            .ok_or_else(|| format!("the placeholder `{{{name}}}` has no value"))
    }
}

impl RequestSpec {
    /// Validates the request keys. `constants` are the names besides the
    /// number placeholders that templates may use.
    pub fn new(
        options: RequestOptions,
        constants: BTreeMap<String, String>,
    ) -> Result<RequestSpec, BuildError> {
        let method = parse_method(options.method.as_deref())?;
        let placeholders = Placeholders {
            constants: &constants,
            term: options.forms.is_some(),
        };

        let path = parse_path(options.path.as_deref().unwrap_or(""), &placeholders)?;
        let query = options
            .query
            .into_iter()
            .map(|(name, text)| {
                let key = format!("query.{name}");
                if name.trim().is_empty() {
                    return Err(BuildError::for_key("query", "has an empty parameter name"));
                }
                let template = parse_template(&key, &text, &placeholders)?;
                Ok((name, template))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let headers = options
            .headers
            .into_iter()
            .map(|(name, text)| parse_header(&name, &text, &placeholders))
            .collect::<Result<Vec<_>, _>>()?;
        let body = match options.body {
            Some(_) if method != Method::POST => {
                return Err(BuildError::for_key(
                    "body",
                    "is only sent with method = \"POST\"; set the method or remove the body",
                ))
            }
            Some(body) => Some(JsonTemplate::parse(body, "body", &placeholders)?),
            None => None,
        };
        let forms = options
            .forms
            .map(|forms| parse_forms(forms, &constants))
            .transpose()?;

        let spec = RequestSpec {
            method,
            base_url: options.base_url,
            path,
            query,
            headers,
            body,
            forms,
            constants,
        };
        if spec.forms.is_some() && !spec.uses_term() {
            return Err(BuildError::for_key(
                "forms",
                "is set, but no request template uses `{term}`; put `{term}` where the number goes, e.g. query = { term = \"{term}\" }",
            ));
        }
        spec.check_sample()?;
        Ok(spec)
    }

    /// Returns the values `{term}` takes for `caller`, in order and without repeats,
    /// or a single `None` when `forms` is not set.
    pub fn terms(&self, caller: &PhoneNumber) -> Result<Vec<Option<String>>, String> {
        let Some(forms) = &self.forms else {
            return Ok(vec![None]);
        };
        let values = Values {
            number: Number::Caller(caller),
            term: None,
            constants: &self.constants,
        };
        let mut terms: Vec<Option<String>> = Vec::with_capacity(forms.len());
        for form in forms {
            let term = form
                .render(|name| values.require(name).map(Cow::Borrowed))
                .map_err(|error| format!("forms: {error}"))?;
            if !terms.iter().flatten().any(|seen| *seen == term) {
                terms.push(Some(term));
            }
        }
        Ok(terms)
    }

    /// Renders the request for `caller` with `{term}` bound to `term`. The
    /// error names the key at fault; with validated options it cannot occur,
    /// because every value a caller's number gives was checked at build time.
    pub fn render(
        &self,
        caller: &PhoneNumber,
        term: Option<&str>,
    ) -> Result<RenderedRequest, String> {
        self.render_with(Values {
            number: Number::Caller(caller),
            term,
            constants: &self.constants,
        })
    }

    fn render_with(&self, values: Values<'_>) -> Result<RenderedRequest, String> {
        let path = self
            .path
            .render(|name| values.require(name).map(path_segment))
            .map_err(|error| format!("path: {error}"))?;
        encoding::check_path(&path).map_err(|error| format!("path: {error}"))?;

        let mut query = Vec::with_capacity(self.query.len());
        for (name, template) in &self.query {
            let value = template
                .render(|placeholder| values.require(placeholder).map(Cow::Borrowed))
                .map_err(|error| format!("query.{name}: {error}"))?;
            query.push((name.clone(), value));
        }

        let mut headers = HeaderMap::with_capacity(self.headers.len());
        for (name, template) in &self.headers {
            let value = template
                .render(|placeholder| values.require(placeholder).map(Cow::Borrowed))
                .and_then(|text| header_value(&text))
                .map_err(|error| format!("headers.{name}: {error}"))?;
            headers.insert(name.clone(), value);
        }

        let body = self
            .body
            .as_ref()
            .map(|body| body.render(&values))
            .transpose()
            .map_err(|error| format!("body: {error}"))?;

        Ok(RenderedRequest {
            method: self.method.clone(),
            url: format!("{}{path}", self.base_url),
            query,
            headers,
            body,
        })
    }

    /// Renders the request with sample numbers, so that constants that would
    /// make an invalid path or header fail now rather than at every lookup.
    fn check_sample(&self) -> Result<(), BuildError> {
        let values = Values {
            number: Number::Sample,
            term: self.forms.as_ref().map(|_| SAMPLE_NUMBER),
            constants: &self.constants,
        };
        let rendered = self.render_with(values).map_err(|error| {
            let (key, message) = error.split_once(": ").unwrap_or(("path", &error));
            BuildError::for_key(key, format!("{message} with the values in `constants`"))
        })?;
        reqwest::Url::parse(&rendered.url).map_err(|error| {
            BuildError::for_key(
                "path",
                format!("does not make a valid URL with `base_url`: {error}"),
            )
        })?;
        Ok(())
    }

    fn uses_term(&self) -> bool {
        let uses = |template: &Template| template.placeholders().any(|name| name == TERM);
        uses(&self.path)
            || self.query.iter().any(|(_, template)| uses(template))
            || self.headers.iter().any(|(_, template)| uses(template))
            || self.body.as_ref().is_some_and(|body| body.uses(TERM))
    }
}

/// The placeholders a request template may use.
struct Placeholders<'a> {
    constants: &'a BTreeMap<String, String>,
    /// Whether `forms` is set, which makes `{term}` available.
    term: bool,
}

impl Placeholders<'_> {
    fn contains(&self, name: &str) -> bool {
        NUMBER_PLACEHOLDERS.iter().any(|(known, _)| *known == name)
            || (self.term && name == TERM)
            || self.constants.contains_key(name)
    }

    /// Lists the valid placeholders for an error message.
    fn list(&self) -> String {
        let mut names: Vec<String> = NUMBER_PLACEHOLDERS
            .iter()
            .map(|(name, _)| format!("{{{name}}}"))
            .collect();
        if self.term {
            names.push(format!("{{{TERM}}}"));
        }
        names.extend(self.constants.keys().map(|name| format!("{{{name}}}")));
        names.join(", ")
    }

    /// Checks that every placeholder of `template` is known.
    fn check(&self, key: &str, template: &Template) -> Result<(), BuildError> {
        for name in template.placeholders() {
            if self.contains(name) {
                continue;
            }
            let hint = if name == TERM {
                " (`{term}` needs `forms`, the list of spellings it takes in turn)"
            } else {
                ""
            };
            return Err(BuildError::for_key(
                key,
                format!(
                    "`{}` uses the unknown placeholder `{{{name}}}`{hint}; valid placeholders are {}",
                    template.text(),
                    self.list()
                ),
            ));
        }
        Ok(())
    }
}

fn parse_template(
    key: &str,
    text: &str,
    placeholders: &Placeholders<'_>,
) -> Result<Template, BuildError> {
    let template = Template::parse(text).map_err(|error| BuildError::for_key(key, error))?;
    placeholders.check(key, &template)?;
    Ok(template)
}

fn parse_method(method: Option<&str>) -> Result<Method, BuildError> {
    match method.map(|method| method.trim().to_ascii_uppercase()) {
        None => Ok(Method::GET),
        Some(method) if method == "GET" => Ok(Method::GET),
        Some(method) if method == "POST" => Ok(Method::POST),
        Some(method) => Err(BuildError::for_key(
            "method",
            format!("`{method}` is not supported; write \"GET\" or \"POST\""),
        )),
    }
}

/// Parses `path`: empty or starting with `/`, with literal text of URL path
/// characters only, so that the literal part of the path is exactly the
/// configured text.
fn parse_path(text: &str, placeholders: &Placeholders<'_>) -> Result<Template, BuildError> {
    let template = parse_template("path", text, placeholders)?;
    let invalid = |reason: String| BuildError::for_key("path", format!("`{text}` {reason}"));
    if !text.is_empty() && !text.starts_with('/') {
        return Err(invalid(
            "must start with `/`; it is appended to `base_url`".to_string(),
        ));
    }
    for literal in template.literals() {
        check_path_literal(literal).map_err(invalid)?;
    }
    let literal_dot_segment = text
        .split('/')
        .any(|segment| !segment.contains('{') && encoding::is_dot_segment(segment));
    if literal_dot_segment {
        return Err(invalid(
            "has a `.` or `..` segment, which URL parsers remove; write the path without it"
                .to_string(),
        ));
    }
    Ok(template)
}

fn check_path_literal(literal: &str) -> Result<(), String> {
    let bytes = literal.as_bytes();
    let mut index = 0;
    while index < bytes.len() {
        let c = literal[index..]
            .chars()
            .next()
            .expect("index is at a character boundary");
        if c == '%' {
            let escape = bytes.get(index + 1..index + 3);
            if !escape.is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit)) {
                return Err("has a `%` that does not start a `%XX` escape".to_string());
            }
            index += 3;
            continue;
        }
        if c == '?' || c == '#' {
            return Err(format!(
                "contains `{c}`; write query parameters in `query`, not in the path"
            ));
        }
        if !is_path_literal_char(c) {
            return Err(format!(
                "contains `{}`, which a URL path cannot contain; percent-encode it",
                c.escape_default()
            ));
        }
        index += c.len_utf8();
    }
    Ok(())
}

fn parse_header(
    name: &str,
    text: &str,
    placeholders: &Placeholders<'_>,
) -> Result<(HeaderName, Template), BuildError> {
    let key = format!("headers.{name}");
    let header_name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
        BuildError::for_key(
            "headers",
            format!("`{name}` is not a valid HTTP header name"),
        )
    })?;
    let template = parse_template(&key, text, placeholders)?;
    for literal in template.literals() {
        header_value(literal).map_err(|reason| BuildError::for_key(&key, reason))?;
    }
    Ok((header_name, template))
}

/// Parses `forms`: a non-empty list of templates over the number
/// placeholders and constants, each naming at least one number placeholder.
fn parse_forms(
    forms: Vec<String>,
    constants: &BTreeMap<String, String>,
) -> Result<Vec<Template>, BuildError> {
    if forms.is_empty() {
        return Err(BuildError::for_key(
            "forms",
            "is empty; list the spellings to try, e.g. forms = [\"{e164}\", \"{national_digits}\"], or remove the key",
        ));
    }
    let placeholders = Placeholders {
        constants,
        term: false,
    };
    forms
        .iter()
        .map(|text| {
            let template = parse_template("forms", text, &placeholders)?;
            let names_number = template
                .placeholders()
                .any(|name| NUMBER_PLACEHOLDERS.iter().any(|(known, _)| *known == name));
            if !names_number {
                return Err(BuildError::for_key(
                    "forms",
                    format!("`{text}` uses no number placeholder; each entry is a spelling of the caller's number, such as \"{{e164}}\""),
                ));
            }
            Ok(template)
        })
        .collect()
}

impl JsonTemplate {
    fn parse(
        value: Value,
        key: &str,
        placeholders: &Placeholders<'_>,
    ) -> Result<JsonTemplate, BuildError> {
        Ok(match value {
            Value::String(text) => JsonTemplate::Text(parse_template(key, &text, placeholders)?),
            Value::Array(items) => JsonTemplate::Array(
                items
                    .into_iter()
                    .enumerate()
                    .map(|(index, item)| {
                        JsonTemplate::parse(item, &format!("{key}.{index}"), placeholders)
                    })
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(fields) => JsonTemplate::Object(
                fields
                    .into_iter()
                    .map(|(name, item)| {
                        let template =
                            JsonTemplate::parse(item, &format!("{key}.{name}"), placeholders)?;
                        Ok((name, template))
                    })
                    .collect::<Result<_, BuildError>>()?,
            ),
            other => JsonTemplate::Fixed(other),
        })
    }

    /// Builds the JSON value. Each rendered string becomes a JSON string
    /// value as it is, so quotes and backslashes in it stay data.
    fn render(&self, values: &Values<'_>) -> Result<Value, String> {
        Ok(match self {
            JsonTemplate::Text(template) => {
                Value::String(template.render(|name| values.require(name).map(Cow::Borrowed))?)
            }
            JsonTemplate::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|item| item.render(values))
                    .collect::<Result<_, _>>()?,
            ),
            JsonTemplate::Object(fields) => {
                let mut object = Map::with_capacity(fields.len());
                for (name, item) in fields {
                    object.insert(name.clone(), item.render(values)?);
                }
                Value::Object(object)
            }
            JsonTemplate::Fixed(value) => value.clone(),
        })
    }

    fn uses(&self, placeholder: &str) -> bool {
        match self {
            JsonTemplate::Text(template) => template.placeholders().any(|name| name == placeholder),
            JsonTemplate::Array(items) => items.iter().any(|item| item.uses(placeholder)),
            JsonTemplate::Object(fields) => fields.iter().any(|(_, item)| item.uses(placeholder)),
            JsonTemplate::Fixed(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Numbers as a source might store them, with every character that
    /// could change a request's shape if it were inserted unencoded.
    const HOSTILE_VALUES: [&str; 10] = [
        "+1 415&x=2",
        "415/555/0123",
        "415?admin=1",
        "415#fragment",
        "%2F..%2F",
        "\"415\" 'quoted'",
        "../admin",
        "a/../../b",
        "415\\..\\x",
        "=&;+,",
    ];

    fn options(path: &str) -> RequestOptions {
        RequestOptions {
            method: None,
            base_url: "https://api.example.com/crm".to_string(),
            path: Some(path.to_string()),
            query: BTreeMap::from([
                ("term".to_string(), "{e164}".to_string()),
                ("fields".to_string(), "phone".to_string()),
            ]),
            headers: BTreeMap::from([("x-number".to_string(), "n={e164}".to_string())]),
            body: None,
            forms: None,
        }
    }

    fn spec(options: RequestOptions) -> RequestSpec {
        RequestSpec::new(options, BTreeMap::new()).expect("the test options are valid")
    }

    fn render_raw(spec: &RequestSpec, value: &str) -> Result<RenderedRequest, String> {
        spec.render_with(Values {
            number: Number::Raw(value),
            term: Some(value),
            constants: &spec.constants,
        })
    }

    /// Builds the request reqwest would send.
    fn build(rendered: &RenderedRequest) -> reqwest::Request {
        reqwest::Client::new()
            .request(rendered.method.clone(), &rendered.url)
            .query(&rendered.query)
            .headers(rendered.headers.clone())
            .build()
            .expect("a rendered request builds")
    }

    #[test]
    fn hostile_values_keep_path_and_query_keys() {
        let spec = spec(options("/persons/{e164}/search"));
        for value in HOSTILE_VALUES {
            let request = build(&render_raw(&spec, value).unwrap());
            let url = request.url();

            let segments: Vec<&str> = url.path_segments().unwrap().collect();
            assert_eq!(segments.len(), 4, "{value}: {url}");
            assert_eq!(segments[0], "crm", "{value}: {url}");
            assert_eq!(segments[1], "persons", "{value}: {url}");
            assert_eq!(segments[3], "search", "{value}: {url}");
            assert_eq!(url.fragment(), None, "{value}: {url}");

            let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
            let keys: Vec<&str> = pairs.iter().map(|(key, _)| key.as_str()).collect();
            assert_eq!(keys, ["fields", "term"], "{value}: {url}");
            assert_eq!(pairs[1].1, value, "{value}: {url}");
        }
    }

    #[test]
    fn path_value_decodes_to_itself() {
        let spec = spec(options("/persons/{e164}"));
        for value in HOSTILE_VALUES {
            let request = build(&render_raw(&spec, value).unwrap());
            let segment = request
                .url()
                .path_segments()
                .unwrap()
                .next_back()
                .unwrap()
                .to_string();
            let decoded = percent_encoding::percent_decode_str(&segment)
                .decode_utf8()
                .unwrap();
            assert_eq!(decoded, value, "{segment}");
        }
    }

    #[test]
    fn value_forming_dot_segment_is_not_sent() {
        let spec = spec(options("/persons/{e164}/search"));
        for value in [".", ".."] {
            let error = render_raw(&spec, value).unwrap_err();
            assert!(error.starts_with("path:"), "{error}");
        }
        // Dots next to other characters stay inside their segment.
        let request = build(&render_raw(&spec, "x..").unwrap());
        assert_eq!(request.url().path(), "/crm/persons/x../search");
    }

    #[test]
    fn header_value_with_line_break_is_not_sent() {
        let spec = spec(options("/persons"));
        for value in ["415\r\nx-injected: 1", "415\n", "415\r"] {
            let error = render_raw(&spec, value).unwrap_err();
            assert!(error.starts_with("headers.x-number:"), "{error}");
        }
        let rendered = render_raw(&spec, "\"415\" 'q'").unwrap();
        assert_eq!(rendered.headers["x-number"], "n=\"415\" 'q'");
        assert_eq!(rendered.headers.len(), 1);
    }

    #[test]
    fn json_body_keeps_values_as_strings() {
        let mut options = options("/search");
        options.method = Some("post".to_string());
        options.body = Some(json!({
            "filter": {"phone": "{e164}", "note": "a {e164} b"},
            "limit": 5,
            "exact": true,
        }));
        let spec = spec(options);
        for value in ["\", \"admin\": true, \"x\": \"", "\\\"}", "{e164}"] {
            let body = render_raw(&spec, value).unwrap().body.unwrap();
            assert_eq!(
                body,
                json!({
                    "filter": {"phone": value, "note": format!("a {value} b")},
                    "limit": 5,
                    "exact": true,
                })
            );
        }
    }

    #[test]
    fn caller_forms_fill_placeholders() {
        let mut options = options("/persons/{e164_digits}");
        options.query = BTreeMap::from([
            ("a".to_string(), "{e164}".to_string()),
            ("b".to_string(), "{national}".to_string()),
            ("c".to_string(), "{national_digits}".to_string()),
            ("d".to_string(), "{international}".to_string()),
        ]);
        let spec = spec(options);
        let caller =
            badgegate_adapter::phone::parse_caller("14155550123", "US".parse().unwrap()).unwrap();

        let rendered = spec.render(&caller, None).unwrap();

        assert_eq!(
            rendered.url,
            "https://api.example.com/crm/persons/14155550123"
        );
        let query: BTreeMap<&str, &str> = rendered
            .query
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        assert_eq!(query["a"], "+14155550123");
        assert_eq!(query["b"], "(415) 555-0123");
        assert_eq!(query["c"], "4155550123");
        assert_eq!(query["d"], "+1 415-555-0123");
    }

    #[test]
    fn forms_give_distinct_terms_in_order() {
        let mut options = options("/persons");
        options.query = BTreeMap::from([("term".to_string(), "{term}".to_string())]);
        options.forms = Some(vec![
            "{e164}".to_string(),
            "{national_digits}".to_string(),
            "+{e164_digits}".to_string(),
        ]);
        let spec = spec(options);
        let caller =
            badgegate_adapter::phone::parse_caller("14155550123", "US".parse().unwrap()).unwrap();

        let terms = spec.terms(&caller).unwrap();

        assert_eq!(
            terms,
            [
                Some("+14155550123".to_string()),
                Some("4155550123".to_string())
            ]
        );
    }

    #[test]
    fn unknown_placeholder_lists_valid_ones() {
        let mut options = options("/persons/{phone}");
        options.query.clear();
        let error = RequestSpec::new(
            options,
            BTreeMap::from([("company".to_string(), "acme".to_string())]),
        )
        .unwrap_err();

        assert_eq!(error.key.as_deref(), Some("path"));
        assert!(error.message.contains("`{phone}`"), "{}", error.message);
        for valid in [
            "{e164}",
            "{e164_digits}",
            "{national}",
            "{national_digits}",
            "{international}",
            "{company}",
        ] {
            assert!(error.message.contains(valid), "{valid}: {}", error.message);
        }
        assert!(!error.message.contains("{term}"), "{}", error.message);
    }

    #[test]
    fn term_without_forms_is_rejected() {
        let mut options = options("/persons");
        options.query = BTreeMap::from([("term".to_string(), "{term}".to_string())]);
        let error = RequestSpec::new(options, BTreeMap::new()).unwrap_err();
        assert_eq!(error.key.as_deref(), Some("query.term"));
        assert!(error.message.contains("forms"), "{}", error.message);
    }

    #[test]
    fn forms_without_term_are_rejected() {
        let mut options = options("/persons");
        options.forms = Some(vec!["{e164}".to_string()]);
        let error = RequestSpec::new(options, BTreeMap::new()).unwrap_err();
        assert_eq!(error.key.as_deref(), Some("forms"));
    }

    #[test]
    fn invalid_request_keys_are_named() {
        type Change = Box<dyn Fn(&mut RequestOptions)>;
        let cases: Vec<(&str, Change)> = vec![
            ("method", Box::new(|o| o.method = Some("DELETE".into()))),
            ("path", Box::new(|o| o.path = Some("persons".into()))),
            (
                "path",
                Box::new(|o| o.path = Some("/persons?term={e164}".into())),
            ),
            (
                "path",
                Box::new(|o| o.path = Some("/persons/../admin".into())),
            ),
            ("path", Box::new(|o| o.path = Some("/persons/%zz".into()))),
            ("path", Box::new(|o| o.path = Some("/per sons".into()))),
            ("path", Box::new(|o| o.path = Some("/persons/{e164".into()))),
            ("body", Box::new(|o| o.body = Some(json!({"q": "{e164}"})))),
            (
                "headers",
                Box::new(|o| {
                    o.headers = BTreeMap::from([("bad header".into(), "x".into())]);
                }),
            ),
            (
                "headers.x-a",
                Box::new(|o| {
                    o.headers = BTreeMap::from([("x-a".into(), "a\nb".into())]);
                }),
            ),
            ("forms", Box::new(|o| o.forms = Some(vec![]))),
            (
                "forms",
                Box::new(|o| {
                    o.query = BTreeMap::from([("t".into(), "{term}".into())]);
                    o.forms = Some(vec!["fixed".into()]);
                }),
            ),
        ];
        for (key, change) in cases {
            let mut options = options("/persons");
            change(&mut options);
            let error = RequestSpec::new(options, BTreeMap::new()).unwrap_err();
            assert_eq!(error.key.as_deref(), Some(key), "{}", error.message);
        }
    }

    #[test]
    fn constant_forming_dot_segment_is_rejected() {
        let error = RequestSpec::new(
            options("/{tenant}/persons"),
            BTreeMap::from([("tenant".to_string(), "..".to_string())]),
        )
        .unwrap_err();
        assert_eq!(error.key.as_deref(), Some("path"));
        assert!(error.message.contains("constants"), "{}", error.message);
    }

    #[test]
    fn constant_with_line_break_in_header_is_rejected() {
        let mut options = options("/persons");
        options.headers = BTreeMap::from([("x-tenant".to_string(), "{tenant}".to_string())]);
        let error = RequestSpec::new(
            options,
            BTreeMap::from([("tenant".to_string(), "a\r\nx-injected: 1".to_string())]),
        )
        .unwrap_err();
        assert_eq!(error.key.as_deref(), Some("headers.x-tenant"));
    }
}
