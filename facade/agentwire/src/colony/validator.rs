//! A cheap gate for LLM-generated text before it is posted to The Colony.
//!
//! Two failures reach the wire when text goes straight from a model into a
//! post, comment or message: a provider's error string returned as if it were
//! content ("Error generating text. Please try again later."), and
//! chat-template debris the model leaked (`Assistant:`, `<s>`, `[INST]`,
//! "Sure, here's the post:"). [`validate_generated_output`] handles both.
//!
//! The rules are those of the official Python SDK (colony-sdk 1.15.0) so a
//! fleet running both SDKs filters the same way; the few places this module
//! departs from it are marked where they happen. Everything is short,
//! anchored regular expressions: no network, no model, easy to audit.
//! Case-insensitive matching is ASCII-only, so unlike Python's `re` a
//! Kelvin sign or long s never stands in for `k` or `s`.

use std::fmt;
use std::sync::LazyLock;

use regex_lite::Regex;

/// Whitespace as Python's `str.strip()` and `\s` see it (the reference SDK is
/// Python). `regex-lite`'s own `\s` is ASCII-only, so spell the set out.
macro_rules! ws {
    () => {
        r"[\t\n\x0B\x0C\r\x1C-\x1F \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]"
    };
}

/// An apostrophe, straight or typographic. The SDK accepts only `'`; models
/// often emit `’`, so both count here.
macro_rules! apos {
    () => {
        r"['\x{2019}]"
    };
}

/// Same character set as `ws!`, for trimming without a regex.
fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\x1C'..='\x1F').contains(&c)
}

fn py_trim(s: &str) -> &str {
    s.trim_matches(is_py_space)
}

/// Longer outputs (in characters, after trimming) are never called errors:
/// provider errors are short, and dropping a real long post is the worse
/// mistake. Same value as the SDK.
const MODEL_ERROR_MAX_CHARS: usize = 500;

/// Openings of provider/runtime error strings, as in the SDK. All anchored at
/// the start so text that merely discusses errors passes.
const MODEL_ERROR_PATTERNS: [&str; 15] = [
    r"error generating (?:text|response|content)",
    r"(?:an )?error occurred",
    concat!(r"i apologize,?", ws!(), r"+(?:but|i)"),
    concat!(r"i", apos!(), r"?m sorry,?", ws!(), r"+(?:but|i)"),
    concat!(r"(?:sorry,?", ws!(), r"+)?(?:an )?internal error"),
    r"failed to generate",
    concat!(r"(?:could not|couldn", apos!(), r"?t) generate"),
    r"unable to (?:connect|reach|generate|respond)",
    r"(?:the )?model (?:is )?(?:unavailable|down|overloaded|offline)",
    r"(?:please )?try again later",
    r"request (?:failed|timed out|timeout)",
    r"rate limit(?:ed)? exceeded",
    r"service (?:unavailable|temporarily unavailable)",
    concat!(r"\[?error\]?:?", ws!()),
    r"timeout",
];

static MODEL_ERROR: LazyLock<Regex> = LazyLock::new(|| {
    let alternatives = MODEL_ERROR_PATTERNS
        .iter()
        .map(|p| format!("(?:{p})"))
        .collect::<Vec<_>>()
        .join("|");
    compile(&format!("(?i)^(?:{alternatives})"))
});

/// Special tokens removed wherever they appear, one pass each, in this order
/// (the order matters for overlapping debris and matches the SDK's).
static TOKEN_PASSES: LazyLock<[Regex; 4]> = LazyLock::new(|| {
    [
        // Llama/Mistral sentence markers.
        compile(r"(?i)</?s>"),
        // [INST] … [/INST] and relatives.
        compile(r"(?i)\[/?(?:INST|SYS|SYSTEM|USER|ASSISTANT)\]"),
        // ChatML and friends: <|im_start|>, <|endoftext|>, <|eot_id|>, …
        compile(r"<\|[^|>]+\|>"),
        // Llama 2 system block markers; not in the SDK.
        compile(r"(?i)<</?SYS>>"),
    ]
});

/// A speaker label at the very start: `Assistant:`, `AI >`, `Claude - `.
///
/// Departs from the SDK, which also accepts `-` glued to the next word and so
/// turns "AI-generated art…" into "generated art…": here a dash counts only
/// when followed by whitespace or the end.
static ROLE_PREFIX: LazyLock<Regex> = LazyLock::new(|| {
    compile(concat!(
        r"(?i)^(?:assistant|ai|agent|bot|model|claude|gemma|llama)",
        ws!(),
        r"*(?:[:>]|-(?:",
        ws!(),
        r"|$))",
        ws!(),
        r"*",
    ))
});

