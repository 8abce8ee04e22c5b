# bidui 命令行的中文信息（默认语言）。键与 en.ftl 一一对应，变量相同。

## 通用

error = 错误：{ $message }
error-cause = 原因：{ $message }
none = 无
writing = 写入 { $path }
random-failed = 系统随机数生成器出错
starting-runtime = 启动异步运行时
console-password-prompt = 请输入密码（至少 10 个字符）：
console-password-unread = 从标准输入读取密码
console-password-again = 再输入一次密码：
console-password-differs = 两次输入的密码不一致，未作任何更改
console-account-added = 账户 { $name }（{ $role }）已添加到 { $path }（权限 0600）
console-account-removed = 账户 { $name } 已删除
console-account-password-set = 账户 { $name } 的密码已修改

## 代理（agent）

agent-keys-written = 代理密钥已写入 { $dir }（权限 0600）。请把上面两个公钥交给密钥管理员。
agent-in-job = 代理 { $party } 执行任务 { $job }
agent-report-head = 代理 { $party } — 任务 { $job }，比对服务 { $matcher }
agent-report-purpose = 用途：{ $purpose }［{ $approval }］
agent-report-sent = 读取 { $rows } 行；以令牌发送 { $records } 条记录（发送 { $chunks } 个数据块，{ $held } 个已在比对服务）
agent-report-attributes = 以令牌比对的属性：{ $attributes }
agent-report-invalid = 无效身份证号（只发送计数）：{ $counts }
agent-report-sealed = 随每条记录封存给请求方的字段：{ $fields }
agent-report-refused = 拒绝：{ $field } — { $reason }
agent-refusal-unmapped = 本代理没有为字段 { $field } 映射列
agent-refusal-not-allowed = 本地策略不允许为用途 { $purpose } 把字段 { $field } 密封发给请求方
agent-report-too-long = 过长无法封存的值（按行列在本地报告中）：{ $count }
agent-report-invalid-rows = 无效行本地报告（从不发送）：{ $path }
agent-report-results = 已为请求方打开的结果（本地）：{ $path }
agent-report-unopened = 警告：{ $count } 个封存值未能打开：比对服务转发了不在本名册中的人员的值，或数据已损坏；已丢弃
agent-key-not-hex = 公钥须为十六进制，即 `bidui agent init` 打印的形式
not-a-date = { $text } 不是日期（YYYY-MM-DD）

## 比对服务（matcher）

enrolled = 已登记 { $role } { $name }
enrolled-replacing = 已登记 { $role } { $name }（取代其先前的登记）
already-enrolled = { $role } { $name } 已用此密钥登记
custodian-key-not-hex = 公钥须为十六进制，即 `bidui keys init` 打印的形式
custodian-trusted = 比对服务现接受此密钥管理员签署的登记、撤销和封存密钥期
revoked = 已撤销 { $name }：其请求自即刻起一律拒绝
backed-up = 已将 { $db } 备份到 { $to }（权限 0600）。恢复方法：停止比对服务，把备份复制到数据库路径，删除旁边的 -wal 和 -shm 文件，再启动比对服务
database-created = 已新建空的比对服务数据库 { $db }
opening-log = 打开日志文件 { $path }

## 任务（job）

creating-job = 创建任务 { $job }
job-created = 任务 { $job } 已创建
job-exists = 任务 { $job } 已存在（规格相同）
job-results-written = 已将任务 { $job } 的匹配结构写入 { $path }（名册 { $rows } 行）；比对报告由请求方代理用封存给它的值生成（bidui report build）

## 密钥（keys）

epoch-written = 密钥期（{ $suite }）已写入 { $path }（权限 0600）。此文件是机密：只能交给各代理，绝不能交给比对服务。
custodian-key-written = 密钥管理员密钥已写入 { $path }（权限 0600）。请把上面的公钥交给比对服务管理员。
custodian-public-key = 密钥管理员公钥 { $key }
epoch-rotated = 密钥期 { $number }（{ $suite }），密钥校验值 { $kcv }，已封存给 { $agents } 个代理
written-to = 已写入 { $path }
delivering-to = 投递到 { $url }（上面的文件可再次投递）
delivered-to = 已投递到比对服务 { $url }
status-agent = 代理 { $name } 签名公钥 { $key }
status-agent-revoked = 代理 { $name } 签名公钥 { $key }（{ $at } 已撤销）
status-epoch = 密钥期 { $number } { $suite } 校验值 { $kcv } 创建于 { $at }
status-taken-up = { $at } 已领取
status-not-taken-up = 尚未领取
status-ask-matcher = （加 --matcher 查询领取情况）
status-retired = ；{ $at } 退役

## 任务状态

reading-operator-config = 读取操作员配置 { $path }
parsing = 解析 { $path }
reading-job-spec = 读取任务规格 { $path }
job-spec-invalid = 任务规格 { $path } 无效
spec-error-job-id = 任务编号须为 1–64 个字母、数字、汉字、'-'、'_' 或 '.'；实际为 { $id }
spec-error-no-purpose = 任务 { $job } 缺少用途（purpose）
spec-error-no-approval = 任务 { $job } 缺少批准文号（approval）
spec-error-duplicate-party = 参与方 { $party } 在任务中出现了两次；每个参与方只能参加一次
spec-error-party-name = 参与方名称须为 1–64 个小写字母、数字或 '-'；实际为 { $party }
spec-error-field-name = 字段名须为 1–64 个小写字母、数字或 '_'；实际为 { $field }
spec-error-epoch = epoch 须为 16 位十六进制的密钥校验值；实际为 { $epoch }
spec-error-no-department = 任务至少需要一个部门
spec-error-derived-attribute = compare 中的 { $attribute } 不是任务可以列出的属性；列出 `name` 即带有姓名各级比对
spec-error-rule = 状态规则 { $code } { $problem }
spec-error-cap = 参与方 { $party } 需要 max_records，取值 1 到 { $max }
spec-error-too-large = 一个任务最多 { $departments } 个部门，每个部门最多比对和密封 { $fields } 个字段
reading-profile = 读取区级档案 { $path } 失败
profile-unparsable = 区级档案 { $path } 格式有误
profile-invalid = 区级档案 { $path } 有误
profile-error-party-code = 参与方代码 { $code } 不合规：只能用小写字母、数字和 '-'，1–64 个字符 (party code)
profile-error-field-code = 字段代码 { $code } 不合规：只能用小写字母、数字和 '_'，1–64 个字符 (field code)
profile-error-duplicate = { $code } 在档案中出现了两次，每个代码只能声明一次
profile-error-name = { $code } 缺少中文名称（party 的 name 或 field 的 label），或名称超过 32 个字
profile-error-role-twice = 字段 { $field } 的角色 { $role } 已由字段 { $other } 在同一参与方中使用；一个参与方每个角色只能有一个字段
profile-error-unknown-party = 任务中的参与方 { $party } 未在区级档案 (district.toml) 中声明：请添加 [[party]] code = { $party }、name 和 kind
profile-error-requester-not-registry = 任务的名册方 { $party } 在档案中的 kind 不是 "registry"
profile-error-department-is-registry = 部门 { $party } 在档案中的 kind 是 "registry"；部门应为 household、social-security 等
profile-error-unknown-field = 任务中的字段 { $field } 未在区级档案 (district.toml) 中声明：请添加 [[field]] code = { $field } 和 label（中文名称）
profile-error-no-town = 名册方 { $requester } 的字段中没有镇街：报表按镇街分发，请在 district.toml 中为名册的镇街字段声明 [[field]] code = "…"、label = "镇街"、role = "town"，并把它列入任务的 [requester] fields
profile-error-required-not-asked = 字段 { $field }（{ $label }）在档案中为必填 (required)，但任务的 [requester] fields 没有列出它：请添加
job-does-not-fit-profile = 任务 { $job } 与区级档案 { $path } 不符
job-invalid = 任务 { $job } 不合规
job-without-profile = 任务 { $job } 没有区级档案：请在 operator.toml 中设置 profile = "district.toml"，或使用 --profile 指定（档案声明各部门的中文名称、字段的中文名和角色，报表按名册的镇街字段分发；示例见 examples/district.toml）
agent-serving = 代理 { $party } 作为服务运行
upward-written = 已写出 { $area } 的上报汇总（{ $parts } 个镇街或地区，问题 { $problems } 个）：{ $json }、{ $xlsx }
claims-read = { $path }：{ $claims } 条整改情况
claims-written = { $path }：共 { $claims } 条整改情况，其中申报已整改 { $fixed } 条
progress-columns = 排名 镇街          申报已整改 核验已整改 申报但仍存在 未申报已消除 新增 仍未整改 整改完成率
resuming-job = 续办任务 { $job }
reading-join-answer = 读取比对服务关于任务 { $job } 的答复
job-resume-complete = 任务 { $job } 已完成，无需处理
job-resume-joined = 任务 { $job } 已重新比对：结果已可供名册方和操作员读取
job-resume-waiting = 任务 { $job } 仍在等待：{ $parties }（这些参与方尚未提交：请运行它们的代理；最后一方提交后任务即完成）
sending-job = 提交任务
reading-job-status = 读取任务 { $job } 的状态
reading-job-results = 读取任务 { $job } 的结果
job-state-collecting = 收集中
job-state-complete = 已完成
job-status-head = 任务 { $job }（{ $state }）— { $purpose }［{ $approval }］
job-status-columns = 参与方                 角色       阶段                 数据块       记录数    已提交     无效号
job-stage-waiting = 等待中
job-stage-reading = 读取数据中
job-stage-uploading = 上传中
job-stage-uploading-of = 上传中 { $chunks }/{ $expected }
job-stage-sealed = 已提交
job-stage-declined = 代理暂缓
job-declined-reason = { $party } 的代理暂缓了此任务：{ $reason }
role-requester = 请求方
role-department = 部门
yes = 是
no = 否
job-joining = 所有参与方均已提交，比对待完成：比对服务正在合并，合并失败或中断会在启动时和每分钟重试；若持续如此，请查看其日志
job-waiting-for = 等待提交：{ $parties }

