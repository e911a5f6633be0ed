//! `${VAR}` and `${VAR:-default}` in config strings, so secrets can come from
//! the environment instead of the file. `$${` writes a literal `${`.

/// Why a string could not be interpolated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InterpolationError {
    /// `${NAME}` names a variable that is not set, and no default is given.
    Unset(String),
    /// A `${` without its closing `}`, or an empty or invalid variable name.
    Malformed(String),
}

/// Replaces every `${NAME}` and `${NAME:-default}` in `text`, reading
/// variables through `lookup`. As in POSIX shells, the default applies when
/// the variable is unset or empty.
pub fn interpolate(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, InterpolationError> {
    let mut output = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('$') {
        output.push_str(&rest[..start]);
        let after = &rest[start..];
        if let Some(stripped) = after.strip_prefix("$${") {
            output.push_str("${");
            rest = stripped;
            continue;
        }
        let Some(reference) = after.strip_prefix("${") else {
            output.push('$');
            rest = &after[1..];
            continue;
        };
        let Some(end) = reference.find('}') else {
            return Err(InterpolationError::Malformed(format!(
                "`{after}` has no closing `}}`"
            )));
        };
        let inner = &reference[..end];
        let (name, default) = match inner.split_once(":-") {
            Some((name, default)) => (name, Some(default)),
            None => (inner, None),
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(InterpolationError::Malformed(format!(
                "`${{{inner}}}` is not a valid variable reference; write `${{NAME}}` or `${{NAME:-default}}`"
            )));
        }
        let value = lookup(name).filter(|value| !value.is_empty());
        match (value, default) {
            (Some(value), _) => output.push_str(&value),
            (None, Some(default)) => output.push_str(default),
            (None, None) => return Err(InterpolationError::Unset(name.to_string())),
        }
        rest = &reference[end + 1..];
    }
    output.push_str(rest);
    Ok(output)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "TOKEN" => Some("abc".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn replaces_set_variable() {
        assert_eq!(
            interpolate("Bearer ${TOKEN}!", &env).unwrap(),
            "Bearer abc!"
        );
    }

    #[test]
    fn default_applies_when_unset_or_empty() {
        assert_eq!(interpolate("${MISSING:-demo}", &env).unwrap(), "demo");
        assert_eq!(interpolate("${EMPTY:-demo}", &env).unwrap(), "demo");
        assert_eq!(interpolate("${TOKEN:-demo}", &env).unwrap(), "abc");
        assert_eq!(interpolate("${MISSING:-}", &env).unwrap(), "");
    }

    #[test]
    fn unset_without_default_is_an_error() {
        assert_eq!(
            interpolate("${MISSING}", &env),
            Err(InterpolationError::Unset("MISSING".into()))
        );
    }

    #[test]
    fn escaped_and_lone_dollars_stay() {
        assert_eq!(
            interpolate("$${TOKEN} costs $5", &env).unwrap(),
            "${TOKEN} costs $5"
        );
    }

    #[test]
    fn malformed_references_are_errors() {
        assert!(matches!(
            interpolate("${TOKEN", &env),
            Err(InterpolationError::Malformed(_))
        ));
        assert!(matches!(
            interpolate("${}", &env),
            Err(InterpolationError::Malformed(_))
        ));
        assert!(matches!(
            interpolate("${A B}", &env),
            Err(InterpolationError::Malformed(_))
        ));
    }
}
