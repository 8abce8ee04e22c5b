//! What the `bidui` command line and the console's pages say to people, in Chinese (the
//! default) and English.
//!
//! One [Project Fluent](https://projectfluent.org) catalogue per language under `locales/`
//! (`zh-CN.ftl`, `en.ftl`), compiled in. Code names a message by its key with [`t!`]; the
//! tests check that both catalogues hold the same keys with the same variables, and that
//! every key the workspace's code uses exists with exactly the variables it passes. Logs,
//! protocol codes and file formats are not messages: they stay stable ASCII.

#![forbid(unsafe_code)]

use std::cell::Cell;
use std::str::FromStr;
use std::sync::OnceLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};

/// A language the command line speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    /// Simplified Chinese: what everyone who runs bidui reads first.
    Zh,
    En,
}

/// Every catalogue: the language and its Fluent source.
pub const CATALOGUES: [(Lang, &str); 2] =
    [(Lang::Zh, include_str!("../locales/zh-CN.ftl")), (Lang::En, include_str!("../locales/en.ftl"))];

impl Lang {
    /// The language of a POSIX locale: the first of `LC_ALL`, `LC_MESSAGES`, `LANG` that is
    /// set and not empty decides; English when it starts with `en`, Chinese otherwise.
    pub fn from_locale(lc_all: Option<&str>, lc_messages: Option<&str>, lang: Option<&str>) -> Lang {
        match [lc_all, lc_messages, lang].into_iter().flatten().find(|v| !v.is_empty()) {
            Some(locale) if locale.starts_with("en") => Lang::En,
            _ => Lang::Zh,
        }
    }

    /// [`Lang::from_locale`] of this process's environment.
    pub fn from_environment() -> Lang {
        let var = |name| std::env::var(name).ok();
        Lang::from_locale(var("LC_ALL").as_deref(), var("LC_MESSAGES").as_deref(), var("LANG").as_deref())
    }

    /// The BCP 47 tag of the catalogue.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// The value `--lang` takes for this language.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    fn source(self) -> &'static str {
        CATALOGUES.iter().find(|(lang, _)| *lang == self).expect("every language has a catalogue").1
    }
}

impl FromStr for Lang {
    type Err = String;

    fn from_str(text: &str) -> Result<Lang, String> {
        match text.to_ascii_lowercase().replace('_', "-").as_str() {
            "zh" | "zh-cn" | "cn" => Ok(Lang::Zh),
            "en" | "en-us" | "en-gb" => Ok(Lang::En),
            _ => Err(format!("unknown language {text:?}: zh (中文) or en (English)")),
        }
    }
}

static CHOSEN: OnceLock<Lang> = OnceLock::new();

/// Chooses the language for the rest of the process (`--lang`); the first choice holds.
pub fn set_language(lang: Lang) {
    let _ = CHOSEN.set(lang);
}

thread_local! {
    static ON_THIS_THREAD: Cell<Option<Lang>> = const { Cell::new(None) };
}

/// `f`'s messages on this thread in `lang`, whatever the process chose: a log line that must
/// stay English, or a test of both languages in one process.
pub fn in_language<R>(lang: Lang, f: impl FnOnce() -> R) -> R {
    /// Puts the earlier language back even when `f` panics.
    struct Restore(Option<Lang>);
    impl Drop for Restore {
        fn drop(&mut self) {
            ON_THIS_THREAD.set(self.0);
        }
    }
    let _restore = Restore(ON_THIS_THREAD.replace(Some(lang)));
    f()
}

/// The language of [`in_language`] on this thread, else the one chosen, else the locale's.
pub fn language() -> Lang {
    ON_THIS_THREAD.get().unwrap_or_else(|| *CHOSEN.get_or_init(Lang::from_environment))
}

/// A text said in every language where it is made, shown in the reader's language where it
/// is read: for a message made as a file is read (perhaps on another thread) and read later,
/// perhaps in a log line that stays English ([`in_language`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Said {
    zh: String,
    en: String,
}

impl Said {
    /// `say` (a [`t!`] call, or any text) in every language.
    pub fn new(say: impl Fn() -> String) -> Said {
        Said { zh: in_language(Lang::Zh, &say), en: in_language(Lang::En, &say) }
    }

    /// The text in `lang`.
    pub fn in_lang(&self, lang: Lang) -> &str {
        match lang {
            Lang::Zh => &self.zh,
            Lang::En => &self.en,
        }
    }
}

