//! Problems found in a manifest: errors that stop a render and warnings that do not, each pointing
//! at the place in the YAML it is about, rendered by miette.

use miette::{Diagnostic, LabeledSpan, NamedSource, SourceSpan};
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

/// A byte range in the manifest text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// Byte offset of the start.
    pub offset: usize,
    /// Length in bytes.
    pub len: usize,
}

impl Span {
    /// A span from an offset and a length.
    pub const fn new(offset: usize, len: usize) -> Self {
        Self { offset, len }
    }

    /// The byte range, for slicing the text.
    pub fn range(self) -> Range<usize> {
        self.offset..self.offset + self.len
    }
}

impl From<Span> for SourceSpan {
    fn from(span: Span) -> Self {
        SourceSpan::new(span.offset.into(), span.len)
    }
}

/// A value together with where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// Where it was written.
    pub span: Span,
}

impl<T> Spanned<T> {
    /// Pairs a value with its place.
    pub fn new(value: T, span: Span) -> Self {
        Self { value, span }
    }
}

/// How serious a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Worth knowing; the manifest still renders.
    Warning,
    /// The manifest cannot be rendered until this is fixed.
    Error,
}

/// One thing wrong with a manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// Error or warning.
    pub severity: Severity,
    /// A stable kebab-case code, shown as `episodic::<code>`.
    pub code: &'static str,
    /// What is wrong, in one sentence.
    pub message: String,
    /// Where, when the problem is about a place in the manifest.
    pub span: Option<Span>,
    /// The text drawn under the place.
    pub label: String,
    /// What to do about it.
    pub help: Option<String>,
    /// Other places that explain the problem ("first used here").
    pub related: Vec<(Span, String)>,
}

impl Problem {
    /// A new error.
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Severity::Error, code, message)
    }

    /// A new warning.
    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Severity::Warning, code, message)
    }

    fn new(severity: Severity, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            severity,
            code,
            message: message.into(),
            span: None,
            label: String::new(),
            help: None,
            related: Vec::new(),
        }
    }

    /// Points the problem at a place, with a label drawn under it.
    pub fn with_span(mut self, span: Span, label: impl Into<String>) -> Self {
        self.span = Some(span);
        self.label = label.into();
        self
    }

    /// Says what to do.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds another place that explains the problem.
    pub fn with_related(mut self, span: Span, label: impl Into<String>) -> Self {
        self.related.push((span, label.into()));
        self
    }

    /// Whether this problem stops a render.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Binds the problem to the manifest text it points into, for rendering.
    pub fn diagnostic(&self, source: &ManifestSource) -> ProblemDiagnostic {
        ProblemDiagnostic {
            problem: self.clone(),
            code: format!("episodic::{}", self.code),
            source: NamedSource::new(source.display_name.clone(), Arc::clone(&source.text)),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The manifest text and the name it is shown under.
#[derive(Debug, Clone)]
pub struct ManifestSource {
    /// The path as the user wrote it.
    pub display_name: String,
    /// The text, shared with every diagnostic that shows it.
    pub text: Arc<String>,
}

/// A [`Problem`] with its manifest text, ready for a miette handler.
#[derive(Debug)]
pub struct ProblemDiagnostic {
    problem: Problem,
    code: String,
    source: NamedSource<Arc<String>>,
}

impl fmt::Display for ProblemDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.problem.message)
    }
}

impl std::error::Error for ProblemDiagnostic {}

impl Diagnostic for ProblemDiagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(&self.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.problem.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.problem.help.as_ref().map(|help| Box::new(help) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let primary = self.problem.span.map(|span| {
            let label = (!self.problem.label.is_empty()).then(|| self.problem.label.clone());
            LabeledSpan::new_primary_with_span(label, span)
        });
        let related = self
            .problem
            .related
            .iter()
            .map(|(span, label)| LabeledSpan::new_with_span(Some(label.clone()), *span));
        let labels: Vec<LabeledSpan> = primary.into_iter().chain(related).collect();
        if labels.is_empty() { None } else { Some(Box::new(labels.into_iter())) }
    }
}