## 审计日志（audit）

reading-audit-log = 读取 { $db } 的审计日志
audit-no-records = 没有审计记录
audit-no-records-for-job = 任务 { $job } 没有审计记录
audit-intact = 审计链完整，共 { $records } 条记录，链头 { $head }
audit-head-expected = 链头与预期一致
audit-broken = 审计日志已被篡改或损坏：自第 { $seq } 条记录起不可信
audit-head-differs = 审计链本身可验证（{ $records } 条记录，链头 { $head }），但预期链头为 { $expected }
audit-head-appended = 预期链头是第 { $seq } 条记录：此后追加了 { $appended } 条记录，此前的记录未变
audit-head-cut = 没有记录的哈希与预期链头相同：日志末尾的记录被截去，或整个日志被重写
audit-action-enroll = 登记
audit-action-revoke = 撤销
audit-action-job-created = 创建任务
audit-action-sealed = 提交封存
audit-action-declined = 代理暂缓任务
audit-action-results-delivered = 结果交付请求方
audit-action-custodian-trusted = 信任密钥管理员
audit-action-epoch-stored = 密钥轮换投递
audit-action-epoch-retired = 密钥退役
audit-action-tokens-purged = 令牌清除
audit-action-sealed-values-purged = 封存值清除
audit-by = 执行者 { $actor }
audit-job = 任务 { $job }
audit-principal = { $role } { $name } 公钥 { $key }
audit-replaces = （取代 { $role } 公钥 { $key }）
audit-replaces-revoked = （取代已撤销的 { $role } 公钥 { $key }）
audit-purpose = 用途：{ $purpose }
audit-approval = 批准文号：{ $approval }
audit-job-epoch = 密钥期 { $epoch }（{ $suite }）；请求方 { $requester } 请求字段 { $fields }
audit-departments = 部门及请求字段：{ $departments }
audit-seal = 密钥期 { $epoch }：{ $chunks } 个数据块，{ $records } 条记录，读取 { $rows } 行；无效身份证号：{ $invalid }
audit-fields-sealed = 封存字段：{ $fields }
audit-fields-refused = 拒绝字段：{ $fields }
audit-results-delivered = 名册 { $rows } 行，转发 { $values } 个封存值（比对服务无法读取）
audit-declined = 理由：{ $reason }

## 比对报告（report）

reading = 读取 { $path }
reading-rules = 读取 { $path } 中的规则
report-names-nobody = { $path } 中没有任何人员姓名：这是操作员的匹配结构，不是请求方的结果。请用请求方代理写出的 results.json（<state_dir>/<job>/results.json）生成报告。
report-built = 比对报告 任务 { $job }：名册 { $rows } 行共 { $problems } 个问题，{ $fill_ins } 项可补充数据
report-note = 注意：{ $note }
report-town = { $problems } 个问题 { $fill_ins } 项补充
report-summary = 领导汇总页：{ $path }
report-machines = 供程序读取：{ $csv } 和 { $json }
report-invalid-unlisted = 有 { $count } 个无效身份证号未列出具体原因：本报告生成时未附请求方代理的本地校验报告。请在请求方一侧加 --invalid-rows <state_dir>/{ $job }/invalid-rows.csv 重新生成，每个号码便会附上错误类型。
resolve-no-town-column = { $path } 没有 { $column } 列，因此无法核对它是否就是本次比对读取的名册。该文件的列有：{ $columns }。请用 --town-column 指明镇街列（例如 --town-column { $example }）
resolve-doubt-rows = 名册有 { $rows } 行，本次比对读取了 { $read } 行
resolve-doubt-person = { $rows } 行的人员（姓名或身份证号）与比对时不同
resolve-doubt-town = { $problems } 个问题所在镇街与名册该行不同
resolve-doubt-unchecked = 无从逐行核对：报告旁没有列出人员的请求方 results.json，也未指定镇街列（--town-column）
resolve-refused = { $path } 看起来不是任务 { $job } 的名册：{ $doubts }。请使用比对时读取的文件（或加 --force）。
resolved = 已在本地用 { $path }（{ $rows } 行）补全任务 { $job } 的名单；未发送任何数据
resolved-keep = 这些工作簿含有姓名和身份证号：请留在请求方一侧保管。
diff-same-job = 注意：两次比对都是任务 { $job }；整改后复核应以新的任务编号重新运行同一规格

## 演示（demo）

demo-generating = 正在生成演示区数据：名册 { $registry } 行，名册外居民 { $population } 人……
demo-matcher-listening = 比对服务监听于 { $url }（数据库 { $db }）
demo-job-created = 任务 { $job } 已创建：{ $departments } 个部门，密钥期 { $epoch }
demo-agent-failed = { $party } 的代理运行失败；见 { $path }
demo-summary-head = 比对结果 任务 { $job } — 名册读取 { $read } 行，参与比对 { $compared } 行
demo-summary-invalid = 名册中无效身份证号：{ $count } { $codes }
demo-summary-found = 在 { $department } 中找到 { $count }
demo-summary-nowhere = 各部门均未找到：{ $count }
demo-summary-duplicates = 名册内重复登记组数：{ $count }
demo-summary-probable = 需上门核实的疑似匹配：{ $count }
demo-summary-deceased = 户籍登记已死亡：{ $count }
demo-results-files = 结果文件：{ $json } 和 { $csv }
demo-report = 第二阶段比对报告：{ $dir } 中 { $towns } 个镇街工作簿，领导汇总页 { $summary }
demo-agents-dir = 各代理的日志和无效行报告：{ $dir }
demo-matcher-dir = 比对服务数据库和日志：{ $dir }
demo-done = 完成，用时 { $seconds } 秒
demo-creating-matcher-stderr = 创建比对服务的 stderr 文件
demo-starting-matcher = 启动比对服务
demo-reading-matcher-address = 读取比对服务的监听地址
demo-matcher-did-not-start = 比对服务未能启动；见 { $path }
demo-locating-binary = 查找 bidui 程序

## TLS 证书

never-overwrites = { $path } 已存在；bidui 从不覆盖密钥或证书（如确要替换，请先将其移走）
creating = 创建 { $path }
tls-cert-written = { $hosts } 的证书已写入 { $certificate }（作为 matcher_certificate 交给每个代理和操作员）；私钥已写入 { $key }（权限 0600：留在比对服务主机上，供 `bidui matcher serve --tls-key` 使用）。上一行是证书的 SHA-256 指纹：各部门安装证书时请向其逐一核读。

## 主体角色

principal-agent = 代理
principal-operator = 操作员
principal-custodian = 密钥管理员

## 身份证号校验（id check）

reading-stdin = 读取标准输入
writing-stdout = 写入标准输出

## 代理的错误（bidui-agent）

