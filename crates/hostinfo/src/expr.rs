//! The arithmetic the original `capability_config.yaml` allows for `shm_rate` and `memory`:
//! numbers, `ram`, `swap_size`, `+ - * /`, unary minus and parentheses. Nothing else.

/// How deep parentheses and unary minus may nest. The parser recurses once per level:
/// 20,000 nested parentheses overflowed the stack of every tool that read the file.
pub const MAX_DEPTH: usize = 32;

/// Evaluates `text` with the two names bound; the error says what was wrong, in words.
pub fn evaluate(text: &str, ram: f64, swap_size: f64) -> Result<f64, String> {
    let tokens = tokenize(text)?;
    let mut parser = Parser {
        tokens: &tokens,
        pos: 0,
        depth: 0,
        ram,
        swap_size,
    };
    let value = parser.sum()?;
    if parser.pos != tokens.len() {
        return Err(format!("unexpected {} in expression", tokens[parser.pos]));
    }
    if !value.is_finite() {
        return Err("expression does not give a finite number (division by zero?)".into());
    }
    Ok(value)
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Num(f64),
    Name(String),
    Op(char),
}

impl std::fmt::Display for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Token::Num(n) => write!(f, "number {n}"),
            Token::Name(n) => write!(f, "name `{n}`"),
            Token::Op(c) => write!(f, "`{c}`"),
        }
    }
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c.is_ascii_digit() || c == '.' {
            let mut end = i;
            while let Some(&(j, d)) = chars.peek() {
                if d.is_ascii_digit() || d == '.' {
                    end = j + d.len_utf8();
                    chars.next();
                } else {
                    break;
                }
            }
            let number = &text[i..end];
            let value = number
                .parse()
                .map_err(|_| format!("`{number}` is not a number"))?;
            tokens.push(Token::Num(value));
        } else if c.is_ascii_alphabetic() || c == '_' {
            let mut end = i;
            while let Some(&(j, d)) = chars.peek() {
                if d.is_ascii_alphanumeric() || d == '_' {
                    end = j + d.len_utf8();
                    chars.next();
                } else {
                    break;
                }
            }
            tokens.push(Token::Name(text[i..end].to_string()));
        } else if "+-*/()".contains(c) {
            tokens.push(Token::Op(c));
            chars.next();
        } else {
            return Err(format!("`{c}` is not allowed in an expression"));
        }
    }
    if tokens.is_empty() {
        return Err("empty expression".into());
    }
    Ok(tokens)
}

struct Parser<'a> {
    tokens: &'a [Token],
    pos: usize,
    /// Levels of `(` and unary `-` entered and not yet left.
    depth: usize,
    ram: f64,
    swap_size: f64,
}

impl Parser<'_> {
    /// Runs `inner` one level deeper, refusing to go past [`MAX_DEPTH`].
    fn nested(&mut self, inner: fn(&mut Self) -> Result<f64, String>) -> Result<f64, String> {
        if self.depth >= MAX_DEPTH {
            return Err(format!(
                "expression nests deeper than {MAX_DEPTH} levels of `(` and `-`"
            ));
        }
        self.depth += 1;
        let value = inner(self);
        self.depth -= 1;
        value
    }

    fn peek_op(&self) -> Option<char> {
        match self.tokens.get(self.pos) {
            Some(Token::Op(c)) => Some(*c),
            _ => None,
        }
    }

    fn sum(&mut self) -> Result<f64, String> {
        let mut value = self.product()?;
        while let Some(op @ ('+' | '-')) = self.peek_op() {
            self.pos += 1;
            let rhs = self.product()?;
            value = if op == '+' { value + rhs } else { value - rhs };
        }
        Ok(value)
    }

    fn product(&mut self) -> Result<f64, String> {
        let mut value = self.unary()?;
        while let Some(op @ ('*' | '/')) = self.peek_op() {
            self.pos += 1;
            let rhs = self.unary()?;
            value = if op == '*' { value * rhs } else { value / rhs };
        }
        Ok(value)
    }

    fn unary(&mut self) -> Result<f64, String> {
        if self.peek_op() == Some('-') {
            self.pos += 1;
            return Ok(-self.nested(Self::unary)?);
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<f64, String> {
        let token = self
            .tokens
            .get(self.pos)
            .ok_or("expression ends too early")?;
        self.pos += 1;
        match token {
            Token::Num(n) => Ok(*n),
            Token::Name(name) => match name.as_str() {
                "ram" => Ok(self.ram),
                "swap_size" => Ok(self.swap_size),
                other => Err(format!(
                    "unknown name `{other}` in expression (only `ram` and `swap_size`)"
                )),
            },
            Token::Op('(') => {
                let value = self.nested(Self::sum)?;
                if self.peek_op() != Some(')') {
                    return Err("missing `)` in expression".into());
                }
                self.pos += 1;
                Ok(value)
            }
            other => Err(format!("unexpected {other} in expression")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::evaluate;

    #[test]
    fn evaluates_the_original_shm_rate_and_memory_expressions() {
        assert_eq!(evaluate("ram / (ram + swap_size)", 30.0, 10.0), Ok(0.75));
        assert_eq!(evaluate("ram + swap_size", 30.0, 10.0), Ok(40.0));
    }

    #[test]
    fn honours_precedence_and_unary_minus() {
        assert_eq!(evaluate("2 + 3 * 4", 0.0, 0.0), Ok(14.0));
        assert_eq!(evaluate("(2 + 3) * 4", 0.0, 0.0), Ok(20.0));
        assert_eq!(evaluate("-ram + 1", 3.0, 0.0), Ok(-2.0));
        assert_eq!(evaluate("0.5", 0.0, 0.0), Ok(0.5));
    }

    #[test]
    fn refuses_unknown_names_stray_characters_and_division_by_zero() {
        assert!(evaluate("rom / 2", 1.0, 1.0).unwrap_err().contains("`rom`"));
        assert!(evaluate("ram; rm -rf /", 1.0, 1.0).is_err());
        assert!(evaluate("ram / swap_size", 1.0, 0.0).is_err());
        assert!(evaluate("(ram", 1.0, 0.0).is_err());
        assert!(evaluate("ram ram", 1.0, 0.0).is_err());
        assert!(evaluate("", 1.0, 0.0).is_err());
        assert!(evaluate("1..2", 1.0, 0.0).is_err());
    }

    /// Regression: 20,000 nested parentheses (or unary minuses) overflowed the stack and
    /// killed every tool that read capability_config.yaml.
    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        for n in [33, 20_000, 1_000_000] {
            let parens = format!("{}ram{}", "(".repeat(n), ")".repeat(n));
            assert_eq!(
                evaluate(&parens, 1.0, 1.0),
                Err("expression nests deeper than 32 levels of `(` and `-`".into())
            );
            assert!(evaluate(&format!("{}1", "-".repeat(n)), 1.0, 1.0).is_err());
        }
        let ok = format!("{}ram{}", "(".repeat(32), ")".repeat(32));
        assert_eq!(evaluate(&ok, 2.0, 1.0), Ok(2.0));
        assert_eq!(evaluate(&format!("{}1", "-".repeat(32)), 0.0, 0.0), Ok(1.0));
        // Long but flat is fine: `+` is a loop, not a level.
        assert_eq!(
            evaluate(&vec!["1"; 100_000].join(" + "), 0.0, 0.0),
            Ok(100_000.0)
        );
    }
}
