//! The console's accounts: a JSON file the bureau keeps beside the console (0600, written
//! atomically, changed only by `bidui console account …`), each account a name, a role and
//! an argon2id password hash (a PHC string: the salt and the costs travel with the hash).
//!
//! A change is a load, a change and a save of the whole file: two at once (two
//! administrators, a script adding towns in parallel) would each load the old file and the
//! later save would drop the other's change. So a change goes through [`Accounts::lock`],
//! which takes an exclusive advisory lock on `<file>.lock` beside it before loading and
//! hands back a [`Locked`] holding both; only [`Locked::save`] writes the file, and it
//! consumes the lock, so no path can change the file without holding it. The lock file is
//! created 0600 and never deleted: a lock is only a lock on a file every changer opens, and
//! one deleted and created again would be another. Readers (the serving console) take no
//! lock: the rename means they see the old file or the new one.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write as _;
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use serde::{Deserialize, Serialize};

/// The shortest password taken (characters).
pub const MIN_PASSWORD_CHARS: usize = 10;
/// The longest password taken (bytes): a sign-in form cannot make the hash read megabytes.
pub const MAX_PASSWORD_BYTES: usize = 256;
/// The longest account name (bytes).
const MAX_NAME_BYTES: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{}", bidui_i18n::t!("console-accounts-unreadable", path = .path.display(), source = .source))]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{}", bidui_i18n::t!("console-accounts-bad", path = .path.display(), message = .message))]
    Parse { path: PathBuf, message: String },
    #[error("{}", bidui_i18n::t!("console-accounts-unwritten", path = .path.display(), source = .source))]
    Write { path: PathBuf, source: std::io::Error },
    #[error("{}", bidui_i18n::t!("console-accounts-unlocked", path = .path.display(), source = .source))]
    Lock { path: PathBuf, source: std::io::Error },
    #[error("{}", bidui_i18n::t!("console-account-exists", name = .0))]
    Exists(String),
    #[error("{}", bidui_i18n::t!("console-account-missing", name = .0))]
    NoSuch(String),
    #[error("{}", bidui_i18n::t!("console-account-bad-name", name = format!("{:?}", .0)))]
    BadName(String),
    #[error("{}", bidui_i18n::t!("console-account-town-missing"))]
    TownMissing,
    #[error("{}", bidui_i18n::t!("console-account-town-for-bureau"))]
    TownForBureau,
    #[error("{}", bidui_i18n::t!("console-password-weak", why = .0))]
    WeakPassword(String),
    #[error("{}", bidui_i18n::t!("console-password-unhashed", error = .0))]
    Hash(String),
}

/// What an account may see.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Role {
    /// The bureau's staff: every town, with names; the summary, progress, the report upward, the audit trail.
    Bureau,
    /// A town's staff: that town's list and workbook, and returning its own workbook.
    Town { town: String },
}