agent-error-no-rows = 数据源 { $path } 没有数据行：未封存任何数据。请确认该文件是本部门的导出数据（工作簿还要确认工作表和表头行）；若确实没有数据也要参加，请加 --accept-few-readable 再运行
agent-error-too-few-readable = { $path } 共 { $rows_read } 行，只有 { $readable } 行能读取（至少须有 { $percent }%，见 min_readable_share）：未封存任何数据。不能读取的行及原因见 { $report }；请修正导出文件，或加 --accept-few-readable 再运行，只发送能读取的行
agent-error-suite-mismatch = 任务使用算法套件 { $job }，但密钥期文件中的密钥属于 { $held }
agent-error-source-changed = 数据块 { $chunk } 与比对服务保存的上次中断上传的数据块不同：此后数据源文件或 --chunk-records 有变。比对服务保留已收到的数据，请恢复原文件和设置，或请操作员新建任务
agent-error-over-cap = 数据源的记录超过任务 { $job } 允许本参与方提交的 { $cap } 条（max_records）：已在封存前停止，比对服务不会使用已发送的数据。请检查数据源文件，或请操作员新建上限更大的任务
agent-error-unmapped-field = 任务要求请求方的字段 { $field }，但代理配置的 [fields] 中没有对应的列：请在配置中加上
agent-error-results-timeout = 等待 { $wait } 后结果仍未就绪：各参与方都已提交了吗？（用 `bidui job status` 查看；等待时间用 --results-wait 设置）
agent-error-other-results = 请求的是任务 { $asked } 的结果，比对服务发来的却是任务 { $found } 的：已拒绝
agent-error-local = 无法写入本地文件 { $path }：{ $source }
agent-error-stopped = 已按要求在任务完成前停止；再次运行会从停止处继续
agent-error-no-trust-anchor = 代理无法核验任务的签名：请在代理配置中设置 operator_key（操作员的 Ed25519 公钥，64 位十六进制）或 custodian_key（密钥管理员的公钥）。未生成令牌，也未发送任何数据
agent-error-bad-key = 代理配置中的 { $key } 不是 Ed25519 公钥（应为 64 位十六进制）
agent-error-no-operator-statement = 比对服务没有转来密钥管理员为操作员 { $operator } 签署的登记声明，因此无法用 custodian_key 核验其密钥：请设置 operator_key，或请密钥管理员登记该操作员。未生成令牌，也未发送任何数据
agent-error-bad-operator-statement = 比对服务转来的操作员 { $signer } 的密钥管理员声明{ $fault }：拒绝执行该任务，未生成令牌，也未发送任何数据
agent-statement-not-by-custodian = 不是由配置的 custodian_key 签署的
agent-statement-revokes = 是撤销该操作员的声明
agent-statement-not-an-operator = 登记的不是操作员
agent-statement-other-principal = 登记的是另一个主体
agent-statement-no-signing-key = 没有有效的签名公钥
agent-error-signature = { $error }；未生成令牌，也未发送任何数据
job-signature-bad = 任务说明不是由操作员 { $signer } 登记的密钥签名的：拒绝执行
job-signature-invalid = 已签名的任务说明不是有效的任务：{ $reason }
agent-error-other-job = 请求的是任务 { $asked }，比对服务答复的却是任务 { $found }：已拒绝，未发送任何数据
agent-error-not-a-party = 参与方 { $party } 不参加任务 { $job }：请检查 --job 和配置中的 party
agent-error-identity-read = 无法读取数据源 { $path } 以计算其摘要：{ $source }
agent-error-identity-record = 无法在 { $path } 中保存数据源的身份记录：{ $source }
agent-error-identity-damaged = { $path } 不是数据源的身份记录（{ $reason }）：请把它移到别处后再运行
agent-error-source-replaced = 数据源 { $path } 不是本任务当初生成令牌时读取的文件（{ $what }；记录在 { $record }）。比对服务保存的是当时读取的数据，现在读取的任何内容都不能发送或与之比对：请恢复那个文件，或请操作员新建任务
agent-error-source-changed-while-read = 数据源 { $path } 在读取过程中发生了变化（{ $what }）：未封存任何数据。请等写入该文件的程序或人员完成后再运行
source-change-replaced = 文件已被另一个文件替换
source-change-resized = 文件大小从 { $before } 字节变为 { $after } 字节
source-change-written-to = 文件被写入过
source-change-other-size = 当时 { $recorded } 字节，现在 { $now } 字节
source-change-other-content = 大小相同，内容不同
agent-error-config-read = 无法读取代理配置 { $path }：{ $source }
agent-error-config-invalid = 代理配置 { $path } 有误：{ $message }
agent-config-poll-zero = [serve] poll_seconds 为 0：请填写两次询问新作业之间的秒数（通常为 60）
agent-config-min-readable-share = min_readable_share 为 { $share }：请填写 0 到 1 之间的比例（0.9 即 90%）
agent-config-identifying-field = 字段 { $field } 对应的是身份识别列 { $column }：身份证号和姓名只以令牌比对，从不作为字段值密封发送
agent-error-epoch-read = 无法读取密钥期文件 { $path }：{ $source }
agent-error-epoch-invalid = 密钥期文件 { $path } 有误：{ $message }
agent-x25519-invalid = 不是 64 位十六进制数字（应为 bidui agent init 生成的密钥）
agent-error-epoch-not-held = 本代理没有密钥校验值为 { $wanted } 的密钥期（现有：{ $held }）；请向密钥管理员索取该任务的密钥期
agent-error-job-id-reused = 比对服务给出的任务编号已经用过：本代理已在密钥期 { $epoch } 下为另一个任务 { $job } 生成过令牌（记录在 { $path }）；同一编号下两个任务的令牌可以相互关联，因此未生成令牌，也未发送任何数据。请操作员用新的编号创建任务
agent-error-job-id-io = 无法读写任务编号记录 { $path }：{ $source }
agent-error-job-id-damaged = 任务编号记录 { $path } 的第 { $line } 行已损坏（{ $source }）；该记录用于防止任务编号被重复使用，请从备份恢复，不要删除
agent-error-serve-local = 无法保存代理服务的本地文件 { $path }：{ $source }

## 部署前检查（bidui agent check）

