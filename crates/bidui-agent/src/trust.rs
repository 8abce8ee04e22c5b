//! Trust in the job: an agent acts only on the operator's signed job spec, never on what
//! the matcher says about it (spec-v2 §5). The spec verifies under the configured
//! `operator_key`, or under the key the custodian's statement enrols for the signing
//! operator, checked with the configured `custodian_key`.

use bidui_core::api::{Assignment, JobSignatureError, JobSpec};
use bidui_core::custody::{Action, PrincipalRole};

#[derive(Debug, thiserror::Error)]
pub enum JobTrustError {
    #[error("{}", bidui_i18n::t!("agent-error-no-trust-anchor"))]
    NoTrustAnchor,
    #[error("{}", bidui_i18n::t!("agent-error-bad-key", key = .0))]
    BadKey(&'static str),
    #[error("{}", bidui_i18n::t!("agent-error-no-operator-statement", operator = format!("{:?}", .0)))]
    NoOperatorStatement(String),
    #[error(
        "{}",
        bidui_i18n::t!("agent-error-bad-operator-statement", signer = format!("{:?}", .signer), fault = .fault)
    )]
    BadOperatorStatement { signer: String, fault: StatementFault },
    #[error("{}", bidui_i18n::t!("agent-error-signature", error = signature_error(.0)))]
    Signature(#[from] JobSignatureError),
    #[error("{}", bidui_i18n::t!("agent-error-other-job", found = format!("{:?}", .found), asked = format!("{:?}", .asked)))]
    OtherJob { asked: String, found: String },
    #[error("{}", bidui_i18n::t!("agent-error-not-a-party", party = format!("{:?}", .party), job = .job))]
    NotAParty { party: String, job: String },
}

/// A job signature error in the reader's language. `bidui_core` stays free of the catalogue
/// (sans-IO; the matcher answers its English text on the wire), so its error is said here,
/// where a person reads it.
fn signature_error(error: &JobSignatureError) -> String {
    match error {
        JobSignatureError::BadSignature(signer) => bidui_i18n::t!("job-signature-bad", signer = signer),
        JobSignatureError::Invalid(reason) => bidui_i18n::t!("job-signature-invalid", reason = reason),
    }
}

/// What is wrong with the custodian statement the matcher relayed for the job's operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StatementFault {
    #[error("{}", bidui_i18n::t!("agent-statement-not-by-custodian"))]
    NotByCustodian,
    #[error("{}", bidui_i18n::t!("agent-statement-revokes"))]
    Revokes,
    #[error("{}", bidui_i18n::t!("agent-statement-not-an-operator"))]
    NotAnOperator,
    #[error("{}", bidui_i18n::t!("agent-statement-other-principal"))]
    OtherPrincipal,
    #[error("{}", bidui_i18n::t!("agent-statement-no-signing-key"))]
    NoSigningKey,
}

fn public_key(text: &str, name: &'static str) -> Result<[u8; 32], JobTrustError> {
    hex::decode(text.trim()).ok().and_then(|b| b.try_into().ok()).ok_or(JobTrustError::BadKey(name))
}