impl Role {
    /// `bureau` or `town:荔城街道`, as `account list` prints it.
    pub fn describe(&self) -> String {
        match self {
            Role::Bureau => "bureau".to_owned(),
            Role::Town { town } => format!("town:{town}"),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Account {
    #[serde(flatten)]
    pub role: Role,
    /// The argon2id PHC string.
    pub password: String,
}

/// Every account, by name.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Accounts {
    pub accounts: BTreeMap<String, Account>,
}

impl Accounts {
    /// Reads the file; a missing file is no accounts (the first `account add` creates it).
    pub fn load_or_empty(path: &Path) -> Result<Accounts, AccountError> {
        match std::fs::read(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Accounts::default()),
            Err(e) => Err(AccountError::Read { path: path.to_owned(), source: e }),
            Ok(bytes) => Accounts::parse(path, &bytes),
        }
    }

    /// Reads the file the console serves with: it must exist and hold an account.
    pub fn load(path: &Path) -> Result<Accounts, AccountError> {
        let bytes = std::fs::read(path).map_err(|e| AccountError::Read { path: path.to_owned(), source: e })?;
        let accounts = Accounts::parse(path, &bytes)?;
        if accounts.accounts.is_empty() {
            return Err(AccountError::Parse {
                path: path.to_owned(),
                message: bidui_i18n::t!("console-accounts-none"),
            });
        }
        Ok(accounts)
    }

    fn parse(path: &Path, bytes: &[u8]) -> Result<Accounts, AccountError> {
        let accounts: Accounts = serde_json::from_slice(bytes)
            .map_err(|e| AccountError::Parse { path: path.to_owned(), message: e.to_string() })?;
        for (name, account) in &accounts.accounts {
            check_name(name)?;
            PasswordHash::new(&account.password).map_err(|e| AccountError::Parse {
                path: path.to_owned(),
                message: bidui_i18n::t!("console-accounts-bad-hash", name = name, error = e),
            })?;
        }
        Ok(accounts)
    }

    /// The file, loaded for a change under its lock (a missing file is no accounts): waits
    /// while another change holds it. The change is written with [`Locked::save`].
    pub fn lock(path: &Path) -> Result<Locked, AccountError> {
        let lock_path = lock_path(path);
        let error = |source| AccountError::Lock { path: lock_path.clone(), source };
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(false);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let lock = options.open(&lock_path).map_err(error)?;
        lock.lock().map_err(error)?;
        // Loaded only now: what another change saved before it let go is in it.
        let accounts = Accounts::load_or_empty(path)?;
        Ok(Locked { accounts, path: path.to_owned(), _lock: lock })
    }

    /// Writes the whole file anew beside the old one and renames it over: a reader sees the
    /// old file or the new one, never half of one. The file is the owner's only (0600).
    fn save(&self, path: &Path) -> Result<(), AccountError> {
        let error = |e| AccountError::Write { path: path.to_owned(), source: e };
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        // tempfile creates the file 0600.
        let mut file = tempfile::Builder::new().prefix(".accounts-").suffix(".tmp").tempfile_in(dir).map_err(error)?;
        let mut json = serde_json::to_vec_pretty(self).expect("accounts serialize");
        json.push(b'\n');
        file.write_all(&json).map_err(error)?;
        file.as_file().sync_all().map_err(error)?;
        file.persist(path).map_err(|e| error(e.error))?;
        Ok(())
    }

    /// A new account; refuses a name already there.
    pub fn add(&mut self, name: &str, role: Role, password: &str) -> Result<(), AccountError> {
        check_name(name)?;
        if let Role::Town { town } = &role {
            if town.trim().is_empty() {
                return Err(AccountError::TownMissing);
            }
        }
        if self.accounts.contains_key(name) {
            return Err(AccountError::Exists(name.to_owned()));
        }
        let password = hash_password(name, password)?;
        self.accounts.insert(name.to_owned(), Account { role, password });
        Ok(())
    }

    pub fn remove(&mut self, name: &str) -> Result<(), AccountError> {
        self.accounts.remove(name).map(|_| ()).ok_or_else(|| AccountError::NoSuch(name.to_owned()))
    }

    /// A new password for an existing account.
    pub fn set_password(&mut self, name: &str, password: &str) -> Result<(), AccountError> {
        let hash = hash_password(name, password)?;
        let account = self.accounts.get_mut(name).ok_or_else(|| AccountError::NoSuch(name.to_owned()))?;
        account.password = hash;
        Ok(())
    }
}

/// `<file>.lock` beside the accounts file.
fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(".lock");
    path.with_file_name(name)
}

/// The accounts file loaded for a change, and its lock, held until [`Locked::save`] (or the
/// change is dropped, leaving the file as it was).
pub struct Locked {
    accounts: Accounts,
    path: PathBuf,
    /// Closing the file lets the lock go.
    _lock: File,
}

impl Locked {
    /// Writes the changed accounts, then lets the lock go.
    pub fn save(self) -> Result<(), AccountError> {
        self.accounts.save(&self.path)
    }
}

impl Deref for Locked {
    type Target = Accounts;

    fn deref(&self) -> &Accounts {
        &self.accounts
    }
}

impl DerefMut for Locked {
    fn deref_mut(&mut self) -> &mut Accounts {
        &mut self.accounts
    }
}

fn check_name(name: &str) -> Result<(), AccountError> {
    let fits = !name.is_empty()
        && name.len() <= MAX_NAME_BYTES
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if fits {
        Ok(())
    } else {
        Err(AccountError::BadName(name.to_owned()))
    }
}

/// Refuses a password a guesser would try early: short, of few distinct characters, or
/// holding the account's name.
pub fn check_password(name: &str, password: &str) -> Result<(), AccountError> {
    if password.trim().is_empty() {
        return Err(AccountError::WeakPassword(bidui_i18n::t!("console-password-empty")));
    }
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AccountError::WeakPassword(bidui_i18n::t!("console-password-short", chars = MIN_PASSWORD_CHARS)));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(AccountError::WeakPassword(bidui_i18n::t!("console-password-long", bytes = MAX_PASSWORD_BYTES)));
    }
    let distinct: std::collections::BTreeSet<char> = password.chars().collect();
    if distinct.len() < 5 {
        return Err(AccountError::WeakPassword(bidui_i18n::t!("console-password-few-characters")));
    }
    if password.to_lowercase().contains(&name.to_lowercase()) {
        return Err(AccountError::WeakPassword(bidui_i18n::t!("console-password-holds-name")));
    }
    Ok(())
}