check-verdict-pass = 通过
check-verdict-warning = 警告
check-verdict-error = 错误
check-kind-config = 配置
check-kind-file = 文件
check-kind-key = 密钥
check-kind-job-trust = 任务签名
check-kind-source = 数据文件
check-kind-column = 列
check-kind-sample = 样例
check-kind-counts = 统计
check-kind-policy = 共享策略
check-kind-matcher = 比对服务器
check-kind-certificate = 证书
check-kind-epoch = 密钥周期
check-kind-enrolment = 登记
check-file-source = 数据文件
check-file-identity-key = 签名私钥
check-file-x25519-key = 接收密钥周期的私钥
check-file-epoch = 密钥周期文件
check-file-matcher-certificate = 比对服务器证书
check-file-matcher-ca = 比对服务器的 CA 证书
check-id-empty = 为空
check-id-excel-mangled = 被 Excel 改坏（科学计数法或末位变 0）
check-id-length = 位数不是 15 或 18
check-id-charset = 含有非数字字符
check-id-birthdate = 出生日期不可能
check-id-checksum = 校验位不符
check-id-other = 其他
check-config-missing = 配置文件 { $path } 不存在
check-config-unreadable = 配置文件 { $path } 无法读取或解析：{ $detail }
check-config-read = 配置文件 { $path } 可以解析，参与方名称为 { $party }
check-file-missing = { $file }不存在：{ $path }（配置项 { $key }）
check-file-present = { $file }存在：{ $path }
check-key-too-open = 密钥文件 { $path } 的权限是 { $mode }，同组或其他用户可以读取
check-key-private = 密钥文件 { $path } 仅所有者可读（600）
check-key-invalid = { $file } { $path } 无法使用：{ $detail }
check-sealed-epochs-off = 未配置 { $missing }：无法接收密钥管理员通过比对服务器发来的密钥周期
check-job-trust-missing = 未配置 operator_key 或 custodian_key：本代理会拒绝所有任务
check-job-trust-invalid = { $key } 不是 64 位十六进制的公钥
check-job-trust-operator = 只接受持有 operator_key 所配公钥的操作员签名的任务
check-job-trust-custodian = 接受密钥管理员（custodian_key）登记的操作员签名的任务
check-source-unreadable = 数据文件无法读取：{ $detail }
check-source-opened = 数据文件 { $path }（{ $how }）可以读取，共 { $columns } 列
check-column-found = { $key } = "{ $header }" 对应第 { $column } 列
check-column-missing = { $key } = "{ $header }" 在文件的表头中找不到；文件的列名为：{ $headers }
check-column-twice = { $key } = "{ $header }" 在表头中出现两次（第 { $first } 列和第 { $second } 列）
check-sample-valid = 第 { $row } 行身份证号规范化为 { $masked }（本机处理，不外发）
check-sample-invalid = 第 { $row } 行身份证号 { $masked } 无效：{ $code }（{ $meaning }）
check-sample-invalid-empty = 第 { $row } 行身份证号 无效：{ $code }（{ $meaning }）
check-sample-unreadable = 第 { $row } 行无法读取：{ $reason }
check-no-rows = 数据文件没有数据行
check-counts = 全文件 { $rows } 行：身份证号有效 { $valid } 行；无效的按原因：{ $codes }；无法读取 { $unreadable } 行
check-counts-code = { $code }（{ $meaning }）{ $rows } 行
check-counts-separator = ，
check-too-few-readable = { $rows } 行中只有 { $readable } 行可以读取，低于 min_readable_share（{ $percent }%）：任务会拒绝密封
check-no-fields = 未映射任何字段（[fields]）：只发送令牌，不发送字段值
check-field-allowed-any = 字段 { $field } 可为任何用途密封发给请求方
check-field-allowed = 字段 { $field } 可为以下用途密封发给请求方：{ $purposes }
check-purposes-separator = 、
check-field-never-allowed = 字段 { $field } 已映射列，但本地策略不允许它为任何用途发出
check-policy-field-unmapped = [policy] 允许字段 { $field }，但 [fields] 没有为它映射列，所以它不会发出
check-matcher-setup = 比对服务器 { $url } 的连接配置有误：{ $detail }
check-matcher-reachable = 比对服务器 { $url } 可以连通，运行正常
check-matcher-unreachable = 无法连通比对服务器 { $url }：{ $cause }
check-matcher-unhealthy = 比对服务器 { $url } 有应答但不正常：{ $cause }
check-matcher-untrusted = 比对服务器 { $url } 的证书不被信任，未发送任何数据：{ $cause }
check-plain-http = { $url } 是明文 HTTP，只适用于本机测试
check-certificate-pinned = 服务器证书指纹 { $fingerprint }，与 matcher_certificate 一致
check-certificate-mismatch = 服务器出示的证书指纹 { $presented } 与 matcher_certificate 的指纹 { $pinned } 不同
check-certificate-by-ca = 服务器证书指纹 { $fingerprint }（由 matcher_ca 验证）
check-certificate-unread = 无法读取服务器证书：{ $cause }
check-epoch-held = 持有密钥周期 { $kcv }（{ $suite }）：{ $path }
check-epoch-unreadable = 密钥周期文件 { $path } 无法使用：{ $detail }
check-no-epoch-yet = 尚未持有密钥周期；密钥管理员轮换后，第一次运行任务时会自动领取
check-no-epoch = 没有密钥周期，也无法接收：任务无法运行
check-epochs-waiting = 比对服务器上有 { $count } 个发给本代理的密钥周期，下次运行任务时领取
check-enrolled = 本代理已在比对服务器登记为 { $party }
check-not-enrolled = 比对服务器不认识本代理 { $party }：尚未登记（unknown-signer）
check-other-key-enrolled = 比对服务器为 { $party } 登记的是另一把公钥，与本机的签名私钥不符（bad-signature）
check-revoked = 本代理 { $party } 的登记已被吊销
check-clock-skew = 本机时钟与比对服务器相差过大：{ $detail }
check-enrolment-refused = 无法确认登记：{ $cause }
check-enrolment-unchecked = 签名私钥不可用，未检查是否已登记
check-fix-config-missing = 检查 --config 的路径
check-fix-config-unreadable = 按上面的提示修改配置文件
check-fix-agent-init = 运行 bidui agent init --dir <目录> 生成密钥，并在配置中写明路径
check-fix-file-path = 检查配置项 { $key }（相对路径从配置文件所在目录算起）
check-fix-restore-file = 换回原来的文件；如已丢失，重新生成并请密钥管理员重新登记
check-fix-sealed-epochs-off = 在配置中加入 { $missing }（由密钥管理员或 bidui agent init 提供）
check-fix-job-trust = 填入密钥管理员提供的 custodian_key（或操作员的 operator_key），64 位十六进制
check-fix-source = 检查 [source] 的 path、format、encoding、sheet 和 header_row
check-fix-column-suggestion = 把 { $key } 从 "{ $header }" 改为 "{ $suggestion }"？
check-fix-column = 把 { $key } 改为上面列出的列名之一（与表头完全一致）
check-fix-column-twice = 在导出文件中给其中一列改名
check-fix-invalid-numbers = 无效号码不参与比对，只发送按原因的计数；被 Excel 改坏的号码需以文本格式重新导出
check-fix-export-whole = 检查导出文件是否完整，以及 [source] 的 sheet 和 header_row
check-fix-field-never-allowed = 如需共享，在 [policy] 中加一条 allow 包含 { $field } 和用途；否则从 [fields] 删除
check-fix-policy-field-unmapped = 在 [fields] 中为 { $field } 映射一列，或从 [policy] 中删除
check-fix-matcher-setup = https:// 地址需配置 matcher_certificate 或 matcher_ca；http:// 地址不要配置证书
check-fix-matcher-unreachable = 确认比对服务器已启动，matcher 地址和端口正确，防火墙放行该端口
check-fix-matcher-unhealthy = 请比对服务器管理员检查服务器日志
check-fix-certificate = 向操作员索取当前的服务器证书，通过电话核对指纹后替换 matcher_certificate
check-fix-plain-http = 正式部署请使用 https:// 地址并配置 matcher_certificate
check-fix-certificate-unread = 通过电话向操作员核对证书指纹
check-fix-no-epoch-yet = 无需操作；如任务报告缺少密钥周期，请联系密钥管理员
check-fix-no-epoch = 配置 x25519_key 和 custodian_key 以接收密钥周期
check-fix-not-enrolled = 把签名公钥 { $public_key } 和 x25519 公钥交给密钥管理员登记（bidui keys enroll）
check-fix-other-key-enrolled = 确认 identity_key 指向原来的私钥；如私钥已重新生成，请密钥管理员重新登记公钥 { $public_key }
check-fix-revoked = 联系密钥管理员
check-fix-clock-skew = 校准本机时间（NTP）
check-fix-errors-above = 先修正上面的错误
check-summary-ready = 结论：没有错误，{ $warnings } 个警告。可以运行任务。
check-summary-errors = 结论：{ $errors } 个错误，{ $warnings } 个警告。请先修正错误再运行任务。

## 部门的数据源文件（bidui-agent）

