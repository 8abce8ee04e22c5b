//! The language a page is written in: Chinese, or English on request.
//!
//! The console process's language (`bidui --lang`, or the locale) is the default. A browser
//! chooses the other with the link in every page's header, `GET /language?to=en&back=/…`,
//! which sets the [`LANGUAGE_COOKIE`] and sends the browser back to the page it came from.
//! The switch needs no session and touches none: it is open before sign-in too, and a
//! preference is all it sets.
//!
//! [`crate::session::gate`] reads the choice of every request and keeps it, with the way back,
//! for as long as the request is answered ([`answer`]); a page is rendered synchronously
//! inside [`render`], so its `t!` calls speak that language on whatever thread the request
//! runs. The process's language is never changed per request.

use std::future::Future;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use bidui_i18n::Lang;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde::Deserialize;
use tokio::task::JoinHandle;

use crate::session::cookie_value;
use crate::Console;

/// The cookie holding a browser's choice: a language's code, `zh` or `en`.
pub const LANGUAGE_COOKIE: &str = "bidui_lang";
/// The path of the switch.
pub const SWITCH_PATH: &str = "/language";
/// How long a browser keeps its choice: a year (it is a preference, nothing more).
const CHOICE_SECONDS: u64 = 365 * 24 * 3600;

/// What a page needs of the request it answers.
#[derive(Clone, Debug)]
struct Asked {
    lang: Lang,
    /// Where the switch brings the browser back: this page, when it can be fetched again.
    back: String,
}

tokio::task_local! {
    static ASKED: Asked;
}

/// The language a request asks for: its cookie's, else `default`. A value that names no
/// language (an old or forged cookie) is no choice.
pub fn chosen(headers: &HeaderMap, default: Lang) -> Lang {
    cookie_value(headers, LANGUAGE_COOKIE)
        .and_then(|code| [Lang::Zh, Lang::En].into_iter().find(|lang| lang.code() == code))
        .unwrap_or(default)
}

/// Answers `request` with `answer` in `lang`: the pages rendered meanwhile speak it, and
/// their switch comes back to this page.
pub async fn answer<F: Future>(lang: Lang, request: Request, answer: impl FnOnce(Request) -> F) -> F::Output {
    // A form's answer cannot be fetched again: its switch goes to the start page.
    let page = matches!(*request.method(), Method::GET | Method::HEAD);
    let back = request.uri().path_and_query().filter(|_| page).map_or("/", |p| p.as_str()).to_owned();
    ASKED.scope(Asked { lang, back }, answer(request)).await
}

/// The language of the request being answered; the process's outside one.
pub fn current() -> Lang {
    ASKED.try_with(|asked| asked.lang).unwrap_or_else(|_| bidui_i18n::language())
}

/// `work` on a thread for blocking work, saying what it says (an error made there) in the
/// language of the request being answered.
pub fn spawn_blocking<R: Send + 'static>(work: impl FnOnce() -> R + Send + 'static) -> JoinHandle<R> {
    let lang = current();
    tokio::task::spawn_blocking(move || bidui_i18n::in_language(lang, work))
}

/// A page rendered in the language of the request being answered.
pub fn render(page: impl FnOnce() -> String) -> String {
    bidui_i18n::in_language(current(), page)
}

/// The switch's link to the page being answered in `lang`.
pub fn switch_link(lang: Lang) -> String {
    let back = ASKED.try_with(|asked| asked.back.clone()).unwrap_or_else(|_| "/".to_owned());
    format!("{SWITCH_PATH}?to={}&back={}", lang.code(), utf8_percent_encode(&back, NON_ALPHANUMERIC))
}

/// `back` when it is a path on this site; the start page otherwise. Only a path that starts
/// with one `/` stays on the site: `//host` and `/\host` are other sites to a browser, and
/// anything but printable ASCII is no path the switch ever links to.
pub fn same_site(back: &str) -> &str {
    let path = back.starts_with('/')
        && !back.starts_with("//")
        && !back.contains('\\')
        && back.bytes().all(|b| b.is_ascii_graphic());
    if path {
        back
    } else {
        "/"
    }
}

/// The switch's query: the language's code, and the page to go back to.
#[derive(Deserialize)]
pub struct Switch {
    #[serde(default)]
    to: String,
    #[serde(default)]
    back: String,
}

/// `GET /language?to=en&back=/…`: keeps the choice in the browser and goes back. An unknown
/// language changes nothing.
pub async fn switch(
    State(console): State<Arc<Console>>,
    form: Result<Form<Switch>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(switch)) = form else { return Redirect::to("/").into_response() };
    let mut response = Redirect::to(same_site(&switch.back)).into_response();
    if let Some(lang) = [Lang::Zh, Lang::En].into_iter().find(|lang| lang.code() == switch.to) {
        let cookie = console.gate().cookie(LANGUAGE_COOKIE, lang.code(), Some(CHOICE_SECONDS));
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_path_of_this_site_is_a_way_back() {
        for kept in ["/", "/rounds/zc-1", "/rounds/zc-1/towns/%E8%8D%94?x=1", "/signin"] {
            assert_eq!(same_site(kept), kept);
        }
        for refused in [
            "",
            "https://evil.example/",
            "//evil.example/",
            "/\\evil.example",
            "evil",
            "/a b",
            "/\r\nSet-Cookie:x",
            "/é",
        ] {
            assert_eq!(same_site(refused), "/", "{refused:?}");
        }
    }

    #[test]
    fn a_cookie_that_names_no_language_is_no_choice() {
        let with = |cookie: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::COOKIE, cookie.parse().unwrap());
            headers
        };
        assert_eq!(chosen(&with("bidui_lang=en"), Lang::Zh), Lang::En);
        assert_eq!(chosen(&with("a=1; bidui_lang=zh"), Lang::En), Lang::Zh);
        assert_eq!(chosen(&with("bidui_lang=klingon"), Lang::Zh), Lang::Zh);
        assert_eq!(chosen(&with("bidui_lang=klingon"), Lang::En), Lang::En);
        assert_eq!(chosen(&HeaderMap::new(), Lang::En), Lang::En);
    }
}