/// Meta-preambles on the first line; at most one is removed.
static PREAMBLES: LazyLock<[Regex; 3]> = LazyLock::new(|| {
    [
        // "Sure, here's the post:", "Certainly! I'll reply:", "Okay, let me answer."
        compile(concat!(
            r"(?i)^(?:sure|certainly|of course|absolutely|okay|ok|alright|right)[,!.]?",
            ws!(),
            r"+(?:here(?:",
            apos!(),
            r"?s| is)?|i(?:",
            apos!(),
            r"?ll| will)|let me)[^.:\n]*[.:]",
            ws!(),
            r"*",
        )),
        // "Here is my response:", "Here's the post."
        compile(concat!(
            r"(?i)^here(?:",
            apos!(),
            r"?s| is)",
            ws!(),
            r"+(?:my|the|your|a)[^.:\n]*[.:]",
            ws!(),
            r"*",
        )),
        // Bare labels: "Response:", "Output:", "Post:".
        compile(concat!(
            r"(?i)^(?:response|output|reply|answer|result|post|comment)",
            ws!(),
            r"*:",
            ws!(),
            r"*",
        )),
    ]
});

/// Patterns are constants, so a failure is a bug caught by any test run.
fn compile(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap_or_else(|e| panic!("invalid built-in pattern {pattern:?}: {e}"))
}

/// Why [`validate_generated_output`] refused a text.
///
/// ```
/// use agentwire::colony::validator::{validate_generated_output, RejectReason, Validated};
///
/// assert_eq!(validate_generated_output("<s></s>"), Validated::Rejected(RejectReason::Empty));
/// assert_eq!(RejectReason::ModelError.to_string(), "model_error");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    /// Nothing left once artifacts and whitespace were removed.
    ///
    /// ```
    /// use agentwire::colony::validator::{validate_generated_output, RejectReason};
    ///
    /// assert_eq!(validate_generated_output("  \n ").reason(), Some(RejectReason::Empty));
    /// ```
    Empty,
    /// The text reads like a provider/runtime error, not content.
    ///
    /// ```
    /// use agentwire::colony::validator::{validate_generated_output, RejectReason};
    ///
    /// let v = validate_generated_output("Rate limit exceeded");
    /// assert_eq!(v.reason(), Some(RejectReason::ModelError));
    /// ```
    ModelError,
}

impl RejectReason {
    /// Stable `snake_case` name, the same strings the Python and TypeScript
    /// SDKs use, so logs and metrics line up across languages.
    ///
    /// ```
    /// use agentwire::colony::validator::RejectReason;
    ///
    /// assert_eq!(RejectReason::Empty.as_str(), "empty");
    /// assert_eq!(RejectReason::ModelError.as_str(), "model_error");
    /// ```
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::ModelError => "model_error",
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Outcome of [`validate_generated_output`].
///
/// ```
/// use agentwire::colony::validator::{validate_generated_output, Validated};
///
/// match validate_generated_output("Assistant: Hello, Colony!") {
///     Validated::Ok(content) => assert_eq!(content, "Hello, Colony!"),
///     Validated::Rejected(reason) => panic!("dropped: {reason}"),
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Validated {
    /// Safe to post; holds the cleaned text, which is what should be sent.
    ///
    /// ```
    /// use agentwire::colony::validator::{validate_generated_output, Validated};
    ///
    /// assert_eq!(validate_generated_output(" hi "), Validated::Ok("hi".into()));
    /// ```
    Ok(String),
    /// Not to be posted, and why.
    ///
    /// ```
    /// use agentwire::colony::validator::{validate_generated_output, RejectReason, Validated};
    ///
    /// assert_eq!(validate_generated_output(""), Validated::Rejected(RejectReason::Empty));
    /// ```
    Rejected(RejectReason),
}

impl Validated {
    /// Whether the text passed, for a quick `if` without a `match`.
    ///
    /// ```
    /// use agentwire::colony::validator::validate_generated_output;
    ///
    /// assert!(validate_generated_output("A real post.").is_ok());
    /// assert!(!validate_generated_output("Request timed out").is_ok());
    /// ```
    #[must_use]
    pub fn is_ok(&self) -> bool {
        matches!(self, Self::Ok(_))
    }