/// The spec of `assignment` once it verifies and is job `job` with `party` in it.
pub fn verified_spec(
    operator_key: Option<&str>,
    custodian_key: Option<&str>,
    assignment: &Assignment,
    job: &str,
    party: &str,
) -> Result<JobSpec, JobTrustError> {
    let signed = &assignment.job;
    let operator = match (operator_key, custodian_key) {
        (Some(key), _) => public_key(key, "operator_key")?,
        (None, Some(custodian)) => {
            let custodian = public_key(custodian, "custodian_key")?;
            let signer = || signed.signer.clone();
            let statement = assignment.operator.as_ref().ok_or_else(|| JobTrustError::NoOperatorStatement(signer()))?;
            let bad = |fault| JobTrustError::BadOperatorStatement { signer: signer(), fault };
            statement.verify(&custodian).map_err(|_| bad(StatementFault::NotByCustodian))?;
            if statement.action != Action::Enrol {
                return Err(bad(StatementFault::Revokes));
            }
            if statement.role != PrincipalRole::Operator {
                return Err(bad(StatementFault::NotAnOperator));
            }
            if statement.name != signed.signer {
                return Err(bad(StatementFault::OtherPrincipal));
            }
            statement.signing_key_bytes().map_err(|_| bad(StatementFault::NoSigningKey))?
        }
        (None, None) => return Err(JobTrustError::NoTrustAnchor),
    };
    let spec = signed.verify(&operator)?;
    if spec.id != job {
        return Err(JobTrustError::OtherJob { asked: job.to_owned(), found: spec.id });
    }
    if spec.role(party).is_none() {
        return Err(JobTrustError::NotAParty { party: party.to_owned(), job: spec.id });
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bidui_core::api::SignedJob;
    use bidui_core::custody::PrincipalStatement;
    use bidui_i18n::{in_language, Lang};
    use ring::signature::{Ed25519KeyPair, KeyPair};

    fn key_pair() -> Ed25519KeyPair {
        let rng = ring::rand::SystemRandom::new();
        Ed25519KeyPair::from_pkcs8(Ed25519KeyPair::generate_pkcs8(&rng).unwrap().as_ref()).unwrap()
    }

    fn public(key: &Ed25519KeyPair) -> [u8; 32] {
        key.public_key().as_ref().try_into().unwrap()
    }

    fn spec() -> JobSpec {
        crate::test_spec("zc-1")
    }

    struct District {
        custodian: Ed25519KeyPair,
        operator: Ed25519KeyPair,
    }

    impl District {
        fn new() -> District {
            District { custodian: key_pair(), operator: key_pair() }
        }

        fn statement(&self, action: Action, name: &str, role: PrincipalRole) -> PrincipalStatement {
            PrincipalStatement::sign(&self.custodian, action, name, role, &public(&self.operator), &[0; 32], 1)
        }

        fn assignment(&self, statement: Option<PrincipalStatement>) -> Assignment {
            Assignment { job: SignedJob::sign(&spec(), "bureau", &self.operator), operator: statement }
        }

        fn custodian_hex(&self) -> String {
            hex::encode(public(&self.custodian))
        }
    }

    #[test]
    fn a_job_verifies_under_the_operator_key_or_the_custodians_enrolment() {
        let d = District::new();
        let operator = hex::encode(public(&d.operator));
        let assignment = d.assignment(None);
        assert_eq!(verified_spec(Some(&operator), None, &assignment, "zc-1", "household").unwrap(), spec());
        let enrolled = d.assignment(Some(d.statement(Action::Enrol, "bureau", PrincipalRole::Operator)));
        let custodian = d.custodian_hex();
        assert_eq!(verified_spec(None, Some(&custodian), &enrolled, "zc-1", "veterans").unwrap(), spec());
    }

    #[test]
    fn without_a_trust_anchor_the_job_is_refused() {
        let d = District::new();
        let assignment = d.assignment(Some(d.statement(Action::Enrol, "bureau", PrincipalRole::Operator)));
        let error = verified_spec(None, None, &assignment, "zc-1", "household").unwrap_err();
        assert!(matches!(error, JobTrustError::NoTrustAnchor), "{error}");
        assert!(error.to_string().contains("operator_key"), "{error}");
    }

    #[test]
    fn a_spec_the_matcher_made_or_changed_is_refused() {
        let d = District::new();
        let operator = hex::encode(public(&d.operator));
        let matcher = key_pair();
        let forged = Assignment { job: SignedJob::sign(&spec(), "bureau", &matcher), operator: None };
        let error = verified_spec(Some(&operator), None, &forged, "zc-1", "household").unwrap_err();
        assert!(matches!(error, JobTrustError::Signature(JobSignatureError::BadSignature(_))), "{error}");
        // Said in the reader's language, though bidui-core's error is English only.
        let (zh, en) = (in_language(Lang::Zh, || error.to_string()), in_language(Lang::En, || error.to_string()));
        assert!(zh.starts_with("任务说明不是由操作员 bureau 登记的密钥签名的"), "{zh}");
        assert!(en.starts_with("the job spec is not signed by operator bureau's enrolled key: refuse it"), "{en}");
        let mut widened = d.assignment(None);
        widened.job.spec = widened.job.spec.replace("\"max_records\":10", "\"max_records\":99999");
        assert!(verified_spec(Some(&operator), None, &widened, "zc-1", "household").is_err());
        // A matcher enrolling its own key as the operator needs the custodian's signature.
        let mut self_enrolled = d.assignment(Some(d.statement(Action::Enrol, "bureau", PrincipalRole::Operator)));
        self_enrolled.job = SignedJob::sign(&spec(), "bureau", &matcher);
        self_enrolled.operator.as_mut().unwrap().signing_key = hex::encode(public(&matcher));
        let error = verified_spec(None, Some(&d.custodian_hex()), &self_enrolled, "zc-1", "household").unwrap_err();
        assert!(matches!(error, JobTrustError::BadOperatorStatement { .. }), "{error}");
    }

    #[test]
    fn the_custodian_statement_must_enrol_the_signing_operator() {
        let d = District::new();
        let custodian = d.custodian_hex();
        let refused = |statement: Option<PrincipalStatement>| {
            verified_spec(None, Some(&custodian), &d.assignment(statement), "zc-1", "household").unwrap_err()
        };
        assert!(matches!(refused(None), JobTrustError::NoOperatorStatement(_)));
        for statement in [
            d.statement(Action::Revoke, "bureau", PrincipalRole::Operator),
            d.statement(Action::Enrol, "bureau", PrincipalRole::Agent),
            d.statement(Action::Enrol, "someone", PrincipalRole::Operator),
        ] {
            assert!(matches!(refused(Some(statement)), JobTrustError::BadOperatorStatement { .. }));
        }
        let other_custodian = District::new();
        let foreign = PrincipalStatement::sign(
            &other_custodian.custodian,
            Action::Enrol,
            "bureau",
            PrincipalRole::Operator,
            &public(&d.operator),
            &[0; 32],
            1,
        );
        assert!(matches!(refused(Some(foreign)), JobTrustError::BadOperatorStatement { .. }));
    }

    #[test]
    fn another_job_or_a_job_without_this_party_is_refused() {
        let d = District::new();
        let operator = hex::encode(public(&d.operator));
        let assignment = d.assignment(None);
        assert!(matches!(
            verified_spec(Some(&operator), None, &assignment, "zc-2", "household"),
            Err(JobTrustError::OtherJob { .. })
        ));
        assert!(matches!(
            verified_spec(Some(&operator), None, &assignment, "zc-1", "pension"),
            Err(JobTrustError::NotAParty { .. })
        ));
        assert!(matches!(
            verified_spec(Some("abc"), None, &assignment, "zc-1", "household"),
            Err(JobTrustError::BadKey("operator_key"))
        ));
    }
}
