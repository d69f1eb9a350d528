//! The HTML pages, from the templates in `crates/sceau-server/templates/`: askama checks
//! them when the crate is built, and escapes every value they show (text and attribute
//! values alike). No page carries an inline script or style, and only the notary's
//! station runs one, from a file (`station.rs`); the handlers that serve them are in
//! `api/` (`pages.rs`, `pay.rs`, `sign_pages.rs`, `notary_pages.rs`).

pub mod check_pdf;
pub(crate) mod console;
pub mod delivery;
pub mod notary;
pub mod pay;
pub mod signatures;
pub mod wallet;

use crate::error::ApiError;
use askama::Template;
use axum::response::Html;

/// A page, rendered.
pub(crate) fn render(template: &impl Template) -> Result<Html<String>, ApiError> {
    template
        .render()
        .map(Html)
        .map_err(|_| ApiError::from(sceau_app::error::internal("page template")))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
pub(crate) mod tests {
    /// Text that would break out of an element or an attribute if it were not escaped.
    pub const HOSTILE: &str = "<script>alert(\"x\")</script> & 'y'";

    /// Checks that `page` shows `HOSTILE` escaped, and never as markup.
    pub fn check_escaped(page: &str) {
        let escaped = "&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62; &#38; &#39;y&#39;";
        assert!(page.contains(escaped), "{page}");
        assert!(!page.contains("<script"), "{page}");
        assert!(!page.contains("\"x\""), "{page}");
        assert!(!page.contains("'y'"), "{page}");
        assert!(!page.contains(" & "), "{page}");
    }
}