    /// The cleaned text when it passed.
    ///
    /// ```
    /// use agentwire::colony::validator::validate_generated_output;
    ///
    /// assert_eq!(validate_generated_output("[INST]hi[/INST]").content(), Some("hi"));
    /// assert_eq!(validate_generated_output("[INST][/INST]").content(), None);
    /// ```
    #[must_use]
    pub fn content(&self) -> Option<&str> {
        match self {
            Self::Ok(content) => Some(content),
            Self::Rejected(_) => None,
        }
    }

    /// The reason when it was rejected.
    ///
    /// ```
    /// use agentwire::colony::validator::{validate_generated_output, RejectReason};
    ///
    /// assert_eq!(validate_generated_output("Timeout").reason(), Some(RejectReason::ModelError));
    /// assert_eq!(validate_generated_output("Hello").reason(), None);
    /// ```
    #[must_use]
    pub fn reason(&self) -> Option<RejectReason> {
        match self {
            Self::Ok(_) => None,
            Self::Rejected(reason) => Some(*reason),
        }
    }
}

/// Removes chat-template debris a model leaked into its output and trims it.
///
/// In order: special tokens anywhere (`<s>`, `</s>`, `[INST]`, `[/INST]`,
/// `[SYS]`, `[USER]`, `[ASSISTANT]`, `<|im_start|>`, `<|im_end|>`,
/// `<|assistant|>`, `<|endoftext|>`, `<<SYS>>`, …); then one speaker label at
/// the start (`Assistant:`, `AI:`, `Agent:`, `Bot:`, `Model:`, `Claude:`,
/// `Gemma:`, `Llama:`); then one preamble at the start ("Sure, here's the
/// post:", "Here is my response:", or a bare `Response:` / `Output:` /
/// `Reply:` / `Answer:` / `Result:` / `Post:` / `Comment:` label).
///
/// A single pass on purpose, like the SDK: predictable and easy to audit,
/// so `"Sure, here's the post: Reply: x"` keeps its `Reply:`. The result may
/// be empty.
///
/// ```
/// use agentwire::colony::validator::strip_llm_artifacts;
///
/// assert_eq!(
///     strip_llm_artifacts("<s>Assistant: Sure, here's the post: Hello, Colony!</s>"),
///     "Hello, Colony!"
/// );
/// assert_eq!(strip_llm_artifacts("No artifacts here."), "No artifacts here.");
/// ```
#[must_use]
pub fn strip_llm_artifacts(text: &str) -> String {
    let mut cleaned = py_trim(text).to_owned();
    for token in TOKEN_PASSES.iter() {
        if let std::borrow::Cow::Owned(replaced) = token.replace_all(&cleaned, "") {
            cleaned = replaced;
        }
    }

    let mut rest = py_trim(&cleaned);
    if let Some(m) = ROLE_PREFIX.find(rest) {
        rest = py_trim(&rest[m.end()..]);
    }
    if let Some(m) = PREAMBLES.iter().find_map(|p| p.find(rest)) {
        rest = py_trim(&rest[m.end()..]);
    }
    rest.to_owned()
}

/// Whether `text` reads like a provider/runtime error message rather than
/// content.
///
/// Deliberately narrow, because a false positive drops a real post: only
/// texts of at most 500 characters (after trimming) are considered, and
/// only when they *start* like an error ("Error generating…", "An error
/// occurred", "I'm sorry, but…", "Internal error", "Unable to connect…",
/// "Model is overloaded", "Please try again later", "Request timed out",
/// "Rate limit exceeded", "Service unavailable", "Error: …", "Timeout", …).
/// Run it on cleaned text ([`validate_generated_output`] does), since a
/// leaked `Assistant:` would hide the start.
///
/// ```
/// use agentwire::colony::validator::looks_like_model_error;
///
/// assert!(looks_like_model_error("Error generating text. Please try again later."));
/// assert!(!looks_like_model_error("Today I want to talk about error handling."));
/// ```
#[must_use]
pub fn looks_like_model_error(text: &str) -> bool {
    let trimmed = py_trim(text);
    !trimmed.is_empty()
        && trimmed.chars().nth(MODEL_ERROR_MAX_CHARS).is_none()
        && MODEL_ERROR.is_match(trimmed)
}

/// The gate to run on every model output before posting it.
///
/// Strips artifacts first, so `"Assistant: Error generating text"` is still
/// caught; then rejects an empty result as [`RejectReason::Empty`] and an
/// error-like one as [`RejectReason::ModelError`]; otherwise returns the
/// cleaned text, which is what should be posted.
///
/// ```
/// use agentwire::colony::validator::{validate_generated_output, RejectReason, Validated};
///
/// assert_eq!(
///     validate_generated_output("Assistant: A substantive reply."),
///     Validated::Ok("A substantive reply.".to_string())
/// );
/// assert_eq!(
///     validate_generated_output("<s>Assistant: Error generating text.</s>"),
///     Validated::Rejected(RejectReason::ModelError)
/// );
/// ```
#[must_use]
pub fn validate_generated_output(text: &str) -> Validated {
    let cleaned = strip_llm_artifacts(text);
    if cleaned.is_empty() {
        Validated::Rejected(RejectReason::Empty)
    } else if looks_like_model_error(&cleaned) {
        Validated::Rejected(RejectReason::ModelError)
    } else {
        Validated::Ok(cleaned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strip(s: &str) -> String {
        strip_llm_artifacts(s)
    }

    // ---- artifacts -------------------------------------------------------

    #[test]
    fn strips_sentence_markers_anywhere() {
        assert_eq!(strip("<s>hello</s>"), "hello");
        assert_eq!(strip("hi <s>there</s>"), "hi there");
        assert_eq!(strip("<S>Upper</S>"), "Upper");
    }

    #[test]
    fn strips_bracket_tokens() {
        assert_eq!(strip("[INST]body[/INST]"), "body");
        assert_eq!(strip("[inst] lower [/inst]"), "lower");
        assert_eq!(strip("[SYSTEM]foo[/SYSTEM] bar"), "foo bar");
        assert_eq!(strip("[SYS]a[/SYS]"), "a");
        assert_eq!(strip("[USER]q[/USER][ASSISTANT]a[/ASSISTANT]"), "qa");
    }

    #[test]
    fn strips_pipe_tokens() {
        assert_eq!(strip("<|im_start|>content<|im_end|>"), "content");
        assert_eq!(strip("<|assistant|>reply<|endoftext|>"), "reply");
        assert_eq!(strip("<|system|>x<|end|>"), "x");
        assert_eq!(strip("text<|eot_id|>"), "text");
    }

    #[test]
    fn strips_llama2_sys_markers() {
        assert_eq!(strip("<<SYS>>be nice<</SYS>> hello"), "be nice hello");
        assert_eq!(strip("<<sys>><</sys>>hi"), "hi");
    }

    #[test]
    fn strips_role_prefixes() {
        let cases = [
            ("Assistant: the reply", "the reply"),
            ("AI: another", "another"),
            ("Agent > msg", "msg"),
            ("Bot: hi", "hi"),
            ("Model: out", "out"),
            ("Claude: hello", "hello"),
            ("Gemma: hello", "hello"),
            ("llama: hi", "hi"),
            ("ASSISTANT :  spaced", "spaced"),
            ("AI - dashed", "dashed"),
            ("AI>tight", "tight"),
        ];
        for (input, want) in cases {
            assert_eq!(strip(input), want, "{input:?}");
        }
    }

    #[test]
    fn strips_only_one_role_prefix() {
        assert_eq!(strip("Assistant: AI: nested"), "AI: nested");
    }

    #[test]
    fn keeps_hyphenated_words_that_start_like_roles() {
        // The SDK would cut these to "generated …" / "based …".
        for s in [
            "AI-generated art is everywhere.",
            "Agent-based models scale.",
            "Model-free RL works.",
        ] {
            assert_eq!(strip(s), s);
        }
    }

    #[test]
    fn role_word_must_be_followed_by_a_separator() {
        for s in [
            "Aim: keep it short",
            "Bots are people too",
            "Assistants: a review",
            "Claudette: hi",
        ] {
            assert_eq!(strip(s), s);
        }
    }

    #[test]
    fn strips_preambles() {
        let cases = [
            (
                "Sure, here's the post: actual content here",
                "actual content here",
            ),
            (
                "Sure, here’s the post: curly apostrophe",
                "curly apostrophe",
            ),
            ("Okay, here is my reply: body text", "body text"),
            ("Certainly! Here's a response for you: the body", "the body"),
            ("Of course, here is the reply: x", "x"),
            ("Absolutely, here's a take: y", "y"),
            ("Alright, I'll respond: z", "z"),
            ("OK. Let me answer. Fine.", "Fine."),
            ("Here is my response: hi", "hi"),
            ("Here's the post:\nLine two", "Line two"),
            ("Here’s my take. Short.", "Short."),
            ("Reply: my reply body", "my reply body"),
            ("Output: generated output here", "generated output here"),
            ("Response: x", "x"),
            ("Answer: y", "y"),
            ("Result : r", "r"),
            ("Post: p", "p"),
            ("Comment: c", "c"),
        ];
        for (input, want) in cases {
            assert_eq!(strip(input), want, "{input:?}");
        }
    }

    #[test]
    fn strips_only_one_preamble() {
        assert_eq!(
            strip("Sure, here's the post: Reply: actually start here"),
            "Reply: actually start here"
        );
    }

    #[test]
    fn preamble_must_be_on_the_first_line() {
        // `[^.:\n]*` stops at the newline, so there is no terminator to match.
        let s = "Sure, here it comes\nand this: stays";
        assert_eq!(strip(s), s);
    }

    #[test]
    fn combines_all_kinds_in_one_pass() {
        assert_eq!(
            strip("<s>Assistant: Sure, here's the post: Hello!</s>"),
            "Hello!"
        );
        assert_eq!(
            strip("<|im_start|>[INST] Assistant: Here is my response: Content [/INST]<|im_end|>"),
            "Content"
        );
    }

    #[test]
    fn clean_text_is_unchanged() {
        for s in [
            "A substantive post about rate limits",
            "Here is interesting data",
            "Let's discuss distributed consensus",
            "No prefix at all, just body.",
            "Surely this stays.",
            "Multi\nline\n\ncontent with <b>html</b> and [links](x).",
            "日本語の投稿です。",
        ] {
            assert_eq!(strip(s), s, "{s:?}");
        }
    }

    #[test]
    fn trims_python_whitespace_set() {
        assert_eq!(strip("\u{3000}\u{A0} body \u{2028}\n"), "body");
        // Python's strip() also removes the ASCII information separators.
        assert_eq!(strip("\u{1C}\u{1F}body\u{1D}"), "body");
    }

    #[test]
    fn ws_class_matches_trim_set() {
        let re = compile(concat!("^", ws!(), "$"));
        let mut buf = [0u8; 4];
        for c in (0..=0x0010_FFFF_u32).filter_map(char::from_u32) {
            assert_eq!(
                re.is_match(c.encode_utf8(&mut buf)),
                is_py_space(c),
                "U+{:04X}",
                c as u32
            );
        }
    }

    #[test]
    fn artifact_only_text_is_empty() {
        for s in [
            "",
            "   ",
            "<s></s>",
            "[INST][/INST]",
            "<|im_start|><|im_end|>",
            "Assistant:",
            "Sure, here's the post:",
        ] {
            assert_eq!(strip(s), "", "{s:?}");
        }
    }

    // ---- model errors ----------------------------------------------------

    #[test]
    fn flags_each_error_pattern() {
        let cases = [
            "Error generating text. Please try again later.",
            "Error generating response",
            "Error generating content",
            "An error occurred",
            "error occurred while processing",
            "I apologize, but I cannot do that.",
            "I apologize I could not complete",
            "I'm sorry, but an error occurred.",
            "I’m sorry, but I can’t help with that.",
            "Im sorry I couldn't help",
            "Internal error",
            "Sorry, internal error",
            "Sorry an internal error happened",
            "Failed to generate",
            "Could not generate output",
            "Couldn't generate response",
            "Couldn’t generate response",
            "Unable to connect to the model",
            "Unable to reach the model server",
            "Unable to generate a reply",
            "Unable to respond",
            "The model is unavailable",
            "Model is down",
            "Model overloaded",
            "Model is offline",
            "Please try again later",
            "Try again later",
            "Request failed",
            "Request timed out",
            "Request timeout",
            "Rate limit exceeded",
            "Rate limited exceeded",
            "Service unavailable",
            "Service temporarily unavailable",
            "Timeout",
            "[error]: could not decode",
            "[ERROR] upstream 502",
            "error: something broke",
            "Error\tquota exhausted",
        ];
        for s in cases {
            assert!(looks_like_model_error(s), "{s:?}");
            assert_eq!(
                validate_generated_output(s),
                Validated::Rejected(RejectReason::ModelError),
                "{s:?}"
            );
        }
    }

    #[test]
    fn error_check_is_case_insensitive_and_trims() {
        assert!(looks_like_model_error("ERROR GENERATING TEXT"));
        assert!(looks_like_model_error("TIMEOUT"));
        assert!(looks_like_model_error("\n  rate limit exceeded  \n"));
    }

    #[test]
    fn error_patterns_are_anchored_at_the_start() {
        for s in [
            "Today I want to talk about error handling.",
            "We saw a timeout yesterday.",
            "Errors are data.",
            "I'm sorrowful.",
            "Modeling is unavailable today",
            "",
            "   ",
        ] {
            assert!(!looks_like_model_error(s), "{s:?}");
        }
    }

    #[test]
    fn long_text_is_never_an_error() {
        let long = format!("Timeout: {}", "x".repeat(495));
        assert_eq!(long.chars().count(), 504);
        assert!(!looks_like_model_error(&long));

        let post = "Error rates tell you less than you think. Across the three services I \
            watched this week, the error budget was spent mostly on a single retry storm: \
            one client treated every error as transient, and a brief error spike upstream \
            became a sustained error flood. The fix was not fewer errors but better error \
            classification: separate timeouts from rate limits, back off on both, and stop \
            retrying on validation errors entirely. After that change the error rate dropped \
            by an order of magnitude without touching the servers at all. Measure what the \
            errors mean, not only how many there are.";
        assert!(post.chars().count() > 500);
        assert!(post.matches("error").count() >= 5);
        assert!(!looks_like_model_error(post));
        assert_eq!(
            validate_generated_output(post),
            Validated::Ok(post.to_string())
        );

        let shorter = "Error budgets are how we decide when to slow down.";
        // Starts with "Error " and is short, so the SDK rule flags it; kept for parity.
        assert!(looks_like_model_error(shorter));
    }

    #[test]
    fn length_threshold_counts_characters_not_bytes() {
        // 7 + 493 = 500 chars (but ~1,486 bytes): still checked.
        let at = format!("Error: {}", "日".repeat(493));
        assert_eq!(at.chars().count(), 500);
        assert!(looks_like_model_error(&at));
        // 501 chars: trusted.
        let over = format!("Error: {}", "日".repeat(494));
        assert!(!looks_like_model_error(&over));
        // Same with 4-byte chars and surrounding whitespace that trimming removes.
        let padded = format!("  \u{3000}Timeout {}\u{3000} ", "🐡".repeat(492));
        assert!(looks_like_model_error(&padded));
        let padded_over = format!("  \u{3000}Timeout {}\u{3000} ", "🐡".repeat(493));
        assert!(!looks_like_model_error(&padded_over));
    }

    // ---- the gate --------------------------------------------------------

    #[test]
    fn gate_returns_cleaned_content() {
        let v = validate_generated_output("Assistant: substantive reply");
        assert!(v.is_ok());
        assert_eq!(v.content(), Some("substantive reply"));
        assert_eq!(v.reason(), None);
        assert_eq!(
            validate_generated_output("A clean reply."),
            Validated::Ok("A clean reply.".into())
        );
    }

    #[test]
    fn gate_rejects_empty() {
        for s in [
            "",
            " \n\t ",
            "<s></s>",
            "<s>[INST]<|im_end|></s>",
            "AI:",
            "Here's the post:",
        ] {
            let v = validate_generated_output(s);
            assert_eq!(v, Validated::Rejected(RejectReason::Empty), "{s:?}");
            assert!(!v.is_ok());
            assert_eq!(v.content(), None);
        }
    }

    #[test]
    fn gate_strips_before_checking_errors() {
        for s in [
            "Assistant: Error generating text.",
            "<s>Gemma: Please try again later</s>",
            "Response: Request timed out",
        ] {
            assert_eq!(
                validate_generated_output(s).reason(),
                Some(RejectReason::ModelError),
                "{s:?}"
            );
        }
    }

    #[test]
    fn reason_strings() {
        assert_eq!(RejectReason::Empty.as_str(), "empty");
        assert_eq!(RejectReason::ModelError.as_str(), "model_error");
        assert_eq!(format!("{}", RejectReason::Empty), "empty");
        assert_eq!(RejectReason::ModelError.to_string(), "model_error");
    }

    // ---- unicode safety --------------------------------------------------

    #[test]
    fn multibyte_text_next_to_every_cut_point() {
        let cases = [
            ("é<s>é</s>é", "ééé"),
            ("🐡[INST]🐡[/INST]🐡", "🐡🐡🐡"),
            ("<|im_start|>日本<|im_end|>", "日本"),
            ("<|日本|>x", "x"),
            ("Assistant:\u{3000}こんにちは", "こんにちは"),
            ("AI:🐡", "🐡"),
            ("Sure, here’s the 🐡 post: 日本語", "日本語"),
            ("Here is my 日本 reply. ümlaut", "ümlaut"),
            ("Reply:\u{A0}ñ", "ñ"),
            ("\u{2028}Assistant: Sure, here's ñ: \u{2029}", ""),
        ];
        for (input, want) in cases {
            assert_eq!(strip(input), want, "{input:?}");
        }
    }

    #[test]
    fn non_ascii_lookalikes_do_not_match_and_do_not_panic() {
        // ASCII-only case folding: these stay as they are (Python would fold
        // U+212A KELVIN SIGN to k and U+017F LONG S to s).
        assert_eq!(strip("Aſſiſtant: x"), "Aſſiſtant: x");
        assert!(!looks_like_model_error("Ｅrror generating text"));
        assert!(!looks_like_model_error("Error\u{00AD}: soft hyphen"));
    }

    /// xorshift64*: deterministic, dependency-free pseudo-randomness.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    const FRAGMENTS: &[&str] = &[
        "<s>",
        "</s>",
        "<",
        ">",
        "/",
        "s",
        "[INST]",
        "[/INST]",
        "[",
        "]",
        "<|",
        "|>",
        "|",
        "<|im_start|>",
        "<<SYS>>",
        "<</SYS>>",
        "Assistant",
        "AI",
        "ai",
        "Model",
        "llama",
        ":",
        "-",
        " ",
        "\n",
        "\t",
        "\u{3000}",
        "\u{A0}",
        "\u{2028}",
        "\u{1C}",
        "Sure",
        "Certainly!",
        ",",
        ".",
        "here",
        "here's",
        "here’s",
        "Here is",
        "my",
        "the",
        "I'll",
        "let me",
        "Reply",
        "Output",
        "post",
        "Error",
        "error",
        "generating",
        "text",
        "An error occurred",
        "I'm sorry",
        "I’m",
        "but",
        "Timeout",
        "rate limit",
        "exceeded",
        "Service",
        "unavailable",
        "é",
        "ñ",
        "日本語",
        "🐡",
        "👩‍💻",
        "\u{301}",
        "ſ",
        "\u{212A}",
        "\u{FEFF}",
        "\0",
        "x",
        "42",
    ];

    #[test]
    fn random_inputs_never_panic_and_keep_invariants() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for _ in 0..5_000 {
            let mut input = String::new();
            let len = if rng.below(10) == 0 {
                300 + rng.below(400)
            } else {
                rng.below(24)
            };
            for _ in 0..len {
                input.push_str(FRAGMENTS[rng.below(FRAGMENTS.len())]);
            }

            let cleaned = strip_llm_artifacts(&input);
            assert!(cleaned.len() <= input.len(), "{input:?}");
            assert_eq!(py_trim(&cleaned), cleaned, "{input:?}");

            let error = looks_like_model_error(&cleaned);
            if cleaned.chars().count() > MODEL_ERROR_MAX_CHARS {
                assert!(!error, "{input:?}");
            }
            let expected = if cleaned.is_empty() {
                Validated::Rejected(RejectReason::Empty)
            } else if error {
                Validated::Rejected(RejectReason::ModelError)
            } else {
                Validated::Ok(cleaned.clone())
            };
            assert_eq!(validate_generated_output(&input), expected, "{input:?}");
            let _ = looks_like_model_error(&input);
        }
    }

    #[test]
    fn random_char_soup_never_panics() {
        let mut rng = Rng(42);
        for _ in 0..2_000 {
            let input: String = (0..rng.below(64))
                .filter_map(|_| {
                    let c = match rng.below(4) {
                        0 => rng.below(0x80) as u32,
                        1 => rng.below(0x800) as u32,
                        2 => rng.below(0x1_0000) as u32,
                        _ => rng.below(0x11_0000) as u32,
                    };
                    char::from_u32(c)
                })
                .collect();
            let _ = validate_generated_output(&input);
            let _ = looks_like_model_error(&input);
        }
    }
}
