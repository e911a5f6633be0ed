//! Text templates with `{name}` placeholders, used for the request (path,
//! query values, headers, JSON body, `forms`) and for badge fields built
//! from a record (`response.name`, `response.link`, ...).
//!
//! `{{` and `}}` stand for literal braces. What a placeholder may name, and
//! how its value is encoded, depends on where the template is used; this
//! module only parses and renders.

use std::borrow::Cow;

/// One piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Part {
    Literal(String),
    Placeholder(String),
}

/// A parsed template and the text it was written as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    text: String,
    parts: Vec<Part>,
}

impl Template {
    /// Parses `text`. The error message states what is wrong and where, for a
    /// [`badgegate_adapter::BuildError`] message.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = text.char_indices().peekable();
        while let Some((position, c)) = chars.next() {
            match c {
                '{' if chars.peek().is_some_and(|(_, next)| *next == '{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek().is_some_and(|(_, next)| *next == '}') => {
                    chars.next();
                    literal.push('}');
                }
                '{' => {
                    let rest = &text[position + 1..];
                    let Some(end) = rest.find('}') else {
                        return Err(format!(
                            "`{text}` has a `{{` at character {} without its closing `}}`; write `{{{{` for a literal brace",
                            position + 1
                        ));
                    };
                    let name = &rest[..end];
                    validate_name(name).map_err(|reason| {
                        format!("`{text}` has the invalid placeholder `{{{name}}}`: {reason}")
                    })?;
                    if !literal.is_empty() {
                        parts.push(Part::Literal(std::mem::take(&mut literal)));
                    }
                    parts.push(Part::Placeholder(name.to_string()));
                    // Skip the name and the closing brace.
                    for _ in 0..name.chars().count() + 1 {
                        chars.next();
                    }
                }
                '}' => {
                    return Err(format!(
                        "`{text}` has a `}}` at character {} without an opening `{{`; write `}}}}` for a literal brace",
                        position + 1
                    ));
                }
                other => literal.push(other),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        Ok(Template {
            text: text.to_string(),
            parts,
        })
    }

    /// Returns the template as written in the config file.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Returns the names of the placeholders, in order, repeats included.
    pub fn placeholders(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|part| match part {
            Part::Placeholder(name) => Some(name.as_str()),
            Part::Literal(_) => None,
        })
    }

    /// Returns the literal text between the placeholders.
    pub fn literals(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|part| match part {
            Part::Literal(text) => Some(text.as_str()),
            Part::Placeholder(_) => None,
        })
    }

    /// Renders the template, replacing each placeholder with what `value_of`
    /// returns for its name. Literal text is copied as it is.
    pub fn render<'a, E>(
        &'a self,
        mut value_of: impl FnMut(&'a str) -> Result<Cow<'a, str>, E>,
    ) -> Result<String, E> {
        let mut output = String::with_capacity(self.text.len());
        for part in &self.parts {
            match part {
                Part::Literal(text) => output.push_str(text),
                Part::Placeholder(name) => output.push_str(&value_of(name)?),
            }
        }
        Ok(output)
    }
}

/// Accepts a placeholder name: not empty, no whitespace, and no empty part
/// between dots, so `{owner.name}` is valid and `{owner..name}` is not.
fn validate_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("the name is empty");
    }
    if name.chars().any(|c| c.is_whitespace() || c == '{') {
        return Err("names contain no spaces or braces");
    }
    if name.split('.').any(str::is_empty) {
        return Err("a dotted name has an empty part");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;

    fn render(template: &Template) -> String {
        template
            .render(|name| Ok::<_, Infallible>(Cow::Owned(format!("<{name}>"))))
            .unwrap()
    }

    #[test]
    fn placeholders_and_literals() {
        let template = Template::parse("https://{company}.example.com/person/{id}").unwrap();
        assert_eq!(
            template.placeholders().collect::<Vec<_>>(),
            ["company", "id"]
        );
        assert_eq!(
            template.literals().collect::<Vec<_>>(),
            ["https://", ".example.com/person/"]
        );
        assert_eq!(
            render(&template),
            "https://<company>.example.com/person/<id>"
        );
    }

    #[test]
    fn doubled_braces_are_literal() {
        let template = Template::parse("{{\"q\": \"{e164}\"}}").unwrap();
        assert_eq!(template.placeholders().collect::<Vec<_>>(), ["e164"]);
        assert_eq!(render(&template), "{\"q\": \"<e164>\"}");
    }

    #[test]
    fn dotted_and_unicode_names() {
        let template = Template::parse("{owner.name} {prénom}").unwrap();
        assert_eq!(
            template.placeholders().collect::<Vec<_>>(),
            ["owner.name", "prénom"]
        );
        assert_eq!(render(&template), "<owner.name> <prénom>");
    }

    #[test]
    fn text_without_placeholders() {
        let template = Template::parse("/api/v1/persons/search").unwrap();
        assert_eq!(template.placeholders().count(), 0);
        assert_eq!(render(&template), "/api/v1/persons/search");
        assert_eq!(render(&Template::parse("").unwrap()), "");
    }

    #[test]
    fn malformed_templates_are_rejected() {
        for text in [
            "{e164",
            "e164}",
            "{}",
            "{first name}",
            "{owner..name}",
            "{.name}",
            "{a{b}",
        ] {
            let error = Template::parse(text).unwrap_err();
            assert!(error.contains(text), "{text}: {error}");
        }
    }
}
