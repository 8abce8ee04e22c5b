//! `bidui keys tls-cert`: the district's self-signed certificate for the matcher's HTTPS.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use bidui_i18n::t;

#[derive(clap::Args)]
pub struct TlsCertArgs {
    /// A name the agents use to reach the matcher: a DNS name or an IP address (repeat).
    #[arg(long = "host", required = true)]
    pub hosts: Vec<String>,
    /// The certificate (PEM), to give to every agent and the operator.
    #[arg(long)]
    pub out_cert: PathBuf,
    /// The private key (PEM, PKCS#8), written 0600; it stays on the matcher's host.
    #[arg(long)]
    pub out_key: PathBuf,
    /// Days of validity.
    #[arg(long, default_value_t = 825)]
    pub days: u32,
    /// The certificate's common name.
    #[arg(long, default_value = "bidui matcher")]
    pub name: String,
}

/// Writes a new certificate and key; refuses to overwrite either. Returns the fingerprint.
pub fn write_certificate(
    hosts: &[String],
    name: &str,
    days: u32,
    out_cert: &Path,
    out_key: &Path,
) -> anyhow::Result<String> {
    for path in [out_key, out_cert] {
        if path.exists() {
            bail!(t!("never-overwrites", path = path.display()));
        }
    }
    let generated = bidui_matcher::tls::generate_self_signed(hosts, name, days)?;
    // The key first, created exclusively: if anything races us, nothing is replaced.
    bidui_keyfile::write_secret_file(out_key, generated.key_pem.as_bytes())?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    std::io::Write::write_all(
        &mut options.open(out_cert).with_context(|| t!("creating", path = out_cert.display()))?,
        generated.certificate_pem.as_bytes(),
    )
    .with_context(|| t!("writing", path = out_cert.display()))?;
    Ok(generated.fingerprint)
}

pub fn tls_cert(args: TlsCertArgs) -> anyhow::Result<()> {
    let fingerprint = write_certificate(&args.hosts, &args.name, args.days, &args.out_cert, &args.out_key)?;
    println!("{fingerprint}");
    eprintln!(
        "{}",
        t!(
            "tls-cert-written",
            hosts = args.hosts.join(", "),
            certificate = args.out_cert.display(),
            key = args.out_key.display()
        )
    );
    Ok(())
}