/// The argon2 instance every hash is made with: argon2id, the crate's defaults (19 MiB,
/// two passes, one lane: OWASP's recommendation).
fn argon2() -> Argon2<'static> {
    Argon2::default()
}

fn hash_password(name: &str, password: &str) -> Result<String, AccountError> {
    check_password(name, password)?;
    hash_unchecked(password)
}

fn hash_unchecked(password: &str) -> Result<String, AccountError> {
    let mut salt = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut salt)
        .map_err(|_| AccountError::Hash("the system's random number generator failed".to_owned()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| AccountError::Hash(e.to_string()))?;
    let hash = argon2().hash_password(password.as_bytes(), &salt).map_err(|e| AccountError::Hash(e.to_string()))?;
    Ok(hash.to_string())
}

/// A hash of a random password with the same costs: checked when the name is no account,
/// so that a wrong name costs what a wrong password costs.
pub fn dummy_hash() -> String {
    let mut random = [0u8; 24];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut random);
    hash_unchecked(&hex::encode(random)).expect("hashing a random password")
}

/// Whether `password` is the one `phc` was made from (argon2's comparison is constant-time).
pub fn verify(phc: &str, password: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|hash| argon2().verify_password(password.as_bytes(), &hash).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_passwords_are_refused() {
        for weak in ["", "          ", "short1", "aaaaaaaaaaaa", "ababababab12", "xx-zhang-san-xx"] {
            assert!(check_password("zhang-san", weak).is_err(), "{weak:?}");
        }
        assert!(check_password("zhang-san", "荔城街道整改2026春").is_ok());
    }

    #[test]
    fn the_hash_is_argon2id_and_verifies_only_its_password() {
        let mut accounts = Accounts::default();
        accounts.add("lc", Role::Town { town: "荔城街道".into() }, "correct horse 7").unwrap();
        let phc = &accounts.accounts["lc"].password;
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(verify(phc, "correct horse 7"));
        assert!(!verify(phc, "correct horse 8"));
        assert!(matches!(accounts.add("lc", Role::Bureau, "another pass 9"), Err(AccountError::Exists(_))));
    }

    #[test]
    fn names_are_plain_ascii() {
        for bad in ["", "a b", "荔城", "a/b", "a\nb", &"x".repeat(65)] {
            assert!(matches!(check_name(bad), Err(AccountError::BadName(_))), "{bad:?}");
        }
        check_name("lc.town-1_a").unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn the_file_is_private_and_replaced_whole() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("accounts.json");
        let mut accounts = Accounts::lock(&path).unwrap();
        accounts.add("admin", Role::Bureau, "bureau pass 2026").unwrap();
        accounts.save().unwrap();
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&dir.path().join("accounts.json.lock")), 0o600);
        let mut again = Accounts::lock(&path).unwrap();
        again.set_password("admin", "bureau pass 2027").unwrap();
        again.save().unwrap();
        assert!(verify(&Accounts::load(&path).unwrap().accounts["admin"].password, "bureau pass 2027"));
        let mut left: Vec<String> =
            std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        left.sort();
        assert_eq!(left, ["accounts.json", "accounts.json.lock"], "no temporary file is left, the lock file stays");
    }

    #[test]
    fn concurrent_account_commands_keep_every_account() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("accounts.json");
        let start = std::sync::Barrier::new(8);
        std::thread::scope(|scope| {
            for n in 0..8 {
                let (path, start) = (&path, &start);
                scope.spawn(move || {
                    start.wait();
                    // As `bidui console account add` does: load, hash (tens of
                    // milliseconds, the window another command would slip into), save.
                    let mut accounts = Accounts::lock(path).unwrap();
                    accounts
                        .add(&format!("town{n}"), Role::Town { town: format!("镇街{n}") }, "a town pass 2026")
                        .unwrap();
                    accounts.save().unwrap();
                });
            }
        });
        let names: Vec<String> = Accounts::load(&path).unwrap().accounts.into_keys().collect();
        assert_eq!(names, (0..8).map(|n| format!("town{n}")).collect::<Vec<_>>());
    }
}