source-error-open = 无法打开 { $path }：{ $source }
source-error-read = 无法读取 { $path }：{ $source }
source-error-unknown-format = 无法判断 { $path } 的格式：请让文件名以 .csv、.xlsx 或 .xls 结尾，或设置 format = "csv"、"xlsx" 或 "xls"
source-error-workbook = 无法读取工作簿 { $path }：{ $reason }
source-error-no-such-sheet = { $path } 中没有名为 "{ $sheet }" 的工作表；现有工作表：{ $sheets }
source-error-bad-header-row = { $path } 的 header_row 须为 1 或更大（列标题所在的行号，从 1 起算）
source-error-header = 无法读取 { $place } 的表头行（第 { $header_row } 行）：{ $reason }
source-error-column-not-found = { $place } 中没有 "{ $column }" 列；现有列标题：{ $headers }
source-error-duplicate-column = { $place } 中 "{ $column }" 列出现了不止一次（第 { $first } 列和第 { $second } 列，从 1 起算）；请改名其中一列
source-place-sheet = { $path } 的工作表 "{ $sheet }"
xlsx-not-a-package = 不是可读取的 .xlsx（zip）文件包：{ $error }
xlsx-missing-part = 文件包中缺少部件 { $part }
xlsx-beyond-limits = 单元格 { $cell } 超出 Excel 的范围（最后一列为 XFD = 16,384，最后一行为 1,048,576）：文件已损坏，或不是电子表格软件写出的
xlsx-too-many-shared-strings = 共享字符串表超过本程序接受的大小（{ $mebibytes } MiB 文本、{ $strings } 个字符串）：文件已损坏或不是部门的导出文件；请改为另存为 CSV
xlsx-text-too-long = 文本超过 Excel 每个单元格 { $characters } 个字符的上限
source-unsupported-utf16 = 该文件是 UTF-16 文本（Excel 的“Unicode 文本”）；请另存为“CSV UTF-8”或普通 CSV
source-unsupported-web-page = 这不是 Excel 工作簿，而是以 Excel 文件名保存的网页（HTML/XML），有些系统会这样导出；请用 Excel 打开后另存为 .xlsx 或 CSV
source-unsupported-not-excel = 这不是 Excel 工作簿（既不是 .xlsx 也不是 .xls）；如果是 CSV 文本文件，请设置 format = "csv"
source-unsupported-password = 工作簿设有密码；请另存一份不带密码的副本
source-workbook-no-sheet = 工作簿中没有工作表
source-header-few-rows = 文件只有 { $rows } 行
source-header-not-csv = 从第 { $first_line } 行开始的记录超过 1 MiB、多于 { $max_fields } 个字段或跨越超过 { $max_lines } 行：这真的是 CSV 文件吗？
source-header-not-utf8-declared = 不是有效的 UTF-8：如果文件以 GBK（ANSI）保存，请设置 encoding = "gbk"，或不设置 encoding 以自动识别
source-header-not-utf8 = 不是有效的 UTF-8
source-header-not-encoding = 不是有效的 { $encoding }；如果文件是 UTF-8，请设置 encoding = "utf-8"
source-header-empty = 该行为空
source-header-sheet-few-rows = 工作表只有 { $rows } 行
source-header-sheet-empty = 工作表为空
source-header-damaged = 工作表已损坏：{ $error }
source-header-too-long = 该行文本超过 { $mebibytes } MiB
source-row-error = 第 { $row } 行：{ $reason }
source-row-file-unreadable = 无法读取文件：{ $error }；已停止读取
source-row-overlong = 从第 { $first_line } 行开始的记录超过 1 MiB 或多于 { $max_fields } 个字段，很可能是某个引号（"）没有闭合；第 { $first_line } 行至第 { $skipped_to_line } 行已跳过
source-row-many-lines = 第 { $first_line }-{ $last_line } 行的记录跨越超过 { $max_lines } 行，很可能是某个引号（"）没有闭合；这些行未作为数据行读取
source-lines-one = 第 { $line } 行
source-lines-range = 第 { $first }-{ $last } 行
source-row-not-utf8-detected = { $lines }不是有效的 UTF-8（根据文件开头 64 KiB 判断为 UTF-8；如文件以 GBK/ANSI 保存，请设置 encoding = "gbk"）
source-row-not-utf8-declared = { $lines }不是有效的 UTF-8（配置声明的编码）
source-row-not-encoding = { $lines }含有不是有效 { $encoding } 的字节
source-row-reader-stopped = xlsx 读取程序意外停止；已停止读取
source-row-damaged-sheet = 工作表在此处损坏（{ $error }）；已停止读取
source-row-too-long = 该行文本超过 { $mebibytes } MiB，超出部门导出文件应有的大小；已停止读取

## 与比对服务通信（bidui-client）

client-error-transport = 无法连接比对服务 { $url }：{ $reason }
client-error-gave-up = 无法连接比对服务 { $url }：{ $reason }（{ $seconds } 秒内尝试了 { $attempts } 次）
client-error-refused = 比对服务拒绝了 { $method } { $path }：{ $status } { $code }：{ $message }
client-error-answer = 看不懂比对服务对 { $path } 的答复：{ $reason }
client-error-untrusted = 拒绝与比对服务 { $url } 通信：其 TLS 证书不受 { $trust } 信任（{ $reason }）。未发送任何数据。如果区里更换了比对服务的证书，请向操作员索取新证书，并打电话核对其指纹
client-error-no-trust-anchor = { $url } 是 https:// 比对服务，但没有配置信任锚：请设置 matcher_certificate（固定信任比对服务自己的证书）或 matcher_ca（CA 证书文件）；bidui 从不退回使用公共 Web PKI 根证书
client-error-plain-with-trust = { $url } 是明文 http:// 比对服务，却配置了 { $trust }：请使用比对服务的 https:// 地址（明文 HTTP 只用于本机回环测试，且不配置证书）
client-cause-refused = 连接被拒绝（比对服务是否在运行？）
client-cause-cut = 连接被中断（比对服务可能刚重启）
client-cause-closed-before-answer = 连接在答复前关闭
client-cause-no-answer-in-time = 未在时限内答复
client-cause-network-unreachable = 网络不通
client-cause-host-not-found = 无法解析主机名
client-cause-connection-failed = 连接失败
client-cause-answer-stalled = 答复中途停滞
client-cause-closed-mid-answer = 连接在答复途中关闭
client-cause-not-https = 不是 https:// 地址：明文 HTTP 的比对服务没有证书
client-cause-no-host = 地址中没有主机名
client-cause-tls-handshake = TLS 握手失败：{ $error }
client-cause-no-certificate = 服务器没有出示证书
client-trust-pinned = matcher_certificate（固定证书）{ $path }
client-trust-ca-file = matcher_ca（CA 证书文件）{ $path }
trust-error-read = 无法读取比对服务的信任文件 { $path }：{ $source }
trust-error-invalid = { $path } 不是 PEM 证书文件：{ $reason }
trust-error-not-one = { $path } 中有 { $count } 个证书：matcher_certificate 只能固定一个，即比对服务自己的证书（CA 证书包请用 matcher_ca）
trust-error-both = matcher_certificate 和 matcher_ca 只能设置其一
trust-error-not-self-signed = { $path } 由另一个证书（CA）签发，不能固定信任：请固定比对服务自己的自签名证书（可用 `bidui keys tls-cert` 生成），或把 matcher_ca 设为该 CA 的证书

## 密钥文件（bidui-keyfile）

keyfile-error-exists = { $path } 已存在；bidui 从不覆盖密钥文件（如确要替换，请先把它移到别处）
keyfile-error-write = 无法写入密钥文件 { $path }：{ $source }
keyfile-error-read = 无法读取密钥文件 { $path }：{ $source }
keyfile-error-invalid = { $path } 不是 bidui 写出的 Ed25519 私钥文件

## 密钥管理员的记录（bidui-keys）

keys-error-io = 无法读写 { $path }：{ $source }
keys-error-state = { $path } 已损坏：{ $message }
keys-error-already-enrolled = { $name } 已登记；如要用这个名称登记新密钥，请先撤销它
keys-error-unknown-agent = 没有名为 { $name } 的已登记代理
keys-error-bad-key = 公钥应为 64 位十六进制：{ $key }
keys-error-nobody-to-seal-to = 没有登记任何代理：密钥期无人可封存

## 比对报告的错误（bidui-report）

report-error-xlsx = 写入工作簿出错：{ $error }
report-error-invalid-rows-line = 无效行报告第 { $line } 行格式有误：{ $text }
report-error-invalid-rows-row = 无效行报告第 { $line } 行的行号有误：{ $row }
report-error-reserved-code = 状态规则代码 { $code } 是报告自身类别的保留代码，请换一个
merge-error-empty = 没有可汇总的文件
merge-error-twice = { $area } 出现了两次，同一地区只能汇总一次
merge-error-format = 文件格式 { $found } 不是 { $format }（不是上报汇总文件）

## 命令说明（英文版即命令树的文档注释）

