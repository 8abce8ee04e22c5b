//! The district profile at job creation: a job is signed only once it fits the district's
//! profile, whose part it uses travels in the signed spec (issue #12).

use bidui_core::api::JobSpec;

use crate::district::{district, job_spec};
use crate::{bidui, fresh_dir, path, printed, MatcherProcess};

#[test]
fn job_create_refuses_a_job_without_a_profile_or_without_a_town_and_says_what_to_add() {
    let d = district();
    let work = fresh_dir("profile");
    // A copy of the district's matcher, so this test's jobs stay its own.
    let database = work.join("matcher.db");
    let copied =
        bidui(&["matcher", "backup", "--db", path(&d.dir.join("matcher/matcher.db")), "--to", path(&database)]);
    assert!(copied.status.success(), "{}", printed(&copied));
    let matcher = MatcherProcess::start(&database, &["--insecure-http".as_ref()]);
    let operator = |profile: Option<&std::path::Path>| {
        let file = work.join("operator.toml");
        let mut text = format!(
            "matcher = \"{}\"\nname = \"operator\"\nidentity_key = {:?}\n",
            matcher.http_url(),
            d.dir.join("operator/operator.ed25519")
        );
        if let Some(profile) = profile {
            text.push_str(&format!("profile = {profile:?}\n"));
        }
        std::fs::write(&file, text).unwrap();
        file
    };
    let mut spec: JobSpec = job_spec(&d.dir);
    spec.id = "zc-profile-1".into();
    spec.profile = None;
    let spec_file = work.join("job.toml");
    std::fs::write(&spec_file, toml::to_string(&spec).unwrap()).unwrap();
    let create = |operator: &std::path::Path| bidui(&["job", "create", path(&spec_file), "--operator", path(operator)]);
    let exists = |operator: &std::path::Path| {
        bidui(&["job", "status", "zc-profile-1", "--operator", path(operator)]).status.success()
    };

    let without = operator(None);
    let refused = create(&without);
    assert!(
        !refused.status.success() && printed(&refused).contains("has no district profile"),
        "{}",
        printed(&refused)
    );
    assert!(!exists(&without), "a refused job reached the matcher");

    let example = std::fs::read_to_string(crate::example_profile()).unwrap();
    let townless = work.join("townless.toml");
    let marker = "code = \"town\"\nlabel = \"镇街\"\nrole = \"town\"\n";
    assert!(example.contains(marker));
    std::fs::write(&townless, example.replace(marker, "code = \"town\"\nlabel = \"镇街\"\n")).unwrap();
    let refused = create(&operator(Some(&townless)));
    let message = printed(&refused);
    assert!(!refused.status.success(), "{message}");
    // In English (`--lang en`): the profile's error is said through the catalogue too.
    assert!(message.contains("has no town field") && message.contains("role = \"town\""), "{message}");
    assert!(!exists(&without), "a refused job reached the matcher");

    let with = operator(Some(&crate::example_profile()));
    let created = create(&with);
    assert!(created.status.success(), "{}", printed(&created));
    assert!(exists(&with));
    // The operator reads parties by their display names.
    let status = bidui(&["job", "status", "zc-profile-1", "--operator", path(&with)]);
    let shown = String::from_utf8_lossy(&status.stdout).into_owned();
    assert!(shown.contains("公安户籍") && shown.contains("退役军人事务局"), "{shown}");
    assert!(!shown.lines().any(|l| l.starts_with("household ")), "{shown}");
}
