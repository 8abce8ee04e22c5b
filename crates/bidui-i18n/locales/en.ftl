# What the bidui command line says, in English (`--lang en`, or an `en` locale). Keys and
# variables are those of zh-CN.ftl.

## Common

error = Error: { $message }
error-cause = Caused by: { $message }
none = none
writing = writing { $path }
random-failed = the system random number generator failed
starting-runtime = starting the async runtime
console-password-prompt = password (at least 10 characters):
console-password-unread = reading the password from standard input
console-password-again = the same password again:
console-password-differs = the two passwords differ: nothing was changed
console-account-added = account { $name } ({ $role }) added to { $path } (0600)
console-account-removed = account { $name } removed
console-account-password-set = the password of { $name } is changed

## Agent

agent-keys-written = agent keys written to { $dir } (0600). Give the two public keys above to the key custodian.
agent-in-job = agent { $party } in job { $job }
agent-report-head = agent { $party } — job { $job } at { $matcher }
agent-report-purpose = purpose: { $purpose } [{ $approval }]
agent-report-sent = rows read: { $rows }; records sent as tokens: { $records } ({ $chunks } chunks sent, { $held } already held)
agent-report-attributes = attributes compared by token: { $attributes }
agent-report-invalid = invalid identity numbers (counts only sent): { $counts }
agent-report-sealed = fields sealed to the requester with every record: { $fields }
agent-report-refused = refused: { $field } — { $reason }
agent-refusal-unmapped = this agent has no column mapped to field { $field }
agent-refusal-not-allowed = the local policy does not allow sealing { $field } to the requester for the purpose { $purpose }
agent-report-too-long = values too long to seal (listed by row in the local report): { $count }
agent-report-invalid-rows = local report of invalid rows (never sent): { $path }
agent-report-results = results opened for the requester (local): { $path }
agent-report-unopened = WARNING: { $count } sealed values did not open: the matcher forwarded values of people not in this registry, or they were damaged; they were dropped
agent-key-not-hex = the public key must be hex, as `bidui agent init` prints it
not-a-date = { $text } is not a date (YYYY-MM-DD)

## Matcher

enrolled = enrolled { $role } { $name }
enrolled-replacing = enrolled { $role } { $name } (replacing its earlier enrolment)
already-enrolled = { $role } { $name } is already enrolled with this key
custodian-key-not-hex = the public key must be hex, as `bidui keys init` prints it
custodian-trusted = the matcher now accepts enrolments, revocations and sealed epochs signed by this custodian key
revoked = revoked { $name }: its requests are refused from now on
backed-up = backed up { $db } to { $to } (0600). Restore: stop the matcher, copy the backup to the database's path, remove any -wal and -shm files beside it, start the matcher
database-created = created a new, empty matcher database { $db }
opening-log = opening the log file { $path }

## Jobs

creating-job = creating job { $job }
job-created = job { $job } created
job-exists = job { $job } already exists with this spec
job-results-written = wrote the match structure of job { $job } to { $path } ({ $rows } registry rows); the report is built by the requester's agent from the values sealed to it (bidui report build)

## Keys

epoch-written = epoch ({ $suite }) written to { $path } (0600). It is SECRET: it must reach the agents only, never the matcher.
custodian-key-written = custodian key written to { $path } (0600). Give the public key above to the matcher's administrator.
custodian-public-key = custodian public key { $key }
epoch-rotated = epoch { $number } ({ $suite }) key check value { $kcv } sealed to { $agents } agents
written-to = written to { $path }
delivering-to = delivering to { $url } (the file above can be delivered again)
delivered-to = delivered to the matcher at { $url }
status-agent = agent { $name } signing { $key }
status-agent-revoked = agent { $name } signing { $key } (revoked at { $at })
status-epoch = epoch { $number } { $suite } kcv { $kcv } created { $at }
status-taken-up = taken up at { $at }
status-not-taken-up = not taken up yet
status-ask-matcher = (ask with --matcher)
status-retired = ; retired at { $at }

## Job status

