# What the bidui command line says, in English (`--lang en`, or an `en` locale). Keys and
# variables are those of zh-CN.ftl.

## Common

error = Error: { $message }
error-cause = Caused by: { $message }
none = none
writing = writing { $path }
starting-runtime = starting the async runtime

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