impl std::fmt::Display for Said {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.in_lang(language()))
    }
}

fn bundle(lang: Lang) -> &'static FluentBundle<FluentResource> {
    static BUNDLES: [OnceLock<FluentBundle<FluentResource>>; 2] = [OnceLock::new(), OnceLock::new()];
    BUNDLES[lang as usize].get_or_init(|| {
        let resource = FluentResource::try_new(lang.source().to_owned())
            .unwrap_or_else(|(_, errors)| panic!("the {} catalogue does not parse: {errors:?}", lang.tag()));
        let mut bundle = FluentBundle::new_concurrent(vec![lang.tag().parse().expect("a valid language tag")]);
        // Terminal text: no Unicode isolation marks around the values.
        bundle.set_use_isolating(false);
        bundle.add_resource(resource).expect("message keys are unique");
        bundle
    })
}

/// The message `key` in the chosen language, its variables set from `args`. A key
/// missing from the catalogue (which the tests rule out) comes out as itself.
pub fn message(key: &str, args: &[(&str, String)]) -> String {
    message_in(language(), key, args)
}

/// Whether the catalogue of `lang` holds a message `key` with a value.
pub fn has_message(lang: Lang, key: &str) -> bool {
    bundle(lang).get_message(key).is_some_and(|m| m.value().is_some())
}

/// [`message`] in a given language.
pub fn message_in(lang: Lang, key: &str, args: &[(&str, String)]) -> String {
    let bundle = bundle(lang);
    let Some(pattern) = bundle.get_message(key).and_then(|m| m.value()) else { return key.to_owned() };
    let mut values = FluentArgs::new();
    for (name, value) in args {
        values.set(*name, FluentValue::from(value.as_str()));
    }
    let mut errors = Vec::new();
    bundle.format_pattern(pattern, Some(&values), &mut errors).into_owned()
}

/// A message by its key (a string literal), then its variables as `name = value` pairs, each
/// value shown with its `Display`.
#[macro_export]
macro_rules! t {
    ($key:literal $(, $name:ident = $value:expr)* $(,)?) => {
        $crate::message($key, &[$((stringify!($name), ::std::string::ToString::to_string(&$value))),*])
    };
}

/// [`t!`] in a given language, named before the key.
#[macro_export]
macro_rules! t_in {
    ($lang:expr, $key:literal $(, $name:ident = $value:expr)* $(,)?) => {
        $crate::message_in($lang, $key, &[$((stringify!($name), ::std::string::ToString::to_string(&$value))),*])
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_locale_decides_english_or_chinese() {
        assert_eq!(Lang::from_locale(None, None, None), Lang::Zh);
        assert_eq!(Lang::from_locale(None, None, Some("en_US.UTF-8")), Lang::En);
        assert_eq!(Lang::from_locale(None, None, Some("C.UTF-8")), Lang::Zh);
        assert_eq!(Lang::from_locale(Some("zh_CN.UTF-8"), None, Some("en_US.UTF-8")), Lang::Zh);
        assert_eq!(Lang::from_locale(Some(""), Some("en_GB"), Some("zh_CN")), Lang::En);
        assert_eq!("en".parse::<Lang>(), Ok(Lang::En));
        assert_eq!("zh_CN".parse::<Lang>(), Ok(Lang::Zh));
        assert!("fr".parse::<Lang>().is_err());
    }

    #[test]
    fn a_said_text_is_shown_in_the_language_it_is_read_in() {
        // Made in Chinese, read in English (a log line), and the other way round.
        let said = in_language(Lang::Zh, || Said::new(|| t!("none")));
        assert_eq!(in_language(Lang::En, || said.to_string()), "none");
        assert_eq!(in_language(Lang::Zh, || said.to_string()), "无");
        let plain = Said::new(|| "os error 2".to_owned());
        assert_eq!((plain.in_lang(Lang::Zh), plain.in_lang(Lang::En)), ("os error 2", "os error 2"));
    }

    #[test]
    fn in_language_holds_for_its_closure_only() {
        let outside = language();
        assert_eq!(in_language(Lang::En, || in_language(Lang::Zh, language)), Lang::Zh);
        assert_eq!(in_language(Lang::En, language), Lang::En);
        assert_eq!(in_language(Lang::Zh, || t!("none")), "无");
        assert_eq!(in_language(Lang::En, || t!("none")), "none");
        assert_eq!(language(), outside);
    }
}