reading-operator-config = reading the operator configuration { $path }
parsing = parsing { $path }
reading-job-spec = reading the job spec { $path }
job-spec-invalid = the job spec { $path } is not valid
spec-error-job-id = job id must be 1–64 characters of letters, digits, CJK, '-', '_' or '.'; got { $id }
spec-error-no-purpose = job { $job } is missing its purpose
spec-error-no-approval = job { $job } is missing its approval number
spec-error-duplicate-party = party { $party } appears twice in the job; each party takes part once
spec-error-party-name = party names are 1–64 characters of lowercase letters, digits and '-'; got { $party }
spec-error-field-name = field names are 1–64 characters of lowercase letters, digits and '_'; got { $field }
spec-error-epoch = epoch must be a 16-hex-digit key check value; got { $epoch }
spec-error-no-department = a job needs at least one department
spec-error-derived-attribute = compare { $attribute } is not an attribute a job names; `name` brings the name tiers with it
spec-error-rule = status rule { $code } { $problem }
spec-error-cap = party { $party } needs `max_records` between 1 and { $max }
spec-error-too-large = a job has at most { $departments } departments, each comparing and sealing at most { $fields } fields
reading-profile = reading the district profile { $path }
profile-unparsable = the district profile { $path } is not valid TOML of a profile
profile-invalid = the district profile { $path } is not valid
profile-error-party-code = party code { $code } is not valid: lowercase letters, digits and '-', 1–64 characters
profile-error-field-code = field code { $code } is not valid: lowercase letters, digits and '_', 1–64 characters
profile-error-duplicate = { $code } appears twice in the profile: each code is declared once
profile-error-name = { $code } has no Chinese name (a party's name or a field's label), or the name is longer than 32 characters
profile-error-role-twice = field { $field } has the role { $role }, which field { $other } of the same party has already: a party has one field per role
profile-error-unknown-party = party { $party } of the job is not declared in the district profile (district.toml): add [[party]] code = { $party }, name and kind
profile-error-requester-not-registry = the job's requester { $party } is not of kind "registry" in the profile
profile-error-department-is-registry = department { $party } is of kind "registry" in the profile; a department is household, social-security and the like
profile-error-unknown-field = field { $field } of the job is not declared in the district profile (district.toml): add [[field]] code = { $field } and its label (Chinese name)
profile-error-no-town = the requester { $requester } has no town field: the report goes out by town, so declare the registry's town field in district.toml as [[field]] code = "…", label = "镇街", role = "town", and list it in the job's [requester] fields
profile-error-required-not-asked = field { $field } ({ $label }) is required in the profile, but the job's [requester] fields do not list it: add it
job-does-not-fit-profile = job { $job } does not fit the district profile { $path }
job-invalid = job { $job } is not valid
job-without-profile = job { $job } has no district profile: set profile = "district.toml" in operator.toml or pass --profile (the profile declares each department's Chinese name and each field's label and role; the report goes out by the registry's town field; example: examples/district.toml)
agent-serving = agent { $party } serving
upward-written = wrote the report upward of { $area } ({ $parts } towns or areas, { $problems } problems): { $json }, { $xlsx }
claims-read = { $path }: { $claims } answers
claims-written = { $path }: { $claims } answers kept, { $fixed } claimed fixed (已整改)
progress-columns = rank town         claimed confirmed still-present fixed-unclaimed new still-open completion
resuming-job = resuming job { $job }
reading-join-answer = reading the matcher's answer about job { $job }
job-resume-complete = job { $job } is complete already: nothing was done
job-resume-joined = job { $job } was joined now: the results are ready for the requester and the operator
job-resume-waiting = job { $job } is still waiting for: { $parties } (these parties have not sealed: run their agents; the job completes after the last seal)
sending-job = creating the job
reading-job-status = reading the status of job { $job }
reading-job-results = reading the results of job { $job }
job-state-collecting = Collecting
job-state-complete = Complete
job-status-head = job { $job } ({ $state }) — { $purpose } [{ $approval }]
job-status-columns = party                role       stage                chunks    records  sealed  invalid
job-stage-waiting = waiting
job-stage-reading = reading its source
job-stage-uploading = uploading
job-stage-uploading-of = uploading { $chunks }/{ $expected }
job-stage-sealed = sealed
job-stage-declined = held by its agent
job-declined-reason = { $party } is held by its agent: { $reason }
role-requester = requester
role-department = department
yes = yes
no = no
job-joining = every party has sealed; the matcher joins the job now, and retries a failed or interrupted join every minute and at start-up — see its log if this lasts
job-waiting-for = waiting for the seal of: { $parties }

## Audit log

reading-audit-log = reading the audit log of { $db }
audit-no-records = no audit records
audit-no-records-for-job = no audit records for job { $job }
audit-intact = audit chain intact, { $records } records, head { $head }
audit-head-expected = the head is the one expected
audit-broken = the audit log was altered or damaged; records from { $seq } on cannot be trusted
audit-head-differs = the chain verifies ({ $records } records, head { $head }) but the expected head is { $expected }
audit-head-appended = the expected head is record { $seq }: { $appended } records were appended since it was noted, and the records up to it are unchanged
audit-head-cut = no record has the expected hash: records were cut off the end, or the whole log was rewritten
audit-action-enroll = enrolment
audit-action-revoke = revocation
audit-action-job-created = job created
audit-action-sealed = submission sealed
audit-action-declined = job held by the agent
audit-action-results-delivered = results delivered to the requester
audit-action-custodian-trusted = custodian trusted
audit-action-epoch-stored = sealed epochs delivered
audit-action-epoch-retired = epoch retired
audit-action-tokens-purged = tokens purged
audit-action-sealed-values-purged = sealed values purged
audit-by = by { $actor }
audit-job = job { $job }
audit-principal = { $role } { $name } key { $key }
audit-replaces = { " " }(replaces { $role } key { $key })
audit-replaces-revoked = { " " }(replaces { $role } key { $key }, which was revoked)
audit-purpose = purpose: { $purpose }
audit-approval = approval: { $approval }
audit-job-epoch = epoch { $epoch } ({ $suite }); requester { $requester } asks for { $fields }
audit-departments = departments and fields asked: { $departments }
audit-seal = epoch { $epoch }: { $chunks } chunks, { $records } records, { $rows } rows read; invalid identity numbers: { $invalid }
audit-fields-sealed = fields sealed: { $fields }
audit-fields-refused = fields refused: { $fields }
audit-results-delivered = { $rows } registry rows, { $values } sealed values forwarded unread
audit-declined = reason: { $reason }

## Report

reading = reading { $path }
reading-rules = reading the rules in { $path }
report-names-nobody = { $path } names nobody: it is the operator's match structure, not the requester's results. Build the report from the results.json the requester's agent wrote (<state_dir>/<job>/results.json).
report-built = 比对报告 job { $job }: { $problems } problems on { $rows } registry rows, { $fill_ins } fill-ins
report-note = note: { $note }
report-town = { $problems } problems { $fill_ins } fill-ins
report-summary = leadership summary: { $path }
report-machines = for machines: { $csv } and { $json }
report-invalid-unlisted = { $count } invalid identity numbers are listed without their reason: the report was built without the requester agent's local invalid-rows report. On the requester's side, build it again with --invalid-rows <state_dir>/{ $job }/invalid-rows.csv to list each with its error.
# The leadership summary (summary.html); the district's words (towns, departments, categories) stay as they are.
report-summary-title = Stage-two data comparison: summary of results
report-summary-job = comparison job { $job } · approval { $approval }
report-summary-generated = generated { $time } Beijing time
report-summary-card-rows = registry people (rows)
report-summary-share = { $count } ({ $percent })
report-summary-card-rows-with-problems = people with problems in their data
report-summary-card-serious = serious problems
report-summary-card-invalid-ids = invalid identity numbers
report-summary-card-fillable = missing data a department can fill in
report-summary-card-unfillable = missing data no department can fill in
report-summary-card-probable = probable matches, to be checked on site
report-summary-card-fixed = fixed since the previous round
report-summary-card-new = new since the previous round
report-summary-towns = Problems per town
report-summary-towns-chart = Problems per town, by severity
report-summary-town-problems = { $problems } ({ $rows } registry rows)
report-summary-town-categories = Town × problem category
report-summary-town = Town
report-summary-total = Total
report-summary-coverage = Coverage per department
report-summary-coverage-note = The share of registry people each department found by identity number.
report-summary-coverage-share = { $found }/{ $rows } ({ $percent })
report-summary-found = Found
report-summary-not-found = Not found
report-summary-department = Department
report-summary-coverage-rate = Coverage
report-summary-problems-total = Problems in all
report-summary-registry-itself = The registry itself
report-summary-trend = Compared with the previous round
report-summary-trend-note = Previous round { $before } ({ $before_problems } problems) → this round { $after } ({ $after_problems } problems). The same problem means the same row number, problem category, department and compared item.
report-summary-trend-before = Problems in the previous round
report-summary-trend-after = Problems in this round
report-summary-trend-chart = Problems per town, previous round and this round
report-summary-fixed = Fixed
report-summary-new = New
report-summary-still-open = Still open
report-summary-fixed-rate = Fixed share
report-summary-rules = Rules and notes
report-summary-rule = Rule
report-summary-category = Problem category
report-summary-severity = Severity
report-summary-rule-found = Found
report-summary-note = Note: { $note }
report-summary-invalid-reasons-unknown = Why an identity number is invalid is known only at the registry's unit, locally; this page counts such numbers as "reason unknown".
report-summary-privacy = This page holds figures only: no name, no identity number. The departments exchange only encrypted tokens of identity numbers; no identity leaves its own unit. The names and identity numbers in the towns' problem lists are filled in by the registry's unit, locally, by row number.
report-summary-probable = A probable match is found by name, birth date and sex alone: it must be checked on site and is never merged automatically.
report-severity-serious = Serious
report-severity-normal = Normal
report-severity-notice = Notice
resolve-no-town-column = { $path } has no column { $column }, so resolve cannot check that it is the registry the run read. Its columns are: { $columns }. Name the town column with --town-column (e.g. --town-column { $example })
resolve-doubt-rows = the registry has { $rows } rows, the run read { $read }
resolve-doubt-person = { $rows } rows hold another person (name or identity number) than in the run
resolve-doubt-town = { $problems } problems name another town than the registry's row
resolve-doubt-unchecked = nothing to check its rows by: the report has no requester's results.json naming the people, and no town column was given (--town-column)
resolve-refused = { $path } does not look like the registry of job { $job }: { $doubts }. Use the file the run read (or --force).
resolved = resolved job { $job } locally from { $path } ({ $rows } rows); nothing was sent
resolved-keep = These workbooks hold names and identity numbers: keep them on the requester's side.
diff-same-job = note: both runs are job { $job }; a correction round runs the spec again under a new job id

## Demo

demo-generating = generating a district: { $registry } registry rows, { $population } other residents …
demo-matcher-listening = matcher listening at { $url } (database { $db })
demo-job-created = job { $job } created: { $departments } departments, epoch { $epoch }
demo-agent-failed = the agent of { $party } failed; see { $path }
demo-summary-head = 比对结果 job { $job } — { $read } registry rows read, { $compared } compared
demo-summary-invalid = identity numbers invalid in the registry: { $count } { $codes }
demo-summary-found = found in { $department } { $count }
demo-summary-nowhere = found in no department: { $count }
demo-summary-duplicates = duplicate groups in the registry: { $count }
demo-summary-probable = probable matches to verify (上门核实): { $count }
demo-summary-deceased = deceased in household registration: { $count }
demo-results-files = report: { $json } and { $csv }
demo-report = stage-two report: { $towns } town workbooks in { $dir }, leadership summary { $summary }
demo-agents-dir = agents' own logs and invalid-row reports: { $dir }
demo-matcher-dir = matcher database and log: { $dir }
demo-done = done in { $seconds } s
demo-creating-matcher-stderr = creating the matcher's stderr file
demo-starting-matcher = starting the matcher
demo-reading-matcher-address = reading the matcher's address
demo-matcher-did-not-start = the matcher did not start; see { $path }
demo-locating-binary = locating the bidui binary

## TLS certificate

never-overwrites = { $path } already exists; bidui never overwrites a key or certificate (move it away first if you mean to replace it)
creating = creating { $path }
tls-cert-written = certificate for { $hosts } written to { $certificate } (give it to every agent and the operator as matcher_certificate); key written to { $key } (0600: it stays on the matcher's host, for `bidui matcher serve --tls-key`). The line above is the certificate's SHA-256 fingerprint: read it out to each department when they install the certificate.

## Principal roles

principal-agent = agent
principal-operator = operator
principal-custodian = custodian

## Identity numbers (id check)

reading-stdin = reading stdin
writing-stdout = writing stdout

## The agent's errors (bidui-agent)

agent-error-no-rows = the source { $path } has no data rows: nothing was sealed. Check that the file is the department's export (and the sheet and header row, for a workbook); to take part with no rows, run again with --accept-few-readable
agent-error-too-few-readable = only { $readable } of the { $rows_read } rows of { $path } could be read (at least { $percent }% must be, min_readable_share): nothing was sealed. The unreadable rows and why are in { $report }; fix the export, or run again with --accept-few-readable to send what could be read
agent-error-suite-mismatch = the job uses suite { $job } but the epoch file holds a { $held } secret
agent-error-source-changed = chunk { $chunk } differs from the one the matcher holds from the interrupted upload: the source file or --chunk-records changed since; the matcher keeps what it has, so restore them or ask the operator for a new job
agent-error-over-cap = the source holds more than the { $cap } records job { $job } allows this party (max_records): stopped before sealing, so the matcher will not use what was sent. Check the source file, or ask the operator for a job with a larger cap
agent-error-unmapped-field = the job asks for the requester's field { $field } but the agent's [fields] maps no column to it: add it to the configuration
agent-error-results-timeout = the results were not ready within { $wait }: are all parties done? (`bidui job status`; --results-wait)
agent-error-other-results = the matcher sent the results of job { $found } for job { $asked }: refused
agent-error-local = cannot write the local file { $path }: { $source }
agent-error-stopped = stopped on request before the job was finished; running it again resumes where it stopped
agent-error-no-trust-anchor = the agent cannot check the job's signature: set operator_key (the operator's Ed25519 public key, 64 hex digits) or custodian_key (the key custodian's) in its configuration. Nothing was tokenized or sent
agent-error-bad-key = { $key } in the agent configuration is not an Ed25519 public key (64 hex digits)
agent-error-no-operator-statement = the matcher relayed no custodian statement for operator { $operator }, so its key cannot be checked against custodian_key: set operator_key, or have the custodian enrol the operator. Nothing was tokenized or sent
agent-error-bad-operator-statement = the custodian statement relayed for operator { $signer } { $fault }: the job is refused, nothing was tokenized or sent
agent-statement-not-by-custodian = is not signed by the configured custodian_key
agent-statement-revokes = revokes it
agent-statement-not-an-operator = does not enrol an operator
agent-statement-other-principal = names another principal
agent-statement-no-signing-key = has no valid signing key
agent-error-signature = { $error }; nothing was tokenized or sent
job-signature-bad = the job spec is not signed by operator { $signer }'s enrolled key: refuse it
job-signature-invalid = the signed job spec is not a valid job: { $reason }
agent-error-other-job = the matcher answered with job { $found } when asked for job { $asked }: refused, nothing was sent
agent-error-not-a-party = party { $party } takes no part in job { $job }: check --job and the configuration's `party`
agent-error-identity-read = cannot read the source { $path } to take its digest: { $source }
agent-error-identity-record = cannot keep the source's identity in { $path }: { $source }
agent-error-identity-damaged = { $path } is not a record of a source's identity ({ $reason }): move it aside and run again
agent-error-source-replaced = the source { $path } is not the file this job was tokenized from ({ $what }; recorded in { $record }). The matcher holds what was read then, so nothing read now may be sent or matched against it: restore that file, or ask the operator for a new job
agent-error-source-changed-while-read = the source { $path } changed while it was read ({ $what }): nothing was sealed. Wait until whoever writes it is done, then run again
source-change-replaced = the file was replaced by another
source-change-resized = its size went from { $before } to { $after } bytes
source-change-written-to = it was written to
source-change-other-size = { $recorded } bytes then, { $now } now
source-change-other-content = same size, other content
agent-error-config-read = cannot read the agent configuration { $path }: { $source }
agent-error-config-invalid = the agent configuration { $path } is not valid: { $message }
agent-config-poll-zero = [serve] poll_seconds is 0: give the seconds between two asks for new jobs (60 is usual)
agent-config-min-readable-share = min_readable_share is { $share }: give a share from 0 to 1 (0.9 is 90%)
agent-config-identifying-field = field { $field } maps to the identifying column { $column }: identity numbers and names are compared by token, never sealed as values
agent-error-epoch-read = cannot read epoch file { $path }: { $source }
agent-error-epoch-invalid = epoch file { $path } is not valid: { $message }
agent-x25519-invalid = it is not 64 hex digits (the key bidui agent init writes)
agent-error-epoch-not-held = this agent holds no epoch with key check value { $wanted } (it holds: { $held }); ask the key custodian for the job's epoch
agent-error-job-id-reused = the matcher offered a reused job id: this agent already tokenized a different job { $job } under epoch { $epoch } (remembered in { $path }); tokens of two jobs under one id could be linked, so nothing was tokenized or sent. Ask the operator to create the job under a new id
agent-error-job-id-io = cannot read or write the job id record { $path }: { $source }
agent-error-job-id-damaged = line { $line } of the job id record { $path } is damaged ({ $source }); it guards against reused job ids, so restore it from a backup rather than deleting it
agent-error-serve-local = cannot keep the service's local file { $path }: { $source }

## Before the first job (bidui agent check)

check-verdict-pass = PASS
check-verdict-warning = WARN
check-verdict-error = ERROR
check-kind-config = config
check-kind-file = file
check-kind-key = key
check-kind-job-trust = job signer
check-kind-source = source
check-kind-column = column
check-kind-sample = sample
check-kind-counts = counts
check-kind-policy = policy
check-kind-matcher = matcher
check-kind-certificate = certificate
check-kind-epoch = epoch
check-kind-enrolment = enrolment
check-file-source = source file
check-file-identity-key = signing key
check-file-x25519-key = key for sealed epochs
check-file-epoch = epoch file
check-file-matcher-certificate = matcher certificate
check-file-matcher-ca = matcher CA file
check-id-empty = empty
check-id-excel-mangled = mangled by Excel (scientific notation or 000)
check-id-length = not 15 or 18 characters
check-id-charset = characters other than digits and X
check-id-birthdate = impossible birth date
check-id-checksum = check character wrong
check-id-other = other
check-config-missing = the configuration { $path } does not exist
check-config-unreadable = the configuration { $path } cannot be read: { $detail }
check-config-read = the configuration { $path } parses; party { $party }
check-file-missing = { $file } not found: { $path } (configuration key { $key })
check-file-present = { $file } present: { $path }
check-key-too-open = the key file { $path } has mode { $mode }: group or others can read it
check-key-private = the key file { $path } is readable by its owner only (600)
check-key-invalid = the { $file } { $path } is not usable: { $detail }
check-sealed-epochs-off = { $missing } is not set: epochs the custodian sends through the matcher cannot be taken up
check-job-trust-missing = neither operator_key nor custodian_key is set: every job would be refused
check-job-trust-invalid = { $key } is not a public key of 64 hex digits
check-job-trust-operator = only jobs signed by the operator whose key is operator_key are accepted
check-job-trust-custodian = jobs signed by an operator the custodian (custodian_key) enrolled are accepted
check-source-unreadable = the source cannot be read: { $detail }
check-source-opened = the source { $path } ({ $how }) reads, { $columns } columns
check-column-found = { $key } = "{ $header }" is column { $column }
check-column-missing = { $key } = "{ $header }" is not a header of the file; its headers are: { $headers }
check-column-twice = { $key } = "{ $header }" appears twice in the header (columns { $first } and { $second })
check-sample-valid = row { $row }: identity number normalizes to { $masked } (locally; never sent)
check-sample-invalid = row { $row }: identity number { $masked } is invalid: { $code } ({ $meaning })
check-sample-invalid-empty = row { $row }: identity number is invalid: { $code } ({ $meaning })
check-sample-unreadable = row { $row } cannot be read: { $reason }
check-no-rows = the source has no data rows
check-counts = whole file, { $rows } rows: { $valid } valid identity numbers; invalid by code: { $codes }; unreadable rows: { $unreadable }
check-counts-code = { $code } ({ $meaning }) { $rows }
check-counts-separator = { ", " }
check-too-few-readable = only { $readable } of { $rows } rows can be read, below min_readable_share ({ $percent }%): a job would refuse to seal
check-no-fields = no fields mapped ([fields]): tokens only, no field value leaves
check-field-allowed-any = field { $field } may be sealed to the requester for any purpose
check-field-allowed = field { $field } may be sealed to the requester for these purposes: { $purposes }
check-purposes-separator = { ", " }
check-field-never-allowed = field { $field } is mapped but the local policy lets it leave for no purpose
check-policy-field-unmapped = [policy] allows field { $field } but [fields] maps no column to it, so it never leaves
check-matcher-setup = the matcher { $url } is misconfigured: { $detail }
check-matcher-reachable = the matcher { $url } is reachable and healthy
check-matcher-unreachable = cannot reach the matcher { $url }: { $cause }
check-matcher-unhealthy = the matcher { $url } answers but is not healthy: { $cause }
check-matcher-untrusted = the matcher { $url }'s certificate is not trusted; nothing was sent: { $cause }
check-plain-http = { $url } is plain HTTP, for loopback tests only
check-certificate-pinned = the matcher's certificate fingerprint { $fingerprint } is the pinned matcher_certificate
check-certificate-mismatch = the matcher presents the certificate { $presented }, not the pinned matcher_certificate { $pinned }
check-certificate-by-ca = the matcher's certificate fingerprint is { $fingerprint } (checked against matcher_ca)
check-certificate-unread = cannot read the matcher's certificate: { $cause }
check-epoch-held = holds epoch { $kcv } ({ $suite }): { $path }
check-epoch-unreadable = the epoch file { $path } is not usable: { $detail }
check-no-epoch-yet = no epoch held yet; once the custodian rotates, the first job run takes it up
check-no-epoch = no epoch held and none can be received: no job can run
check-epochs-waiting = { $count } sealed epochs for this agent wait at the matcher; the next job run takes them up
check-enrolled = this agent is enrolled at the matcher as { $party }
check-not-enrolled = the matcher does not know the agent { $party }: not enrolled (unknown-signer)
check-other-key-enrolled = the matcher has another public key enrolled for { $party } than this signing key's
check-revoked = the enrolment of { $party } has been revoked
check-clock-skew = this machine's clock is too far from the matcher's: { $detail }
check-enrolment-refused = enrolment could not be checked: { $cause }
check-enrolment-unchecked = the signing key is unusable, so enrolment was not checked
check-fix-config-missing = check the path given to --config
check-fix-config-unreadable = correct the configuration as the message says
check-fix-agent-init = run bidui agent init --dir <folder> and set the paths in the configuration
check-fix-file-path = check { $key } (relative paths start at the configuration's folder)
check-fix-restore-file = restore the original file; if lost, make a new one and have the custodian enrol it
check-fix-sealed-epochs-off = add { $missing } to the configuration (from the custodian or bidui agent init)
check-fix-job-trust = set custodian_key (or operator_key) to the 64 hex digits the custodian gives you
check-fix-source = check [source] path, format, encoding, sheet and header_row
check-fix-column-suggestion = change { $key } from "{ $header }" to "{ $suggestion }"?
check-fix-column = set { $key } to one of the headers listed, exactly as written
check-fix-column-twice = rename one of the two columns in the export
check-fix-invalid-numbers = invalid numbers are not compared (only counts by code leave); re-export Excel-mangled numbers as text
check-fix-export-whole = check that the export is whole, and [source] sheet and header_row
check-fix-field-never-allowed = to share it, add an [[policy.allow]] rule naming { $field }; otherwise drop it from [fields]
check-fix-policy-field-unmapped = map a column to { $field } in [fields], or drop it from [policy]
check-fix-matcher-setup = an https:// matcher needs matcher_certificate or matcher_ca; an http:// one none
check-fix-matcher-unreachable = check that the matcher runs, that the URL and port are right and the firewall lets it through
check-fix-matcher-unhealthy = ask the matcher's administrator to look at its log
check-fix-certificate = get the current certificate from the operator, compare its fingerprint by phone, and replace matcher_certificate
check-fix-plain-http = in production use the https:// URL with matcher_certificate
check-fix-certificate-unread = compare the certificate's fingerprint with the operator by phone
check-fix-no-epoch-yet = nothing to do; if a job says the epoch is missing, ask the key custodian
check-fix-no-epoch = set x25519_key and custodian_key to receive epochs
check-fix-not-enrolled = give the signing public key { $public_key } and the x25519 public key to the key custodian to enrol (bidui keys enroll)
check-fix-other-key-enrolled = check that identity_key is the original key; if it was made anew, have the custodian enrol { $public_key } again
check-fix-revoked = contact the key custodian
check-fix-clock-skew = set this machine's clock right (NTP)
check-fix-errors-above = fix the errors above first
check-summary-ready = verdict: no errors, { $warnings } warnings. Ready for a job.
check-summary-errors = verdict: { $errors } errors, { $warnings } warnings. Fix the errors before a job.

## The department's source file (bidui-agent)

source-error-open = cannot open { $path }: { $source }
source-error-read = cannot read { $path }: { $source }
source-error-unknown-format = cannot tell the format of { $path }: name it .csv, .xlsx or .xls, or set format = "csv", "xlsx" or "xls"
source-error-workbook = cannot read workbook { $path }: { $reason }
source-error-no-such-sheet = { $path } has no sheet named "{ $sheet }"; its sheets are: { $sheets }
source-error-bad-header-row = header_row must be 1 or more (the 1-based row of the column headers) for { $path }
source-error-header = cannot read the header row (row { $header_row }) of { $place }: { $reason }
source-error-column-not-found = column "{ $column }" not found in { $place }; the headers are: { $headers }
source-error-duplicate-column = column "{ $column }" appears more than once in { $place } (columns { $first } and { $second }, counting from 1); rename one of them
source-place-sheet = { $path }, sheet "{ $sheet }"
xlsx-not-a-package = not a readable .xlsx (zip) package: { $error }
xlsx-missing-part = the package has no part { $part }
xlsx-beyond-limits = cell { $cell } is beyond Excel's limits (the last column is XFD = 16,384, the last row 1,048,576): the file is damaged or not written by a spreadsheet program
xlsx-too-many-shared-strings = the shared-strings table is larger than this reader accepts ({ $mebibytes } MiB of text, { $strings } strings): the file is damaged or not a department's export; save the sheet as CSV instead
xlsx-text-too-long = a text longer than Excel's limit of { $characters } characters per cell
source-unsupported-utf16 = this file is UTF-16 text (Excel's "Unicode Text"); save it as "CSV UTF-8" or plain CSV instead
source-unsupported-web-page = this is not an Excel workbook but a web page (HTML/XML) saved under an Excel name, as some systems export; open it in Excel and save it as .xlsx or as CSV
source-unsupported-not-excel = this is not an Excel workbook (neither .xlsx nor .xls); if it is a CSV text file, set format = "csv"
source-unsupported-password = the workbook is password-protected; save a copy without a password
source-workbook-no-sheet = the workbook has no sheet
source-header-few-rows = the file has only { $rows } row(s)
source-header-not-csv = the record starting at line { $first_line } is longer than 1 MiB, has more than { $max_fields } fields or spans more than { $max_lines } lines: is this really a CSV file?
source-header-not-utf8-declared = it is not valid UTF-8: if the file was saved as GBK (ANSI), set encoding = "gbk" or leave encoding unset to detect it
source-header-not-utf8 = it is not valid UTF-8
source-header-not-encoding = it is not valid { $encoding }; if the file is UTF-8, set encoding = "utf-8"
source-header-empty = the row is empty
source-header-sheet-few-rows = the sheet has only { $rows } row(s)
source-header-sheet-empty = the sheet is empty
source-header-damaged = the sheet is damaged: { $error }
source-header-too-long = the row holds more than { $mebibytes } MiB of text
source-row-error = row { $row }: { $reason }
source-row-file-unreadable = cannot read the file: { $error }; reading stopped
source-row-overlong = the record starting at line { $first_line } is longer than 1 MiB or has more than { $max_fields } fields, most likely because of a quote (") that is never closed; lines { $first_line } to { $skipped_to_line } were skipped
source-row-many-lines = the record at lines { $first_line }-{ $last_line } spans more than { $max_lines } lines, most likely because of a quote (") that is never closed; those lines were not read as rows
source-lines-one = line { $line }
source-lines-range = lines { $first }-{ $last }
source-row-not-utf8-detected = { $lines } is not valid UTF-8 (the file was taken as UTF-8 from its first 64 KiB; if it was saved as GBK/ANSI, set encoding = "gbk")
source-row-not-utf8-declared = { $lines } is not valid UTF-8, the declared encoding
source-row-not-encoding = { $lines } has bytes that are not valid { $encoding }
source-row-reader-stopped = the xlsx reader stopped unexpectedly; reading stopped
source-row-damaged-sheet = the sheet is damaged here ({ $error }); reading stopped
source-row-too-long = the row holds more than { $mebibytes } MiB of text, more than a department's export can hold; reading stopped

## Talking to the matcher (bidui-client)

client-error-transport = cannot reach the matcher at { $url }: { $reason }
client-error-gave-up = cannot reach the matcher at { $url }: { $reason } (tried { $attempts } times over { $seconds } s)
client-error-refused = the matcher refused { $method } { $path }: { $status } { $code }: { $message }
client-error-answer = the matcher's answer to { $path } was not understood: { $reason }
client-error-untrusted = refusing to talk to the matcher at { $url }: its TLS certificate is not trusted by { $trust } ({ $reason }). Nothing was sent. If the district replaced the matcher's certificate, get the new one from the operator and compare its fingerprint by phone
client-error-no-trust-anchor = { $url } is an https:// matcher but no trust anchor is configured: set matcher_certificate (the matcher's certificate, pinned) or matcher_ca (a CA file); bidui never falls back to web PKI roots
client-error-plain-with-trust = { $url } is a plain http:// matcher but { $trust } is configured: use the matcher's https:// URL (plain HTTP is for loopback tests only, without a certificate setting)
client-cause-refused = the connection was refused (is the matcher running?)
client-cause-cut = the connection was cut (the matcher may have restarted)
client-cause-closed-before-answer = the connection closed before the answer
client-cause-no-answer-in-time = no answer in time
client-cause-network-unreachable = the network is unreachable
client-cause-host-not-found = the host name did not resolve
client-cause-connection-failed = the connection failed
client-cause-answer-stalled = the answer stalled
client-cause-closed-mid-answer = the connection closed mid-answer
client-cause-not-https = not an https:// URL: a plain-HTTP matcher has no certificate
client-cause-no-host = the URL names no host
client-cause-tls-handshake = the TLS handshake failed: { $error }
client-cause-no-certificate = the server presented no certificate
client-trust-pinned = the pinned matcher_certificate { $path }
client-trust-ca-file = the matcher_ca file { $path }
trust-error-read = cannot read the matcher's trust file { $path }: { $source }
trust-error-invalid = { $path } is not a PEM certificate file: { $reason }
trust-error-not-one = { $path } holds { $count } certificates: matcher_certificate pins exactly one, the matcher's own (use matcher_ca for a CA bundle)
trust-error-both = set matcher_certificate or matcher_ca, not both
trust-error-not-self-signed = { $path } is issued by another certificate (a CA), so it cannot be pinned: pin the matcher's own self-signed certificate (`bidui keys tls-cert` makes one), or set matcher_ca to the CA's certificate instead

## Key files (bidui-keyfile)

keyfile-error-exists = { $path } already exists; bidui never overwrites a key (move it away first if you mean to replace it)
keyfile-error-write = cannot write key file { $path }: { $source }
keyfile-error-read = cannot read key file { $path }: { $source }
keyfile-error-invalid = { $path } is not an Ed25519 private key written by bidui

## The key custodian's records (bidui-keys)

keys-error-io = cannot read or write { $path }: { $source }
keys-error-state = { $path } is damaged: { $message }
keys-error-already-enrolled = { $name } is already enrolled; revoke it first to enrol a new key under that name
keys-error-unknown-agent = no enrolled agent is called { $name }
keys-error-bad-key = a public key is 64 hex digits: { $key }
keys-error-nobody-to-seal-to = no agent is enrolled: there is nobody to seal the epoch to

## The report's errors (bidui-report)

report-error-xlsx = writing a workbook: { $error }
report-error-invalid-rows-line = invalid-rows line { $line }: { $text }
report-error-invalid-rows-row = invalid-rows line { $line }: bad row { $row }
report-error-reserved-code = status rule code { $code } is reserved for the report's own categories
merge-error-empty = nothing to merge
merge-error-twice = { $area } appears twice: an area is merged once only
merge-error-format = the file format { $found } is not { $format } (not an upward file)

## Command help (the clap tree's doc comments, word for word: src/help.rs checks it)

help-bidui = Privacy-preserving cross-department matching (比对)
help-id = Identity numbers (GB 11643-1999)
help-id-check = Reads one identity number per line on stdin; writes `OK <canonical>` or `ERR <code>` per line, in order
help-bench = Benchmarks, run on a release build: `cargo run --release -- bench tokens`
help-agent = An agent (a department's or the requester's): tokenizes and seals local files, talks to the matcher, and for the requester opens the results
help-agent-check = Checks an agent before its first job, and prints a verdict per line (通过 / 警告 / 错误) with what to fix: the configuration and the files it names (keys 0600), the column mapping, the first rows' identity numbers (masked), invalid numbers by code over the whole file, the local policy, the matcher (reachable, certificate fingerprint), the epochs held and whether the matcher has enrolled this agent. Exits non-zero on any error. Sends nothing but the health check and one signed read
help-agent-serve = Runs as a service until SIGTERM or Ctrl-C: asks the matcher every [serve] poll_seconds for the jobs waiting for this agent, runs those its [serve] section and [policy] allow and holds the others in `<state_dir>/held/<job>.json` for a person (`agent run`). One ASCII line per event on stdout
help-agent-init = Creates this agent's keys in --dir: `agent.ed25519` (signs requests) and `agent.x25519` (receives sealed epochs), 0600, never overwriting; prints the public keys to hand to the key custodian
help-agent-run = Takes part in a job the operator signed: tokenize, seal the fields the policy allows (a department), upload, seal the submission; the requester then waits for the results, opens the values sealed to its registry's people and writes `<state_dir>/<job>/results.json`
help-matcher = The central matcher service
help-matcher-serve = Serves the matcher API
help-matcher-enroll = Enrols an agent or the operator by public key (run on the matcher host)
help-matcher-revoke = Revokes an agent or the operator at once (run on the matcher host); audited
help-matcher-trust-custodian = Trusts the key custodian's public key (once, on the matcher host)
help-matcher-backup = Copies the database to a new file (0600, never overwriting) with SQLite's online backup, while the matcher serves. Restore: stop the matcher, copy the backup to --db's path (removing any `-wal`/`-shm` beside it), start the matcher
help-job = The operator's jobs: sign and create, follow, finish a stalled one, fetch the match structure
help-job-create = Signs a job spec (TOML) with the operator's key and submits it to the matcher
help-job-resume = Finishes a stalled job: joins it now if every party has sealed, says it was complete already, or names the parties it still waits for (exit status 1)
help-job-status = Shows progress per participant
help-job-results = Fetches the job's match structure and writes it to --out as one JSON file, nothing else: per registry row, found or not in each department, attribute verdicts, duplicates and probable matches, with the counts — no names, values or identity numbers (values are sealed to the requester, whose agent writes results.json and builds the report with `bidui report build`)
help-keys = The key custodian's commands
help-keys-init-operator = Creates the operator's signing key (0600; never overwrites)
help-keys-tls-cert = Generates the matcher's self-signed TLS certificate and key (key 0600; never overwrites); prints the certificate's SHA-256 fingerprint
help-keys-init = Creates the custodian's signing key and state in --dir; prints the public key for the matcher's administrator (`bidui matcher trust-custodian`)
help-keys-enroll = Enrols an agent by the two public keys `bidui agent init` printed
help-keys-enroll-operator = Enrols the district operator's signing key
help-keys-revoke = Revokes an agent: refused at once, and no later epoch is sealed to it
help-keys-rotate = A new epoch: a fresh secret sealed to every enrolled, non-revoked agent. Earlier epochs are retired after the grace period, so jobs already running can finish
help-keys-status = Epochs, suites, check values, and (with --matcher) who took up which
help-keys-new-epoch = Writes a new epoch file by hand (0600; never overwrites) and prints its key check value: for tests and demos; real epochs come sealed from `keys rotate`
help-synth = Generates a synthetic district (registry, department files, ground truth)
help-demo = Runs a whole comparison on a generated district: matcher, agents, job, report
help-report = The stage-two report: town workbooks, leadership summary, resolve, diff between runs
help-report-build = Writes a run's report: one workbook per town (镇街), the leadership summary (summary.html), problems.csv / problems.json, results.json / results.csv
help-report-resolve = On the requester's side: fills names, identity numbers and contacts from its own registry into new town workbooks. Reads only local files; sends nothing
help-report-diff = Compares two runs (results.json, problems.json or report directories): fixed / new / still-open problems per town
help-report-upward = The report upward for the city: per town and category counts, coverage per department and each town's completion against the previous round; aggregate figures only, no person and no row (upward.json and upward.xlsx in --out)
help-report-merge = Adds up the upward files of several districts (or cities) for the level above: the city's (or province's) upward.json and upward.xlsx in --out
help-report-claims = Takes back the town workbooks returned with 整改情况 / 整改说明 filled in, into the run's claims.json; a row that names no problem of the run refuses its workbook
help-report-progress = Weighs the towns' claims against the next round: per town and category claimed fixed, confirmed, claimed but still present, new, still open; towns ranked by completion over all the rounds given
help-console = The bureau's console in a browser: jobs live and new rounds started, rounds by town with names, the towns' returned workbooks taken back, progress over the rounds, the report upward; beyond loopback only over TLS with accounts
help-console-account = The console's accounts: add, list, remove, change a password
help-console-account-add = Adds an account; its password is read from standard input (one line). Never replaces an account
help-console-account-list = Lists the accounts and their roles
help-console-account-remove = Removes an account; a running console signs it out within seconds
help-console-account-passwd = Sets an account's password, read from standard input (one line)
help-audit = The matcher's hash-chained audit log: show it, verify it
help-audit-show = Lists the audit records, oldest first
help-audit-verify = Checks the hash chain: prints OK with the record count and the head hash, or the first broken record and why (exit status 1)
console-spec-twice = two job specs are named { $file }: give each spec a file name of its own
console-requester-config = reading the bureau's agent configuration (--requester)
console-no-requester = the console was started without the bureau's agent (--requester agent.toml): it cannot build the round's report

# The matcher's refusals, by stable code: what it means and what to do (bidui-client).
client-error-refused-explained = the matcher refused { $method } { $path } ({ $status } { $code }): { $explanation } (the matcher said: { $message })
refusal-unsigned = The request carried no signature. Use a bidui version that speaks this matcher's protocol.
refusal-malformed-signature = The request's signature headers could not be read. Use a bidui version that speaks this matcher's protocol.
refusal-stale = This computer's clock and the matcher's differ by too much. Set both clocks right (network time) and try again.
refusal-unknown-signer = The key this request was signed with is not enrolled at this matcher. Have it enrolled by the key custodian, or check that the configuration uses the right key and matcher.
refusal-revoked = The enrolment of the key this request was signed with has been revoked. Ask the key custodian; a revoked key is not taken back, a new one is enrolled instead.
refusal-bad-signature = The signature does not match the enrolled key. Check that the configuration uses the key file that was enrolled.
refusal-replayed = The matcher already received this very request. Send it again: a fresh request is signed anew.
refusal-too-large = The request is larger than the matcher accepts. Send smaller chunks, or ask the matcher's administrator about the limit.
refusal-busy = The matcher is receiving too much at once. Try again in a moment.
refusal-body-too-slow = The request arrived too slowly and the matcher stopped waiting. Check the network link and try again.
refusal-body-interrupted = The request was cut off before its end. Check the network link and try again.
refusal-https-only = The matcher serves HTTPS only. Use an https:// URL and configure matcher_certificate or matcher_ca.
refusal-malformed = The matcher could not read the request. Use a bidui version that speaks this matcher's protocol.
refusal-forbidden = This key's role does not allow this request. Check that the right key (agent, operator or custodian) was used for this command.
refusal-not-found = The matcher has no such job or item. Check the job id and the matcher URL.
refusal-internal = The matcher failed inside. Its administrator finds the cause in the matcher's log.
refusal-database-missing = The matcher's database file was deleted while it serves. Its administrator stops the matcher and restores the database from a backup.
refusal-database-replaced = Another file took the place of the matcher's database. Its administrator stops the matcher and starts it on the right database.
refusal-database-unwritable = The matcher's database cannot be written at the moment (disk full or read-only). Try again later; its administrator frees the disk.
refusal-protocol-v1 = This belongs to protocol v1, which this matcher no longer runs. Create the job again as a job signed by the operator.
refusal-invalid-spec = The job spec is not valid. Correct the spec as the matcher's message says and create the job again.
refusal-bad-job-signature = The job spec's signature does not verify under the operator's enrolled key. Sign the job with the enrolled operator key.
refusal-signer-mismatch = The job was signed by another operator than the one sending it. An operator submits only the jobs it signed.
refusal-unknown-party = The job names a party that is not an enrolled agent. Enrol that agent, or correct the job spec.
refusal-job-exists = A different job already has this id, and job ids are never reused. Give the new job another id.
refusal-not-collecting = The job no longer accepts uploads (it was joined or has ended). Nothing more needs sending; ask the operator if a new round is needed.
refusal-wrong-epoch = The tokens were made under another key epoch than the job's. Run the agent again after it has the job's epoch from the key custodian.
refusal-malformed-chunk = An uploaded chunk of tokens could not be decoded. Run the agent again; if it repeats, report it with the agent's version.
refusal-over-cap = This party's records are more than the signed job allows. Check the source file, or ask the operator for a job with a higher cap.
refusal-sealed = This party's submission is already sealed and takes no more chunks. Nothing more needs sending.
refusal-chunk-gap = A chunk arrived out of order. Run the agent again: it resumes from the chunk the matcher expects.
refusal-chunk-conflict = The matcher already holds this chunk with different content. Run the agent again on the same source: it resumes where the matcher stands.
refusal-incomplete = The matcher holds other chunks or records than the seal declares. Run the agent again to upload what is missing.
refusal-digest-mismatch = The seal's digest does not match the chunks the matcher holds. Run the agent again on the same source.
refusal-more-records-than-rows = The seal declares more records than rows read. Report it with the agent's version; the seal is not accepted.
refusal-bad-seal = The seal is not well formed. Report it with the agent's version.
refusal-bad-sealed-fields = The sealed fields do not fit the job. Check the agent's policy against the fields the job asks for.
refusal-seal-differs = This submission was already sealed with other figures, which stand. A changed source needs a new job.
refusal-not-all-sealed = Not every party has sealed yet. Wait for the parties named, or ask them to run their agents.
refusal-not-ready = The results are not ready until every party has sealed. Try again later.
refusal-bad-notice = The agent's progress notice was not accepted (an estimate out of bounds, or a reason empty, too long or with a control character). The upload goes on; report it with the agent's version.
refusal-no-custodian = This matcher trusts no key custodian yet. Its administrator runs `bidui matcher trust-custodian` first.
refusal-bad-statement = The custodian's statement is not valid. Check it as the matcher's message says.
refusal-stale-statement = A newer statement about this name was already applied. Nothing needs doing unless the newer one is wrong.
refusal-unknown-recipient = An epoch was sealed to a name that is not an enrolled, non-revoked agent; nothing was stored. Rotate again after checking the enrolments.
refusal-bad-sealed-epoch = A sealed epoch is malformed or not signed by the trusted custodian; nothing was stored. Check that the matcher trusts this custodian's key.
help-console-audit = The console's audit trail (sign-ins, exports, uploads): checks its hash chain and prints every entry; exits 1 when the chain is broken
console-audit-verified = the audit trail's chain holds: { $entries } entries ({ $path })

## Console pages (bidui console serve): every word of the pages' own. Data from the rounds
## (names, towns, problems, purposes) is shown as it is.

console-name = Matching console
console-language-other = 中文
console-nav-rounds = Rounds
console-nav-jobs = Matching jobs
console-nav-progress = Corrections
console-nav-audit = Audit trail
console-signout = Sign out
console-footer = Page made { $time } (Beijing time) · This page holds people's names and identity numbers: for this office's use only
console-back = Back
console-back-to-round = Back to the round
console-back-to-rounds = Back to the rounds
console-list-separator = {", "}
console-severity-serious = Serious
console-severity-normal = Normal
console-severity-notice = Notice
console-rounds-title = Rounds
console-rounds-intro = Each round is one report directory (the output of bidui report build), in the order of the directories' names.
console-col-round = Round
console-col-job = Job
console-col-purpose = Purpose
console-col-approval = Approval
console-col-registry-rows = Registry rows
console-col-problems-total = Problems
console-col-problems = Problems
console-col-towns = Towns
console-col-claims = Claims returned
console-col-view = View
console-round-named = Round { $number } ({ $name })
console-round-number = Round { $number }
console-towns-and-problems = Towns and problems
console-summary-page = Leadership summary
console-no-rounds = There is no round's report yet.
console-see-jobs = See the matching jobs live, or start a new round
console-job-title = Job { $job }
console-round-meta = { $purpose } · approval { $approval } · directory { $dir }
console-upward-xlsx = Download the upward report (xlsx)
console-upward-json = Upward report (JSON)
console-town-by-category = Towns × problem categories
console-col-town = Town
console-col-total = Total
console-col-workbook = Town workbook
console-download = Download
console-coverage = Departments' coverage
console-col-department = Department
console-col-found = Found
console-col-registry-people = Registry people
console-col-coverage = Coverage
console-import-title = Take back a town's returned workbook
console-import-note = A town fills in the correction status (fixed / verified correct / cannot be fixed) and the note on its workbook's problem list, and returns it. If one row of the workbook matches no problem of this round, nothing of it is taken. A problem returned again: the latest counts.
console-import = Import
console-town-meta = Job { $job } · registry { $rows } rows · { $problems } problems · { $claims } claims returned ({ $fixed } claimed fixed)
console-download-town-workbook = Download this town's workbook
console-problem-list = Problem list
console-col-row = Row
console-col-name = Name
console-col-id-number = Identity number
console-col-category = Problem category
console-col-severity = Severity
console-col-detail = Detail
console-col-action = Suggested action
console-col-claim-status = Correction status
console-col-claim-note = Correction note
console-return-title = Return this town's workbook
console-return-note = Fill in the correction status (fixed / verified correct / cannot be fixed) and the note on the workbook's problem list, then upload it. If one row of the workbook matches no problem of this round, nothing of it is taken.
console-upload = Upload
console-taken-title = Workbook imported
console-taken = Job { $job } · { $towns }: { $claims } claims imported, { $fixed } of them claimed fixed.
console-col-before = Problems of the round before
console-col-claimed-fixed = Claimed fixed
console-col-claimed-but-present = Claimed fixed but still there
console-col-confirmed = Confirmed fixed
console-col-fixed-unclaimed = Fixed unclaimed
console-col-new = New
console-col-still-open = Still open
console-col-completion = Completion
console-col-rank = Rank
console-by-category = By problem category:
console-progress-title = Corrections
console-progress-intro = The towns' claims, checked by the next round. Completion = the share of a round's problems gone in the next round (confirmed fixed + fixed unclaimed); the total over all rounds adds up every pair of consecutive rounds.
console-progress-one-round = There is only one round: the claims can be checked after the next round.
console-progress-overall = All rounds (rounds 1 to { $rounds }, { $rounds } in all)
console-jobs-title = Matching jobs
console-jobs-no-operator = The console was started without the operator's configuration (--operator operator.toml): it cannot show the jobs live or start a new round. Start it with bidui console --operator operator.toml --requester agent.toml --spec job.toml.
console-jobs-refreshing = A job is running: this page reloads every { $seconds } seconds.
console-jobs-none = No job is watched yet. Start a new round below, or watch a job made with bidui job create.
console-stage-waiting = Waiting
console-stage-reading = Reading its own data
console-stage-uploading = Uploading
console-stage-uploading-of = Uploading { $chunks }/{ $expected }
console-stage-sealed = Sealed and submitted
console-stage-declined = Declined: waiting for a person
console-watched-since = Watched since { $since }
console-started-here = started by this console from { $spec }
console-job-reported = Done · report built: { $round }
console-job-unreadable = Cannot read the job's progress: { $message }
console-job-collecting = Running
console-job-complete = Done: the round's report is built once the registry's agent opens the results
console-job-meta = { $purpose } · approval { $approval }
console-job-build-failed = The round's report was not built: { $message }
console-col-party = Party
console-col-role = Role
console-col-stage = Stage
console-col-chunks = Chunks uploaded
console-col-records = Records
console-col-rows-read = Rows read
console-col-invalid-ids = Invalid identity numbers
console-role-requester = Registry
console-role-department = Department
console-start-title = Start a new round
console-start-note = Started from a job spec under a new job id (an id is never used twice; by default the old id with the time added). The operator signs it and submits it to the matcher; each department's agent follows its own policy.
console-start-no-specs = The console was started without a job spec (--spec job.toml).
console-spec = { $file } · { $purpose } · approval { $approval } · { $departments } departments
console-new-job-id = New job id
console-start = Start
console-watch-title = Watch an existing job
console-job-id = Job id
console-watch = Watch
console-town-index-intro = This town's problem lists and workbooks in every round.
console-download-workbook = Download the workbook
console-signin-title = Sign in
console-signin-heading = Sign in to the matching console
console-account-name = Account
console-password = Password
console-signin-note = Accounts are opened by the district's veterans affairs bureau with bidui console account add. After 5 failed sign-ins in a row an account cannot sign in for 5 minutes; after 20 failed sign-ins from one address within 15 minutes, that address cannot sign in for a while.
console-event-signin-ok = Signed in
console-event-signin-failed = Sign-in failed
console-event-signin-locked = Account paused
console-event-signin-throttled = Source address paused
console-event-signout = Signed out
console-event-export-workbook = Town workbook downloaded
console-event-export-upward-xlsx = Upward report downloaded (xlsx)
console-event-export-upward-json = Upward report downloaded (JSON)
console-event-export-summary = Leadership summary viewed
console-event-upload-claims = Workbook imported
console-event-upload-refused = Import refused (other towns)
console-event-forbidden = Access refused
console-audit-title = Audit trail
console-audit-broken = The hash chain does not hold: { $reason }
console-audit-holds = { $entries } entries; the hash chain holds. Every sign-in (succeeded or failed), sign-out, export and import is recorded.
console-audit-holds-head = { $entries } entries; the hash chain holds (head { $head }). Every sign-in (succeeded or failed), sign-out, export and import is recorded.
console-col-seq = No.
console-col-time = Time (Beijing time)
console-col-event = Event
console-col-account = Account
console-col-remote = From
console-col-audit-detail = Detail
console-audit-unreadable = Cannot read the audit trail
console-internal-error = Internal error
console-forbidden-title = Not allowed
console-forbidden = This account can only see its own town's problem list and workbook, and return its own town's workbook. For other pages ask the district's veterans affairs bureau.
console-signin-first-title = Please sign in
console-signin-first = The sign-in has expired: sign in again, then try again.
console-signin-incomplete = The sign-in form is incomplete.
console-signin-expired-title = The sign-in form has expired
console-signin-expired = Open the sign-in page again, then sign in (the form has no valid token: it may come from another site, or be too old).
console-signin-locked = Too many failed sign-ins to this account in a row: try again in { $minutes } minutes.
console-signin-throttled = Too many failed sign-ins from this address: try again in { $minutes } minutes.
console-signin-busy = Many people are signing in: please try again shortly.
console-signin-wrong = Wrong account name or password.
console-unaudited-title = Cannot write the audit trail
console-unaudited = The audit trail cannot be written, so nothing was done. Ask the administrator to check the disk.
console-not-found-title = Page not found
console-not-found = There is no such round or town.
console-no-summary-title = No leadership summary
console-no-summary = This round's report directory has no summary.html.
console-upward-file = upward-report-{ $job }
console-upward-failed = Cannot make the upward report
console-csrf-title = The form has expired
console-csrf = Open the form again from a console page, then upload (the form has no valid token: it may come from another site, or the console was restarted).
console-not-imported = Workbook not imported
console-upload-incomplete = The upload did not complete: please upload again.
console-upload-no-file = No workbook file was chosen.
console-upload-other-towns = The workbook holds problems of other towns ({ $towns }): this account can only return its own town's workbook. Nothing of it was imported.
console-upload-empty = No row of the workbook has a correction status or note filled in.
console-upload-unsaved = Cannot keep the uploaded file: please ask the administrator.
console-claims-unwritten = Cannot write { $file }: please ask the administrator.
console-jobs-unreadable = Cannot read the matching jobs
console-job-refused = Not done
console-job-no-spec = There is no such job spec.
console-job-spec-invalid = The job id or the job spec cannot be used: { $reason }
console-job-id-invalid = The job id does not fit (1–64 letters, digits, Chinese characters or - _ .).

## The console's errors on the command line (bidui console …)

console-not-loopback = serving the console on { $listen } also needs { $missing } (beyond the loopback addresses 127.0.0.1 and ::1 the console is served only over TLS and with accounts; make a certificate with bidui keys tls-cert and accounts with bidui console account add)
console-missing-tls-and-accounts = TLS (--tls-cert and --tls-key) and accounts (--accounts)
console-missing-tls = TLS (--tls-cert and --tls-key)
console-missing-accounts = accounts (--accounts)
console-rounds-unreadable = { $path }: cannot read the rounds directory: { $source }
console-rounds-none = { $path }: no round's report at all (one directory per round, holding the problems.json that bidui report build wrote)
console-rounds-same-job = { $first } and { $second } are the same job { $job }: a round has one directory only
console-listen-failed = cannot listen on { $listen }: { $source }
console-audit-open-failed = { $path }: cannot open the audit trail: { $source }
console-audit-chain-broken = { $path }: line { $line } of the audit trail was changed or is out of order, the audit trail's chain is broken: { $why }
console-audit-write-failed = { $path }: cannot write the audit trail: { $source }
console-watched-unreadable = { $path }: cannot read the watched jobs: { $source }
console-watched-damaged = { $path }: the watched jobs file is damaged: check it, or remove it and watch the jobs again: { $source }
console-watched-unwritten = { $path }: cannot write the watched jobs: { $source }
console-round-unmoved = cannot move the report into the rounds' folder: { $error }
console-tls-certificate = { $path }: cannot read the TLS certificate: { $message }
console-tls-key = { $path }: cannot read the TLS private key, which should be PEM: { $message }
console-tls-mismatch = the private key { $key } does not fit the certificate { $certificate }: { $message }
console-tls-no-certificate = the file holds no -----BEGIN CERTIFICATE-----
console-accounts-unreadable = { $path }: cannot read the accounts file: { $source }
console-accounts-bad = { $path }: not an accounts file: { $message }
console-accounts-unwritten = { $path }: cannot write the accounts file: { $source }
console-accounts-unlocked = { $path }: cannot lock the accounts file's lock file, so no account can be changed: { $source }
console-accounts-none = there is no account: add one with bidui console account add first
console-accounts-bad-hash = the password hash of account { $name } is not valid: { $error }
console-account-exists = account { $name } exists already: change its password with bidui console account passwd; to change its role, remove it and add it again
console-account-missing = there is no account { $name }
console-account-bad-name = the account name { $name } cannot be used: only ASCII letters, digits and . _ -, at most 64 characters (a town account's town is given with --town)
console-account-town-missing = a town account needs its town with --town
console-account-town-for-bureau = a bureau account sees every town and belongs to none: leave out --town
console-password-weak = the password is too weak: { $why }
console-password-unhashed = hashing the password failed: { $error }
console-password-empty = it is empty
console-password-short = it needs at least { $chars } characters
console-password-long = it cannot be longer than { $bytes } bytes
console-password-few-characters = it needs at least 5 different characters
console-password-holds-name = it cannot hold the account's name

## A town's returned workbook, as the console and bidui report claims read it

claims-other-job = these are the claims of job { $other }, not of job { $job }
claims-workbook-unopened = cannot open the workbook: { $error }
claims-no-sheet = no "{ $sheet }" sheet: not a town workbook of a matching report
claims-no-column = "{ $sheet }" has no "{ $column }" column
claims-unknown-row = line { $line } (row { $row }, { $code })
claims-list-separator = {"; "}
claims-unknown-rows = these lines name no problem of job { $job }, so nothing of the workbook was imported: { $rows }