help-bidui = 隐私保护的跨部门数据比对
help-id = 身份证号（GB 11643-1999）
help-id-check = 从标准输入逐行读取身份证号，按顺序逐行输出 `OK <规范号码>` 或 `ERR <错误代码>`
help-bench = 性能测试，请用 release 构建运行：`cargo run --release -- bench tokens`
help-agent = 代理（部门或请求方）：对本地文件生成令牌并封存字段，与比对服务通信；请求方还负责打开结果
help-agent-check = 在第一次任务前检查本代理，逐行给出结论（通过 / 警告 / 错误）和修改办法：配置及其引用的文件（密钥须为 0600）、列对应关系、前几行的身份证号（遮盖显示）、全文件按错误代码统计的无效号码、本地策略、比对服务（能否连通、证书指纹）、已持有的密钥期，以及比对服务是否已登记本代理。有任何错误时以非零状态退出。只发送健康检查和一次签名的读取请求
help-agent-serve = 作为服务运行，直到收到 SIGTERM 或 Ctrl-C：每隔 [serve] poll_seconds 向比对服务询问等待本代理的任务，运行 [serve] 和 [policy] 允许的任务，其余的写入 `<state_dir>/held/<job>.json` 留待人工处理（`agent run`）。每个事件在标准输出写一行 ASCII 日志
help-agent-init = 在 --dir 中生成本代理的密钥：`agent.ed25519`（签名请求）和 `agent.x25519`（接收封存的密钥期），权限 0600，从不覆盖；打印两个公钥交给密钥管理员
help-agent-run = 参加操作员签署的任务：生成令牌，封存本地策略允许的字段（部门），上传并提交；请求方随后等待结果，打开封存给本名册人员的值，写出 `<state_dir>/<job>/results.json`
help-matcher = 中心比对服务
help-matcher-serve = 运行比对服务接口
help-matcher-enroll = 按公钥登记代理或操作员（在比对服务主机上运行）
help-matcher-revoke = 立即撤销代理或操作员（在比对服务主机上运行），记入审计日志
help-matcher-trust-custodian = 信任密钥管理员的公钥（在比对服务主机上运行一次）
help-matcher-backup = 在比对服务运行时用 SQLite 在线备份把数据库复制到新文件（权限 0600，从不覆盖）。恢复：停止比对服务，把备份复制到 --db 路径（删除旁边的 `-wal`/`-shm` 文件），再启动
help-job = 操作员的任务：签署并创建、跟踪进度、续办停滞的任务、取得匹配结构
help-job-create = 用操作员密钥签署任务规格（TOML）并提交给比对服务
help-job-resume = 续办停滞的任务：各参与方都已提交时立即比对，已完成时说明，否则列出仍未提交的参与方（退出状态 1）
help-job-status = 显示各参与方的进度
help-job-results = 取得任务的匹配结构，只写一个 JSON 文件到 --out：名册每行在各部门是否找到、属性比对结论、重复登记和疑似匹配，以及各项计数——不含姓名、字段值或身份证号（字段值封存给请求方，由其代理写出 results.json，并用 `bidui report build` 生成报告）
help-keys = 密钥管理员的命令
help-keys-init-operator = 生成操作员的签名密钥（权限 0600，从不覆盖）
help-keys-tls-cert = 生成比对服务的自签名 TLS 证书和私钥（私钥权限 0600，从不覆盖），打印证书的 SHA-256 指纹
help-keys-init = 在 --dir 中生成密钥管理员的签名密钥和状态，打印公钥交给比对服务管理员（`bidui matcher trust-custodian`）
help-keys-enroll = 用 `bidui agent init` 打印的两个公钥登记代理
help-keys-enroll-operator = 登记区操作员的签名公钥
help-keys-revoke = 撤销代理：立即拒绝其请求，今后的密钥期不再封存给它
help-keys-rotate = 新的密钥期：生成新密钥并封存给每个已登记、未撤销的代理。旧密钥期在宽限期后退役，已在运行的任务可以完成
help-keys-status = 各密钥期的算法套件、校验值，以及（加 --matcher 时）哪个代理已领取
help-keys-new-epoch = 手工写出新的密钥期文件（权限 0600，从不覆盖）并打印其校验值：仅供测试和演示；正式密钥期由 `keys rotate` 封存分发
help-synth = 生成合成的演示区数据（名册、各部门文件、真实答案）
help-demo = 在合成的演示区上完整运行一次比对：比对服务、各代理、任务、报告
help-report = 第二阶段比对报告：镇街工作簿、领导汇总页、补全名单、两轮比对之差
help-report-build = 写出一次比对的报告：每个镇街一个工作簿、领导汇总页（summary.html）、problems.csv / problems.json、results.json / results.csv
help-report-resolve = 在请求方一侧：用本单位名册把姓名、身份证号和联系方式填入新的镇街工作簿。只读本地文件，不发送任何数据
help-report-diff = 比较两次比对（results.json、problems.json 或报告目录）：各镇街已整改、新增和仍未整改的问题
help-report-upward = 生成上报市级的汇总：各镇街按问题类别的数量、各部门比对覆盖、各镇街相对上一轮的整改完成率；只有汇总数字，不含人员和行号（在 --out 中写出 upward.json 和 upward.xlsx）
help-report-merge = 把多个区（或市）的上报汇总文件合并为上一级的汇总：在 --out 中写出市（或省）的 upward.json 和 upward.xlsx
help-report-claims = 导入镇街填写了整改情况 / 整改说明后交回的工作簿，存入该轮的 claims.json；有一行对不上该轮的问题，整个工作簿不导入
help-report-progress = 用下一轮比对核验镇街的整改申报：按镇街和问题类别列出申报已整改、经核验已整改、申报已整改但仍存在、新增、仍未整改，并按所给各轮累计的整改完成率排名
help-console = 局端控制台（浏览器）：实时查看比对任务并发起新一轮，按镇街查看各轮结果（含姓名），导入镇街交回的工作簿，各轮整改进度，向上报送汇总；本机回环地址之外只能用 TLS 和账户提供
help-console-account = 控制台的账户：添加、列出、删除、修改密码
help-console-account-add = 添加账户；密码从标准输入读取（一行）。从不替换已有账户
help-console-account-list = 列出账户及其角色
help-console-account-remove = 删除账户；正在运行的控制台几秒内让它退出登录
help-console-account-passwd = 修改账户的密码，从标准输入读取（一行）
help-audit = 比对服务的哈希链审计日志：查看、校验
help-audit-show = 按时间顺序列出审计记录
help-audit-verify = 校验哈希链：输出 OK 及记录数和链头哈希，或第一条被破坏的记录及原因（退出状态 1）
console-spec-twice = 有两份任务配置都叫 { $file }：请给每份任务配置一个不同的文件名
console-requester-config = 读取本单位代理的配置（--requester）
console-no-requester = 控制台启动时未提供本单位（名册方）代理的配置（--requester agent.toml），无法生成本轮报告

# 比对服务的拒绝，按稳定代码：含义及处理办法（bidui-client）。
client-error-refused-explained = 比对服务拒绝了 { $method } { $path }（{ $status } { $code }）：{ $explanation }（比对服务原文：{ $message }）
refusal-unsigned = 请求未带签名。请使用与该比对服务协议一致的 bidui 版本。
refusal-malformed-signature = 无法读取请求的签名头。请使用与该比对服务协议一致的 bidui 版本。
refusal-stale = 本机时钟与比对服务的时钟相差过大。请校准两边的时钟（网络校时）后重试。
refusal-unknown-signer = 签名所用的密钥未在该比对服务登记。请由密钥管理员登记，或检查配置中的密钥和比对服务地址是否正确。
refusal-revoked = 签名所用密钥的登记已被撤销。请联系密钥管理员；撤销的密钥不能恢复，需登记新的密钥。
refusal-bad-signature = 签名与登记的密钥不符。请检查配置使用的是否为登记时的密钥文件。
refusal-replayed = 比对服务已收到过完全相同的请求。请重新发送：新请求会重新签名。
refusal-too-large = 请求超过比对服务接受的大小。请分成更小的块发送，或向比对服务管理员询问上限。
refusal-busy = 比对服务同时接收的数据过多。请稍后重试。
refusal-body-too-slow = 请求传输过慢，比对服务不再等待。请检查网络连接后重试。
refusal-body-interrupted = 请求在传输中途被截断。请检查网络连接后重试。
refusal-https-only = 比对服务只接受 HTTPS。请使用 https:// 地址，并配置 matcher_certificate 或 matcher_ca。
refusal-malformed = 比对服务无法读取该请求。请使用与该比对服务协议一致的 bidui 版本。
refusal-forbidden = 该密钥的角色无权进行此操作。请检查此命令是否使用了正确的密钥（代理、操作员或密钥管理员）。
refusal-not-found = 比对服务上没有该任务或条目。请检查任务编号和比对服务地址。
refusal-internal = 比对服务内部出错。请比对服务管理员查看其日志找出原因。
refusal-database-missing = 比对服务运行中其数据库文件被删除。请管理员停止比对服务，并从备份恢复数据库。
refusal-database-replaced = 比对服务数据库的位置被另一个文件占用。请管理员停止比对服务，再用正确的数据库启动。
refusal-database-unwritable = 比对服务的数据库暂时无法写入（磁盘已满或只读）。请稍后重试；由管理员清理磁盘。
refusal-protocol-v1 = 这属于该比对服务已不再运行的第一版协议。请以操作员签名的任务重新创建。
refusal-invalid-spec = 任务配置无效。请按比对服务的说明修改配置后重新创建任务。
refusal-bad-job-signature = 任务配置的签名与操作员登记的密钥不符。请用已登记的操作员密钥签名任务。
refusal-signer-mismatch = 任务由另一名操作员签名。操作员只能提交自己签名的任务。
refusal-unknown-party = 任务中有一方不是已登记的代理。请登记该代理，或修改任务配置。
refusal-job-exists = 已有另一个任务使用该编号，任务编号不能重复使用。请给新任务另取编号。
refusal-not-collecting = 该任务已不再接收上传（已比对或已结束）。无需再发送；如需新一轮，请联系操作员。
refusal-wrong-epoch = 令牌所用的密钥期与任务的不同。请在代理从密钥管理员处取得该任务的密钥期后重新运行。
refusal-malformed-chunk = 上传的令牌块无法解码。请重新运行代理；如仍出现，请连同代理版本一并报告。
refusal-over-cap = 本方的记录数超过已签名任务允许的上限。请检查源文件，或请操作员创建上限更高的任务。
refusal-sealed = 本方的提交已封存，不再接收数据块。无需再发送。
refusal-chunk-gap = 数据块顺序不对。请重新运行代理：它会从比对服务期待的块继续。
refusal-chunk-conflict = 比对服务已存有内容不同的同一数据块。请用同一源文件重新运行代理：它会从比对服务已有的进度继续。
refusal-incomplete = 比对服务存有的数据块或记录数与封存声明的不同。请重新运行代理以补传缺失部分。
refusal-digest-mismatch = 封存的摘要与比对服务存有的数据块不符。请用同一源文件重新运行代理。
refusal-more-records-than-rows = 封存声明的记录数多于读取的行数。请连同代理版本一并报告；该封存不被接受。
refusal-bad-seal = 封存内容格式不正确。请连同代理版本一并报告。
refusal-bad-sealed-fields = 封存的字段与任务不符。请对照任务要求的字段检查代理的本地策略。
refusal-seal-differs = 该提交已按其他数字封存，以先前的为准。源数据有变需要新建任务。
refusal-not-all-sealed = 尚有参与方未封存。请等待所列参与方，或请他们运行代理。
refusal-not-ready = 所有参与方封存后结果才就绪。请稍后重试。
refusal-bad-notice = 代理的进度通知未被接受（估计的块数超出范围，或原因为空、过长或含控制字符）。上传不受影响；请连同代理版本一并报告。
refusal-no-custodian = 该比对服务尚未信任任何密钥管理员。请管理员先运行 `bidui matcher trust-custodian`。
refusal-bad-statement = 密钥管理员的声明无效。请按比对服务的说明检查。
refusal-stale-statement = 关于该名称已有更新的声明生效。除非那份更新的声明有误，否则无需处理。
refusal-unknown-recipient = 有密钥期被封存给了未登记或已撤销的代理；未存储任何内容。请核对登记后重新轮换。
refusal-bad-sealed-epoch = 有封存的密钥期格式不正确或不是受信任的密钥管理员签名；未存储任何内容。请检查比对服务信任的是否为该管理员的密钥。
help-console-audit = 控制台的审计日志（登录、导出、上传）：核验哈希链并逐条列出；哈希链断开时以状态 1 退出
console-audit-verified = 审计日志哈希链完整：共 { $entries } 条（{ $path }）

## Console pages (bidui console serve): every word of the pages' own. Data from the rounds
## (names, towns, problems, purposes) is shown as it is.

console-name = 比对控制台
console-language-other = English
console-nav-rounds = 各轮比对
console-nav-jobs = 比对任务
console-nav-progress = 整改进度
console-nav-audit = 审计日志
console-signout = 退出登录
console-footer = 页面生成于 { $time }（北京时间）· 本页含人员姓名和身份证号，仅供本单位使用
console-back = 返回
console-back-to-round = 返回本轮
console-back-to-rounds = 返回各轮比对
console-list-separator = 、
console-severity-serious = 严重
console-severity-normal = 一般
console-severity-notice = 提示
console-rounds-title = 各轮比对
console-rounds-intro = 每轮比对一个报告目录（bidui report build 的输出），按目录名排序。
console-col-round = 轮次
console-col-job = 比对任务
console-col-purpose = 目的
console-col-approval = 批准文号
console-col-registry-rows = 名册行数
console-col-problems-total = 问题合计
console-col-problems = 问题数
console-col-towns = 镇街数
console-col-claims = 已交回整改情况
console-col-view = 查看
console-round-named = 第{ $number }轮（{ $name }）
console-round-number = 第{ $number }轮
console-towns-and-problems = 镇街和问题
console-summary-page = 领导汇总页
console-no-rounds = 还没有任何一轮比对的报告。
console-see-jobs = 查看比对任务的实时进度，或发起新一轮比对
console-job-title = 比对任务 { $job }
console-round-meta = { $purpose } · 批准文号 { $approval } · 目录 { $dir }
console-upward-xlsx = 下载上报汇总（xlsx）
console-upward-json = 上报汇总（JSON）
console-town-by-category = 镇街 × 问题类别
console-col-town = 镇街
console-col-total = 合计
console-col-workbook = 镇街工作簿
console-download = 下载
console-coverage = 部门比对覆盖
console-col-department = 部门
console-col-found = 找到
console-col-registry-people = 名册人员
console-col-coverage = 覆盖率
console-import-title = 导入镇街交回的工作簿
console-import-note = 镇街在“问题清单”的整改情况（已整改 / 核实无误 / 无法整改）和整改说明中填写后交回。工作簿中有一行对不上本轮的问题，整个工作簿都不导入。同一问题再次交回，以最新一次为准。
console-import = 导入
console-town-meta = 比对任务 { $job } · 名册 { $rows } 行 · { $problems } 个问题 · 已交回整改情况 { $claims } 条（申报已整改 { $fixed } 条）
console-download-town-workbook = 下载本镇街工作簿
console-problem-list = 问题清单
console-col-row = 序号
console-col-name = 姓名
console-col-id-number = 公民身份号码
console-col-category = 问题类别
console-col-severity = 严重程度
console-col-detail = 详情
console-col-action = 建议措施
console-col-claim-status = 整改情况
console-col-claim-note = 整改说明
console-return-title = 交回本镇街的工作簿
console-return-note = 在“问题清单”的整改情况（已整改 / 核实无误 / 无法整改）和整改说明中填写后上传。工作簿中有一行对不上本轮的问题，整个工作簿都不导入。
console-upload = 上传
console-taken-title = 工作簿已导入
console-taken = 比对任务 { $job } · { $towns }：导入整改情况 { $claims } 条，其中申报已整改 { $fixed } 条。
console-col-before = 上一轮问题
console-col-claimed-fixed = 申报已整改
console-col-claimed-but-present = 申报已整改但仍存在
console-col-confirmed = 经核验已整改
console-col-fixed-unclaimed = 未申报但已整改
console-col-new = 新增
console-col-still-open = 仍未整改
console-col-completion = 整改完成率
console-col-rank = 排名
console-by-category = 按问题类别：
console-progress-title = 整改进度
console-progress-intro = 镇街交回的整改情况，用下一轮比对核验。整改完成率 = 上一轮的问题中在下一轮已不存在的比例（经核验已整改 + 未申报但已整改）；历轮累计把每相邻两轮的数字相加。
console-progress-one-round = 只有一轮比对，下一轮比对之后才能核验整改情况。
console-progress-overall = 历轮累计（第1轮至第{ $rounds }轮，共 { $rounds } 轮）
console-jobs-title = 比对任务
console-jobs-no-operator = 控制台启动时未提供操作员配置（--operator operator.toml），不能查看比对任务的实时进度，也不能发起新一轮比对。请用 bidui console --operator operator.toml --requester agent.toml --spec job.toml 启动。
console-jobs-refreshing = 有任务正在进行，本页每 { $seconds } 秒自动刷新。
console-jobs-none = 还没有关注任何比对任务。可以在下面发起新一轮，或关注已用 bidui job create 创建的任务。
console-stage-waiting = 等待中
console-stage-reading = 正在读取本单位数据
console-stage-uploading = 上传中
console-stage-uploading-of = 上传中 { $chunks }/{ $expected }
console-stage-sealed = 已密封提交
console-stage-declined = 已拒绝，待人工处理
console-watched-since = 关注自 { $since }
console-started-here = 由本控制台按 { $spec } 发起
console-job-reported = 已完成 · 报告已生成：{ $round }
console-job-unreadable = 无法读取任务进度：{ $message }
console-job-collecting = 进行中
console-job-complete = 已完成，等待名册方代理打开结果后生成本轮报告
console-job-meta = { $purpose } · 批准文号 { $approval }
console-job-build-failed = 本轮报告未能生成：{ $message }
console-col-party = 参与方
console-col-role = 角色
console-col-stage = 状态
console-col-chunks = 已上传数据块
console-col-records = 记录数
console-col-rows-read = 读取行数
console-col-invalid-ids = 无效身份证号
console-role-requester = 名册方
console-role-department = 部门
console-start-title = 发起新一轮比对
console-start-note = 按任务配置发起，用新的任务编号（编号不能重复使用；默认在原编号后加上当前时间）。操作员签名后提交比对服务，各部门代理按本单位策略执行。
console-start-no-specs = 控制台启动时未提供任务配置（--spec job.toml）。
console-spec = { $file } · { $purpose } · 批准文号 { $approval } · { $departments } 个部门
console-new-job-id = 新任务编号
console-start = 发起
console-watch-title = 关注已有任务
console-job-id = 任务编号
console-watch = 关注
console-town-index-intro = 本镇街在各轮比对中的问题清单和工作簿。
console-download-workbook = 下载工作簿
console-signin-title = 登录
console-signin-heading = 登录比对控制台
console-account-name = 账户名
console-password = 密码
console-signin-note = 账户由区退役军人事务局用 bidui console account add 开设。连续登录失败 5 次，该账户 5 分钟内不能登录；同一地址 15 分钟内登录失败 20 次，该地址暂停登录。
console-event-signin-ok = 登录
console-event-signin-failed = 登录失败
console-event-signin-locked = 账户暂停登录
console-event-signin-throttled = 来源地址暂停登录
console-event-signout = 退出登录
console-event-export-workbook = 下载镇街工作簿
console-event-export-upward-xlsx = 下载上报汇总（xlsx）
console-event-export-upward-json = 下载上报汇总（JSON）
console-event-export-summary = 查看领导汇总页
console-event-upload-claims = 导入工作簿
console-event-upload-refused = 拒绝导入（其他镇街）
console-event-forbidden = 无权访问
console-audit-title = 审计日志
console-audit-broken = 哈希链校验失败：{ $reason }
console-audit-holds = 共 { $entries } 条，哈希链校验通过。每次登录（成功和失败）、退出、导出和导入都记录在内。
console-audit-holds-head = 共 { $entries } 条，哈希链校验通过（链头 { $head }）。每次登录（成功和失败）、退出、导出和导入都记录在内。
console-col-seq = 序号
console-col-time = 时间（北京时间）
console-col-event = 事件
console-col-account = 账户
console-col-remote = 来源地址
console-col-audit-detail = 内容
console-audit-unreadable = 无法读取审计日志
console-internal-error = 内部错误
console-forbidden-title = 无权查看
console-forbidden = 本账户只能查看本镇街的问题清单和工作簿、交回本镇街的工作簿。其他页面请联系区退役军人事务局。
console-signin-first-title = 请先登录
console-signin-first = 登录已失效，请重新登录后再操作。
console-signin-incomplete = 登录表单不完整。
console-signin-expired-title = 登录表单已失效
console-signin-expired = 请重新打开登录页面后再登录（表单缺少有效的校验码，可能来自其他网站或已过期）。
console-signin-locked = 这个账户连续登录失败次数过多，请 { $minutes } 分钟后再试。
console-signin-throttled = 从这个地址登录失败的次数过多，请 { $minutes } 分钟后再试。
console-signin-busy = 登录的人较多，请稍后再试。
console-signin-wrong = 账户名或密码不对。
console-unaudited-title = 无法写入审计日志
console-unaudited = 审计日志写不进去，本次操作没有执行。请联系管理员检查磁盘。
console-not-found-title = 找不到页面
console-not-found = 没有这一轮比对或这个镇街。
console-no-summary-title = 没有领导汇总页
console-no-summary = 这一轮的报告目录里没有 summary.html。
console-upward-file = 上报汇总-{ $job }
console-upward-failed = 无法生成上报汇总
console-csrf-title = 表单已失效
console-csrf = 请从控制台页面重新打开表单后再上传（表单缺少有效的校验码，可能来自其他网站或控制台已重启）。
console-not-imported = 工作簿未导入
console-upload-incomplete = 上传未完成，请重新上传。
console-upload-no-file = 没有选择工作簿文件。
console-upload-other-towns = 工作簿中有其他镇街（{ $towns }）的问题：本账户只能交回本镇街的工作簿，整个工作簿未导入。
console-upload-empty = 工作簿中没有填写整改情况或整改说明的行。
console-upload-unsaved = 无法保存上传的文件，请联系管理员。
console-claims-unwritten = 无法写入 { $file }，请联系管理员。
console-jobs-unreadable = 无法读取比对任务
console-job-refused = 未能办理
console-job-no-spec = 没有这份任务配置。
console-job-spec-invalid = 任务编号或任务配置不可用：{ $reason }
console-job-id-invalid = 任务编号不符合格式（1–64 个字母、数字、汉字或 - _ .）。

## The console's errors on the command line (bidui console …)

console-not-loopback = 在 { $listen } 上提供控制台还需要{ $missing }（本机回环地址 127.0.0.1 或 ::1 之外只能用 TLS 和账户提供；证书可用 bidui keys tls-cert 生成，账户用 bidui console account add 添加） (beyond loopback the console needs --tls-cert, --tls-key and --accounts)
console-missing-tls-and-accounts = TLS（--tls-cert 和 --tls-key）和账户（--accounts）
console-missing-tls = TLS（--tls-cert 和 --tls-key）
console-missing-accounts = 账户（--accounts）
console-rounds-unreadable = { $path }：无法读取轮次目录 (cannot read the rounds directory): { $source }
console-rounds-none = { $path }：没有任何一轮比对报告（每轮一个目录，内有 bidui report build 写出的 problems.json）
console-rounds-same-job = { $first } 和 { $second } 是同一个比对任务 { $job }：每轮比对只能有一个目录
console-listen-failed = 监听 { $listen } 失败 (cannot listen): { $source }
console-audit-open-failed = { $path }：无法打开审计日志 (cannot open the audit trail): { $source }
console-audit-chain-broken = { $path }：审计日志第 { $line } 行被改动或顺序不对，哈希链断开 (the audit trail's chain is broken): { $why }
console-audit-write-failed = { $path }：无法写入审计日志 (cannot write the audit trail): { $source }
console-watched-unreadable = { $path }：无法读取关注的比对任务 (cannot read the watched jobs): { $source }
console-watched-damaged = { $path }：关注的比对任务文件已损坏，请检查或删除后重新关注 (the watched jobs file is damaged): { $source }
console-watched-unwritten = { $path }：无法写入关注的比对任务 (cannot write the watched jobs): { $source }
console-round-unmoved = 无法把报告移入轮次目录：{ $error }
console-tls-certificate = { $path }：无法读取 TLS 证书 (cannot read the certificate): { $message }
console-tls-key = { $path }：无法读取 TLS 私钥，应为 PEM 格式 (cannot read the private key): { $message }
console-tls-mismatch = 私钥 { $key } 与证书 { $certificate } 不匹配 (the key does not fit the certificate): { $message }
console-tls-no-certificate = 文件中没有 -----BEGIN CERTIFICATE-----
console-accounts-unreadable = { $path }：无法读取账户文件 (cannot read the accounts file): { $source }
console-accounts-bad = { $path }：账户文件格式不对 (not an accounts file): { $message }
console-accounts-unwritten = { $path }：无法写入账户文件 (cannot write the accounts file): { $source }
console-accounts-unlocked = { $path }：无法锁定账户文件的锁文件，不能修改账户 (cannot lock the accounts file's lock file): { $source }
console-accounts-none = 没有任何账户：先用 bidui console account add 添加
console-accounts-bad-hash = 账户 { $name } 的密码哈希无效: { $error }
console-account-exists = 账户 { $name } 已存在：要改密码请用 bidui console account passwd，要换角色请先删除再添加
console-account-missing = 没有账户 { $name }
console-account-bad-name = 账户名 { $name } 不可用：只能用英文字母、数字和 . _ -，不超过 64 个字符（镇街账户的镇街名另用 --town 指定）
console-account-town-missing = 镇街账户要用 --town 指定它所属的镇街
console-account-town-for-bureau = 局机关账户能看全部镇街，不属于某个镇街：去掉 --town
console-password-weak = 密码太弱：{ $why }
console-password-unhashed = 无法计算密码哈希 (hashing the password failed): { $error }
console-password-empty = 密码不能为空
console-password-short = 至少 { $chars } 个字符
console-password-long = 不能超过 { $bytes } 字节
console-password-few-characters = 至少要有 5 个不同的字符
console-password-holds-name = 不能包含账户名

## A town's returned workbook, as the console and bidui report claims read it

claims-other-job = 是比对任务 { $other } 的整改情况，不是任务 { $job } 的
claims-workbook-unopened = 无法打开工作簿：{ $error }
claims-no-sheet = 没有“{ $sheet }”工作表：不是比对报告的镇街工作簿
claims-no-column = “{ $sheet }”没有“{ $column }”列
claims-unknown-row = 第{ $line }行（序号 { $row }，{ $code }）
claims-list-separator = 、
claims-unknown-rows = 以下行在比对任务 { $job } 中没有对应的问题，整个工作簿未导入：{ $rows }
